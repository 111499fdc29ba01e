/**
 * The analysis endpoints inside workerd with real local R2 and KV, driven through the worker's own
 * fetch handler: SAD of GPT-2 small layer 0 head 7 on the positional input must reproduce
 * shared/reference/gpt2-small-sad-L0-positions.json (exact counts and N_recon median/p90, sparseness to
 * 1e-4, term vectors to 1e-5, null within 25% and above the singular basis); feature alignment through
 * safetensors and .npy bodies; every bad input is a problem+json with a stable type and stores nothing.
 */
import { reset } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeEach, describe, expect, inject, test } from "vitest";
import { expectProblem, storedKeys } from "../support/worker-assertions";
import { decodeFloat, encodeSafetensors, parseSafetensors } from "../../src/wire/safetensors";
import { hostileBody } from "../support/hostile-bodies";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const sad = inject("gpt2SadL0");
const gpt2 = inject("gpt2L0H1");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const HEAD = `/v1/models/gpt2-small/layers/0/heads/${sad.head}`;

function post(path: string, body: BodyInit | null) {
  return exports.default.fetch(
    new Request(`${BASE}${path}`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/octet-stream" },
    }),
  );
}
const get = (path: string) => exports.default.fetch(new Request(`${BASE}${path}`));



beforeEach(async () => {
  await reset();
});

const relClose = (got: number[], want: number[]) => {
  const top = Math.max(...want.map(Math.abs));
  return Math.max(...want.map((w, i) => Math.abs(got[i] - w) / Math.max(Math.abs(w), 1e-6 * top)));
};

/** The tensors of the withWeights body, to build variants of it. */
const parts = () => {
  const p = parseSafetensors(bytes(sad.withWeights));
  const t = (n: string) => ({ dtype: p.tensors.get(n)!.dtype as "F32" | "F64", shape: p.tensors.get(n)!.shape, data: decodeFloat(p.tensors.get(n)!) });
  return { X: t("X"), W_Q: t("W_Q"), W_K: t("W_K"), b_Q: t("b_Q"), b_K: t("b_K") };
};

