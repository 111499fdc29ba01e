/**
 * The fan-out's retry policy against a scripted HTTP server: it retries network errors, 429 and
 * retryable problem types with backoff, never retries permanent problems, switches on the `type`
 * slug (not the status or the message), and keeps at most `concurrency` requests in flight.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { backoffMs, fanOut, postWithRetry, type RetryPolicy } from "../../src/cli/fan-out";

const FAST: RetryPolicy = { retries: 3, baseDelayMs: 1, maxDelayMs: 5 };
const answer = (computed: boolean) => ({
  schema: "headscope.svd/v1", model: "m", layer: 0, head: 0, circuit: "qk",
  variant: { name: "raw", fold_ln: false, bias: "none", scale: 1, factor_rows: 2, centred: false },
  d_model: 2, d_head: 1, singular_values: [1], effective_rank: 1, numerical_rank: 1, frobenius_norm: 1, top_energy: 1,
  checks: [], diagnostics: { sweeps: 1, off_orthogonality: 0 }, input: { sha256: "x", bytes: 1, dtypes: {} },
  kernel: { name: "k", simd: false },
  vectors: { key: "k", format: "safetensors", tensors: { U: [2, 1], S: [1], V: [2, 1] }, dtype: { U: "F32", S: "F64", V: "F32" } },
  computed, links: { self: "/s", vectors: "/v" },
});
const problem = (slug: string, status: number) => ({ status, type: "application/problem+json", body: { type: `/problems/${slug}`, title: "t", status, detail: `the ${slug} detail` } });

let server: http.Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A server answering the n-th request with script[n] (the last entry repeats). */
async function scripted(script: Array<{ status: number; type?: string; body: unknown }>) {
  let n = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  server = http.createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    req.resume();
    req.on("end", () =>
      setTimeout(() => {
        const s = script[Math.min(n++, script.length - 1)];
        res.writeHead(s.status, { "content-type": s.type ?? "application/json" });
        res.end(JSON.stringify(s.body));
        inFlight--;
      }, 5),
    );
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}/x`;
  return { url, count: () => n, maxInFlight: () => maxInFlight };
}

describe("retry policy", () => {
  test.each([
    ["rate-limited", 429], ["storage-unavailable", 503], ["internal", 500],
  ])("%s (%i) is retried, then succeeds", async (slug, status) => {
    const s = await scripted([problem(slug, status), problem(slug, status), { status: 201, body: answer(true) }]);
    const o = await postWithRetry({ url: s.url, body: new Uint8Array(8) }, "t", FAST);
    expect(o).toMatchObject({ ok: true, attempts: 3 });
  });

  test.each([
    ["shape-mismatch", 422], ["conflict", 409], ["malformed-safetensors", 400], ["kernel-fault", 500],
  ])("%s (%i) fails at once", async (slug, status) => {
    const s = await scripted([problem(slug, status), { status: 201, body: answer(true) }]);
    const o = await postWithRetry({ url: s.url, body: new Uint8Array(8) }, "t", FAST);
    expect(o).toMatchObject({ ok: false, type: slug, status, attempts: 1, detail: `the ${slug} detail` });
    expect(s.count()).toBe(1);
  });

  test("a 5xx that is not a problem (a proxy's 502) is retried; gives up after the retries", async () => {
    const s = await scripted([{ status: 502, type: "text/html", body: "bad gateway" }]);
    const o = await postWithRetry({ url: s.url, body: new Uint8Array(8) }, "t", FAST);
    expect(o).toMatchObject({ ok: false, type: "http-502", attempts: 4 });
    expect(s.count()).toBe(4);
  });

  test("connection refused is a retryable network error", async () => {
    const s = await scripted([{ status: 201, body: answer(true) }]);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const o = await postWithRetry({ url: s.url, body: new Uint8Array(8) }, "t", { ...FAST, retries: 1 });
    expect(o).toMatchObject({ ok: false, type: "network", attempts: 2 });
    expect((o as { detail: string }).detail).toMatch(/ECONNREFUSED/);
  });

  test("backoff: full jitter under an exponential cap", () => {
    const p = { retries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffMs(0, p, () => 1)).toBe(100);
    expect(backoffMs(3, p, () => 1)).toBe(800);
    expect(backoffMs(6, p, () => 1)).toBe(1000);
    expect(backoffMs(6, p, () => 0)).toBe(0);
  });
});

test("fanOut keeps at most `concurrency` requests in flight and reports every task", async () => {
  const s = await scripted([{ status: 200, body: answer(false) }]);
  const seen: number[] = [];
  await fanOut([...Array(20).keys()], {
    concurrency: 3, token: "t", policy: FAST,
    build: () => ({ url: s.url, body: new Uint8Array(8) }),
    done: (t, o) => {
      expect(o.ok).toBe(true);
      seen.push(t);
    },
  });
  expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
  expect(s.maxInFlight()).toBeLessThanOrEqual(3);
  expect(s.maxInFlight()).toBeGreaterThan(1);
});
