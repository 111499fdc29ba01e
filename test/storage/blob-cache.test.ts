/**
 * The isolate's cache of immutable blobs (src/storage/blob-cache.ts), which the readout basis store
 * reads through: a kept blob is not read again; blobs are kept first come, first kept, while they fit
 * the budget (never evicted, so a basis larger than the budget keeps its first chunks); a missing blob
 * and a budget of 0 (a deployment's default) keep nothing; READOUT_CACHE_MB values; stored activation
 * files (ResultStore.activationBytes) read through it too.
 */
import { describe, expect, test } from "vitest";
import { cacheBudget, cachedBlob } from "../../src/storage/blob-cache";
import { ResultStore } from "../../src/storage/result-store";

/** A reader of `bytes`-byte blobs that counts its reads. */
function source(bytes: number) {
  const reads: string[] = [];
  return {
    reads,
    read: (key: string) => async () => {
      reads.push(key);
      return new ArrayBuffer(bytes);
    },
  };
}

describe("cachedBlob", () => {
  test("a kept blob is read once; blobs past the budget are read every time, the first ones stay kept", async () => {
    const s = source(1000);
    const budget = 2500; // two blobs fit
    for (let pass = 0; pass < 3; pass++) {
      for (const k of ["a/1", "a/2", "a/3", "a/4"]) expect((await cachedBlob(k, budget, s.read(k)))!.byteLength).toBe(1000);
    }
    expect(s.reads.filter((k) => k === "a/1")).toHaveLength(1);
    expect(s.reads.filter((k) => k === "a/2")).toHaveLength(1);
    expect(s.reads.filter((k) => k === "a/3")).toHaveLength(3);
    expect(s.reads.filter((k) => k === "a/4")).toHaveLength(3);
    // the same bytes come back for a kept key
    expect(await cachedBlob("a/1", budget, s.read("a/1"))).toBe(await cachedBlob("a/1", budget, s.read("a/1")));
  });

  test("a budget of 0 keeps nothing; a missing blob is not kept", async () => {
    const s = source(10);
    await cachedBlob("b/1", 0, s.read("b/1"));
    await cachedBlob("b/1", 0, s.read("b/1"));
    expect(s.reads).toEqual(["b/1", "b/1"]);
    let missing = 0;
    for (let i = 0; i < 2; i++) {
      expect(await cachedBlob("b/2", 1 << 20, async () => (missing++, null))).toBeNull();
    }
    expect(missing).toBe(2);
  });

  test("READOUT_CACHE_MB: MiB, and anything else is 0", () => {
    expect(cacheBudget("512")).toBe(512 * 2 ** 20);
    expect(cacheBudget("0.5")).toBe(2 ** 19);
    for (const v of [undefined, "", "0", "-3", "lots", "NaN"]) expect(cacheBudget(v)).toBe(0);
  });
});

describe("ResultStore.activationBytes", () => {
  /** A store over an R2 bucket that counts its reads and holds `ids` (each file 8 bytes). */
  function store(ids: string[], budgetMb: string) {
    const gets: string[] = [];
    const RESULTS = {
      get: async (key: string) => {
        gets.push(key);
        return ids.some((id) => key.includes(id)) ? { arrayBuffer: async () => new Uint8Array(8).fill(7).buffer } : null;
      },
    } as unknown as R2Bucket;
    return { gets, store: new ResultStore({ RESULTS, JOBS: {} as KVNamespace, READOUT_CACHE_MB: budgetMb }) };
  }

  test("a stored file is read from R2 once within the budget, every time without one; a missing file is null each time", async () => {
    const kept = "a".repeat(64);
    const { gets, store: s } = store([kept], "1");
    for (let i = 0; i < 3; i++) expect(new Uint8Array((await s.activationBytes(kept))!)).toEqual(new Uint8Array(8).fill(7));
    expect(gets).toHaveLength(1);
    const missing = "b".repeat(64);
    expect(await s.activationBytes(missing)).toBeNull();
    expect(await s.activationBytes(missing)).toBeNull();
    expect(gets).toHaveLength(3);

    const uncached = "c".repeat(64);
    const off = store([uncached], "0");
    await off.store.activationBytes(uncached);
    await off.store.activationBytes(uncached);
    expect(off.gets).toHaveLength(2);
  });
});
