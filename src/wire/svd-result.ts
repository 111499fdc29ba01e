/**
 * @module wire/svd-result
 * The JSON summary of one head's SVD, as stored in KV and returned by the API, and the names of the
 * tensors in the stored vectors file. The CLI parses answers with this schema.
 */
import * as z from "zod/mini";
import { CIRCUITS, VariantSchema } from "./head-request";

export const CheckSchema = z.object({
  name: z.string(),
  value: z.number(),
  limit: z.number(),
  passed: z.boolean(),
});

const ReadoutToken = z.object({ id: z.int(), token: z.nullable(z.string()), score: z.number() });
const ReadoutItem = z.object({
  /** 1-based singular index */
  index: z.int(),
  /** highest scores first */
  top: z.array(ReadoutToken),
  /** lowest scores first */
  bottom: z.array(ReadoutToken),
});

/**
 * Token readouts of the leading singular vectors (Millidge & Black 2022; definition in the README and
 * in `definition`): QK u and v and OV u against the embedding rows as the head reads them, OV v
 * against the unembedding.
 */
export const ReadoutsSchema = z.object({
  k: z.int(),
  vectors: z.int(),
  definition: z.string(),
  sides: z.object({
    u: z.object({ basis: z.literal("embedding"), items: z.array(ReadoutItem) }),
    v: z.object({ basis: z.enum(["embedding", "unembedding"]), items: z.array(ReadoutItem) }),
  }),
});
export type Readouts = z.infer<typeof ReadoutsSchema>;

export const SvdSummarySchema = z.object({
  schema: z.literal("headscope.svd/v1"),
  model: z.string(),
  layer: z.int(),
  head: z.int(),
  circuit: z.enum(CIRCUITS),
  variant: VariantSchema,
  d_model: z.int(),
  d_head: z.int(),
  /** σ_1 ≥ … ≥ σ_k, k = min(factor rows, d_head) */
  singular_values: z.array(z.number()),
  /** exp of the Shannon entropy of σ/Σσ (Roy & Vetterli 2007) */
  effective_rank: z.number(),
  /** σ_k > max(m, n)·ε·σ_1 count */
  numerical_rank: z.int(),
  /** Frobenius norm of the circuit matrix, √Σσ² */
  frobenius_norm: z.number(),
  /** σ_1² / Σσ²: share of the squared Frobenius norm in the top direction */
  top_energy: z.number(),
  /** ‖A‖_F and ‖B‖_F of the factors in the variant (circuit = A Bᵀ): the scale of the Gaussian null band; absent in results stored before it */
  factor_norms: z.optional(z.object({ a: z.number(), b: z.number() })),
  checks: z.array(CheckSchema),
  diagnostics: z.object({ sweeps: z.number(), off_orthogonality: z.number() }),
  input: z.object({ sha256: z.string(), bytes: z.int(), dtypes: z.record(z.string(), z.string()) }),
  kernel: z.object({ name: z.string(), simd: z.boolean() }),
  /** the stored U, S, V (U and V in F32 or F16, as the POST's `vectors` asked); null when stored with `vectors=none` */
  vectors: z.nullable(
    z.object({
      key: z.string(),
      format: z.literal("safetensors"),
      tensors: z.object({ U: z.array(z.number()), S: z.array(z.number()), V: z.array(z.number()) }),
      dtype: z.object({ U: z.string(), S: z.string(), V: z.string() }),
    }),
  ),
  /** absent when not asked for (readouts=0) or stored before readouts existed; null when the model has no readout basis */
  readouts: z.optional(z.nullable(ReadoutsSchema)),
});
export type SvdSummary = z.infer<typeof SvdSummarySchema>;

/** The answer of POST and GET: the summary plus links and whether it was computed now. */
export const SvdAnswerSchema = z.extend(SvdSummarySchema, {
  computed: z.optional(z.boolean()),
  /** `vectors` is absent when no vectors are stored */
  links: z.object({ self: z.string(), vectors: z.optional(z.string()) }),
});
export type SvdAnswer = z.infer<typeof SvdAnswerSchema>;
