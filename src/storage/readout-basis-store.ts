/**
 * @module storage/readout-basis-store
 * The only code that touches R2 for token readout bases (beside result-store.ts): blobs by content
 * hash, then the manifest that names them, written last so a stored manifest never points at a
 * missing blob. Storage failures become StorageUnavailable (503), which clients may retry.
 */
import { ReadoutBasisAnswerSchema, type ReadoutBasisAnswer } from "../wire/readout-basis";
import { cachedObject } from "./blob-cache";
import { readoutBasisKey, readoutBlobKey } from "./keys";
import { guard } from "./guard";

export class ReadoutBasisStore {
  /** @param env - R2, and READOUT_CACHE_MB: blobs kept in the isolate after a first read (storage/blob-cache.ts; default none) */
  constructor(private readonly env: { RESULTS: R2Bucket; READOUT_CACHE_MB?: string }) {}

  /** The model's basis manifest, or undefined when none is stored. */
  async getBasis(model: string): Promise<ReadoutBasisAnswer | undefined> {
    const obj = await guard("R2 read", () => this.env.RESULTS.get(readoutBasisKey(model)));
    return obj ? ReadoutBasisAnswerSchema.parse(await obj.json()) : undefined;
  }

  async putBasis(model: string, basis: ReadoutBasisAnswer): Promise<void> {
    await guard("R2 write", () =>
      this.env.RESULTS.put(readoutBasisKey(model), JSON.stringify(basis), { httpMetadata: { contentType: "application/json" } }),
    );
  }

  /** Bytes of a stored blob, or undefined. */
  async blobSize(model: string, sha256: string): Promise<number | undefined> {
    const head = await guard("R2 head", () => this.env.RESULTS.head(readoutBlobKey(model, sha256)));
    return head?.size;
  }

  /** Stores a blob unless it is already there; true when this call wrote it. */
  async putBlob(model: string, sha256: string, bytes: Uint8Array): Promise<boolean> {
    if ((await this.blobSize(model, sha256)) !== undefined) return false;
    await guard("R2 write", () =>
      this.env.RESULTS.put(readoutBlobKey(model, sha256), bytes, { httpMetadata: { contentType: "application/octet-stream" }, customMetadata: { sha256 } }),
    );
    return true;
  }

  /** A blob's bytes, or null when missing. */
  async getBlob(model: string, sha256: string): Promise<ArrayBuffer | null> {
    return cachedObject(this.env.RESULTS, readoutBlobKey(model, sha256), this.env.READOUT_CACHE_MB);
  }
}
