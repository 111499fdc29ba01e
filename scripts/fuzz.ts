/**
 * `npm run fuzz`: the long hostile-input run. fast-check (seeded) sends FUZZ_RUNS cases per write
 * endpoint to a fresh local worker (wrangler dev, local R2 and KV), checks every answer, then reads
 * the persisted storage directly: it must be empty. Reports the cases per kind and the statuses.
 * (The short run inside `npm test` drives the same cases through the worker inside workerd.)
 */
import fc from "fast-check";
import { FUZZ_ENDPOINTS, hostileBody, judgeHostileAnswer } from "../test/support/hostile-bodies";
import { startLocalWorker } from "../test/support/local-worker";
import { readStoredState } from "../test/support/stored-state";
import { handleUsage } from "./usage.mjs";

handleUsage(`npm run fuzz

Property-based hostile request bodies (random bytes, truncated files, lying headers, wrong dtypes,
NaN/Inf, empty and mismatched tensors) against a fresh local worker; every answer must be a specific
4xx problem and nothing may be stored. Exit 1 on any failure.

Environment: FUZZ_RUNS (cases per endpoint, default 5000), FUZZ_SEED (default 20261124).`, { flags: {}, positionals: 0 });

const runs = Number(process.env.FUZZ_RUNS ?? 5000);
const seed = Number(process.env.FUZZ_SEED ?? 20261124);
const worker = await startLocalWorker();
let failed = false;
try {
  for (const endpoint of FUZZ_ENDPOINTS) {
    const kinds = new Map<string, number>();
    const statuses = new Map<number, number>();
    const started = performance.now();
    let client = 0;
    const details = await fc.check(
      fc.asyncProperty(hostileBody, async (c) => {
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
        const res = await fetch(`${worker.url}${endpoint.path}`, {
          method: "POST",
          body: c.body,
          headers: { ...(endpoint.auth ? { authorization: `Bearer ${worker.token}` } : {}), "cf-connecting-ip": `198.51.100.${client++ % 250}` },
          signal: AbortSignal.timeout(30_000), // a hang fails the case
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const body = (await res.json().catch(() => ({}))) as { type?: string };
        const why = judgeHostileAnswer(c, endpoint.maxBytes, res.status, res.headers.get("content-type"), body.type);
        if (why) throw new Error(why);
      }),
      { seed, numRuns: runs, endOnFailure: true },
    );
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${endpoint.name}: ${details.numRuns} cases in ${secs} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    console.log(`  kinds: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}`);
    if (details.failed) {
      failed = true;
      console.log(`  FAILED (seed ${details.seed}, path ${details.counterexamplePath}): ${String(details.errorInstance).slice(0, 500)}`);
    }
  }
} finally {
  await worker.stop({ keepState: true });
}
const state = await readStoredState(worker.persistDir);
const stored = [...state.kv.keys(), ...state.r2.keys()];
console.log(`stored after fuzzing: ${stored.length} objects${stored.length ? `: ${stored.slice(0, 5).join(", ")}` : ""}`);
if (stored.length) failed = true;
console.log(failed ? "fuzz: FAIL" : "fuzz: PASS (every case a specific 4xx problem, nothing stored)");
process.exitCode = failed ? 1 : 0;
