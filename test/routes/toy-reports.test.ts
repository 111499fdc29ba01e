/** Publishing toy-model reports for the demo page, inside workerd with real local R2 and KV. */
import { reset } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, expect, test } from "vitest";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const post = (body: BodyInit, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
  exports.default.fetch(new Request(`${BASE}/v1/toy/reports`, { method: "POST", body, headers }));
const get = (path: string) => exports.default.fetch(new Request(`${BASE}${path}`));

const report = (seed: number) =>
  JSON.stringify({
    schema: "headscope.toy/v1",
    experiment: "single-pair",
    runs: [{ seed, config: { N: 20 }, curves: { step: [0, 100] }, final: { sigma: [3, 0.1] } }],
    summary: { seeds: [seed], passed: 1 },
  });

beforeEach(async () => {
  await reset();
});

test("publish, read back, re-publish identical, replace", async () => {
  const first = await post(report(0));
  expect(first.status).toBe(201);
  const p = (await first.json()) as any;
  expect(p).toMatchObject({ experiment: "single-pair", seeds: [0], passed: 1, runs: 1, stored: true });
  expect(await (await get("/v1/toy/reports/single-pair")).text()).toBe(report(0));
  expect((await post(report(0))).status).toBe(200);
  expect(((await (await get("/v1/toy/reports")).json()) as any).reports).toHaveLength(1);
  // a new report replaces the old one, whose object is deleted
  expect((await post(report(1))).status).toBe(201);
  expect(JSON.parse(await (await get("/v1/toy/reports/single-pair")).text()).runs[0].seed).toBe(1);
  expect((await env.RESULTS.list({ prefix: "toy/" })).objects).toHaveLength(1);
});

test("bad reports are refused with a problem and store nothing", async () => {
  for (const [body, status, type] of [
    ["{not json", 400, "invalid-request"],
    [JSON.stringify({ schema: "other" }), 400, "invalid-request"],
    [report(0).replace('"single-pair"', '"Bad Name!"'), 400, "invalid-request"],
  ] as const) {
    const res = await post(body);
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(((await res.json()) as any).type).toBe(`/problems/${type}`);
  }
  expect((await post(report(0), {})).status).toBe(401);
  expect((await env.JOBS.list()).keys).toEqual([]);
  expect((await get("/v1/toy/reports/single-pair")).status).toBe(404);
});
