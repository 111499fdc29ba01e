/**
 * @module openapi/operations
 * Every route of the worker as an OpenAPI operation, built from the schemas the routes validate with
 * (wire/ and the routes' own parameter schemas) and the answer schemas (wire/, answers.ts). The
 * prose here is documentation only; shapes come from the schemas. test/routes/openapi.test.ts checks
 * that every route of the app is listed, so a new route cannot be left out.
 */
import * as z from "zod/mini";
import { ANALYSIS_LIMITS, ALIGNMENT_TENSORS, AlignmentOptionsSchema, SAD_TENSORS, SadOptionsSchema } from "../wire/analysis-request";
import { DEMO_LIMITS } from "../wire/demo";
import { CIRCUITS, HEAD_TENSORS, HeadOptionsSchema, HeadPathSchema, LIMITS } from "../wire/head-request";
import { FLOAT_DTYPES } from "../wire/safetensors";
import { SvdAnswerSchema } from "../wire/svd-result";
import { EXPERIMENT_NAME, TOY_REPORT_LIMIT_BYTES, ToyReportSchema } from "../wire/toy-report";
import type { ProblemType } from "../wire/problem";
import { IdParam } from "../routes/analyses";
import { HeadResultQuery } from "../routes/heads";
import { ModelPathSchema } from "../routes/models";
import { IdParam as ActivationIdParam } from "../routes/activations";
import { Id as CheckpointIdParam, Part as UploadPartParams, Sha as BlobParams, Upload as UploadParams } from "../routes/checkpoints";
import { JobId as ScanIdParam } from "../routes/scans";
import { BASIS_PATH as BASIS, BlobPath as ReadoutBlobPath, BlobQuery as ReadoutBlobQuery } from "../routes/readout-basis";
import { BlobAnswerSchema, READOUT_LIMITS, ReadoutBasisAnswerSchema, ReadoutBasisInputSchema } from "../wire/readout-basis";
import { ACTIVATION_LENGTHS, ACTIVATION_LIMITS, ActivationAnswerSchema } from "../wire/activations";
import {
  CHECKPOINT_LIMITS, CheckpointManifestInputSchema, CompleteUploadSchema, StartUploadAnswerSchema, UPLOAD_PART_BYTES, UploadPartAnswerSchema,
} from "../wire/checkpoint";
import { ScanJobRequestSchema, ScanJobStatusSchema } from "../wire/scan-job";
import {
  AlignmentAnswerSchema, ApiIndexSchema, DemoAnalysisSchema, ModelListSchema, ModelSummarySchema, ProblemTypeSchema, SadAnswerSchema,
  ToyPublishAnswerSchema, ToyReportListSchema, CheckpointListSchema, CheckpointManifestSchema, CompleteUploadAnswerSchema, ScanReportSchema,
} from "./answers";

/** One tensor of a safetensors (or .npy) body or answer. */
export interface TensorDoc {
  name: string;
  shape: string;
  dtypes: readonly string[];
  required: boolean;
  description?: string;
}

export interface BinaryDoc {
  mediaType: "application/octet-stream";
  /** safetensors, npy, or bytes (an opaque part of a multipart upload) */
  format: string;
  description: string;
  tensors: TensorDoc[];
}

export interface Operation {
  method: "get" | "post" | "put" | "delete";
  /** the Hono route pattern (`:name` parameters) */
  path: string;
  operationId: string;
  tag: "heads" | "analyses" | "activations" | "checkpoints" | "scans" | "models" | "toy" | "demo" | "documents";
  summary: string;
  description?: string;
  pathParams?: z.ZodMiniObject;
  query?: z.ZodMiniObject;
  /** prose per query parameter (shapes and defaults come from the schema) */
  queryText?: Record<string, string>;
  /** needs the bearer token */
  auth?: boolean;
  body?: { json: z.ZodMiniType; maxBytes: number } | (BinaryDoc & { maxBytes: number });
  /** 2xx answers; GETs also answer 304 to If-None-Match */
  ok: { statuses: number[]; description: string } & ({ json: z.ZodMiniType } | BinaryDoc | { text: "text/html" | "text/javascript" | "text/css" } | { empty: true });
  problems: ProblemType[];
}

