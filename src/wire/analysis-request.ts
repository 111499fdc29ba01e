/**
 * @module wire/analysis-request
 * What the analysis endpoints accept and answer: POST …/heads/{head}/qk/sad (sparse attention
 * decomposition, method §4) and POST …/heads/{head}/{qk|ov}/alignment (method §5). Query options,
 * tensor names, limits, and the answer schemas the CLI parses. Only zod at run time.
 */
import * as z from "zod/mini";
import { VARIANTS, booleanParam, coercedInt, positiveNumber } from "./head-request";


/** Query options of POST …/qk/sad. */
export const SadOptionsSchema = z.object({
  /** N_recon threshold fraction τ: the smallest n whose sorted prefix reaches τ·Σ t̃ */
  tau: z._default(z.coerce.number().check(z.gt(0), z.lte(1)), 1),
  /** skip source 0 (the first token) when selecting firing pairs */
  exclude_first_source: z._default(booleanParam, true),
  /** the model's softmax scale on ℓ (default: the stored variant's, else 1/√d_head) */
  scale: z.optional(positiveNumber),
  /** random rotations for the null (seeds 0..n−1) */
  null_seeds: z._default(coercedInt(0, 16), 8),
  /** "pairs": store per-pair N_recon, sparseness and selected indices (inline when small, linked always) */
  detail: z.optional(z.enum(["pairs"])),
  /** term vectors t_k and t̃_k to return for listed pairs: "dest:src" (prompt 0) or "prompt:dest:src", comma-separated, ≤ 64 */
  terms: z.optional(
    z.pipe(
      z.string().check(z.regex(/^\d+:\d+(:\d+)?(,\d+:\d+(:\d+)?){0,63}$/, "terms must look like 64:63,0:100:99 (at most 64 pairs)")),
      z.transform((s: string) =>
        s.split(",").map((p) => {
          const n = p.split(":").map(Number);
          return (n.length === 2 ? [0, n[0], n[1]] : n) as [number, number, number];
        }),
      ),
    ),
  ),
  /** when weights are sent: the §3 variant options, as for POST …/qk */
  fold_ln: z.optional(booleanParam),
  bias: z.optional(z.enum(["augmented", "none"])),
  /** when no weights are sent: which stored SVD to use (default: the only one stored) */
  variant: z.optional(z.enum(VARIANTS)),
});
export type SadOptions = z.infer<typeof SadOptionsSchema>;

/** Query options of POST …/{qk|ov}/alignment. */
export const AlignmentOptionsSchema = z.object({
  /** best feature reported for the first top_k singular vectors (default all) */
  top_k: z.optional(coercedInt(1, 4096)),
  /** random-direction null: draws and seed */
  null_draws: z._default(coercedInt(0, 64), 4),
  null_seed: z._default(coercedInt(0, 2 ** 31), 0),
  /** target pairs for the theory prediction: "i:j,i:j,…" (query feature i, key feature j) */
  pairs: z.optional(
    z.pipe(
      z.string().check(z.regex(/^\d+:\d+(,\d+:\d+)*$/, "pairs must look like 0:1,2:21")),
      z.transform((s: string) => s.split(",").map((p) => p.split(":").map(Number) as [number, number])),
    ),
  ),
  fold_ln: z.optional(booleanParam),
  bias: z.optional(z.enum(["augmented", "none"])),
  variant: z.optional(z.enum(VARIANTS)),
});
export type AlignmentQuery = z.infer<typeof AlignmentOptionsSchema>;

/** Tensor names of the analysis bodies (besides the head weights of POST …/{qk|ov}). */
export const SAD_TENSORS = { tokens: "X" } as const;
export const ALIGNMENT_TENSORS = { features: "F", querySide: "F_query", keySide: "F_key" } as const;

export const ANALYSIS_LIMITS = {
  /** body bytes of the analysis endpoints (X of 256 prompts × 24 tokens × 769 in F32 is 19 MB) */
  maxBodyBytes: 48 * 1024 * 1024,
  /** candidate (d, s) pairs per request, B·T(T−1)/2: bounds the kernel's per-pair outputs (about 230 bytes per pair with 16 null seeds and detail=pairs; wasm memory never shrinks, the isolate has 128 MB) */
  maxCandidatePairs: 1 << 17,
  /** tokens per prompt (one prompt of 512 tokens is 130,816 candidate pairs) */
  maxTokens: 512,
  /** decomposed pairs listed inline in the answer with detail=pairs (all are in the linked file) */
  maxInlinePairs: 1000,
  /** features in one alignment request */
  maxFeatures: 8192,
} as const;

const Anything = z.record(z.string(), z.unknown());

/** The stored SAD summary (the full shape is documented in the README; checked loosely here). */
export const SadSummarySchema = z.looseObject({ schema: z.literal("headscope.sad/v1"), id: z.string(), choices: Anything, pairs: Anything });
export type SadSummary = z.infer<typeof SadSummarySchema>;

export const AlignmentSummarySchema = z.looseObject({ schema: z.literal("headscope.alignment/v1"), id: z.string(), choices: Anything });
export type AlignmentSummary = z.infer<typeof AlignmentSummarySchema>;
