/**
 * @module wire/checkpoint
 * A checkpoint uploaded for server-side scans: its manifest (the safetensors shards by SHA-256, the
 * index's weight map, config.json), how its id is derived, and the multipart-upload messages. Shared
 * by the worker and `headscope upload`.
 */
import * as z from "zod/mini";
import { MODEL_NAME } from "./head-request";

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Parts of a multipart upload are this size (the last may be smaller); R2 needs equal parts ≥ 5 MiB. */
export const UPLOAD_PART_BYTES = 16 * 1024 * 1024;
/** Limits of a manifest (a 70B checkpoint has about 30 shards and 1,000 tensors in its index). */
export const CHECKPOINT_LIMITS = { maxFiles: 1024, maxManifestBytes: 4 * 1024 * 1024, maxShardHeaderBytes: 16 * 1024 * 1024 } as const;

export const CheckpointFileSchema = z.object({
  /** the shard's file name as the index names it (no directories) */
  name: z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, "a file name without directories")),
  sha256: z.string().check(z.regex(SHA256_HEX, "64 lowercase hex digits")),
  bytes: z.int().check(z.minimum(8)),
});

/** What the client sends to register a checkpoint (every shard already uploaded). */
export const CheckpointManifestInputSchema = z.object({
  name: z.string().check(z.regex(MODEL_NAME, "name must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}")),
  files: z.array(CheckpointFileSchema).check(z.minLength(1), z.maxLength(CHECKPOINT_LIMITS.maxFiles)),
  /** model.safetensors.index.json's weight_map (tensor → file), for sharded checkpoints */
  weight_map: z.optional(z.record(z.string(), z.string())),
  config: z.optional(z.record(z.string(), z.unknown())),
});
export type CheckpointManifestInput = z.infer<typeof CheckpointManifestInputSchema>;

export interface CheckpointManifest extends CheckpointManifestInput {
  schema: "headscope.checkpoint/v1";
  /** the SHA-256 of the canonical manifest (checkpointId) */
  id: string;
  bytes: number;
  dtypes: string[];
  tensors: number;
}

/** The canonical bytes a checkpoint id hashes: name, files sorted by name, weight map, config. */
export function canonicalManifest(m: CheckpointManifestInput): string {
  const files = [...m.files].sort((a, b) => (a.name < b.name ? -1 : 1)).map((f) => ({ name: f.name, sha256: f.sha256, bytes: f.bytes }));
  return JSON.stringify({ name: m.name, files, weight_map: m.weight_map ?? null, config: m.config ?? null });
}

export const UploadPartAnswerSchema = z.object({ part_number: z.int(), etag: z.string() });
export const CompleteUploadSchema = z.object({ parts: z.array(UploadPartAnswerSchema).check(z.minLength(1), z.maxLength(10000)) });
export const StartUploadAnswerSchema = z.union([
  z.object({ exists: z.literal(true), sha256: z.string(), bytes: z.number() }),
  z.object({ exists: z.literal(false), sha256: z.string(), upload_id: z.string(), part_bytes: z.number() }),
]);
