/**
 * The variants of method §3, checked against their definitions with small explicit matrices; the
 * folding the kernels do (assembly/svd/fold.ts) against plain loops, bit for bit, in both builds; a
 * factor folded to zeros refused.
 */
import { describe, expect, test } from "vitest";
import { InvalidRequest, ZeroCircuit } from "../../src/errors";
import { loadKernels } from "../../src/kernels/load-node";
import { buildHeadFactors, headSvd } from "../../src/services/head-factors";
import type { HeadWeights, Vec } from "../../src/services/head-weights";
import { decodeFloat, type HalfBits } from "../../src/wire/safetensors";
import type { HeadOptions } from "../../src/wire/head-request";
import { gaussian, rng } from "../support/matrices";

const kernels = loadKernels("release");

const d = 6;
const h = 3;
const r = rng(5);
const rand = (n: number) => Float64Array.from({ length: n }, () => gaussian(r));
/** Head weights whose factors are floats (the plain loops index them). */
type FloatWeights = HeadWeights & { read: Vec; other: Vec };
const base: FloatWeights = {
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
    expect(buildHeadFactors(kernels, base, {}).variant).toMatchObject({ name: "folded_augmented", factor_rows: d + 1, scale: 1 / Math.sqrt(h) });
  });

  test("raw augmented: [x,1] Ω̃ [y,1]ᵀ equals q·k exactly", () => {
    const f = buildHeadFactors(kernels, base, { fold_ln: false });
    const x = Array.from(rand(d));
    const y = Array.from(rand(d));
    const q = Array.from({ length: h }, (_, j) => x.reduce((s, xi, i) => s + xi * base.read[i * h + j], base.bQ![j]));
    const k = Array.from({ length: h }, (_, j) => y.reduce((s, yi, i) => s + yi * base.other[i * h + j], base.bK![j]));
    expect(bilinear(f, [...x, 1], [...y, 1])).toBeCloseTo(q.reduce((s, qi, j) => s + qi * k[j], 0), 12);
  });

  test("folded augmented on normalised z equals q·k of the LayerNorm output γ∘z+β", () => {
    const f = buildHeadFactors(kernels, base, {});
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
    const f = buildHeadFactors(kernels, base, { bias: "none" });
    for (let j = 0; j < h; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += f.a.data[i * h + j];
      expect(Math.abs(s)).toBeLessThan(1e-12);
    }
  });

  test("impossible variants are errors, not fallbacks", () => {
    expect(() => buildHeadFactors(kernels, { ...base, lnW: undefined }, { fold_ln: true })).toThrow(InvalidRequest);
    expect(() => buildHeadFactors(kernels, { ...base, bQ: undefined }, {})).toThrow(InvalidRequest);
    expect(() => buildHeadFactors(kernels, { ...base, bQ: undefined, bK: undefined }, { bias: "augmented" })).toThrow(InvalidRequest);
  });
});

describe("ov variants", () => {
  const ov: FloatWeights = { ...base, circuit: "ov", other: rand(h * d), bQ: undefined, bK: undefined };
  test("B is W_Oᵀ, and folding centres W_O over its output", () => {
    const raw = buildHeadFactors(kernels, ov, { fold_ln: false });
    expect(raw.variant.name).toBe("raw");
    for (let r2 = 0; r2 < h; r2++) for (let c = 0; c < d; c++) expect(raw.b.data[c * h + r2]).toBe(ov.other[r2 * d + c]);
    const folded = buildHeadFactors(kernels, ov, {});
    expect(folded.variant.name).toBe("folded");
    for (let j = 0; j < h; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += folded.b.data[c * h + j];
      expect(Math.abs(s)).toBeLessThan(1e-12);
    }
  });
  test("bias=augmented is refused for ov", () => {
    expect(() => buildHeadFactors(kernels, ov, { bias: "augmented" })).toThrow(InvalidRequest);
  });
});

describe("norm = rmsnorm (Llama)", () => {
  const rms: FloatWeights = { ...base, lnB: undefined, bQ: undefined, bK: undefined };
  test("qk: folds γ exactly (x·diag(γ)W_Q = (γ∘x)·W_Q), centres nothing", () => {
    const f = buildHeadFactors(kernels, rms, { norm: "rmsnorm" });
    expect(f.variant).toMatchObject({ name: "folded", fold_ln: true, centred: false, factor_rows: d });
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < h; j++) expect(f.a.data[i * h + j]).toBeCloseTo(rms.lnW![i] * rms.read[i * h + j], 14);
    }
  });
  test("ov: W_O is not centred", () => {
    const f = buildHeadFactors(kernels, { ...rms, circuit: "ov", other: rand(h * d) }, { norm: "rmsnorm" });
    expect(f.variant.centred).toBe(false);
  });
  test("ln_b with rmsnorm is an error", () => {
    expect(() => buildHeadFactors(kernels, { ...rms, lnB: rand(d) }, { norm: "rmsnorm" })).toThrow(InvalidRequest);
  });
});

