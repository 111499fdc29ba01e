/**
 * @module services/head-analyses
 * Stored analyses of one head (SAD, method §4; alignment, method §5): where the SVD comes from (fresh
 * from weights in the body, else the stored one), the content address of a request (an RFC 8785
 * canonical JSON of the body hash, the parsed options and the SVD used, hashed), the re-post policy
 * (an identical request returns the stored result, `computed: false`), and storing detail before
 * summary. SAD reads X from the body or from the activation store (`activations=ID`). Storage goes
 * through ResultStore; never imports Hono. Nothing is stored when a request fails.
 */
import canonicalize from "canonicalize";
import { InvalidRequest, MissingTensor, ResultNotFound } from "../errors";
import type { Kernels } from "../kernels/types";
import type { AnalysisKind, ResultStore } from "../storage/result-store";
import {
  ALIGNMENT_TENSORS, AlignmentSummarySchema, SAD_TENSORS, SadSummarySchema, type AlignmentQuery, type SadOptions,
} from "../wire/analysis-request";
import { HEAD_TENSORS, type HeadPath, type VariantName } from "../wire/head-request";
import { isNpy, parseNpy } from "../wire/npy";
import { parseSafetensors, type ParsedSafetensors } from "../wire/safetensors";
import type { SvdSummary } from "../wire/svd-result";
import { pickActivationTensor } from "./activation-files";
import { alignHead, readFeatures } from "./align-head";
import { resolveVariant } from "./head-factors";
import { onlyStoredVariant } from "./head-results";
import { checkHeadTensorNames, readHeadWeights } from "./head-weights";
import { basisFromStored, basisFromWeights, decomposeAttention, readTokens, type HeadBasis } from "./sad-head";
import { sha256Hex } from "./sha256";

type VariantChoice = { fold_ln?: boolean; bias?: "augmented" | "none"; variant?: VariantName; scale?: number; norm?: "layernorm" | "rmsnorm" };

/** Where the SVD will come from, decided before anything heavy runs (so the id can be checked first). */
type BasisPlan =
  | { kind: "weights"; tensors: ParsedSafetensors; variant: VariantName }
  | { kind: "stored"; summary: SvdSummary };

async function planBasis(
  store: ResultStore,
  path: HeadPath,
  parsed: ParsedSafetensors | undefined,
  extra: readonly string[],
  opts: VariantChoice,
): Promise<BasisPlan> {
  const { required, optional } = HEAD_TENSORS[path.circuit];
  const headNames = new Set([...required, ...optional]);
  if (parsed) {
    for (const name of parsed.tensors.keys()) {
      if (!headNames.has(name) && !extra.includes(name)) {
        throw new InvalidRequest(`unexpected tensor ${name}; expected ${[...extra, ...headNames].join(", ")}`, { tensor: name });
      }
    }
  }
  const weightNames = parsed ? [...parsed.tensors.keys()].filter((n) => headNames.has(n)) : [];
  if (weightNames.length > 0) {
    if (opts.variant) throw new InvalidRequest("variant= selects a stored SVD; with weights in the body use fold_ln= and bias=", { parameter: "variant" });
    const tensors: ParsedSafetensors = { tensors: new Map(weightNames.map((n) => [n, parsed!.tensors.get(n)!])), metadata: {} };
    checkHeadTensorNames(path.circuit, weightNames); // missing tensors are named before any variant rule
    const variant = resolveVariant(path.circuit, new Set(weightNames), opts).name;
    return { kind: "weights", tensors, variant };
  }
  if (opts.fold_ln !== undefined || opts.bias !== undefined) {
    throw new InvalidRequest("fold_ln= and bias= apply to weights sent in the body; to use a stored SVD choose variant=", { parameter: "fold_ln" });
  }
  const variant = opts.variant ?? (await onlyStoredVariant(store, path));
  const summary = variant ? await store.getSummary(path, variant) : undefined;
  if (!summary) {
    throw new MissingTensor(
      `no ${variant ?? ""} SVD is stored for ${path.model} layer ${path.layer} head ${path.head} ${path.circuit}, and the body holds no weights: ` +
        `send ${required.join(", ")} (and optionally ${optional.join(", ")}) with the request, or POST …/${path.circuit} first`,
      { tensor: required[0] },
    );
  }
  return { kind: "stored", summary };
}

