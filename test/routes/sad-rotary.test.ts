/**
 * Rotary, windowed and focused SAD through POST …/qk/sad inside workerd (real local KV): the answer
 * records the positional setting and the offsets decomposed, `terms` of each pair sum to the rotary
 * score computed here straight from the weights with Hugging Face's RoPE, the window restricts the
 * candidates, a focus set reports its own aggregates and null, and impossible settings are 400s that
 * store nothing.
 */
import { reset } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, test } from "vitest";
import { expectProblem, storedKeys } from "../support/worker-assertions";
import { encodeSafetensors } from "../../src/wire/safetensors";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const HEAD = "/v1/models/synthetic-rotary/layers/0/heads/0";
const post = (path: string, body: BodyInit) =>
  exports.default.fetch(new Request(`${BASE}${path}`, { method: "POST", body, headers: { authorization: `Bearer ${TOKEN}` } }));

const D = 16, DH = 8, RD = 8, T = 12, B = 2, THETA = 10000;
let seed = 7;
const rnd = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31 - 0.5;
};
const vec = (n: number, s = 1) => Float64Array.from({ length: n }, () => s * rnd());
const W_Q = vec(D * DH), W_K = vec(D * DH), b_Q = vec(DH, 0.5), b_K = vec(DH, 0.5), X = vec(B * T * D, 4);
const f64 = (data: Float64Array, shape: number[]) => ({ dtype: "F64" as const, shape, data });
const body = (extra: Record<string, unknown> = {}) =>
  encodeSafetensors({ X: f64(X, [B, T, D]), W_Q: f64(W_Q, [D, DH]), W_K: f64(W_K, [D, DH]), b_Q: f64(b_Q, [DH]), b_K: f64(b_K, [DH]), ...(extra as object) });

const rope = (v: Float64Array, p: number) => {
  const out = Float64Array.from(v);
  for (let i = 0; i < RD / 2; i++) {
    const a = p / THETA ** ((2 * i) / RD);
    out[i] = v[i] * Math.cos(a) - v[i + RD / 2] * Math.sin(a);
    out[i + RD / 2] = v[i + RD / 2] * Math.cos(a) + v[i] * Math.sin(a);
  }
  return out;
};
const proj = (W: Float64Array, bias: Float64Array, b: number, t: number) =>
  Float64Array.from({ length: DH }, (_, j) => bias[j] + Array.from({ length: D }, (_, i) => X[(b * T + t) * D + i] * W[i * DH + j]).reduce((x, y) => x + y, 0));
const score = (b: number, d: number, s: number) => {
  const q = rope(proj(W_Q, b_Q, b, d), d), k = rope(proj(W_K, b_K, b, s), s);
  return q.reduce((a, x, j) => a + x * k[j], 0);
};

beforeEach(async () => {
  await reset();
});

describe("rotary SAD endpoint", () => {
  test("terms sum to the RoPE score; offsets recorded; relative terms sum to the relative score", async () => {
    const pairs = [[0, 5, 2], [1, 11, 0], [1, 7, 7], [0, 3, 1]];
    const res = await post(`${HEAD}/qk/sad?rotary_dim=${RD}&rotary_base=${THETA}&terms=${pairs.map((p) => p.join(":")).join(",")}`, body());
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a.choices.positional).toMatchObject({ rotary_dim: RD, rotary_base: THETA, window: null });
    expect(a.choices.positional.offsets.length).toBeGreaterThan(1);
    expect(a.kernel.name).toBe("ts-f64-positional");
    expect(a.pairs.candidates).toBe((B * T * (T - 1)) / 2);
    expect(a.usage_by_prompt).toHaveLength(B);
    expect(a.usage_by_prompt.flat().reduce((x: number, y: number) => x + y, 0)).toBe(a.usage.reduce((x: number, y: number) => x + y, 0));
    for (const [i, [b, d, s]] of pairs.entries()) {
      const t = a.terms[i];
      const want = score(b, d, s);
      expect(Math.abs(t.terms.reduce((x: number, y: number) => x + y, 0) - want) / Math.abs(want)).toBeLessThan(1e-10);
      const others = Array.from({ length: d + 1 }, (_, j) => j).filter((j) => j !== s).map((j) => score(b, d, j));
      const relWant = want - others.reduce((x, y) => x + y, 0) / d;
      expect(Math.abs(t.relative_terms.reduce((x: number, y: number) => x + y, 0) - relWant) / Math.abs(relWant)).toBeLessThan(1e-10);
    }
  });

  test("window restricts candidates; focus reports its own aggregates and null", async () => {
    const W = 3;
    const focus = { dtype: "I32", shape: [3, 3], data: Int32Array.from([0, 11, 10, 0, 11, 9, 1, 11, 10]) };
    const res = await post(`${HEAD}/qk/sad?window=${W}&null_seeds=4`, body({ focus }));
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    let cand = 0;
    for (let d = 1; d < T; d++) cand += d - Math.max(1, d - W + 1) + 1;
    expect(a.pairs.candidates).toBe(B * cand);
    expect(a.choices.firing).toContain(`d − s < ${W}`);
    expect(a.focus.pairs_listed).toBe(3);
    expect(a.focus.pairs.candidates).toBe(3);
    expect(a.focus.null.seeds).toEqual([0, 1, 2, 3]);
  });

  test("impossible settings are 400s and store nothing", async () => {
    await expectProblem(await post(`${HEAD}/qk/sad?rotary_dim=7`, body()), 400, "invalid-request");
    await expectProblem(await post(`${HEAD}/qk/sad?rotary_dim=${DH + 2}`, body()), 400, "invalid-request");
    await expectProblem(await post(`${HEAD}/qk/sad?rotary_base=500`, body()), 400, "invalid-request");
    await expectProblem(await post(`${HEAD}/qk/sad?window=0`, body()), 400, "invalid-request");
    await expectProblem(await post(`${HEAD}/qk/sad?window=3&terms=0:9:2`, body()), 400, "invalid-request");
    const badFocus = { dtype: "I32", shape: [1, 3], data: Int32Array.from([5, 1, 0]) };
    await expectProblem(await post(`${HEAD}/qk/sad`, body({ focus: badFocus })), 400, "invalid-request");
    const floatFocus = { dtype: "F32", shape: [1, 3], data: Float32Array.from([0, 1, 0]) };
    await expectProblem(await post(`${HEAD}/qk/sad`, body({ focus: floatFocus })), 415, "unsupported-dtype");
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });
});