/**
 * The variants as plain loops over row-major float64 arrays, in the order the kernel sums (over
 * d_model, increasing): the definition the kernel's fold must equal bit for bit.
 */
function plainFactors(w: FloatWeights, o: { foldLn: boolean; centre: boolean; augment: boolean }) {
  const { dModel: d, dHead: h } = w;
  const fold = (x: (i: number, j: number) => number, gamma: Vec | undefined, beta: Vec | undefined, bias: Vec | undefined) => {
    const out: number[] = [];
    const mean = new Array(h).fill(0);
    const v = (i: number, j: number) => (gamma ? gamma[i] * x(i, j) : x(i, j));
    if (o.centre) for (let i = 0; i < d; i++) for (let j = 0; j < h; j++) mean[j] += v(i, j);
    for (let j = 0; j < h; j++) mean[j] /= d;
    for (let i = 0; i < d; i++) for (let j = 0; j < h; j++) out.push(o.centre ? v(i, j) - mean[j] : v(i, j));
    if (o.augment) {
      const b = Array.from({ length: h }, (_, j) => (bias ? bias[j] : 0));
      if (beta) for (let i = 0; i < d; i++) for (let j = 0; j < h; j++) b[j] += beta[i] * x(i, j);
      out.push(...b);
    }
    return Float64Array.from(out);
  };
  const gamma = o.foldLn ? w.lnW : undefined;
  const beta = o.foldLn ? w.lnB : undefined;
  if (w.circuit === "qk") {
    return [fold((i, j) => w.read[i * h + j], gamma, beta, w.bQ), fold((i, j) => w.other[i * h + j], gamma, beta, w.bK)];
  }
  return [fold((i, j) => w.read[i * h + j], gamma, undefined, undefined), fold((i, j) => w.other[j * d + i], undefined, undefined, undefined)];
}

const bits = (x: Float64Array) => Array.from(new BigUint64Array(x.buffer, x.byteOffset, x.length));
/** ‖x‖²_F of a row-major [rows, h] factor the way the kernel sums it: each column over its rows, then the columns in order. */
const sumSquares = (x: Float64Array, h: number) => {
  let total = 0;
  for (let j = 0; j < h; j++) {
    let s = 0;
    for (let i = j; i < x.length; i += h) s += x[i] * x[i];
    total += s;
  }
  return total;
};

