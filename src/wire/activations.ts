/**
 * @module wire/activations
 * The activation store's contract (POST /v1/activations, GET /v1/activations/{id}, and SAD requests
 * that name a stored file with `?activations=ID`): tensor names, the id format, limits and the answer
 * schema the CLI parses. Only zod at run time.
 */
import * as z from "zod/mini";

/** Tensor names an activation file may hold: `layer.{l}` (one per layer, as `--save-activations` writes) or one `X`. */
export const ACTIVATION_TENSOR = /^(?:X|layer\.(\d{1,4}))$/;

/** Optional I32 [B] tensor of an activation file: prompt b's tokens are positions 0..lengths[b]−1 (the rest is padding, never read). */
export const ACTIVATION_LENGTHS = "lengths";

/** The tensor a SAD request reads for layer l. */
export const activationTensorName = (layer: number) => `layer.${layer}`;

/** A stored activation file's id: the SHA-256 of its bytes, 64 lowercase hex digits. */
export const ActivationIdSchema = z.string().check(z.regex(/^[0-9a-f]{64}$/, "an activation id is 64 lowercase hex digits (the SHA-256 of the file)"));

export const ACTIVATION_LIMITS = {
  /** bytes of one uploaded activation file (one GPT-2-small layer of 128 prompts × 20 tokens in F32 is 7.9 MB) */
  maxBodyBytes: 48 * 1024 * 1024,
} as const;

export const ActivationAnswerSchema = z.object({
  schema: z.literal("headscope.activations/v1"),
  id: z.string(),
  bytes: z.int(),
  tensors: z.record(z.string(), z.object({ dtype: z.string(), shape: z.array(z.int()) })),
  /** true when this request stored the file, false when it was already stored */
  stored: z.boolean(),
  links: z.object({ self: z.string() }),
});
export type ActivationAnswer = z.infer<typeof ActivationAnswerSchema>;
