/**
 * A crash in the middle of writes: the worker (wrangler and workerd) is SIGKILLed while POSTs are in
 * flight, restarted on the same local R2/KV state, and the client posts everything again. The
 * stored state must then be byte-identical to an uninterrupted run's, with nothing orphaned.
 */
import { startLocalWorker } from "../../test/support/local-worker";
import { checkConsistency, readStoredState, type StoredState } from "../../test/support/stored-state";
import { jobs, type Job } from "../load/run-load";

const MODEL = "faults";

async function post(url: string, token: string, j: Job): Promise<number> {
  const res = await fetch(`${url}${j.path}`, { method: "POST", body: j.body, headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Posts every job with `concurrency` in flight; stops early (and reports it) when `stop()` is true. */
async function postAll(url: string, token: string, all: Job[], concurrency: number, onDone?: (n: number) => void) {
  const statuses: Record<string, number> = {};
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < all.length) {
      const j = all[next++];
      let s: string;
      try {
        s = String(await post(url, token, j));
      } catch {
        s = "network error";
      }
      statuses[s] = (statuses[s] ?? 0) + 1;
      onDone?.(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return statuses;
}

function diffStates(a: StoredState, b: StoredState): string[] {
  const out: string[] = [];
  const eq = (x: Uint8Array, y: Uint8Array) => x.length === y.length && x.every((v, i) => v === y[i]);
  for (const [k, v] of a.kv) if (b.kv.get(k) !== v) out.push(`KV ${k} differs`);
  for (const k of b.kv.keys()) if (!a.kv.has(k)) out.push(`KV ${k} only after the crash`);
  for (const [k, v] of a.r2) if (!b.r2.has(k) || !eq(v, b.r2.get(k)!)) out.push(`R2 ${k} differs`);
  for (const k of b.r2.keys()) if (!a.r2.has(k)) out.push(`R2 ${k} only after the crash`);
  return out;
}

export async function runWriteFault(opts: { heads: number; killAfter: number; concurrency: number }) {
  const all = jobs(opts.heads, MODEL);

  const a = await startLocalWorker();
  const baselineStatuses = await postAll(a.url, a.token, all, opts.concurrency);
  await a.stop({ keepState: true });
  const baseline = await readStoredState(a.persistDir);

  const b = await startLocalWorker();
  let killed: Promise<void> | undefined;
  const beforeCrash = await postAll(b.url, b.token, all, opts.concurrency, (n) => {
    if (n === opts.killAfter) killed = b.kill();
  });
  await killed;
  const restarted = await startLocalWorker({ persistDir: b.persistDir });
  const resume = await postAll(restarted.url, restarted.token, all, opts.concurrency);
  await restarted.stop({ keepState: true });
  const after = await readStoredState(b.persistDir);

  return {
    heads: all.length,
    baselineStatuses,
    beforeCrash,
    resume,
    differences: diffStates(baseline, after),
    consistency: checkConsistency(after),
    stored: { kv: after.kv.size, r2: after.r2.size },
  };
}
