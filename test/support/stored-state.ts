/**
 * Reads what a local worker stored, straight from its persisted state directory (the one given to
 * `wrangler dev --persist-to`), through Miniflare's own KV and R2 implementations — so tests can
 * prove that nothing was stored, or that nothing is orphaned, without any API of the worker's.
 */
import { join } from "node:path";
import { Miniflare } from "miniflare";

/** ids from wrangler.toml (local storage is keyed by them) */
const KV_ID = "00000000000000000000000000000000";
const R2_BUCKET = "headscope-results";

export interface StoredState {
  kv: Map<string, string>;
  r2: Map<string, Uint8Array>;
}

export async function readStoredState(persistDir: string): Promise<StoredState> {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(null, { status: 204 }) } }",
    defaultPersistRoot: join(persistDir, "v3"),
    kvNamespaces: { JOBS: KV_ID },
    r2Buckets: { RESULTS: R2_BUCKET },
    kvPersist: true,
    r2Persist: true,
  });
  try {
    // Miniflare returns proxies of the runtime bindings; their types are the Workers ones
    const kvNs = (await mf.getKVNamespace("JOBS")) as unknown as KVNamespace;
    const r2b = (await mf.getR2Bucket("RESULTS")) as unknown as R2Bucket;
    const kv = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await kvNs.list({ cursor });
      for (const k of page.keys) kv.set(k.name, (await kvNs.get(k.name, "text")) ?? "");
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    const r2 = new Map<string, Uint8Array>();
    let r2cursor: string | undefined;
    do {
      const page = await r2b.list({ cursor: r2cursor });
      for (const o of page.objects) {
        const obj = await r2b.get(o.key);
        r2.set(o.key, new Uint8Array(await obj!.arrayBuffer()));
      }
      r2cursor = page.truncated ? page.cursor : undefined;
    } while (r2cursor);
    return { kv, r2 };
  } finally {
    await mf.dispose();
  }
}

/**
 * Consistency of stored results: every KV summary points at an R2 object that exists, and every R2
 * object is referenced by exactly one summary (no orphans, no duplicates).
 */
export function checkConsistency(state: StoredState) {
  const referenced = new Map<string, number>();
  let dangling = 0;
  for (const [key, value] of state.kv) {
    if (!key.startsWith("svd/")) continue;
    const vkey = (JSON.parse(value) as { vectors: { key: string } }).vectors.key;
    referenced.set(vkey, (referenced.get(vkey) ?? 0) + 1);
    if (!state.r2.has(vkey)) dangling++;
  }
  const orphans = [...state.r2.keys()].filter((k) => !referenced.has(k));
  const shared = [...referenced].filter(([, n]) => n > 1).map(([k]) => k);
  return { summaries: referenced.size, objects: state.r2.size, dangling, orphans, shared };
}
