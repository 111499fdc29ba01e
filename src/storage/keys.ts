/**
 * @module storage/keys
 * Every storage key in one place. R2 holds vectors (large, immutable, content-addressed by the input
 * hash); KV holds the JSON summaries that readers trust. A summary is written only after its vectors,
 * so a summary never points at a missing object.
 */
import type { HeadPath, VariantName } from "../wire/head-request";

const VERSION = "v1";

const headPrefix = (p: Pick<HeadPath, "model" | "layer" | "head" | "circuit">) =>
  `${p.model}/${p.layer}/${p.head}/${p.circuit}`;

/** R2: U, S, V of one head, circuit, variant and input. */
export const vectorsKey = (p: HeadPath, variant: VariantName, sha256: string) =>
  `results/${VERSION}/${headPrefix(p)}/${variant}/${sha256}.safetensors`;

/** KV: the summary of one head, circuit and variant. */
export const summaryKey = (p: HeadPath, variant: VariantName) => `svd/${VERSION}/${headPrefix(p)}/${variant}`;

/** KV prefix listing every variant stored for one head and circuit. */
export const summaryPrefixForHead = (p: HeadPath) => `svd/${VERSION}/${headPrefix(p)}/`;

/** KV prefix listing every summary of a model. */
export const summaryPrefixForModel = (model: string) => `svd/${VERSION}/${model}/`;

/** Parses a summary key back into its parts (for listings). */
export function parseSummaryKey(key: string) {
  const m = /^svd\/v1\/([^/]+)\/(\d+)\/(\d+)\/(qk|ov)\/([a-z_]+)$/.exec(key);
  if (!m) return undefined;
  return { model: m[1], layer: Number(m[2]), head: Number(m[3]), circuit: m[4] as "qk" | "ov", variant: m[5] as VariantName };
}

// Analyses (SAD, alignment) are addressed by an id: the SHA-256 of the request body, the canonical
// options and the SVD they used, so an identical request finds its stored result.

type AnalysisKind = "sad" | "alignment";

/** KV: the summary of one analysis. */
export const analysisSummaryKey = (p: HeadPath, kind: AnalysisKind, id: string) => `${kind}/${VERSION}/${headPrefix(p)}/${id}`;

/** KV prefix listing the analyses of one kind for one head and circuit. */
export const analysisPrefixForHead = (p: HeadPath, kind: AnalysisKind) => `${kind}/${VERSION}/${headPrefix(p)}/`;

/** R2: the per-pair (SAD) or per-feature (alignment) detail of one analysis. */
export const analysisDetailKey = (p: HeadPath, kind: AnalysisKind, id: string) =>
  `results/${VERSION}/${headPrefix(p)}/${kind}/${id}.safetensors`;