const FLOATS = FLOAT_DTYPES;
const SHAPES: Record<string, string> = {
  W_Q: "[d_model, d_head]", W_K: "[d_model, d_head]", W_V: "[d_model, d_head]", W_O: "[d_head, d_model]",
  b_Q: "[d_head]", b_K: "[d_head]", ln_w: "[d_model]", ln_b: "[d_model]",
};
const ROLE: Record<string, string> = {
  W_Q: "query weights (row vectors: q = x W_Q + b_Q)", W_K: "key weights", W_V: "value weights", W_O: "output weights",
  b_Q: "query bias (bias=augmented appends it as a factor row)", b_K: "key bias", ln_w: "LayerNorm gain (fold_ln)", ln_b: "LayerNorm bias (fold_ln)",
};

/** The head's weight tensors for a circuit, from HEAD_TENSORS (every name must have a shape here). */
export function headTensors(circuit: (typeof CIRCUITS)[number], required = true): TensorDoc[] {
  const { required: req, optional } = HEAD_TENSORS[circuit];
  return [...req.map((n) => [n, required] as const), ...optional.map((n) => [n, false] as const)].map(([name, r]) => {
    if (!SHAPES[name]) throw new Error(`openapi: no shape documented for tensor ${name}`);
    return { name, shape: SHAPES[name], dtypes: FLOATS, required: r, description: ROLE[name] };
  });
}

const safetensors = (description: string, tensors: TensorDoc[]): BinaryDoc => ({
  mediaType: "application/octet-stream", format: "safetensors", description, tensors,
});

const HEAD = "/v1/models/:model/layers/:layer/heads/:head";
const HeadNoCircuit = z.omit(HeadPathSchema, { circuit: true });
const variantText = {
  fold_ln: "fold the LayerNorm gain and bias into the reading weights, then centre them (default: true when ln_w is sent)",
  bias: "augmented: factors [W; b], so [x,1] Ω̃ [y,1]ᵀ = q·k; none: drop biases (default: augmented when b_Q and b_K are sent; qk only)",
  scale: "the model's score scale, recorded (Ω never includes it; default 1/√d_head)",
  norm: "layernorm (fold γ and β, centre) or rmsnorm (fold γ only, centre nothing)",
};
const variantSelect = "which stored SVD (raw, raw_augmented, folded, folded_augmented); may be left out when only one is stored";
const VECTORS: TensorDoc[] = [
  { name: "U", shape: "[rows, k]", dtypes: ["F32"], required: true, description: "left singular vectors (rows = d_model, or d_model + 1 when augmented); the largest-magnitude entry of each column is positive" },
  { name: "S", shape: "[k]", dtypes: ["F64"], required: true, description: "singular values, descending" },
  { name: "V", shape: "[rows, k]", dtypes: ["F32"], required: true, description: "right singular vectors; the circuit is U diag(S) Vᵀ" },
];
const PAIRS: TensorDoc[] = [
  { name: "pairs", shape: "[P, 3]", dtypes: ["I32"], required: true, description: "(prompt, dest, src) of each firing pair" },
  { name: "n_recon", shape: "[P]", dtypes: ["I32"], required: true },
  { name: "sparseness", shape: "[P]", dtypes: ["F64"], required: true },
  { name: "score", shape: "[P]", dtypes: ["F64"], required: true },
  { name: "relative_total", shape: "[P]", dtypes: ["F64"], required: true },
  { name: "selected_offsets", shape: "[P+1]", dtypes: ["I32"], required: true, description: "pair p's selected indices are selected[offsets[p]:offsets[p+1]]" },
  { name: "selected", shape: "[Σ n_recon]", dtypes: ["U16"], required: true, description: "selected singular indices" },
];
const COSINES: TensorDoc[] = [
  { name: "C_U", shape: "[n_features, k]", dtypes: ["F32"], required: true, description: "signed cosines F̂ U (rows features, columns singular indices)" },
  { name: "C_V", shape: "[n_features, k]", dtypes: ["F32"], required: true, description: "signed cosines F̂ V" },
];
const HEAD_WRITE_PROBLEMS: ProblemType[] = [
  "invalid-request", "malformed-safetensors", "unauthorized", "payload-too-large", "unsupported-dtype", "missing-tensor", "shape-mismatch",
  "non-finite", "not-converged", "kernel-fault", "storage-unavailable",
];
const ACTIVATION_FILE: TensorDoc[] = [
  { name: "layer.{l}", shape: "[T, d] or [B, T, d]", dtypes: FLOATS, required: false, description: "token vectors of layer l (one tensor per layer), or …" },
  { name: "X", shape: "[T, d] or [B, T, d]", dtypes: FLOATS, required: false, description: "… one tensor X (not both)" },
  { name: ACTIVATION_LENGTHS, shape: "[B]", dtypes: ["I32"], required: false, description: "prompt b's tokens are positions 0 … lengths[b]−1 (right padding, never read)" },
];
const CHECKPOINT_BLOB = "/v1/checkpoints/blobs/:sha256/uploads";
const READ_PROBLEMS: ProblemType[] = ["invalid-request", "not-found", "storage-unavailable"];

