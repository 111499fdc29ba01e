/**
 * The Gaussian null band (analysis/null-band.ts) and the factor norms that scale it, with the real
 * WebAssembly kernels and real GPT-2 heads: the band is deterministic and ordered, σ scales with each
 * factor's norm exactly as the band's scaling assumes, independent draws checked by dense SVDs fall
 * in the band, and a summary's factor_norms are its factors' Frobenius norms.
 */
import { Matrix, SingularValueDecomposition } from "ml-matrix";
import { describe, expect, test } from "vitest";
import { gaussianNullBand, scaleNullBand } from "../../src/analysis/null-band";
import { createRng, normals } from "../../src/analysis/random";
import { loadKernels } from "../../src/kernels/load-node";
import { decomposeHead } from "../../src/services/decompose-head";
import { buildHeadFactors } from "../../src/services/head-factors";
import type { HeadWeights } from "../../src/services/head-weights";
import { D_HEAD, D_MODEL, gpt2Head } from "../support/gpt2";

const kernels = loadKernels("release");

describe("Gaussian null band", () => {
  test("deterministic, q05 ≤ median ≤ q95 at every k, and σ of a scaled pair is the product of the scales times the unit pair's", () => {
    const a = gaussianNullBand(kernels, 97, 12);
    const b = gaussianNullBand(kernels, 97, 12);
    expect(a).toEqual(b);
    expect(a.median).toHaveLength(12);
    for (let k = 0; k < 12; k++) {
      expect(a.q05[k]).toBeLessThanOrEqual(a.median[k]);
      expect(a.median[k]).toBeLessThanOrEqual(a.q95[k]);
      if (k > 0) expect(a.median[k]).toBeLessThanOrEqual(a.median[k - 1]);
    }
    // the linearity the per-shape band relies on
    const rng = createRng(5);
    const x = normals(rng, 97 * 12);
    const y = normals(rng, 97 * 12);
    const s1 = kernels.factoredSvd({ rows: 97, cols: 12, data: x }, { rows: 97, cols: 12, data: y }).S;
    const s2 = kernels.factoredSvd({ rows: 97, cols: 12, data: x.map((v) => 3 * v) }, { rows: 97, cols: 12, data: y.map((v) => 5 * v) }).S;
    s1.forEach((v, k) => expect(s2[k]).toBeCloseTo(15 * v, 10));
    const scaled = scaleNullBand(a, { a: 3, b: 5 });
    scaled.median.forEach((v, k) => expect(v).toBeCloseTo(15 * a.median[k], 12));
  });

  test("the band agrees with dense SVDs (ml-matrix) of fresh unit Gaussian products of the same shape", () => {
    const R = 300, H = 24;
    const band = gaussianNullBand(kernels, R, H);
    const rng = createRng(123);
    let inside = 0;
    for (let t = 0; t < 3; t++) {
      const unit = (v: Float64Array) => { const n = Math.sqrt(v.reduce((x, y) => x + y * y, 0)); return v.map((x) => x / n); };
      const a = unit(normals(rng, R * H));
      const b = unit(normals(rng, R * H));
      const am = new Matrix(R, H);
      const bm = new Matrix(R, H);
      for (let i = 0; i < R; i++) for (let j = 0; j < H; j++) { am.set(i, j, a[i * H + j]); bm.set(i, j, b[i * H + j]); }
      const s = new SingularValueDecomposition(am.mmul(bm.transpose()), { computeLeftSingularVectors: false, computeRightSingularVectors: false }).diagonal.slice(0, H);
      s.forEach((v, k) => { if (v >= 0.85 * band.q05[k] && v <= 1.15 * band.q95[k]) inside++; });
    }
    // independent draws fall inside the (slightly widened) 5–95 % band at nearly every k
    expect(inside).toBeGreaterThanOrEqual(Math.floor(0.9 * 3 * H));
  }, 60_000);
});

describe("factor norms", () => {
  test.each([["qk", 0, 1], ["ov", 5, 3]] as const)("%s L%iH%i: the summary's factor_norms are ‖A‖_F, ‖B‖_F of the variant's factors, and bound σ₁", (circuit, layer, head) => {
    const w = gpt2Head(layer, head);
    const wts: HeadWeights = {
      circuit, dModel: D_MODEL, dHead: D_HEAD, read: circuit === "qk" ? w.W_Q : w.W_V, other: circuit === "qk" ? w.W_K : w.W_O,
      bQ: w.b_Q, bK: w.b_K, lnW: w.ln_w, lnB: w.ln_b, dtypes: {},
    };
    const f = buildHeadFactors(kernels, wts, {});
    const fro = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((t, v) => t + v * v, 0));
    const { summary } = decomposeHead(kernels, { model: "m", layer, head, circuit }, wts, {}, { sha256: "0".repeat(64), bytes: 1 }, "k");
    expect(summary.factor_norms!.a).toBeCloseTo(fro(f.a.data), 10);
    expect(summary.factor_norms!.b).toBeCloseTo(fro(f.b.data), 10);
    expect(summary.singular_values[0]).toBeLessThanOrEqual(summary.factor_norms!.a * summary.factor_norms!.b);
  });
});