describe("SAD: GPT-2 small layer 0 positional reference", () => {
  test("weights in the body: f64 SVD, reference-exact figures, term vectors, stored and idempotent", async () => {
    const ex = sad.examples;
    const terms = ex.map((e) => `${e.dest}:${e.src}`).join(",");
    const res = await post(`${HEAD}/qk/sad?terms=${terms}`, bytes(sad.withWeights));
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    const r = sad.reference;
    expect(a.computed).toBe(true);
    expect(a.choices).toMatchObject({
      svd_source: "computed_f64", x_bias_coordinate: "appended", tau: 1, exclude_first_source: true, scale: 0.125, scale_source: "variant",
    });
    expect(a.choices.variant).toMatchObject({ name: "raw_augmented", fold_ln: false, bias: "augmented", factor_rows: 769 });
    expect(a.choices.null.seeds).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(a.input).toMatchObject({ batch: 1, tokens: 128, columns: 768, dtype: "F64" });
    expect(a.pairs.firing_positive).toBe(r.pairs_firing_positive);
    expect(a.pairs.firing_nonpositive).toBe(r.pairs_firing_nonpositive);
    expect(a.n_recon.median).toBe(r.n_recon_median);
    expect(a.n_recon.p90).toBe(r.n_recon_p90);
    expect(Math.abs(a.sparseness.median - r.rolls_tovee_median)).toBeLessThan(1e-4);
    expect(Math.abs(a.null.n_recon_median_mean - r.null_rotation_n_recon_median_mean8)).toBeLessThan(0.25 * r.null_rotation_n_recon_median_mean8);
    expect(Math.abs(a.null.sparseness_median_mean - r.null_rotation_rolls_tovee_median_mean8)).toBeLessThan(0.25 * r.null_rotation_rolls_tovee_median_mean8);
    expect(a.null.n_recon_median_mean).toBeGreaterThan(a.n_recon.median);
    expect(a.n_recon_median_gap).toBeGreaterThan(0);
    expect(a.usage.reduce((x: number, y: number) => x + y, 0)).toBe(
      a.n_recon.histogram.reduce((s: number, c: number, n: number) => s + c * n, 0),
    );
    expect(a.terms).toHaveLength(ex.length);
    for (const [i, e] of ex.entries()) {
      const t = a.terms[i];
      expect([t.dest, t.src]).toEqual([e.dest, e.src]);
      expect(relClose(t.terms, e.terms)).toBeLessThan(1e-5);
      expect(relClose(t.relative_terms, e.relative_terms)).toBeLessThan(1e-5);
      expect(Math.abs(t.score - e.score) / Math.abs(e.score)).toBeLessThan(1e-9);
      expect(t.n_recon).toBe(e.n_recon);
      expect(Math.abs(t.sparseness - e.rolls_tovee)).toBeLessThan(1e-6);
    }
    expect(a.detail).toBeNull();
    const keys = await storedKeys();
    expect(keys.kv).toEqual([`sad/v1/gpt2-small/0/${sad.head}/qk/${a.id}`]);
    expect(keys.r2).toEqual([]);

    const g = await get(a.links.self);
    expect(g.status).toBe(200);
    expect(((await g.json()) as any).n_recon).toEqual(a.n_recon);
    const again = await post(`${HEAD}/qk/sad?terms=${terms}&tau=1`, bytes(sad.withWeights));
    expect(again.status).toBe(200);
    const b = (await again.json()) as any;
    expect(b.computed).toBe(false);
    expect(b.id).toBe(a.id);
    expect(await storedKeys()).toEqual(keys);
  });

  test("detail=pairs: per-pair file in R2 (linked), inline when small, consistent with the summary", async () => {
    const res = await post(`${HEAD}/qk/sad?detail=pairs&null_seeds=2&tau=0.9`, bytes(sad.withWeights));
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a.choices.tau).toBe(0.9);
    expect(a.choices.null.seeds).toEqual([0, 1]);
    const P = a.pairs.firing_positive;
    expect(a.detail).toMatchObject({ format: "safetensors", pairs: P });
    expect(a.detail.inline).toHaveLength(P);
    expect(a.detail.inline[0].selected).toHaveLength(a.detail.inline[0].n_recon);
    const keys = await storedKeys();
    expect(keys.r2).toEqual([a.detail.key]);
    const d = await get(a.links.detail);
    expect(d.status).toBe(200);
    const st = parseSafetensors(new Uint8Array(await d.arrayBuffer()));
    expect(st.tensors.get("pairs")!.shape).toEqual([P, 3]);
    const nrec = new Int32Array(st.tensors.get("n_recon")!.bytes.slice().buffer);
    expect(Array.from(nrec)).toEqual(a.detail.inline.map((p: any) => p.n_recon));
    const sel = st.tensors.get("selected")!;
    expect(sel.dtype).toBe("U16");
    expect(sel.shape[0]).toBe(Array.from(nrec).reduce((x, y) => x + y, 0));
  });

  test("stored F32 SVD: POST …/qk first, then X alone ([1, 128, 769], bias coordinate sent)", async () => {
    expect((await post(`${HEAD}/qk`, bytes(sad.qkRawAugmented))).status).toBe(201);
    const res = await post(`${HEAD}/qk/sad?null_seeds=4`, bytes(sad.tokensOnly));
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a.choices.svd_source).toBe("stored_f32");
    expect(a.choices.svd_stored_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.choices.x_bias_coordinate).toBe("sent");
    expect(a.choices.variant.name).toBe("raw_augmented");
    // F32 vectors move the terms by ~1e-7 relative: the counts and medians survive that here
    expect(a.pairs.firing_positive).toBe(sad.reference.pairs_firing_positive);
    expect(a.n_recon.median).toBe(sad.reference.n_recon_median);
    expect(Math.abs(a.sparseness.median - sad.reference.rolls_tovee_median)).toBeLessThan(1e-4);
  });
});

describe("SAD: a bench-sized batch inside workerd", () => {
  test("256 prompts × 24 tokens (F32, 19 MB body) with 8 null rotations: computed and stored", async () => {
    const B = 256, T = 24, D = 768;
    const x = new Float32Array(B * T * D);
    const pos = parts().X.data; // ln_1(wpe[p]) for p < 128
    let seed = 12345;
    const noise = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.5;
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) x[(b * T + t) * D + i] = pos[t * D + i] + noise();
    const body = encodeSafetensors({ ...parts(), X: { dtype: "F32", shape: [B, T, D], data: x } });
    const t0 = Date.now();
    const res = await post(`${HEAD}/qk/sad`, body);
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a.pairs.candidates).toBe(B * ((T * (T - 1)) / 2));
    expect(a.pairs.firing).toBeGreaterThan(1000);
    expect(a.null.per_seed).toHaveLength(8);
    expect(a.input).toMatchObject({ batch: B, tokens: T, columns: D, dtype: "F32" });
    console.log(`workerd SAD ${B}×${T}: ${Date.now() - t0} ms end to end, ${a.pairs.firing_positive} pairs decomposed`);
  });

  test("more candidate pairs than one request may hold is a shape-mismatch naming the limit", async () => {
    const body = encodeSafetensors({ ...parts(), X: { dtype: "F32", shape: [4, 300, 768], data: new Float32Array(4 * 300 * 768) } });
    const p = await expectProblem(await post(`${HEAD}/qk/sad`, body), 422, "shape-mismatch");
    expect(p.detail).toMatch(/candidate pairs/);
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });
});

