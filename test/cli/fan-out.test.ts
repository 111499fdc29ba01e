/**
 * The fan-out's retry policy against a scripted HTTP server: it retries network errors, 429 and
 * retryable problem types with backoff, never retries permanent problems, switches on the `type`
 * slug (not the status or the message), and keeps at most `concurrency` requests in flight.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import {
  backoffMs, DEFAULT_DEADLINE, fanOut, NoProgress, postWithRetry, requestDeadlineMs, svdFlops, type Outcome, type RetryPolicy,
} from "../../src/cli/fan-out";

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

describe("deadlines", () => {
  /** A server that never answers request numbers in `silent` (0-based), and answers the others. */
  async function sometimesSilent(silent: (n: number) => boolean) {
    let n = 0;
    server = http.createServer((req, res) => {
      const mine = n++;
      req.resume();
      if (silent(mine)) return; // never answers; the client must give up
      req.on("end", () => {
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify(answer(true)));
      });
    });
    server.keepAliveTimeout = 100;
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/x`, count: () => n };
  }
  afterEach(() => server?.closeAllConnections());

  test("the documented formula: base + in flight × (bytes / rate + flops / rate), scaled", () => {
    // GPT-2 small head: 0.4 MB, d_model 768 (+1 augmented), d_head 64
    expect(requestDeadlineMs(400_000, svdFlops(769, 64), 4) / 1000).toBeCloseTo(10 + 4 * (0.4 + svdFlops(769, 64) / 50e6), 2);
    expect(requestDeadlineMs(400_000, svdFlops(769, 64), 4)).toBeGreaterThan(13_000);
    expect(requestDeadlineMs(400_000, svdFlops(769, 64), 4)).toBeLessThan(15_000);
    // Llama-3-8B head: 4.2 MB, d_model 4096, d_head 128
    expect(requestDeadlineMs(4_210_912, svdFlops(4096, 128), 4)).toBeGreaterThan(70_000);
    expect(requestDeadlineMs(4_210_912, svdFlops(4096, 128), 4)).toBeLessThan(80_000);
    // grows with the body, the work and the queue; scales
    expect(requestDeadlineMs(8e6, 0, 1)).toBeGreaterThan(requestDeadlineMs(4e6, 0, 1));
    expect(requestDeadlineMs(0, 1e9, 1)).toBeGreaterThan(requestDeadlineMs(0, 1e8, 1));
    expect(requestDeadlineMs(4e6, 0, 8)).toBeGreaterThan(requestDeadlineMs(4e6, 0, 2));
    expect(requestDeadlineMs(4e6, 0, 2, { ...DEFAULT_DEADLINE, scale: 2 })).toBe(2 * requestDeadlineMs(4e6, 0, 2));
  });

  test("a request that never finishes times out, is retried, and fails as `timeout` with its count", async () => {
    const s = await sometimesSilent(() => true);
    const o = await postWithRetry({ url: s.url, body: new Uint8Array(8) }, "t", { ...FAST, retries: 2 }, undefined, undefined, { timeoutMs: 100 });
    expect(o).toMatchObject({ ok: false, type: "timeout", attempts: 3, timeouts: 3 });
    expect((o as { detail: string }).detail).toMatch(/deadline of 0\.1 s/);
    expect(s.count()).toBe(3);
  });

  test("a retry after a timeout succeeds and the timeout is still counted", async () => {
    const s = await sometimesSilent((n) => n === 0);
    const o = await postWithRetry({ url: s.url, body: new Uint8Array(8) }, "t", FAST, undefined, undefined, { timeoutMs: 200 });
    expect(o).toMatchObject({ ok: true, attempts: 2, timeouts: 1 });
  });

  test("fanOut: one silent task fails as timeout, the others finish", async () => {
    const s = await sometimesSilent(() => false);
    const silentUrl = (await sometimesSilentSecond()).url;
    const outcomes = new Map<number, Outcome>();
    const timeouts: number[] = [];
    await fanOut([0, 1, 2, 3, 4], {
      concurrency: 2, token: "t", policy: { ...FAST, retries: 1, deadline: { ...DEFAULT_DEADLINE, baseMs: 150, stallAfter: 20 } },
      build: (t) => ({ url: t === 2 ? silentUrl : s.url, body: new Uint8Array(8) }),
      done: (t, o) => outcomes.set(t, o),
      onTimeout: (t) => timeouts.push(t),
    });
    expect([...outcomes.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(outcomes.get(2)).toMatchObject({ ok: false, type: "timeout", timeouts: 2 });
    for (const t of [0, 1, 3, 4]) expect(outcomes.get(t)).toMatchObject({ ok: true, timeouts: 0 });
    expect(timeouts).toEqual([2, 2]);
  });

  test("fanOut stops with NoProgress when nothing answers at all", async () => {
    const s = await sometimesSilent(() => true);
    const done: number[] = [];
    const run = fanOut([...Array(6).keys()], {
      concurrency: 2, token: "t", policy: { ...FAST, retries: 100, deadline: { ...DEFAULT_DEADLINE, baseMs: 100, stallAfter: 3 } },
      build: () => ({ url: s.url, body: new Uint8Array(8) }),
      done: (t) => done.push(t),
    });
    await expect(run).rejects.toThrow(NoProgress);
    await expect(run).rejects.toThrow(/not making progress/);
    expect(done).toEqual([]);
  });
});

/** A second server that never answers (the first is `server`, closed by afterEach). */
let silentServer: http.Server | undefined;
afterEach(() => {
  silentServer?.closeAllConnections();
  silentServer?.close();
  silentServer = undefined;
});
async function sometimesSilentSecond() {
  silentServer = http.createServer((req) => req.resume());
  await new Promise<void>((r) => silentServer!.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(silentServer!.address() as AddressInfo).port}/x` };
}
