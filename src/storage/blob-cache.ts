/**
 * @module storage/blob-cache
 * Immutable blobs kept in this isolate after their first read, up to a byte budget: a scan reads its
 * model's readout basis (GPT-2: 148 MiB of F16 chunks) once per head, and on the local worker those
 * R2 reads took 7.6 of 53.1 s of worker CPU in a GPT-2-sized scan with readouts; its SAD requests
 * each read their layer's activation file (result-store.ts activationBytes). Keys must name
 * content that never changes (basis chunks and activation files are content-addressed). First
 * come, first kept: once the budget is used, later blobs are read from R2 each time, so a basis
 * larger than the budget keeps its first chunks cached instead of evicting one chunk for the next
 * on every head. Off on a deployment (an isolate has 128 MB there); the CLI's embedded worker sets
 * READOUT_CACHE_MB.
 */

import { guard } from "./guard";

const kept = new Map<string, ArrayBuffer>();
let used = 0;

/**
 * The blob under `key`: kept bytes, or `read()`'s (kept when they fit in `budget` bytes with what is
 * kept already). Callers must not modify the bytes.
 */
export async function cachedBlob(key: string, budget: number, read: () => Promise<ArrayBuffer | null>): Promise<ArrayBuffer | null> {
  const hit = kept.get(key);
  if (hit) return hit;
  const bytes = await read();
  if (bytes && budget > 0 && used + bytes.byteLength <= budget && !kept.has(key)) {
    kept.set(key, bytes);
    used += bytes.byteLength;
  }
  return bytes;
}

/**
 * The bytes of R2 object `key` (null when missing), kept in this isolate within the budget a
 * READOUT_CACHE_MB value gives: for objects whose key names their content.
 */
export function cachedObject(bucket: R2Bucket, key: string, budgetMb: string | undefined): Promise<ArrayBuffer | null> {
  return cachedBlob(key, cacheBudget(budgetMb), async () => {
    const obj = await guard("R2 read", () => bucket.get(key));
    return obj ? guard("R2 read", () => obj.arrayBuffer()) : null;
  });
}

/** Bytes of the budget a READOUT_CACHE_MB value gives (absent, empty or not a positive number: 0). */
export function cacheBudget(mb: string | undefined): number {
  const n = Number(mb);
  return Number.isFinite(n) && n > 0 ? Math.floor(n * 2 ** 20) : 0;
}