describe("SAD: bad input is a problem and stores nothing", () => {
  const body = (over: Record<string, any>, drop: string[] = []) => {
    const t: Record<string, any> = { ...parts(), ...over };
    for (const n of drop) delete t[n];
    return encodeSafetensors(t);
  };
  test.each([
    ["no X", () => body({}, ["X"]), 422, "missing-tensor"],
    ["X columns fit neither d_model nor d_model + 1", () => body({ X: { dtype: "F32", shape: [128, 700], data: new Float32Array(128 * 700) } }), 422, "shape-mismatch"],
    ["X of rank 1", () => body({ X: { dtype: "F32", shape: [768], data: new Float32Array(768) } }), 422, "shape-mismatch"],
    ["empty batch", () => body({ X: { dtype: "F32", shape: [0, 128, 768], data: new Float32Array(0) } }), 422, "shape-mismatch"],
    ["T = 1", () => body({ X: { dtype: "F32", shape: [3, 1, 768], data: new Float32Array(3 * 768).fill(0.1) } }), 422, "shape-mismatch"],
    ["NaN in X", () => {
      const x = Float64Array.from(parts().X.data);
      x[1000] = NaN;
      return body({ X: { dtype: "F64", shape: [128, 768], data: x } });
    }, 422, "non-finite"],
    ["zero head (W_Q = 0)", () => body({ W_Q: { dtype: "F32", shape: [768, 64], data: new Float32Array(768 * 64) }, b_Q: { dtype: "F32", shape: [64], data: new Float32Array(64) } }), 422, "zero-circuit"],
    ["zero heads (d_head = 0)", () => body({
      W_Q: { dtype: "F32", shape: [768, 0], data: new Float32Array(0) }, W_K: { dtype: "F32", shape: [768, 0], data: new Float32Array(0) },
      b_Q: { dtype: "F32", shape: [0], data: new Float32Array(0) }, b_K: { dtype: "F32", shape: [0], data: new Float32Array(0) },
    }), 422, "shape-mismatch"],
    ["no weights and no stored SVD", () => body({}, ["W_Q", "W_K", "b_Q", "b_K"]), 422, "missing-tensor"],
    ["unexpected tensor", () => body({ W_V: { dtype: "F32", shape: [2], data: new Float32Array(2) } }), 400, "invalid-request"],
    ["not safetensors", () => new Uint8Array([1, 2, 3]), 400, "malformed-safetensors"],
  ] as const)("%s", async (_name, make, status, type) => {
    await expectProblem(await post(`${HEAD}/qk/sad`, make()), status, type);
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });

  test.each([
    ["tau=2", 400, "invalid-request"],
    ["null_seeds=99", 400, "invalid-request"],
    ["terms=5:9", 400, "invalid-request"],
    ["variant=raw", 400, "invalid-request"],
  ] as const)("option %s", async (q, status, type) => {
    await expectProblem(await post(`${HEAD}/qk/sad?${q}`, bytes(sad.withWeights)), status, type);
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });

  test("GET of an unknown id is a 404; writes need the token", async () => {
    await expectProblem(await get(`${HEAD}/qk/sad/${"0".repeat(64)}`), 404, "not-found");
    await expectProblem(await get(`${HEAD}/qk/sad/xyz`), 400, "invalid-request");
    const res = await exports.default.fetch(new Request(`${BASE}${HEAD}/qk/sad`, { method: "POST", body: bytes(sad.withWeights) }));
    await expectProblem(res, 401, "unauthorized");
  });
});

