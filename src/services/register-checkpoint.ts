/**
 * @module services/register-checkpoint
 * Registers an uploaded checkpoint: every shard must be stored with the stated size, every header must
 * validate (and the index's weight map agree with them), then the manifest is stored under the SHA-256
 * of its canonical form. Registering the same checkpoint again returns the stored manifest.
 */
import { InvalidRequest } from "../errors";
import { CheckpointError } from "../cli/checkpoint-error";
import type { CheckpointStore } from "../storage/checkpoint-store";
import { canonicalManifest, type CheckpointManifest, type CheckpointManifestInput } from "../wire/checkpoint";
import { R2Checkpoint } from "./r2-checkpoint";
import { sha256Hex } from "./sha256";

export async function registerCheckpoint(store: CheckpointStore, input: CheckpointManifestInput): Promise<{ manifest: CheckpointManifest; created: boolean }> {
  const id = await sha256Hex(new TextEncoder().encode(canonicalManifest(input)));
  const existing = await store.getManifest(id);
  if (existing) return { manifest: existing, created: false };
  const sizes = await Promise.all(input.files.map((f) => store.blobBytes(f.sha256)));
  const missing = input.files.filter((f, i) => sizes[i] !== f.bytes);
  if (missing.length) {
    throw new InvalidRequest(
      `shard(s) not uploaded (or of another size): ${missing.map((f) => `${f.name} (${f.sha256.slice(0, 12)}…)`).join(", ")}`,
      { reason: "missing-shards", files: missing.map((f) => f.name) },
    );
  }
  let ck: R2Checkpoint;
  try {
    ck = await R2Checkpoint.open(store, input);
  } catch (e) {
    if (e instanceof CheckpointError) throw new InvalidRequest(`checkpoint: ${e.message}`, { reason: "checkpoint" });
    throw e;
  }
  const files = [...input.files].sort((a, b) => (a.name < b.name ? -1 : 1));
  const manifest: CheckpointManifest = {
    schema: "headscope.checkpoint/v1", id, name: input.name, files,
    ...(input.weight_map ? { weight_map: input.weight_map } : {}),
    ...(input.config ? { config: input.config } : {}),
    bytes: ck.bytes(), dtypes: ck.dtypes(), tensors: ck.names().length,
  };
  await store.putManifest(manifest);
  return { manifest, created: true };
}
