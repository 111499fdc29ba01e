/**
 * @module storage/checkpoint-store
 * Checkpoints in R2 for server-side scans: shards uploaded with R2 multipart uploads straight to their
 * content-addressed key (verified against their SHA-256 once complete, deleted if they do not match),
 * manifests beside them, and ranged reads at byte offsets so a worker never holds a whole shard.
 * The only code that touches R2 for checkpoints; failures become StorageUnavailable (503).
 */
import { InvalidRequest, ResultNotFound, StorageUnavailable } from "../errors";
import type { CheckpointManifest } from "../wire/checkpoint";
import { CHECKPOINT_MANIFEST_PREFIX, checkpointBlobKey, checkpointManifestKey } from "./keys";
import { guard as storageGuard } from "./guard";

/** the storage guard, letting the client's own errors (a bad upload, a missing shard) through */
const guard = <T>(what: string, op: () => Promise<T>): Promise<T> =>
  storageGuard(what, op, (e) => e instanceof InvalidRequest || e instanceof ResultNotFound);

export class CheckpointStore {
  constructor(private readonly bucket: R2Bucket) {}

  /** The byte size of a stored shard, or undefined. */
  async blobBytes(sha256: string): Promise<number | undefined> {
    const head = await guard("R2 head", () => this.bucket.head(checkpointBlobKey(sha256)));
    return head?.size;
  }

  async startUpload(sha256: string): Promise<string> {
    const up = await guard("R2 multipart create", () =>
      this.bucket.createMultipartUpload(checkpointBlobKey(sha256), {
        httpMetadata: { contentType: "application/octet-stream" },
        customMetadata: { sha256 },
      }),
    );
    return up.uploadId;
  }

  async uploadPart(sha256: string, uploadId: string, partNumber: number, body: ReadableStream | ArrayBuffer): Promise<string> {
    const up = this.bucket.resumeMultipartUpload(checkpointBlobKey(sha256), uploadId);
    try {
      return (await up.uploadPart(partNumber, body)).etag;
    } catch (e) {
      throw uploadError(e, "R2 part upload");
    }
  }

  /**
   * Completes an upload, then streams the object through SHA-256 (constant memory): a shard whose
   * bytes do not hash to its name is deleted and refused.
   */
  async completeUpload(sha256: string, uploadId: string, parts: Array<{ part_number: number; etag: string }>): Promise<number> {
    const key = checkpointBlobKey(sha256);
    const up = this.bucket.resumeMultipartUpload(key, uploadId);
    let obj: R2Object;
    try {
      obj = await up.complete(parts.map((p) => ({ partNumber: p.part_number, etag: p.etag })));
    } catch (e) {
      throw uploadError(e, "R2 multipart complete");
    }
    const body = await guard("R2 read", () => this.bucket.get(key));
    if (!body) throw new StorageUnavailable(`shard ${sha256} vanished after its upload completed`);
    const digest = new crypto.DigestStream("SHA-256");
    await body.body.pipeTo(digest);
    const got = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (got !== sha256) {
      await guard("R2 delete", () => this.bucket.delete(key));
      throw new InvalidRequest(`the uploaded bytes hash to ${got}, not ${sha256}; the shard was discarded`, { sha256, actual_sha256: got });
    }
    return obj.size;
  }

  async abortUpload(sha256: string, uploadId: string): Promise<void> {
    try {
      await this.bucket.resumeMultipartUpload(checkpointBlobKey(sha256), uploadId).abort();
    } catch (e) {
      throw uploadError(e, "R2 multipart abort");
    }
  }

  /** `length` bytes of a shard from `offset` (one ranged R2 read). */
  async readRange(sha256: string, offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const obj = await guard("R2 ranged read", () => this.bucket.get(checkpointBlobKey(sha256), { range: { offset, length } }));
    if (!obj) throw new ResultNotFound(`checkpoint shard ${sha256} is missing`);
    const bytes = new Uint8Array(await guard("R2 ranged read", () => obj.arrayBuffer()));
    if (bytes.byteLength !== length) throw new StorageUnavailable(`ranged read of ${length} bytes at ${offset} returned ${bytes.byteLength}`);
    return bytes;
  }

  async putManifest(m: CheckpointManifest): Promise<void> {
    await guard("R2 write", () =>
      this.bucket.put(checkpointManifestKey(m.id), JSON.stringify(m), {
        httpMetadata: { contentType: "application/json" },
        customMetadata: { name: m.name, bytes: String(m.bytes), files: String(m.files.length) },
      }),
    );
  }

  async getManifest(id: string): Promise<CheckpointManifest | undefined> {
    const obj = await guard("R2 read", () => this.bucket.get(checkpointManifestKey(id)));
    return obj ? ((await obj.json()) as CheckpointManifest) : undefined;
  }

  /** Every registered checkpoint: id, name, bytes, file count, upload time; sorted by name, then id. */
  async listManifests(): Promise<Array<{ id: string; name: string; bytes: number; files: number; uploaded: string }>> {
    const out: Array<{ id: string; name: string; bytes: number; files: number; uploaded: string }> = [];
    let cursor: string | undefined;
    do {
      const page = await guard("R2 list", () => this.bucket.list({ prefix: CHECKPOINT_MANIFEST_PREFIX, cursor, include: ["customMetadata"] }));
      for (const o of page.objects) {
        const m = o.customMetadata ?? {};
        out.push({
          id: o.key.slice(CHECKPOINT_MANIFEST_PREFIX.length).replace(/\.json$/, ""),
          name: m.name ?? "", bytes: Number(m.bytes ?? 0), files: Number(m.files ?? 0), uploaded: o.uploaded.toISOString(),
        });
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
  }
}

/** R2 refuses an unknown upload id or a bad part list with an error message; those are the client's. */
function uploadError(e: unknown, what: string): Error {
  const msg = (e as Error).message ?? String(e);
  if (/upload|part|etag|NoSuchUpload|InvalidPart|EntityTooSmall|10024|10025|10011/i.test(msg)) {
    return new InvalidRequest(`${what}: ${msg} (start the upload again if it expired)`);
  }
  return new StorageUnavailable(`${what} failed: ${msg}`);
}