export const OPERATIONS: Operation[] = [
  {
    method: "post", path: `${HEAD}/:circuit`, operationId: "postHead", tag: "heads", auth: true,
    summary: "Compute and store the SVD of one head's QK or OV circuit",
    description: "Re-posting identical input returns the stored result (200, computed: false) without computing; a new result is 201.",
    pathParams: HeadPathSchema, query: HeadOptionsSchema,
    queryText: {
      ...variantText, overwrite: "replace a stored result that came from a different input (otherwise 409)",
      readouts: "token readouts of the leading N vectors (8; all; 0)",
    },
    body: {
      ...safetensors("A safetensors file holding one head's weights (TransformerLens orientation). qk: W_Q, W_K (+ b_Q, b_K, ln_w, ln_b); ov: W_V, W_O (+ ln_w, ln_b).", [
        ...headTensors("qk").map((t) => ({ ...t, description: `qk: ${t.description}` })),
        ...headTensors("ov").map((t) => ({ ...t, description: `ov: ${t.description}` })),
      ]),
      maxBytes: LIMITS.maxHeadBodyBytes,
    },
    ok: { statuses: [200, 201], description: "the stored summary; links are addressed by variant and input hash", json: SvdAnswerSchema },
    problems: [...HEAD_WRITE_PROBLEMS, "conflict"],
  },
  {
    method: "get", path: `${HEAD}/:circuit`, operationId: "getHead", tag: "heads",
    summary: "The stored SVD summary of one head",
    pathParams: HeadPathSchema, query: HeadResultQuery,
    queryText: { variant: variantSelect, sha256: "the input's SHA-256: answer only if that input is stored (such URLs never change and are cached as immutable)" },
    ok: { statuses: [200], description: "the stored summary", json: SvdAnswerSchema },
    problems: READ_PROBLEMS,
  },
  {
    method: "get", path: `${HEAD}/:circuit/vectors`, operationId: "getHeadVectors", tag: "heads",
    summary: "The stored singular vectors of one head as safetensors",
    pathParams: HeadPathSchema, query: HeadResultQuery,
    queryText: { variant: variantSelect, sha256: "the input's SHA-256 (immutable URL)" },
    ok: { statuses: [200], ...safetensors("U, S, V with canonical signs; ETag is the input's SHA-256", VECTORS) },
    problems: READ_PROBLEMS,
  },
  {
    method: "post", path: `${HEAD}/qk/sad`, operationId: "postSad", tag: "analyses", auth: true,
    summary: "Sparse attention decomposition of one QK head over a batch of prompts",
    description: "Without weights in the body the stored SVD is used (POST …/qk first). The id hashes body, options and SVD: an identical request returns the stored result (200).",
    pathParams: HeadNoCircuit, query: SadOptionsSchema,
    queryText: {
      tau: "N_recon threshold fraction, 0 < τ ≤ 1", exclude_first_source: "skip source 0 when selecting firing pairs",
      scale: "softmax scale of ℓ in the firing rule (default: the variant's)", null_seeds: "random rotations for the null (seeds 0 … n−1)",
      detail: "pairs: store per-pair results (linked as …/pairs; inline when ≤ 1,000 pairs)",
      terms: "dest:src or prompt:dest:src, comma-separated (≤ 64): return t_k, t̃_k, N_recon and the selected set of those pairs",
      fold_ln: variantText.fold_ln, bias: variantText.bias, variant: "which stored SVD, when no weights are sent",
      norm: variantText.norm,
      rotary_dim: "rotary dimensions of the head (GPT-NeoX/Pythia partial, Llama full): each rotary pair is decomposed with the SVD of Ω_Δ, Δ = dest − src",
      rotary_base: "rotary base (rope_theta / rotary_emb_base; default 10000)",
      window: "local attention window (GPT-Neo's local layers): only keys with dest − src < window",
      activations: "read X from a stored activation file (its id from POST /v1/activations) instead of the body",
      layer: "with activations=: read the stored tensor layer.{layer}",
      tensor: "with activations=: read the stored tensor of this name (X or layer.{l}; default: the file's only tensor)",
    },
    body: {
      ...safetensors("A safetensors file with the token vectors X (unless activations= names a stored file), optionally focus and lengths, optionally with the head's weights (SVD computed now in float64).", [
        { name: SAD_TENSORS.tokens, shape: "[T, d] or [B, T, d]", dtypes: FLOATS, required: true, description: "token vectors as the head reads them; d = d_model, or d_model + 1 with the bias coordinate appended (not sent when activations= names a stored file)" },
        { name: SAD_TENSORS.focus, shape: "[F, 3]", dtypes: ["I32"], required: false, description: "(prompt, dest, src) rows, src ≤ dest: the same aggregates restricted to these pairs, with their own null" },
        { name: SAD_TENSORS.lengths, shape: "[B]", dtypes: ["I32"], required: false, description: "prompt b's tokens are positions 0 … lengths[b]−1 (right padding, never read)" },
        ...headTensors("qk", false),
      ]),
      maxBytes: ANALYSIS_LIMITS.maxBodyBytes,
    },
    ok: { statuses: [200, 201], description: "the SAD summary (schema headscope.sad/v1)", json: SadAnswerSchema },
    problems: [...HEAD_WRITE_PROBLEMS],
  },
  {
    method: "get", path: `${HEAD}/qk/sad/:id`, operationId: "getSad", tag: "analyses",
    summary: "A stored SAD result", pathParams: z.extend(HeadNoCircuit, IdParam.shape),
    ok: { statuses: [200], description: "the SAD summary", json: SadAnswerSchema }, problems: READ_PROBLEMS,
  },
  {
    method: "get", path: `${HEAD}/qk/sad/:id/pairs`, operationId: "getSadPairs", tag: "analyses",
    summary: "The per-pair detail of a SAD result (detail=pairs)", pathParams: z.extend(HeadNoCircuit, IdParam.shape),
    ok: { statuses: [200], ...safetensors("per-pair results of the firing pairs", PAIRS) }, problems: READ_PROBLEMS,
  },
  {
    method: "post", path: `${HEAD}/:circuit/alignment`, operationId: "postAlignment", tag: "analyses", auth: true,
    summary: "Alignment of the head's singular vectors with a feature dictionary",
    description: "The body is either an .npy file holding F [n_features, d_model] (detected by its magic bytes; uses the stored SVD), or a safetensors file with F, optionally F_query and F_key, and optionally the head's weights.",
    pathParams: HeadPathSchema, query: AlignmentOptionsSchema,
    queryText: {
      top_k: "best feature reported for the first k singular vectors (default all)", null_draws: "random-unit-direction null: draws of n_features directions",
      null_seed: "seed of the null", pairs: "i:j,…: target pairs for the prediction u ∝ Σ_X⁺ x_i, v ∝ Σ_Y⁺ y_j",
      fold_ln: variantText.fold_ln, bias: variantText.bias, variant: "which stored SVD, when no weights are sent",
    },
    body: {
      mediaType: "application/octet-stream", format: "safetensors or npy",
      description: "safetensors with the tensors below, or a .npy file holding F alone",
      tensors: [
        { name: ALIGNMENT_TENSORS.features, shape: "[n_features, d_model]", dtypes: FLOATS, required: true, description: `features, one per row (≤ ${ANALYSIS_LIMITS.maxFeatures})` },
        { name: ALIGNMENT_TENSORS.querySide, shape: "[n_features, d_model]", dtypes: FLOATS, required: false, description: "query-side features of the prediction (default F)" },
        { name: ALIGNMENT_TENSORS.keySide, shape: "[n_features, d_model]", dtypes: FLOATS, required: false, description: "key-side features of the prediction (default F)" },
        ...headTensors("qk", false).map((t) => ({ ...t, description: `qk: ${t.description}` })),
        ...headTensors("ov", false).map((t) => ({ ...t, description: `ov: ${t.description}` })),
      ],
      maxBytes: ANALYSIS_LIMITS.maxBodyBytes,
    },
    ok: { statuses: [200, 201], description: "the alignment summary (schema headscope.alignment/v1)", json: AlignmentAnswerSchema },
    problems: [...HEAD_WRITE_PROBLEMS, "malformed-npy"],
  },
  {
    method: "get", path: `${HEAD}/:circuit/alignment/:id`, operationId: "getAlignment", tag: "analyses",
    summary: "A stored alignment result", pathParams: z.extend(HeadPathSchema, IdParam.shape),
    ok: { statuses: [200], description: "the alignment summary", json: AlignmentAnswerSchema }, problems: READ_PROBLEMS,
  },
  {
    method: "get", path: `${HEAD}/:circuit/alignment/:id/cosines`, operationId: "getAlignmentCosines", tag: "analyses",
    summary: "The signed cosine matrices of an alignment result", pathParams: z.extend(HeadPathSchema, IdParam.shape),
    ok: { statuses: [200], ...safetensors("C_U and C_V", COSINES) }, problems: READ_PROBLEMS,
  },
  {
    method: "post", path: "/v1/activations", operationId: "storeActivations", tag: "activations", auth: true,
    summary: "Store a file of token vectors under the SHA-256 of its bytes (for SAD requests with ?activations=ID)",
    description: "Validated whole before anything is stored; idempotent: 201 when stored now, 200 when the same bytes were already stored.",
    body: { ...safetensors("layer.{l} tensors (one per layer, as `headscope scan --save-activations` writes) or one X, all with the same d, finite.", ACTIVATION_FILE), maxBytes: ACTIVATION_LIMITS.maxBodyBytes },
    ok: { statuses: [200, 201], description: "the id and the stored tensors (schema headscope.activations/v1)", json: ActivationAnswerSchema },
    problems: ["invalid-request", "malformed-safetensors", "unauthorized", "payload-too-large", "unsupported-dtype", "missing-tensor", "shape-mismatch", "non-finite", "storage-unavailable"],
  },
  {
    method: "get", path: "/v1/activations/:id", operationId: "getActivations", tag: "activations",
    summary: "A stored activation file, byte for byte (ETag: its id)", pathParams: ActivationIdParam,
    ok: { statuses: [200], ...safetensors("the file as it was stored", ACTIVATION_FILE) }, problems: READ_PROBLEMS,
  },
  {
    method: "post", path: CHECKPOINT_BLOB, operationId: "startShardUpload", tag: "checkpoints", auth: true,
    summary: "Start a multipart upload of one checkpoint shard, addressed by its SHA-256",
    description: `200 with exists: true when the shard is already stored (send nothing); else 201 with an upload id and the part size (${UPLOAD_PART_BYTES} bytes; the last part may be smaller).`,
    pathParams: BlobParams,
    ok: { statuses: [200, 201], description: "already stored, or where to send the parts", json: StartUploadAnswerSchema },
    problems: ["invalid-request", "unauthorized", "storage-unavailable"],
  },
  {
    method: "put", path: `${CHECKPOINT_BLOB}/:upload_id/parts/:part`, operationId: "uploadShardPart", tag: "checkpoints", auth: true,
    summary: "Send one part of a shard (parts numbered from 1; Content-Length required)", pathParams: UploadPartParams,
    body: { mediaType: "application/octet-stream", format: "bytes", description: "bytes part·part_bytes … of the shard, as they are (not a safetensors file of its own).", tensors: [], maxBytes: UPLOAD_PART_BYTES },
    ok: { statuses: [200], description: "the part's ETag, to list in …/complete", json: UploadPartAnswerSchema },
    problems: ["invalid-request", "unauthorized", "payload-too-large", "storage-unavailable"],
  },
  {
    method: "post", path: `${CHECKPOINT_BLOB}/:upload_id/complete`, operationId: "completeShardUpload", tag: "checkpoints", auth: true,
    summary: "Finish a shard's upload: the parts are joined and the bytes must hash to {sha256} (else the shard is discarded, 400)",
    pathParams: UploadParams, body: { json: CompleteUploadSchema, maxBytes: 1 << 20 },
    ok: { statuses: [201], description: "the shard is stored", json: CompleteUploadAnswerSchema },
    problems: ["invalid-request", "unauthorized", "payload-too-large", "storage-unavailable"],
  },
  {
    method: "delete", path: `${CHECKPOINT_BLOB}/:upload_id`, operationId: "abortShardUpload", tag: "checkpoints", auth: true,
    summary: "Abandon a shard's upload (its parts are dropped)", pathParams: UploadParams,
    ok: { statuses: [204], description: "aborted", empty: true }, problems: ["invalid-request", "unauthorized", "storage-unavailable"],
  },
  {
    method: "post", path: "/v1/checkpoints", operationId: "registerCheckpoint", tag: "checkpoints", auth: true,
    summary: "Register a checkpoint whose shards are all uploaded (for POST /v1/scans)",
    description: `Its id is the SHA-256 of the canonical manifest: registering the same manifest again is 200. At most ${CHECKPOINT_LIMITS.maxFiles} files.`,
    body: { json: CheckpointManifestInputSchema, maxBytes: CHECKPOINT_LIMITS.maxManifestBytes },
    ok: { statuses: [200, 201], description: "the manifest (schema headscope.checkpoint/v1)", json: CheckpointManifestSchema },
    problems: ["invalid-request", "unauthorized", "payload-too-large", "not-found", "storage-unavailable"],
  },
  {
    method: "get", path: "/v1/checkpoints", operationId: "listCheckpoints", tag: "checkpoints", summary: "The registered checkpoints",
    ok: { statuses: [200], description: "one line per checkpoint", json: CheckpointListSchema }, problems: ["storage-unavailable"],
  },
  {
    method: "get", path: "/v1/checkpoints/:id", operationId: "getCheckpoint", tag: "checkpoints", summary: "A registered checkpoint's manifest",
    pathParams: CheckpointIdParam, ok: { statuses: [200], description: "the manifest", json: CheckpointManifestSchema }, problems: READ_PROBLEMS,
  },
  {
    method: "post", path: "/v1/scans", operationId: "startScan", tag: "scans", auth: true,
    summary: "Scan a registered checkpoint on the server: one queued job per head, circuit, variant and rotary offset",
    description: "Options are spelled as the CLI's (`--layers 0-3,7` is layers: \"0-3,7\"); a bad option or checkpoint is refused (400/404) before the job exists. Location: the job's URL.",
    body: { json: ScanJobRequestSchema, maxBytes: 1 << 20 },
    ok: { statuses: [201], description: "the new job's status (schema headscope.scan-job/v1)", json: ScanJobStatusSchema },
    problems: ["invalid-request", "unauthorized", "not-found", "storage-unavailable"],
  },
  {
    method: "get", path: "/v1/scans/:id", operationId: "getScan", tag: "scans", summary: "A scan job's progress", pathParams: ScanIdParam,
    ok: { statuses: [200], description: "the job's status", json: ScanJobStatusSchema }, problems: READ_PROBLEMS,
  },
  {
    method: "delete", path: "/v1/scans/:id", operationId: "cancelScan", tag: "scans", auth: true,
    summary: "Cancel a scan job (heads already computed stay stored)", pathParams: ScanIdParam,
    ok: { statuses: [200], description: "the job's status", json: ScanJobStatusSchema }, problems: ["invalid-request", "unauthorized", "not-found", "storage-unavailable"],
  },
  {
    method: "get", path: "/v1/scans/:id/report", operationId: "getScanReport", tag: "scans",
    summary: "The report.json a finished scan job wrote (404 while it runs, saying how far it is)", pathParams: ScanIdParam,
    ok: { statuses: [200], description: "the report", json: ScanReportSchema }, problems: READ_PROBLEMS,
  },
  {
    method: "get", path: "/v1/models", operationId: "listModels", tag: "models", summary: "The models with stored results",
    ok: { statuses: [200], description: "model names", json: ModelListSchema }, problems: ["storage-unavailable"],
  },
  {
    method: "get", path: "/v1/models/:model/summary", operationId: "getModelSummary", tag: "models",
    summary: "The per-layer × per-head table of everything stored for a model (deterministic byte for byte)",
    pathParams: ModelPathSchema, ok: { statuses: [200], description: "the model summary", json: ModelSummarySchema }, problems: READ_PROBLEMS,
  },
  {
    method: "put", path: `${BASIS}/blobs/:sha256`, operationId: "putReadoutBlob", tag: "models", auth: true,
    summary: "Store a blob of a model's readout basis under its SHA-256",
    pathParams: ReadoutBlobPath, query: ReadoutBlobQuery,
    body: { mediaType: "application/octet-stream", format: "bytes", description: "the blob", tensors: [], maxBytes: READOUT_LIMITS.maxBlobBytes },
    ok: { statuses: [200, 201], description: "the blob's hash and size", json: BlobAnswerSchema },
    problems: ["invalid-request", "unauthorized", "payload-too-large", "shape-mismatch", "non-finite", "storage-unavailable"],
  },
  {
    method: "put", path: BASIS, operationId: "putReadoutBasis", tag: "models", auth: true,
    summary: "Store a model's readout basis manifest (after its blobs)",
    pathParams: ModelPathSchema, body: { json: ReadoutBasisInputSchema, maxBytes: READOUT_LIMITS.maxManifestBytes },
    ok: { statuses: [200, 201], description: "the manifest", json: ReadoutBasisAnswerSchema },
    problems: ["invalid-request", "unauthorized", "payload-too-large", "not-found", "shape-mismatch", "storage-unavailable"],
  },
  {
    method: "get", path: BASIS, operationId: "getReadoutBasis", tag: "models", summary: "A model's token readout basis manifest",
    pathParams: ModelPathSchema, ok: { statuses: [200], description: "the manifest", json: ReadoutBasisAnswerSchema }, problems: READ_PROBLEMS,
  },
  {
    method: "post", path: "/v1/toy/reports", operationId: "publishToyReport", tag: "toy", auth: true,
    summary: "Publish a toy-model report (toy.json) for the demo page",
    body: { json: ToyReportSchema, maxBytes: TOY_REPORT_LIMIT_BYTES },
    ok: { statuses: [200, 201], description: "where it is stored (200 when identical content was already published)", json: ToyPublishAnswerSchema },
    problems: ["invalid-request", "unauthorized", "payload-too-large", "storage-unavailable"],
  },
  {
    method: "get", path: "/v1/toy/reports", operationId: "listToyReports", tag: "toy", summary: "The published toy experiments",
    ok: { statuses: [200], description: "one pointer per experiment", json: ToyReportListSchema }, problems: ["storage-unavailable"],
  },
  {
    method: "get", path: "/v1/toy/reports/:experiment", operationId: "getToyReport", tag: "toy", summary: "The latest report of one experiment",
    pathParams: z.object({ experiment: z.string().check(z.regex(EXPERIMENT_NAME)) }),
    ok: { statuses: [200], description: "the toy.json (schema headscope.toy/v1)", json: ToyReportSchema }, problems: READ_PROBLEMS,
  },
  {
    method: "post", path: "/v1/demo/analyze", operationId: "demoAnalyze", tag: "demo",
    summary: "Anonymous analysis of one head for the demo page (nothing stored; same origin only; rate-limited)",
    description: `At most ${DEMO_LIMITS.requestsPerMinute} requests per minute per client, then 429 with Retry-After.`,
    query: z.extend(z.omit(HeadOptionsSchema, { overwrite: true, readouts: true, readout_k: true }), { circuit: z.optional(z.enum(CIRCUITS)) }),
    queryText: { ...variantText, circuit: "qk or ov (default: from the tensor names)" },
    body: { ...safetensors("one head, as for POST …/{circuit}", [...headTensors("qk", false), ...headTensors("ov", false)]), maxBytes: DEMO_LIMITS.maxBodyBytes },
    ok: { statuses: [200], description: "the spectrum", json: DemoAnalysisSchema },
    problems: ["invalid-request", "malformed-safetensors", "payload-too-large", "rate-limited", "unsupported-dtype", "missing-tensor", "shape-mismatch", "non-finite", "not-converged", "kernel-fault"],
  },
  {
    method: "get", path: "/problems/:slug", operationId: "getProblemType", tag: "documents", summary: "What a problem type means",
    pathParams: z.object({ slug: z.string() }), ok: { statuses: [200], description: "the problem type", json: ProblemTypeSchema }, problems: ["not-found"],
  },
  {
    method: "get", path: "/v1", operationId: "getApiIndex", tag: "documents", summary: "The API's endpoints, in brief",
    ok: { statuses: [200], description: "index", json: ApiIndexSchema }, problems: [],
  },
  {
    method: "get", path: "/openapi.json", operationId: "getOpenApi", tag: "documents", summary: "This document",
    ok: { statuses: [200], description: "OpenAPI 3.1", json: z.record(z.string(), z.unknown()) }, problems: [],
  },
  { method: "get", path: "/docs", operationId: "getDocs", tag: "documents", summary: "This document, rendered", ok: { statuses: [200], description: "HTML", text: "text/html" }, problems: [] },
  { method: "get", path: "/", operationId: "getDemoPage", tag: "demo", summary: "The demo page", ok: { statuses: [200], description: "HTML", text: "text/html" }, problems: [] },
  { method: "get", path: "/assets/demo.js", operationId: "getDemoScript", tag: "demo", summary: "The demo page's script", ok: { statuses: [200], description: "JavaScript module", text: "text/javascript" }, problems: [] },
  { method: "get", path: "/assets/demo.css", operationId: "getDemoStyles", tag: "demo", summary: "The demo page's styles", ok: { statuses: [200], description: "CSS", text: "text/css" }, problems: [] },
  { method: "get", path: "/assets/docs.css", operationId: "getDocsStyles", tag: "documents", summary: "The reference's styles", ok: { statuses: [200], description: "CSS", text: "text/css" }, problems: [] },
  { method: "get", path: "/assets/toy-worker.js", operationId: "getToyWorker", tag: "demo", summary: "The toy model's Web Worker (kernels inlined)", ok: { statuses: [200], description: "JavaScript module", text: "text/javascript" }, problems: [] },
];
