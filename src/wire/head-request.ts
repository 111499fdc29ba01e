/**
 * @module wire/head-request
 * What a per-head request is: the path parameters, the query options that select a method §3
 * variant, and the tensors the body must hold for each circuit. Shared by the worker (validation)
 * and the CLI (building requests). Only zod at run time.
 */
import * as z from "zod/mini";

/** A path or query parameter holding an integer in [min, max]. */
export const coercedInt = (min: number, max: number) => z.pipe(z.coerce.number(), z.int().check(z.minimum(min), z.maximum(max)));

/** A query parameter holding a positive finite number. */
export const positiveNumber = z.coerce.number().check(z.positive());

export const CIRCUITS = ["qk", "ov"] as const;
export type Circuit = (typeof CIRCUITS)[number];

/** Model names are path segments: Hugging Face "org/name" is sent as "org--name". */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const HeadPathSchema = z.object({
  model: z.string().check(z.regex(MODEL_NAME, "model must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}")),
  layer: coercedInt(0, 4095),
  head: coercedInt(0, 4095),
  circuit: z.enum(CIRCUITS),
});
export type HeadPath = z.infer<typeof HeadPathSchema>;

/** A query parameter `true|false|1|0`, as a boolean. */
export const booleanParam = z.pipe(
  z.enum(["true", "false", "1", "0"]),
  z.transform((v: "true" | "false" | "1" | "0") => v === "true" || v === "1"),
);

/** Query options of POST …/{circuit}. Defaults depend on the tensors present (see resolveVariant). */
/** How a result's U and V are stored: `f32` (default), `f16` (half the bytes), `none` (spectrum and checks only). */
export const VECTORS_POLICIES = ["f32", "f16", "none"] as const;
export type VectorsPolicy = (typeof VECTORS_POLICIES)[number];

export const HeadOptionsSchema = z.object({
  fold_ln: z.optional(booleanParam),
  bias: z.optional(z.enum(["augmented", "none"])),
  scale: z.optional(positiveNumber),
  /**
   * the pre-attention norm whose gain fold_ln folds: `layernorm` (default: fold γ and β, then centre)
   * or `rmsnorm` (Llama: fold γ only and centre nothing, since RMSNorm does not remove the mean)
   */
  norm: z.optional(z.enum(["layernorm", "rmsnorm"])),
  /** replace a stored result whose input differs (otherwise such a POST is a 409 conflict) */
  overwrite: z.optional(booleanParam),
  /** how U and V are stored: `f32` (default), `f16` (half the bytes), `none` (spectrum and checks only) */
  vectors: z.optional(z.enum(VECTORS_POLICIES)),
  /** token readouts of the leading N singular vectors per side when the model has a readout basis (default 8; `all`; 0: none) */
  readouts: z.optional(z.union([z.literal("all"), coercedInt(0, 4096)])),
  /** tokens kept at each end of a readout (default 10) */
  readout_k: z.optional(coercedInt(1, 100)),
});
export type HeadOptions = z.infer<typeof HeadOptionsSchema>;

/** Names of the variants, as in shared/reference/gpt2-small-spectra.json. */
export const VARIANTS = ["raw", "raw_augmented", "folded", "folded_augmented"] as const;
export type VariantName = (typeof VARIANTS)[number];

export const VariantSchema = z.object({
  name: z.enum(VARIANTS),
  fold_ln: z.boolean(),
  bias: z.enum(["augmented", "none"]),
  /** the model's score scale (recorded; Ω never includes it) */
  scale: z.number(),
  /** rows of the factors: d_model, or d_model + 1 with the augmented bias coordinate */
  factor_rows: z.int(),
  centred: z.boolean(),
});
export type Variant = z.infer<typeof VariantSchema>;

export const variantName = (foldLn: boolean, bias: "augmented" | "none"): VariantName =>
  `${foldLn ? "folded" : "raw"}${bias === "augmented" ? "_augmented" : ""}` as VariantName;

/** Tensor names per circuit: required, then optional. Anything else in the body is an error. */
export const HEAD_TENSORS: Record<Circuit, { required: string[]; optional: string[] }> = {
  qk: { required: ["W_Q", "W_K"], optional: ["b_Q", "b_K", "ln_w", "ln_b"] },
  ov: { required: ["W_V", "W_O"], optional: ["ln_w", "ln_b"] },
};

/** Upper limits on what one request may hold (each documented in the README and sent in errors). */
export const LIMITS = {
  /** body bytes of POST …/{qk|ov} */
  maxHeadBodyBytes: 24 * 1024 * 1024,
  /** d_model · d_head elements per factor (8192 × 256, Llama-70B-sized heads fit) */
  maxFactorElements: 8192 * 256,
  maxDModel: 16384,
  maxDHead: 1024,
} as const;