async function loadBasis(store: ResultStore, kernels: Kernels, path: HeadPath, plan: BasisPlan, opts: VariantChoice): Promise<HeadBasis> {
  if (plan.kind === "weights") return basisFromWeights(kernels, readHeadWeights(path.circuit, plan.tensors), opts);
  const stored = plan.summary.vectors;
  if (stored === null) {
    throw new MissingTensor(
      `the stored ${plan.summary.variant.name} SVD of ${path.model} layer ${path.layer} head ${path.head} ${path.circuit} was kept without vectors (vectors=none): send the head's weights with the request`,
      { tensor: path.circuit === "qk" ? "W_Q" : "W_V" },
    );
  }
  const obj = await store.getObject(stored.key);
  if (!obj) throw new ResultNotFound(`the stored SVD's vectors ${stored.key} are missing`);
  const basis = basisFromStored(plan.summary, parseSafetensors(new Uint8Array(await obj.arrayBuffer())));
  return opts.scale === undefined ? basis : { ...basis, variant: { ...basis.variant, scale: opts.scale } };
}

const planIdentity = (plan: BasisPlan) =>
  plan.kind === "weights" ? { source: "weights", variant: plan.variant } : { source: "stored", variant: plan.summary.variant.name, sha256: plan.summary.input.sha256 };

/** The id of an analysis request: SHA-256 of the RFC 8785 canonical JSON of what determines its result. */
async function analysisId(kind: string, bodySha256: string, options: object, plan: BasisPlan): Promise<string> {
  const canonical = canonicalize({ kind, body: bodySha256, options, basis: planIdentity(plan) });
  return sha256Hex(new TextEncoder().encode(canonical));
}

/** A stored analysis as its schema reads it. */
export type StoredAnalysis = Record<string, any> & { id: string };

const SCHEMAS = { sad: SadSummarySchema, alignment: AlignmentSummarySchema } as const;

async function findAnalysis(store: ResultStore, path: HeadPath, kind: AnalysisKind, id: string): Promise<StoredAnalysis | undefined> {
  const raw = await store.getAnalysis(path, kind, id);
  return raw === undefined ? undefined : (SCHEMAS[kind].parse(raw) as StoredAnalysis);
}

export interface AnalysisOutcome {
  summary: StoredAnalysis;
  computed: boolean;
}

/** SAD of one head over the prompts in the body (`X`), with the head's weights or its stored SVD. */
export async function postSad(store: ResultStore, kernels: Kernels, path: HeadPath, body: Uint8Array, options: SadOptions): Promise<AnalysisOutcome> {
  const parsed = await sadTokensSource(store, body, options);
  const plan = await planBasis(store, path, parsed.tensors.size ? parsed : undefined, [SAD_TENSORS.tokens, SAD_TENSORS.focus, SAD_TENSORS.lengths], options);
  const sha256 = await sha256Hex(body);
  const id = await analysisId("sad/v1", sha256, options, plan);
  const previous = await findAnalysis(store, path, "sad", id);
  if (previous) return { summary: previous, computed: false };
  const basis = await loadBasis(store, kernels, path, plan, options);
  const tokens = readTokens(parsed, basis, options.exclude_first_source);
  const detailKey = store.analysisDetailKey(path, "sad", id);
  const input = {
    sha256, bytes: body.byteLength,
    ...(options.activations ? { activations: { id: options.activations, tensor: parsed.tensors.get(SAD_TENSORS.tokens)!.name } } : {}),
  };
  const { summary, detail } = decomposeAttention(kernels, path, basis, tokens, options, input, id, detailKey, parsed.tensors.get(SAD_TENSORS.focus));
  await store.putAnalysis(path, "sad", id, summary, detail ? { key: detailKey, bytes: detail, sha256 } : undefined);
  return { summary: summary as StoredAnalysis, computed: true };
}

/**
 * The SAD body's tensors, with X either in the body or, with activations=ID, read from the stored
 * activation file (layer= or tensor= picks it; the body then holds at most the head's weights, and
 * the file's `lengths` come along).
 */
