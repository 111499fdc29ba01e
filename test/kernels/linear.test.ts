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

/** W packed by packLinearF32 at once, or slab by slab (slabs of `rows`, in reverse order) by packLinearRowsF32. */
function packed(inst: KernelInstance, k: number, m: number, layout: 0 | 1, w: Float32Array, rows?: number): Buffer {
  const ex = inst.exports;
  return inst.call(() => {
    const bytes = ex.linearPanelBytes(k, m);
    const out = inst.alloc(bytes);
    new Uint8Array(ex.memory.buffer, out, bytes).fill(0xa5); // whatever packing does not write shows
    const [total, width] = layout === 0 ? [k, m] : [m, k];
    const stage = inst.alloc(4 * w.length);
    if (rows === undefined) {
      new Float32Array(ex.memory.buffer, stage, w.length).set(w);
      ex.packLinearF32(k, m, stage, layout, out);
    } else {
      const froms = Array.from({ length: Math.ceil(total / rows) }, (_, i) => i * rows).reverse();
      for (const from of froms) {
        const count = Math.min(rows, total - from);
        new Float32Array(ex.memory.buffer, stage, count * width).set(w.subarray(from * width, (from + count) * width));
        ex.packLinearRowsF32(k, m, stage, layout, out, from, count);
      }
    }
    return Buffer.from(new Uint8Array(ex.memory.buffer, out, bytes));
  });
}

describe.each([
  { k: 37, m: 21, layout: 0 as const, rows: 5 }, { k: 37, m: 21, layout: 0 as const, rows: 1 },
  { k: 37, m: 21, layout: 1 as const, rows: 8 }, { k: 13, m: 45, layout: 1 as const, rows: 16 },
])("packing W ($k × $m, layout $layout) in slabs of $rows", ({ k, m, layout, rows }) => {
  const w = Float32Array.from({ length: k * m }, (_, i) => i + 1);
  test.each(Object.entries(builds))("%s build: the same bytes as packing it whole", (_, inst) => {
    const whole = packed(inst, k, m, layout, w);
    expect(whole.includes(Buffer.from([0xa5, 0xa5, 0xa5, 0xa5]))).toBe(false);
    expect(packed(inst, k, m, layout, w, rows).equals(whole)).toBe(true);
  });
});

test("operands past 2 GiB of memory (a 70B block's packed weights reach 3.4 GB): pointers stay unsigned, the same bits", () => {
  const c: Case = { n: 5, k: 9, m: 12, layout: 1, bias: true, accumulate: true };
  const d = data(c, 9);
  const low = run(builds.simd, c, d);
  const inst = instantiate(compileKernels(kernelPath("release")));
  const high = inst.call(() => {
    inst.alloc(2 ** 31 + 64); // memory grows without touching those pages
    return run({ ...inst, call: (body) => body() }, c, d);
  });
  expect(Buffer.from(high.buffer).equals(Buffer.from(low.buffer))).toBe(true);
});
