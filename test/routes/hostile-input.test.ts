/**
 * Property-based fuzzing of every write endpoint's parser and validator inside workerd with real
 * local R2 and KV: hostile bodies never give a 500 or hang, always give a specific problem type, and
 * store nothing. The run count comes from FUZZ_RUNS (npm run fuzz raises it).
 */
import { reset } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeEach, expect, inject, test } from "vitest";
import { DEMO_LIMITS } from "../../src/wire/demo";
import { LIMITS } from "../../src/wire/head-request";
import { FUZZ_ENDPOINTS, hostileBody, judgeHostileAnswer, type HostileCase } from "../support/hostile-bodies";

const TOKEN = "test-token-0123456789";
const runs = inject("fuzzRuns");

beforeEach(async () => {
  await reset();
});

test("the fuzzers know the endpoints' real limits", () => {
  expect(FUZZ_ENDPOINTS.map((e) => e.maxBytes)).toEqual([LIMITS.maxHeadBodyBytes, DEMO_LIMITS.maxBodyBytes]);
});

/** Failures name the case kind and fast-check's seed and path, not megabytes of counterexample. */
const reporter = async (r: fc.RunDetails<[HostileCase]>) => {
  if (r.failed) {
    const c = r.counterexample?.[0];
    throw new Error(`${c?.kind} (${c?.body.length} bytes) failed; replay with seed ${r.seed}, path ${r.counterexamplePath}: ${String(r.errorInstance).slice(0, 600)}`);
  }
};

for (const endpoint of FUZZ_ENDPOINTS) {
  test(`${endpoint.name}: ${runs} hostile bodies → specific 4xx problem, nothing stored`, async () => {
    const kinds = new Map<string, number>();
    const times = new Map<string, number>();
    let client = 0;
    await fc.assert(
      fc.asyncProperty(hostileBody, async (c) => {
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
        const t0 = Date.now();
        const res = await exports.default.fetch(
          new Request(`https://headscope.test${endpoint.path}`, {
            method: "POST",
            body: c.body,
            // a fresh client address per case keeps the demo's rate limit out of the way
            headers: { ...(endpoint.auth ? { authorization: `Bearer ${TOKEN}` } : {}), "cf-connecting-ip": `198.51.100.${client++ % 250}` },
          }),
        );
        const body = (await res.json()) as { type?: string };
        expect(judgeHostileAnswer(c, endpoint.maxBytes, res.status, res.headers.get("content-type"), body.type), JSON.stringify(body)).toBeUndefined();
        times.set(c.kind, (times.get(c.kind) ?? 0) + Date.now() - t0);
      }),
      { seed: 4242, numRuns: runs, asyncReporter: reporter, endOnFailure: true },
    );
    // nothing any case sent was stored (one listing at the end: nothing is ever deleted here, so an
    // object stored by any case would still be there)
    const [kv, r2] = await Promise.all([env.JOBS.list(), env.RESULTS.list()]);
    expect([...kv.keys.map((k) => k.name), ...r2.objects.map((o) => o.key)]).toEqual([]);
    // every kind of hostile input was exercised
    expect(kinds.size).toBeGreaterThanOrEqual(10);
    console.log(`${endpoint.name}: ${runs} hostile cases: ${[...kinds].map(([k, n]) => `${k} ${n} (${times.get(k)} ms)`).join(", ")}`);
  }, 30_000 + runs * 100);
}