/** A minimal .npy v1.0 file of a C-ordered array. */
function npy(descr: string, shape: number[], data: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = header + " ".repeat(pad % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

describe("alignment", () => {
  /** The stored SVD's first n left singular vectors (d_model part) as feature rows. */
  async function storedU(n: number) {
    const a = (await (await post(`${HEAD}/qk`, bytes(sad.qkRawAugmented))).json()) as any;
    const st = parseSafetensors(new Uint8Array(await (await get(a.links.vectors)).arrayBuffer()));
    const U = decodeFloat(st.tensors.get("U")!);
    const f = new Float32Array(n * 768);
    for (let i = 0; i < n; i++) for (let t = 0; t < 768; t++) f[i * 768 + t] = U[t * 64 + i];
    return f;
  }

  test(".npy body against the stored SVD: the head's own singular vectors are recovered in order", async () => {
    const f = await storedU(5);
    const res = await post(`${HEAD}/qk/alignment?null_draws=2`, npy("<f4", [5, 768], f));
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a.input.format).toBe("npy");
    expect(a.choices.svd_source).toBe("stored_f32");
    expect(a.choices.bias_coordinate).toMatch(/0 in the augmented bias/);
    expect(a.per_feature.u.index).toEqual([0, 1, 2, 3, 4]);
    expect(a.matching.u.pairs).toEqual([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]]);
    for (const c of a.matching.u.abs_cos) expect(c).toBeGreaterThan(0.9);
    expect(a.null.matching_mean_abs_cos.u).toBeLessThan(0.5);
    const keys = await storedKeys();
    expect(keys.kv).toContain(`alignment/v1/gpt2-small/0/${sad.head}/qk/${a.id}`);
    expect(keys.r2).toContain(a.detail.key);
    const d = parseSafetensors(new Uint8Array(await (await get(a.links.detail)).arrayBuffer()));
    expect(d.tensors.get("C_U")!.shape).toEqual([5, 64]);
    const again = await post(`${HEAD}/qk/alignment?null_draws=2`, npy("<f4", [5, 768], f));
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).computed).toBe(false);
  });

  test("safetensors body with weights, F and the theory prediction for a pair", async () => {
    const rows = new Float32Array(3 * 768);
    for (let i = 0; i < rows.length; i++) rows[i] = Math.sin(i * 0.37) + (i % 768 === 5 ? 3 : 0);
    const p = parseSafetensors(bytes(gpt2.ov));
    const t = (n: string) => ({ dtype: "F32" as const, shape: p.tensors.get(n)!.shape, data: decodeFloat(p.tensors.get(n)!) });
    const body = encodeSafetensors({ F: { dtype: "F32", shape: [3, 768], data: rows }, W_V: t("W_V"), W_O: t("W_O"), ln_w: t("ln_w"), ln_b: t("ln_b") });
    const res = await post(`/v1/models/gpt2-small/layers/0/heads/1/ov/alignment?pairs=0:1&top_k=4`, body);
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a.choices.svd_source).toBe("computed_f64");
    expect(a.choices.variant.name).toBe("folded");
    expect(a.per_singular.u.feature).toHaveLength(4);
    expect(a.theory).toHaveLength(1);
    expect(a.theory[0]).toMatchObject({ query_feature: 0, key_feature: 1, index: 0 });
    expect(a.null.draws).toBe(4);
  });

  test.each([
    ["F with the wrong width", () => npy("<f4", [2, 700], new Float32Array(1400)), 422, "shape-mismatch"],
    ["truncated .npy", () => npy("<f4", [2, 768], new Float32Array(1536)).subarray(0, 200), 400, "malformed-npy"],
    ["big-endian .npy", () => npy(">f4", [2, 768], new Float32Array(1536)), 415, "unsupported-dtype"],
    ["NaN feature", () => npy("<f8", [1, 768], new Float64Array(768).fill(NaN)), 422, "non-finite"],
    ["zero feature", () => npy("<f4", [1, 768], new Float32Array(768)), 400, "invalid-request"],
  ] as const)("%s is a problem, nothing new stored", async (_n, make, status, type) => {
    await post(`${HEAD}/qk`, bytes(sad.qkRawAugmented));
    const before = await storedKeys();
    await expectProblem(await post(`${HEAD}/qk/alignment`, make()), status, type);
    expect(await storedKeys()).toEqual(before);
  });

  test("no SVD stored and an .npy body (which cannot carry weights) → missing-tensor", async () => {
    await expectProblem(await post(`${HEAD}/qk/alignment`, npy("<f4", [1, 768], new Float32Array(768).fill(1))), 422, "missing-tensor");
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });
});

describe("hostile bodies (support/hostile-bodies.ts) on the analysis endpoints", () => {
  // The bodies are built for POST …/qk; here an answer must only be a 4xx problem that stores nothing,
  // since the analysis endpoints check X or F before the head's tensors (a weights-only body is missing X).
  const runs = Math.max(20, Math.floor(inject("fuzzRuns") / 3));
  test.each([
    ["POST …/qk/sad", `${HEAD}/qk/sad`],
    ["POST …/qk/alignment", `${HEAD}/qk/alignment`],
    ["POST …/ov/alignment", `${HEAD}/ov/alignment`],
  ])(`%s: ${runs} hostile bodies → 4xx problem, nothing stored`, async (_name, url) => {
    await fc.assert(
      fc.asyncProperty(hostileBody, async (c) => {
        const res = await post(url, c.body);
        const body = (await res.json()) as { type?: string };
        expect(res.status, `${c.kind}: ${JSON.stringify(body)}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${c.kind}: ${JSON.stringify(body)}`).toBeLessThan(500);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        expect(body.type).toMatch(/^\/problems\/[a-z-]+$/);
      }),
      { seed: 4243, numRuns: runs, endOnFailure: true },
    );
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });
});
