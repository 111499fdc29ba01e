/**
 * @module storage/keys
 * Every storage key in one place; only src/storage imports this module (the rest of the code speaks
 * in heads, variants and ids through ResultStore). R2 holds vectors (large, immutable, content-addressed by the input
 * hash); KV holds the JSON summaries that readers trust. A summary is written only after its vectors,
 * so a summary never points at a missing object.
 */
import type { HeadPath, VariantName } from "../wire/head-request";

const VERSION = "v1";

const headPrefix = (p: Pick<HeadPath, "model" | "layer" | "head" | "circuit">) =>
  `${p.model}/${p.layer}/${p.head}/${p.circuit}`;

/** R2: U, S, V of one head, circuit, variant and input (F16 vectors under their own name, so F32 ones are never rewritten in place). */
export const vectorsKey = (p: HeadPath, variant: VariantName, sha256: string, dtype: "F32" | "F16" = "F32") =>
  `results/${VERSION}/${headPrefix(p)}/${variant}/${sha256}${dtype === "F16" ? ".f16" : ""}.safetensors`;

/** KV: the summary of one head, circuit and variant. */
export const summaryKey = (p: HeadPath, variant: VariantName) => `svd/${VERSION}/${headPrefix(p)}/${variant}`;

/** KV prefix listing every variant stored for one head and circuit. */
export const summaryPrefixForHead = (p: HeadPath) => `svd/${VERSION}/${headPrefix(p)}/`;

/** KV: a marker that a model has stored results, so models can be listed without scanning summaries. */
export const modelMarkerKey = (model: string) => `models/${VERSION}/${model}`;
export const MODEL_MARKER_PREFIX = `models/${VERSION}/`;

/** KV prefix listing every summary of a model. */
export const summaryPrefixForModel = (model: string) => `svd/${VERSION}/${model}/`;

/** The model name in a model marker key. */
export const modelFromMarkerKey = (key: string) => key.slice(MODEL_MARKER_PREFIX.length);

/** Parses a summary key back into its parts (for listings). */
export function parseSummaryKey(key: string) {
  const m = /^svd\/v1\/([^/]+)\/(\d+)\/(\d+)\/(qk|ov)\/([a-z_]+)$/.exec(key);
  if (!m) return undefined;
  return { model: m[1], layer: Number(m[2]), head: Number(m[3]), circuit: m[4] as "qk" | "ov", variant: m[5] as VariantName };
}

// Analyses (SAD, alignment) are addressed by an id: the SHA-256 of the request body, the canonical
// options and the SVD they used, so an identical request finds its stored result.

export type AnalysisKind = "sad" | "alignment";

/** KV: the summary of one analysis. */
export const analysisSummaryKey = (p: HeadPath, kind: AnalysisKind, id: string) => `${kind}/${VERSION}/${headPrefix(p)}/${id}`;

/** KV prefix listing the analyses of one kind for one head and circuit. */
export const analysisPrefixForHead = (p: HeadPath, kind: AnalysisKind) => `${kind}/${VERSION}/${headPrefix(p)}/`;

/** R2: the per-pair (SAD) or per-feature (alignment) detail of one analysis. */
export const analysisDetailKey = (p: HeadPath, kind: AnalysisKind, id: string) =>
  `results/${VERSION}/${headPrefix(p)}/${kind}/${id}.safetensors`;

/** KV prefix listing the analyses of one kind for a whole model (the model summary's SAD column). */
export const analysisPrefixForModel = (model: string, kind: AnalysisKind) => `${kind}/${VERSION}/${model}/`;

/** Parses an analysis summary key back into its parts. */
export function parseAnalysisKey(key: string) {
  const m = /^(sad|alignment)\/v1\/([^/]+)\/(\d+)\/(\d+)\/(qk|ov)\/([0-9a-f]+)$/.exec(key);
  if (!m) return undefined;
  return { kind: m[1] as AnalysisKind, model: m[2], layer: Number(m[3]), head: Number(m[4]), circuit: m[5] as "qk" | "ov", id: m[6] };
}

/** R2: one uploaded activation file (token vectors for SAD), content-addressed by the SHA-256 of its bytes. */
export const activationsKey = (sha256: string) => `activations/${VERSION}/${sha256}.safetensors`;

/** R2: one toy-model report (toy.json), content-addressed. */
export const toyReportKey = (experiment: string, sha256: string) => `toy/${VERSION}/${experiment}/${sha256}.json`;
/** KV: the latest published toy report of an experiment (a pointer to its R2 object). */
export const toyPointerKey = (experiment: string) => `toy/${VERSION}/${experiment}`;
export const TOY_POINTER_PREFIX = `toy/${VERSION}/`;

// Checkpoints uploaded for server-side scans (R2). Shards are content-addressed by their SHA-256, so
// a shard already uploaded (by this or any other checkpoint) is never sent again; a checkpoint is a
// small manifest naming its shards, index and config.json, addressed by the SHA-256 of the manifest.

/** R2: one safetensors shard, by the SHA-256 of its bytes. */
export const checkpointBlobKey = (sha256: string) => `checkpoints/${VERSION}/blobs/${sha256}`;
/** R2: one checkpoint's manifest (wire/checkpoint.ts). */
export const checkpointManifestKey = (id: string) => `checkpoints/${VERSION}/manifests/${id}.json`;
export const CHECKPOINT_MANIFEST_PREFIX = `checkpoints/${VERSION}/manifests/`;

/** R2: what a finished scan job wrote: `report.json` (as the CLI writes it) and the model `summary.json`. */
export const scanReportKey = (job: string) => `scans/${VERSION}/${job}/report.json`;
export const scanSummaryKey = (job: string, model: string) => `scans/${VERSION}/${job}/summary/${model}.json`;

// Token readout bases (one per model): content-addressed blobs (row chunks of the normalised
// embedding and of the unembedding, the token strings) and the manifest naming them (R2, strongly
// consistent, so a head POST that follows the upload sees it).

/** R2: one blob of a model's readout basis, by the SHA-256 of its bytes. */
export const readoutBlobKey = (model: string, sha256: string) => `readouts/${VERSION}/${model}/blobs/${sha256}`;
/** R2: a model's readout basis manifest (wire/readout-basis.ts); written after every blob it names. */
export const readoutBasisKey = (model: string) => `readouts/${VERSION}/${model}/basis.json`;