describe.each(["release", "scalar"] as const)("the kernels' fold (%s build)", (build) => {
  const k = loadKernels(build);
  const dd = 37;
  const hh = 5;
  const r2 = rng(11);
  const f32 = (n: number) => Float32Array.from({ length: n }, () => gaussian(r2));
  const qk: FloatWeights = { circuit: "qk", dModel: dd, dHead: hh, read: f32(dd * hh), other: f32(dd * hh), bQ: f32(hh), bK: f32(hh), lnW: f32(dd), lnB: f32(dd), dtypes: {} };
  const ov: FloatWeights = { circuit: "ov", dModel: dd, dHead: hh, read: f32(dd * hh), other: f32(hh * dd), lnW: f32(dd), lnB: f32(dd), dtypes: {} };
  const noLnB = <W extends HeadWeights>(w: W): W => ({ ...w, lnB: undefined, bQ: undefined, bK: undefined });
  /** random half-precision bits of every finite kind (zeros, subnormals, normals; no ∞/NaN) */
  const halves = (dtype: HalfBits["dtype"], n: number): HalfBits => {
    const mask = dtype === "BF16" ? 0x7f80 : 0x7c00;
    const b = Uint16Array.from({ length: n }, () => Math.floor(r2() * 65536));
    for (let i = 0; i < n; i++) if ((b[i] & mask) === mask) b[i] ^= 0x4000; // an all-ones exponent made finite
    b[0] = 0x8000; b[1] = 1; b[2] = 0x8001; // −0 and the smallest subnormals
    return { dtype, bits: b };
  };
  const bf16qk: HeadWeights = { ...qk, read: halves("BF16", dd * hh), other: halves("BF16", dd * hh) };
  const f16ov: HeadWeights = { ...ov, read: halves("F16", dd * hh), other: halves("F16", hh * dd) };
  const cases: Array<[string, HeadWeights, HeadOptions, { foldLn: boolean; centre: boolean; augment: boolean }]> = [
    ["qk folded_augmented", qk, {}, { foldLn: true, centre: true, augment: true }],
    ["qk raw_augmented", qk, { fold_ln: false }, { foldLn: false, centre: false, augment: true }],
    ["qk folded", qk, { bias: "none" }, { foldLn: true, centre: true, augment: false }],
    ["qk raw", qk, { fold_ln: false, bias: "none" }, { foldLn: false, centre: false, augment: false }],
    ["qk folded, f64 values", { ...qk, read: Float64Array.from(qk.read, (x) => x / 3), bQ: Float64Array.from(qk.bQ!, (x) => x / 7) }, {}, { foldLn: true, centre: true, augment: true }],
    ["qk rmsnorm", noLnB(qk), { norm: "rmsnorm" }, { foldLn: true, centre: false, augment: false }],
    ["ov folded", ov, {}, { foldLn: true, centre: true, augment: false }],
    ["ov raw", ov, { fold_ln: false }, { foldLn: false, centre: false, augment: false }],
    ["ov rmsnorm", noLnB(ov), { norm: "rmsnorm" }, { foldLn: true, centre: false, augment: false }],
    ["qk folded_augmented, BF16 bits", bf16qk, {}, { foldLn: true, centre: true, augment: true }],
    ["qk rmsnorm, BF16 bits", noLnB(bf16qk), { norm: "rmsnorm" }, { foldLn: true, centre: false, augment: false }],
    ["ov folded, F16 bits", f16ov, {}, { foldLn: true, centre: true, augment: false }],
  ];
  /** the weights with half-precision bits decoded by the host's decoder (wire/safetensors.ts) */
  const floats = (w: HeadWeights): FloatWeights => {
    const f = (v: HeadWeights["read"]) =>
      "bits" in v ? decodeFloat({ name: "x", dtype: v.dtype, shape: [v.bits.length], bytes: new Uint8Array(v.bits.buffer, v.bits.byteOffset, v.bits.byteLength) }) : v;
    return { ...w, read: f(w.read), other: f(w.other) };
  };

  test.each(cases)("%s: factors and norms equal the plain loops bit for bit", (_name, w, opts, o) => {
    const f = buildHeadFactors(k, w, opts);
    const [a, b] = plainFactors(floats(w), o);
    expect(bits(f.a.data as Float64Array)).toEqual(bits(a));
    expect(bits(f.b.data as Float64Array)).toEqual(bits(b));
    expect(f.norms).toEqual({ a: Math.sqrt(sumSquares(a, hh)), b: Math.sqrt(sumSquares(b, hh)) });
  });

  test.each(cases)("%s: the SVD folded in the kernel call equals the SVD of the materialized factors", (_name, w, opts) => {
    const f = buildHeadFactors(k, w, opts);
    const want = k.factoredSvd(f.a, f.b);
    const got = headSvd(k, w, opts);
    expect(got.norms).toEqual(f.norms);
    expect(got.variant).toEqual(f.variant);
    for (const key of ["U", "S", "V"] as const) expect(bits(got.svd[key])).toEqual(bits(want[key]));
  });

  test("a factor that folds to zeros is refused, naming it and how it emptied", () => {
    // every row of W_K the same: centring over d_model leaves nothing
    const flat = Float32Array.from({ length: dd * hh }, (_, i) => 0.5 + (i % hh));
    const w = { ...qk, other: flat, lnW: new Float32Array(dd).fill(1) };
    for (const run of [() => headSvd(k, w, { bias: "none" }), () => buildHeadFactors(k, w, { bias: "none" })]) {
      expect(run).toThrow(ZeroCircuit);
      expect(run).toThrow(/W_K is all zeros after folding ln_w and centring/);
    }
    // the bias row keeps the augmented factor alive
    expect(headSvd(k, w, {}).svd.S.length).toBe(hh);
    expect(() => headSvd(k, { ...ov, read: new Float32Array(dd * hh), other: new Float32Array(hh * dd) }, { fold_ln: false })).toThrow(
      /W_V and W_O are all zeros/,
    );
  });
});
