/** The variants of method §3, checked against their definitions with small explicit matrices. */
import { describe, expect, test } from "vitest";
import { InvalidRequest } from "../../src/errors";
import { buildHeadFactors } from "../../src/services/head-factors";
import type { HeadWeights } from "../../src/services/head-weights";
import { gaussian, rng } from "../support/matrices";

const d = 6;
const h = 3;
const r = rng(5);
const rand = (n: number) => Float64Array.from({ length: n }, () => gaussian(r));
const base: HeadWeights = {
  circuit: "qk", dModel: d, dHead: h, read: rand(d * h), other: rand(d * h),
  bQ: rand(h), bK: rand(h), lnW: rand(d), lnB: rand(d), dtypes: {},
};
/** [x, 1] A Bᵀ [y, 1]ᵀ from the factors */
const bilinear = (f: ReturnType<typeof buildHeadFactors>, x: number[], y: number[]) => {
  const rows = f.a.rows;
  let s = 0;
  for (let j = 0; j < h; j++) {
    let qa = 0;
    let kb = 0;
    for (let i = 0; i < rows; i++) {
      qa += x[i] * f.a.data[i * h + j];
      kb += y[i] * f.b.data[i * h + j];
    }
    s += qa * kb;
  }
  return s;
};

describe("qk variants", () => {
  test("defaults: ln present → folded, both biases → augmented", () => {
    expect(buildHeadFactors(base, {}).variant).toMatchObject({ name: "folded_augmented", factor_rows: d + 1, scale: 1 / Math.sqrt(h) });
  });

  test("raw augmented: [x,1] Ω̃ [y,1]ᵀ equals q·k exactly", () => {
    const f = buildHeadFactors(base, { fold_ln: false });
    const x = Array.from(rand(d));
    const y = Array.from(rand(d));
    const q = Array.from({ length: h }, (_, j) => x.reduce((s, xi, i) => s + xi * base.read[i * h + j], base.bQ![j]));
    const k = Array.from({ length: h }, (_, j) => y.reduce((s, yi, i) => s + yi * base.other[i * h + j], base.bK![j]));
    expect(bilinear(f, [...x, 1], [...y, 1])).toBeCloseTo(q.reduce((s, qi, j) => s + qi * k[j], 0), 12);
  });

  test("folded augmented on normalised z equals q·k of the LayerNorm output γ∘z+β", () => {
    const f = buildHeadFactors(base, {});
    // z is a normalised residual: mean 0 (centring the weights then changes nothing)
    const z = Array.from(rand(d));
    const mean = z.reduce((a, b) => a + b, 0) / d;
    const zc = z.map((v) => v - mean);
    const z2 = Array.from(rand(d));
    const mean2 = z2.reduce((a, b) => a + b, 0) / d;
    const zc2 = z2.map((v) => v - mean2);
    const x = zc.map((v, i) => base.lnW![i] * v + base.lnB![i]);
    const y = zc2.map((v, i) => base.lnW![i] * v + base.lnB![i]);
    const q = Array.from({ length: h }, (_, j) => x.reduce((s, xi, i) => s + xi * base.read[i * h + j], base.bQ![j]));
    const k = Array.from({ length: h }, (_, j) => y.reduce((s, yi, i) => s + yi * base.other[i * h + j], base.bK![j]));
    expect(bilinear(f, [...zc, 1], [...zc2, 1])).toBeCloseTo(q.reduce((s, qi, j) => s + qi * k[j], 0), 10);
  });

  test("folded weights are centred over d_model", () => {
    const f = buildHeadFactors(base, { bias: "none" });
    for (let j = 0; j < h; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += f.a.data[i * h + j];
      expect(Math.abs(s)).toBeLessThan(1e-12);
    }
  });

  test("impossible variants are errors, not fallbacks", () => {
    expect(() => buildHeadFactors({ ...base, lnW: undefined }, { fold_ln: true })).toThrow(InvalidRequest);
    expect(() => buildHeadFactors({ ...base, bQ: undefined }, {})).toThrow(InvalidRequest);
    expect(() => buildHeadFactors({ ...base, bQ: undefined, bK: undefined }, { bias: "augmented" })).toThrow(InvalidRequest);
  });
});

describe("ov variants", () => {
  const ov: HeadWeights = { ...base, circuit: "ov", other: rand(h * d), bQ: undefined, bK: undefined };
  test("B is W_Oᵀ, and folding centres W_O over its output", () => {
    const raw = buildHeadFactors(ov, { fold_ln: false });
    expect(raw.variant.name).toBe("raw");
    for (let r2 = 0; r2 < h; r2++) for (let c = 0; c < d; c++) expect(raw.b.data[c * h + r2]).toBe(ov.other[r2 * d + c]);
    const folded = buildHeadFactors(ov, {});
    expect(folded.variant.name).toBe("folded");
    for (let j = 0; j < h; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += folded.b.data[c * h + j];
      expect(Math.abs(s)).toBeLessThan(1e-12);
    }
  });
  test("bias=augmented is refused for ov", () => {
    expect(() => buildHeadFactors(ov, { bias: "augmented" })).toThrow(InvalidRequest);
  });
});
