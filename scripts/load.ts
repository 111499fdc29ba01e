/**
 * `npm run load`: the load run of scripts/load/run-load.ts against a fresh local worker (wrangler
 * dev on loopback, local R2 and KV) or, with --endpoint and --token, against any deployment.
 * Defaults: 1,000 SVD writes and 1,000 mixed requests at concurrency 32.
 */
import { parseArgs } from "node:util";
import { startLocalWorker } from "../test/support/local-worker";
import { checkConsistency, readStoredState } from "../test/support/stored-state";
import { measureAuthTiming } from "./load/auth-timing";
import { runLoad } from "./load/run-load";
import { handleUsage } from "./usage.mjs";

handleUsage(`npm run load [-- --endpoint URL --token T] [--writes N] [--mixed N] [--connections N]

autocannon against a fresh local worker (or --endpoint): N SVD writes of real GPT-2 heads, N mixed
re-posts and reads, every result read back, then bearer-token rejection timing.

  --endpoint URL     a running worker (default: start a fresh local one)
  --token T          its write token (default: HEADSCOPE_TOKEN)
  --writes N         SVD writes (default 1000)
  --mixed N          mixed requests (default 1000)
  --connections N    concurrency (default 32)`, { flags: { "--endpoint": true, "--token": true, "--writes": true, "--mixed": true, "--connections": true }, positionals: 0 });

const { values } = parseArgs({
  options: {
    endpoint: { type: "string" },
    token: { type: "string", default: process.env.HEADSCOPE_TOKEN },
    writes: { type: "string", default: "1000" },
    mixed: { type: "string", default: "1000" },
    connections: { type: "string", default: "32" },
  },
});

const local = values.endpoint ? undefined : await startLocalWorker();
const url = values.endpoint ?? local!.url;
const token = values.token ?? local?.token;
if (!token) throw new Error("--token (or HEADSCOPE_TOKEN) is required with --endpoint");
try {
  console.log(`load: ${values.writes} SVD writes, then ${values.mixed} mixed requests, concurrency ${values.connections}, against ${url}`);
  const r = await runLoad({ url, token, writes: Number(values.writes), mixed: Number(values.mixed), connections: Number(values.connections) });
  const line = (name: string, s: typeof r.write) =>
    `${name.padEnd(6)} ${s.requests} requests in ${s.seconds.toFixed(1)} s: ${s.throughput.toFixed(1)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms, statuses ${JSON.stringify(s.statuses)}, errors ${s.errors}${s.samples.length ? `\n       first errors: ${s.samples.join(" | ")}` : ""}`;
  console.log(line("write", r.write));
  console.log(line("mixed", r.mixed));
  console.log(`check  ${JSON.stringify(r.check)}`);
  const timing = await measureAuthTiming(url, token);
  for (const [name, c] of Object.entries(timing.perClass)) {
    console.log(`auth   ${name.padEnd(17)} 401 in median ${c.median.toFixed(3)} ms, p90 ${c.p90.toFixed(3)} ms (n ${c.n})`);
  }
  console.log(`auth   largest difference between medians: ${timing.maxMedianDifferenceMs.toFixed(3)} ms`);
  let storageOk = true;
  if (local) {
    await local.stop({ keepState: true });
    const c = checkConsistency(await readStoredState(local.persistDir));
    console.log(`stored ${c.summaries} summaries, ${c.objects} R2 objects, ${c.dangling} dangling, ${c.orphans.length} orphaned, ${c.shared.length} shared`);
    storageOk = c.summaries === Number(values.writes) && c.objects === c.summaries && c.dangling === 0 && c.orphans.length === 0 && c.shared.length === 0;
  }
  const ok = storageOk && r.write.errors === 0 && r.mixed.errors === 0 && r.check.lost === 0 && r.check.wrongInput === 0 && r.check.missingVectors === 0 && r.check.distinctVectorKeys === r.check.results;
  console.log(ok ? "load: PASS (0 errors, nothing lost or duplicated)" : "load: FAIL");
  process.exitCode = ok ? 0 : 1;
} finally {
  await local?.stop();
}
