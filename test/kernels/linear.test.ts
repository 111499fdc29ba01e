/**
 * The forward pass's float32 matmul (assembly/forward/linear.ts), which packs W and groups of 4 rows
 * of X itself: against a float64 product on shapes that hit every edge (rows past the last group of
 * 4 and past a 64-row chunk, a last panel under 8 columns, k = 1), both weight layouts, bias and
 * accumulation; the SIMD and scalar builds bit-identical; a row's result independent of the rows
 * computed with it.
 */
import { describe, expect, test } from "vitest";
import { instantiate, type KernelInstance } from "../../src/kernels/instance";
import { compileKernels, kernelPath } from "../../src/kernels/load-node";
import { gaussian, rng } from "../support/matrices";

const builds = { simd: instantiate(compileKernels(kernelPath("release"))), scalar: instantiate(compileKernels(kernelPath("scalar"))) };

interface Case {
  n: number;
  k: number;
  m: number;
  layout: 0 | 1;
  bias: boolean;
  accumulate: boolean;
}

function data(c: Case, seed: number) {
  const r = rng(seed);
  const f = (len: number) => Float32Array.from({ length: len }, () => gaussian(r));
  return { x: f(c.n * c.k), w: f(c.k * c.m), b: f(c.m), y0: f(c.n * c.m) };
}

/** Y as the kernel computes it, through one instance; x holds rows of width k at stride k + 3. */
function run(inst: KernelInstance, c: Case, d: ReturnType<typeof data>): Float32Array {
  const ex = inst.exports;
  return inst.call(() => {
    const ldx = c.k + 3;
    const ldy = c.m + 1;
    const px = inst.alloc(4 * c.n * ldx);
    const pw = inst.alloc(4 * c.k * c.m);
    const pb = inst.alloc(4 * c.m);
    const py = inst.alloc(4 * c.n * ldy);
    const work = inst.alloc(ex.linearWorkspace(c.k, c.m));
    const mem = () => new Float32Array(ex.memory.buffer);
    for (let t = 0; t < c.n; t++) {
      mem().set(d.x.subarray(t * c.k, (t + 1) * c.k), px / 4 + t * ldx);
      mem().set(d.y0.subarray(t * c.m, (t + 1) * c.m), py / 4 + t * ldy);
    }
    mem().set(d.w, pw / 4);
    mem().set(d.b, pb / 4);
    ex.linearF32(c.n, c.k, c.m, px, ldx, pw, c.layout, c.bias ? pb : 0, py, ldy, c.accumulate ? 1 : 0, work);
    const out = new Float32Array(c.n * c.m);
    for (let t = 0; t < c.n; t++) out.set(mem().subarray(py / 4 + t * ldy, py / 4 + t * ldy + c.m), t * c.m);
    return out;
  });
}

const SHAPES: Array<[number, number, number]> = [[1, 1, 1], [3, 5, 7], [4, 16, 8], [9, 13, 17], [70, 33, 24], [131, 40, 13]];
const CASES: Case[] = SHAPES.flatMap(([n, k, m]) =>
  ([0, 1] as const).flatMap((layout) => [
    { n, k, m, layout, bias: true, accumulate: false },
    { n, k, m, layout, bias: false, accumulate: true },
  ]));

describe.each(CASES)("n $n, k $k, m $m, layout $layout, bias $bias, accumulate $accumulate", (c) => {
  const d = data(c, c.n * 1000 + c.k * 10 + c.m + c.layout);
  const simd = run(builds.simd, c, d);

  test("matches a float64 product within float32 rounding", () => {
    let worst = 0;
    for (let t = 0; t < c.n; t++) {
      for (let j = 0; j < c.m; j++) {
        let s = 0;
        let mag = 0;
        for (let i = 0; i < c.k; i++) {
          const w = c.layout === 0 ? d.w[i * c.m + j] : d.w[j * c.k + i];
          s += d.x[t * c.k + i] * w;
          mag += Math.abs(d.x[t * c.k + i] * w);
        }
        if (c.bias) s += d.b[j];
        if (c.accumulate) s += d.y0[t * c.m + j];
        worst = Math.max(worst, Math.abs(simd[t * c.m + j] - s) / (mag + 1));
      }
    }
    expect(worst).toBeLessThan(1e-6 * (c.k + 2));
  });

  test("the scalar build gives the same bits, and so does each row computed alone", () => {
    expect(Buffer.from(run(builds.scalar, c, d).buffer).equals(Buffer.from(simd.buffer))).toBe(true);
    const last = c.n - 1;
    const alone = { n: 1, k: c.k, m: c.m, layout: c.layout, bias: c.bias, accumulate: c.accumulate };
    const row = run(builds.simd, alone, {
      x: d.x.subarray(last * c.k, (last + 1) * c.k), w: d.w, b: d.b, y0: d.y0.subarray(last * c.m, (last + 1) * c.m),
    });
    expect(Buffer.from(row.buffer).equals(Buffer.from(simd.slice(last * c.m).buffer))).toBe(true);
  });
});

test("layout 1 is the transpose of layout 0", () => {
  const c: Case = { n: 9, k: 11, m: 20, layout: 0, bias: true, accumulate: false };
  const d = data(c, 7);
  const wt = new Float32Array(c.k * c.m);
  for (let i = 0; i < c.k; i++) for (let j = 0; j < c.m; j++) wt[j * c.k + i] = d.w[i * c.m + j];
  const a = run(builds.simd, c, d);
  const b = run(builds.simd, { ...c, layout: 1 }, { ...d, w: wt });
  expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
});
