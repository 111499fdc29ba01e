/**
 * @module wire/readout-basis
 * The token basis a model's readouts are read against (PUT/GET /v1/models/{model}/readout-basis):
 * the LN-normalised embedding rows, the unembedding (final norm's γ folded in), and the token
 * strings, each stored as content-addressed blobs in row chunks, described by one manifest. The CLI
 * builds and uploads it (cli/readout-basis.ts); the worker streams it (services/head-readouts.ts).
 * Only zod at run time.
 */
import * as z from "zod/mini";

export const Sha256Schema = z.string().check(z.regex(/^[0-9a-f]{64}$/, "a blob id is 64 lowercase hex digits (the SHA-256 of its bytes)"));

export const READOUT_LIMITS = {
  /** bytes of one blob: a chunk of rows (the CLI sends ≤ 8 MiB) or the token strings */
  maxBlobBytes: 16 * 1024 * 1024,
  /** chunks per matrix */
  maxChunks: 4096,
  /** the manifest itself */
  maxManifestBytes: 1 << 20,
  /** k of the top and bottom lists */
  maxK: 100,
} as const;

/** Blob formats: `f16` rows (little-endian binary16, [rows, d_model] row-major) or `tokens` (a JSON array of strings or nulls, one per row). */
export const BLOB_FORMATS = ["f16", "tokens"] as const;

const Chunk = z.object({ sha256: Sha256Schema, rows: z.int().check(z.minimum(1)) });

export const BasisMatrixSchema = z.object({
  /** the checkpoint tensor(s) it was built from, and how, for the record */
  source: z.string(),
  dtype: z.literal("F16"),
  /** row chunks in order: chunk i holds rows Σ_{j<i} rows_j … */
  chunks: z.array(Chunk).check(z.minLength(1), z.maxLength(READOUT_LIMITS.maxChunks)),
});
export type BasisMatrix = z.infer<typeof BasisMatrixSchema>;

/** What the CLI sends (PUT …/readout-basis). */
export const ReadoutBasisInputSchema = z.object({
  schema: z.literal("headscope.readout-basis/v1"),
  d_model: z.int().check(z.minimum(1), z.maximum(16384)),
  vocab: z.int().check(z.minimum(1), z.maximum(1 << 22)),
  /** the pre-attention norm the embedding rows went through: z = (r − mean r)/√(var r + ε), or r/√(mean r² + ε) */
  norm: z.enum(["layernorm", "rmsnorm"]),
  eps: z.number(),
  embedding: BasisMatrixSchema,
  /** rows: the unembedding's column per token, times the final norm's γ, centred over d_model after a LayerNorm; null when the checkpoint has none */
  unembedding: z.nullable(BasisMatrixSchema),
  /** one string per row (decoded by the CLI's tokenizer); null without a tokenizer */
  tokens: z.nullable(z.object({ source: z.string(), sha256: Sha256Schema })),
  /** the CLI's hash of everything above (a scan skips the upload when the stored one is equal) */
  sha256: Sha256Schema,
});
export type ReadoutBasis = z.infer<typeof ReadoutBasisInputSchema>;

export const ReadoutBasisAnswerSchema = z.extend(ReadoutBasisInputSchema, {
  model: z.string(),
  /** bytes stored for this basis (every blob) */
  bytes: z.int(),
  /** true when this request stored it, false when the same basis was stored */
  stored: z.optional(z.boolean()),
});
export type ReadoutBasisAnswer = z.infer<typeof ReadoutBasisAnswerSchema>;

export const BlobAnswerSchema = z.object({ sha256: z.string(), bytes: z.int(), stored: z.boolean() });
