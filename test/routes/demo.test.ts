/** The anonymous demo endpoint inside workerd: analysis without storage, size and rate limits. */
import { reset } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, expect, test } from "vitest";
import { DEMO_LIMITS } from "../../src/wire/demo";
import { encodeSafetensors } from "../../src/wire/safetensors";

beforeEach(async () => {
  await reset();
});

const analyze = (body: BodyInit, ip: string, query = "") =>
  exports.default.fetch(new Request(`https://headscope.test/v1/demo/analyze${query}`, { method: "POST", body, headers: { "cf-connecting-ip": ip } }));

const head = encodeSafetensors({
  W_Q: { dtype: "F32", shape: [4, 2], data: new Float32Array([3, 0, 0, 1, 0, 0, 0, 0]) },
  W_K: { dtype: "F32", shape: [4, 2], data: new Float32Array([1, 0, 0, 1, 0, 0, 0, 0]) },
});

test("analyzes a head and stores nothing", async () => {
  const res = await analyze(head, "192.0.2.1");
  expect(res.status).toBe(200);
  const a = (await res.json()) as any;
  expect(a.circuit).toBe("qk");
  expect(a.stored).toBe(false);
  expect(a.singular_values).toEqual([3, 1]);
  expect((await env.JOBS.list()).keys).toEqual([]);
  expect((await env.RESULTS.list()).objects).toEqual([]);
});

test("bodies over 1 MiB are refused with the limit", async () => {
  const res = await analyze(new Uint8Array(DEMO_LIMITS.maxBodyBytes + 1), "192.0.2.2");
  expect(res.status).toBe(413);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(((await res.json()) as any).limitBytes).toBe(DEMO_LIMITS.maxBodyBytes);
});

test("each client gets a per-minute budget, then 429 with Retry-After", async () => {
  // the local rate limiter counts in windows aligned to clock minutes (Miniflare's ratelimit worker):
  // a run that straddled one would find its budget renewed, so it starts with 15 s of its minute left
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((r) => setTimeout(r, left + 100));
  const statuses: number[] = [];
  for (let i = 0; i <= DEMO_LIMITS.requestsPerMinute; i++) statuses.push((await analyze(head, "192.0.2.3")).status);
  expect(statuses.slice(0, DEMO_LIMITS.requestsPerMinute).every((s) => s === 200)).toBe(true);
  const limited = await analyze(head, "192.0.2.3");
  expect(limited.status).toBe(429);
  expect(limited.headers.get("retry-after")).toBe("60");
  const p = (await limited.json()) as any;
  expect(p.type).toBe("/problems/rate-limited");
  expect(p.limit).toBe(DEMO_LIMITS.requestsPerMinute);
  // another client is unaffected
  expect((await analyze(head, "192.0.2.4")).status).toBe(200);
});

test("the page and its script are served", async () => {
  const page = await exports.default.fetch(new Request("https://headscope.test/"));
  expect(page.headers.get("content-type")).toContain("text/html");
  expect(await page.text()).toContain('src="/assets/demo.js"');
  const js = await exports.default.fetch(new Request("https://headscope.test/assets/demo.js"));
  expect(js.headers.get("content-type")).toContain("javascript");
  expect((await js.text()).length).toBeGreaterThan(10_000);
});