async function sadTokensSource(store: ResultStore, body: Uint8Array, options: SadOptions): Promise<ParsedSafetensors> {
  const X = SAD_TENSORS.tokens;
  if (!options.activations) {
    if (options.layer !== undefined || options.tensor !== undefined) {
      throw new InvalidRequest("layer= and tensor= pick a tensor of a stored activation file: add activations=ID", {
        parameter: options.layer !== undefined ? "layer" : "tensor",
      });
    }
    const parsed = parseSafetensors(body);
    if (!parsed.tensors.has(X)) throw new MissingTensor(`the body needs tensor ${X} [T, d] or [B, T, d] (or name a stored file with activations=ID)`, { tensor: X });
    return parsed;
  }
  const parsed: ParsedSafetensors = body.byteLength ? parseSafetensors(body) : { tensors: new Map(), metadata: {} };
  if (parsed.tensors.has(X)) throw new InvalidRequest(`send ${X} in the body or name stored activations, not both`, { parameter: "activations" });
  const bytes = await store.activationBytes(options.activations);
  if (!bytes) throw new ResultNotFound(`no activation file ${options.activations} is stored (POST /v1/activations first)`);
  const stored = parseSafetensors(new Uint8Array(bytes));
  const tensors = new Map(parsed.tensors);
  tensors.set(X, pickActivationTensor(stored, options.activations, { layer: options.layer, tensor: options.tensor }));
  const lengths = stored.tensors.get(SAD_TENSORS.lengths);
  if (lengths) {
    if (parsed.tensors.has(SAD_TENSORS.lengths)) {
      throw new InvalidRequest(`the stored activation file has ${SAD_TENSORS.lengths}; do not send it in the body too`, { tensor: SAD_TENSORS.lengths });
    }
    tensors.set(SAD_TENSORS.lengths, lengths);
  }
  return { tensors, metadata: parsed.metadata };
}

/** Alignment of one head's singular vectors with the features in the body (.npy `F`, or safetensors). */
export async function postAlignment(
  store: ResultStore,
  kernels: Kernels,
  path: HeadPath,
  body: Uint8Array,
  options: AlignmentQuery,
): Promise<AnalysisOutcome> {
  const npy = isNpy(body);
  const parsed = npy ? undefined : parseSafetensors(body);
  // required tensors first: a body without F fails before any storage read or SVD
  if (parsed && !parsed.tensors.has(ALIGNMENT_TENSORS.features)) {
    throw new MissingTensor(`the body needs tensor ${ALIGNMENT_TENSORS.features} [n_features, d_model] (or send an .npy file holding it)`, {
      tensor: ALIGNMENT_TENSORS.features,
    });
  }
  const plan = await planBasis(store, path, parsed, Object.values(ALIGNMENT_TENSORS), options);
  const sha256 = await sha256Hex(body);
  const id = await analysisId("alignment/v1", sha256, options, plan);
  const previous = await findAnalysis(store, path, "alignment", id);
  if (previous) return { summary: previous, computed: false };
  const basis = await loadBasis(store, kernels, path, plan, options);
  const tensor = (name: string) => (npy ? (name === ALIGNMENT_TENSORS.features ? parseNpy(body, name) : undefined) : parsed!.tensors.get(name));
  const features = readFeatures(tensor(ALIGNMENT_TENSORS.features), ALIGNMENT_TENSORS.features, basis.dModel, true)!;
  const querySide = readFeatures(tensor(ALIGNMENT_TENSORS.querySide), ALIGNMENT_TENSORS.querySide, basis.dModel, false);
  const keySide = readFeatures(tensor(ALIGNMENT_TENSORS.keySide), ALIGNMENT_TENSORS.keySide, basis.dModel, false);
  const detailKey = store.analysisDetailKey(path, "alignment", id);
  const { summary, detail } = alignHead(
    path, basis, { features, querySide, keySide, format: npy ? "npy" : "safetensors" }, options, { sha256, bytes: body.byteLength }, id, detailKey,
  );
  await store.putAnalysis(path, "alignment", id, summary, { key: detailKey, bytes: detail, sha256 });
  return { summary: summary as StoredAnalysis, computed: true };
}

const where = (p: HeadPath) => `${p.model} layer ${p.layer} head ${p.head} ${p.circuit}`;

/** A stored analysis by id. */
export async function storedAnalysis(store: ResultStore, path: HeadPath, kind: AnalysisKind, id: string): Promise<StoredAnalysis> {
  const s = await findAnalysis(store, path, kind, id);
  if (!s) throw new ResultNotFound(`no ${kind} result ${id} for ${where(path)}`);
  return s;
}

/** The detail object (SAD pairs, alignment cosines) of a stored analysis. */
export async function storedAnalysisDetail(store: ResultStore, path: HeadPath, kind: AnalysisKind, id: string) {
  const summary = await storedAnalysis(store, path, kind, id);
  if (!summary.detail?.key) throw new ResultNotFound(`${kind} result ${summary.id} was computed without detail (POST with detail=pairs)`);
  const obj = await store.getObject(summary.detail.key);
  if (!obj) throw new ResultNotFound(`detail ${summary.detail.key} is missing`);
  return { summary, body: obj.body };
}
