/**
 * The algebra of the decomposition (method §4), in f64 on real GPT-2 weights and on constructed heads,
 * for both builds: terms sum to the score q·k computed directly from the weights, relative terms sum to
 * the relative score, terms in a rotated basis sum to the same score, a rank-one head needs one term,
 * and the kernel's bookkeeping (candidates, usage, selected sets, chunking) is consistent.
 */
import { describe, expect, test } from "vitest";
import { createRng, haarOrthogonal, normals, seededRotations } from "../../src/analysis/random";
import { aggregateSad, medianSorted, percentileSorted } from "../../src/analysis/sad-stats";
import { loadKernels, type KernelBuild } from "../../src/kernels/load-node";
import type { SadInput } from "../../src/kernels/types";
import { buildHeadFactors } from "../../src/services/head-factors";
import { gpt2Head, positionTokens } from "../support/gpt2";

const T = 24;

for (const build of ["release", "scalar"] as KernelBuild[]) {
  describe(`SAD algebra (${build} build)`, () => {
    const kernels = loadKernels(build);
    const w = gpt2Head(0, 1);
    const { a, b } = buildHeadFactors(kernels, 
      { circuit: "qk", dModel: 768, dHead: 64, read: w.W_Q, other: w.W_K, bQ: w.b_Q, bK: w.b_K, dtypes: {} },
      { fold_ln: false, bias: "augmented" },
    );
    const svd = kernels.factoredSvd(a, b);
    const basis = { U: svd.U, S: svd.S, V: svd.V, rows: svd.m, k: svd.k };
    const X = positionTokens(0, T);
    // ℓ(d, s) = q_d · k_s straight from the weights (x without its trailing 1)
    const proj = (W: Float32Array, bias: Float32Array, p: number) => {
      const out = new Float64Array(64);
      for (let j = 0; j < 64; j++) {
        let s = bias[j];
        for (let i = 0; i < 768; i++) s += X[p * 769 + i] * W[i * 64 + j];
        out[j] = s;
      }
      return out;
    };
    const q = Array.from({ length: T }, (_, p) => proj(w.W_Q, w.b_Q, p));
    const k = Array.from({ length: T }, (_, p) => proj(w.W_K, w.b_K, p));
    const score = (d: number, s: number) => q[d].reduce((acc, x, j) => acc + x * k[s][j], 0);
    const sum = (v: ArrayLike<number>) => Array.from(v).reduce((x, y) => x + y, 0);
    const rel = (d: number, s: number) => 1e-9 * Math.max(1, Math.abs(score(d, s)));

    test("Σ_k t_k(d, s) = q_d·k_s to 1e-9 relative; Σ_k t̃_k = ℓ̃; rotated terms sum to ℓ too", () => {
      const Q = haarOrthogonal(64, createRng(42));
      for (const [d, s] of [[1, 0], [1, 1], [7, 3], [23, 22], [23, 0], [12, 12]]) {
        const l = score(d, s);
        const { terms, relative } = kernels.pairTerms(basis, X, T, d, s);
        expect(Math.abs(sum(terms) - l)).toBeLessThan(rel(d, s));
        let others = 0;
        for (let j = 0; j <= d; j++) if (j !== s) others += score(d, j);
        const lt = l - others / d;
        expect(Math.abs(sum(relative) - lt)).toBeLessThan(1e-9 * Math.max(1, Math.abs(l)));
        const rot = kernels.pairTerms(basis, X, T, d, s, Q);
        expect(Math.abs(sum(rot.terms) - l)).toBeLessThan(rel(d, s));
        expect(Math.abs(sum(rot.relative) - lt)).toBeLessThan(1e-9 * Math.max(1, Math.abs(l)));
        // a different basis, so different terms
        expect(Math.max(...Array.from(rot.terms, (x, i) => Math.abs(x - terms[i])))).toBeGreaterThan(1e-6);
      }
    });

    test("a rank-one head needs one term for every pair; its null needs one too", () => {
      const rows = 17;
      const rng = createRng(3);
      const av = normals(rng, rows);
      const bv = normals(rng, rows);
      const fa = new Float64Array(rows * 4);
      const fb = new Float64Array(rows * 4);
      for (let i = 0; i < rows; i++) {
        fa[i * 4] = av[i];
        fb[i * 4] = bv[i];
      }
      const s1 = kernels.factoredSvd({ rows, cols: 4, data: fa }, { rows, cols: 4, data: fb });
      const x = normals(createRng(4), 3 * 8 * rows);
      const raw = kernels.sad({
        U: s1.U, S: s1.S, V: s1.V, rows, k: 4, X: x, batch: 3, tokens: 8,
        rotations: new Float64Array(0), rotationCount: 0, scale: 1, tau: 1, excludeFirstSource: true, recordSelected: true,
      });
      expect(raw.positive).toBeGreaterThan(0);
      expect(Array.from(new Set(raw.nRecon))).toEqual([1]);
      expect(Array.from(raw.usage)).toEqual([raw.positive, 0, 0, 0]);
      expect(Array.from(new Set(raw.selected!))).toEqual([0]);
    });

    test("bookkeeping: candidates, firing ≤ candidates, usage = Σ N_recon, chunked = unchunked", () => {
      const B = 5;
      const xs = new Float64Array(B * T * 769);
      for (let p = 0; p < B; p++) xs.set(X, p * T * 769); // the same prompt five times
      const input: SadInput = {
        ...basis, X: xs, batch: B, tokens: T, rotations: seededRotations(64, [1, 2]), rotationCount: 2,
        scale: 1 / 8, tau: 0.9, excludeFirstSource: false, recordSelected: true,
      };
      const raw = kernels.sad(input);
      expect(raw.candidates).toBe(B * ((T * (T - 1)) / 2 + (T - 1)));
      expect(raw.positive + raw.nonpositive).toBeLessThanOrEqual(raw.candidates);
      expect(raw.positive % B).toBe(0);
      const one = kernels.sad({ ...input, X, batch: 1 });
      expect(raw.positive).toBe(B * one.positive);
      expect(Array.from(raw.nRecon.subarray(0, one.positive))).toEqual(Array.from(one.nRecon));
      expect(Array.from(raw.nRecon.subarray(one.positive * 4))).toEqual(Array.from(one.nRecon));
      expect(raw.pairs[3 * one.positive * 4]).toBe(4); // prompt index of the fifth copy
      expect(sum(raw.usage)).toBe(sum(raw.nRecon));
      expect(raw.selected!.length).toBe(sum(raw.nRecon));
      for (const n of raw.null) expect(sum(n.histogram)).toBe(n.positive);
      // every selected set holds distinct indices and reaches τ of the total
      let o = 0;
      for (let i = 0; i < one.positive; i++) {
        const sel = Array.from(one.selected!.subarray(o, o + one.nRecon[i]));
        o += one.nRecon[i];
        expect(new Set(sel).size).toBe(sel.length);
        const [b0, d, s] = one.pairs.subarray(3 * i, 3 * i + 3);
        expect(b0).toBe(0);
        const { relative } = kernels.pairTerms(basis, X, T, d, s);
        const picked = sel.reduce((acc, kk) => acc + relative[kk], 0);
        expect(picked).toBeGreaterThanOrEqual(0.9 * sum(relative) - 1e-9 * Math.abs(sum(relative)));
      }
    });

    test("a batch larger than one chunk of token vectors (8 MiB of f64) gives the per-prompt results, in order", () => {
      const B = 120; // 2^20 / (24 · 769) = 56 prompts per chunk: three chunks
      const xs = new Float64Array(B * T * 769);
      for (let p = 0; p < B; p++) xs.set(X, p * T * 769);
      const input: SadInput = {
        ...basis, X: xs, batch: B, tokens: T, rotations: seededRotations(64, [5]), rotationCount: 1,
        scale: 1 / 8, tau: 1, excludeFirstSource: true, recordSelected: false,
      };
      const all = kernels.sad(input);
      const one = kernels.sad({ ...input, X, batch: 1 });
      expect(all.positive).toBe(B * one.positive);
      expect(all.candidates).toBe(B * one.candidates);
      for (const p of [0, 55, 56, 57, 112, 119]) {
        expect(all.pairs[3 * one.positive * p]).toBe(p);
        expect(Array.from(all.nRecon.subarray(one.positive * p, one.positive * (p + 1)))).toEqual(Array.from(one.nRecon));
      }
      expect(Array.from(all.null[0].histogram)).toEqual(Array.from(one.null[0].histogram, (c) => c * B));
      expect(Array.from(all.usage)).toEqual(Array.from(one.usage, (c) => c * B));
    });

    test("numpy conventions: median of an even count averages, p90 interpolates", () => {
      expect(medianSorted([1, 2, 3, 10])).toBe(2.5);
      expect(percentileSorted([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9)).toBe(10);
      expect(percentileSorted([1, 2, 3, 4], 0.9)).toBeCloseTo(3.7, 14);
      expect(aggregateSad(kernels.sad({
        ...basis, X, batch: 1, tokens: T, rotations: new Float64Array(0), rotationCount: 0,
        scale: 1 / 8, tau: 1, excludeFirstSource: true, recordSelected: false,
      }), 64, []).null).toBeNull();
    });

    test("bad arguments are statuses, not traps", () => {
      const base: SadInput = {
        ...basis, X, batch: 1, tokens: T, rotations: new Float64Array(0), rotationCount: 0,
        scale: 1 / 8, tau: 1, excludeFirstSource: true, recordSelected: false,
      };
      expect(() => kernels.sad({ ...base, tau: 1.5 })).toThrow(/invalid argument 13/);
      expect(() => kernels.sad({ ...base, X: X.subarray(0, 769), tokens: 1 })).toThrow(/invalid argument 3/);
      expect(() => kernels.sad({ ...base, batch: 2 })).toThrow(/expected \[2, 24, 769\]/);
      const bad = X.slice();
      bad[5] = Infinity;
      expect(() => kernels.sad({ ...base, X: bad })).toThrow(/not finite/);
    });
  });
}

describe("SIMD and scalar builds agree", () => {
  test("random batch: the same firing pairs, N_recon, usage and null histograms; sparseness to 1e-12", () => {
    const simd = loadKernels("release");
    const scalar = loadKernels("scalar");
    const rows = 33, k = 16, B = 20, T = 12;
    const rng = createRng(77);
    const fa = normals(rng, rows * k);
    const fb = normals(rng, rows * k);
    const svd = simd.factoredSvd({ rows, cols: k, data: fa }, { rows, cols: k, data: fb });
    const input: SadInput = {
      U: svd.U, S: svd.S, V: svd.V, rows, k, X: normals(rng, B * T * rows), batch: B, tokens: T,
      rotations: seededRotations(k, [0, 1, 2]), rotationCount: 3, scale: 0.3, tau: 0.9, excludeFirstSource: true, recordSelected: true,
    };
    const a = simd.sad(input);
    const b = scalar.sad(input);
    expect(a.positive).toBeGreaterThan(100);
    expect(Array.from(a.pairs)).toEqual(Array.from(b.pairs));
    expect(Array.from(a.nRecon)).toEqual(Array.from(b.nRecon));
    expect(Array.from(a.usage)).toEqual(Array.from(b.usage));
    expect(Array.from(a.selected!)).toEqual(Array.from(b.selected!));
    for (let i = 0; i < a.positive; i++) expect(Math.abs(a.sparseness[i] - b.sparseness[i])).toBeLessThan(1e-12);
    a.null.forEach((n, i) => expect(Array.from(n.histogram)).toEqual(Array.from(b.null[i].histogram)));
  });

  test.each([13, 15])("odd shapes (rank %i, prompts of 11 and fewer tokens): the projections' edge tiles give the scalar build's bits", (k) => {
    const simd = loadKernels("release");
    const scalar = loadKernels("scalar");
    const rows = 29, B = 6, T = 11;
    const rng = createRng(78);
    const svd = simd.factoredSvd({ rows, cols: k, data: normals(rng, rows * k) }, { rows, cols: k, data: normals(rng, rows * k) });
    const X = normals(rng, B * T * rows);
    const input: SadInput = {
      U: svd.U, S: svd.S, V: svd.V, rows, k, X, batch: B, tokens: T, lengths: Int32Array.from([11, 5, 9, 2, 10, 7]),
      rotations: seededRotations(k, [0, 1]), rotationCount: 2, scale: 0.3, tau: 0.9, excludeFirstSource: false, recordSelected: true,
    };
    const a = simd.sad(input);
    const b = scalar.sad(input);
    expect(a.positive).toBeGreaterThan(20);
    expect(Array.from(a.pairs)).toEqual(Array.from(b.pairs));
    expect(Array.from(a.nRecon)).toEqual(Array.from(b.nRecon));
    expect(Array.from(a.selected!)).toEqual(Array.from(b.selected!));
    a.null.forEach((n, i) => expect(Array.from(n.histogram)).toEqual(Array.from(b.null[i].histogram)));
    const basis = { U: svd.U, S: svd.S, V: svd.V, rows, k };
    const Q = haarOrthogonal(k, createRng(5));
    for (const [d, src] of [[10, 3], [7, 7], [3, 0]]) {
      for (const rot of [undefined, Q]) {
        const x = simd.pairTerms(basis, X.subarray(0, T * rows), T, d, src, rot);
        const y = scalar.pairTerms(basis, X.subarray(0, T * rows), T, d, src, rot);
        expect(Array.from(x.terms)).toEqual(Array.from(y.terms));
        expect(Array.from(x.relative)).toEqual(Array.from(y.relative));
      }
    }
  });
});
