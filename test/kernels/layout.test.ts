/**
 * The layout transposes (assembly/shared/layout.ts) that move matrices between the host's row-major
 * arrays and the kernels' column-major float64: every element where a plain loop puts it, bit for bit
 * (NaN payloads, -0 and float32 subnormals included), at shapes off the 16 × 16 tile on both sides and
 * at one row or column, in both builds; nothing written past the destination. The half-precision
 * widening: every one of the 65,536 BF16 and F16 bit patterns to the value the host's decoder gives,
 * bit for bit, in place over the last quarter of its destination as the fold stages it.
 */
import { describe, expect, test } from "vitest";
import { instantiate, type KernelInstance } from "../../src/kernels/instance";
import { compileKernels, kernelPath } from "../../src/kernels/load-node";
import { decodeFloat } from "../../src/wire/safetensors";
import { gaussian, rng } from "../support/matrices";

const builds = { simd: instantiate(compileKernels(kernelPath("release"))), scalar: instantiate(compileKernels(kernelPath("scalar"))) };
const shapes: Array<[number, number]> = [[1, 1], [1, 37], [37, 1], [16, 16], [17, 33], [769, 64], [5, 129]];

/** Values with the awkward ones in: -0, NaN with a payload, ±∞, a float32 subnormal. */
function values(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const out = Float64Array.from({ length: n }, () => gaussian(r));
  const odd = [-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.4e-45];
  for (let i = 0; i < Math.min(n, odd.length); i++) out[(i * 7) % n] = odd[i];
  return out;
}

/** Runs one transpose of `src` ([rows, cols] row-major) and returns the destination plus a guard word after it. */
function transpose(inst: KernelInstance, rows: number, cols: number, src: Float32Array | Float64Array) {
  const ex = inst.exports;
  const n = rows * cols;
  return inst.call(() => {
    const ps = inst.alloc(8 * n);
    const pd = inst.alloc(8 * (n + 2));
    const guard = new Float64Array(ex.memory.buffer, pd + 8 * n, 2);
    guard.fill(12345.5);
    if (src instanceof Float32Array) {
      new Float32Array(ex.memory.buffer, ps, n).set(src);
      ex.transposeF32ToF64(rows, cols, ps, pd);
    } else {
      new Float64Array(ex.memory.buffer, ps, n).set(src);
      ex.transposeF64(rows, cols, ps, pd);
    }
    return { out: new Float64Array(ex.memory.buffer, pd, n).slice(), guard: Array.from(guard) };
  });
}

const bits = (x: Float64Array) => Array.from(new BigUint64Array(x.buffer, x.byteOffset, x.length));

describe.each(Object.entries(builds))("layout transposes (%s build)", (_name, inst) => {
  test.each(shapes)("float64 [%i, %i] lands at [j, i], bit for bit", (rows, cols) => {
    const src = values(rows * cols, rows * 1000 + cols);
    const want = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) want[j * rows + i] = src[i * cols + j];
    const { out, guard } = transpose(inst, rows, cols, src);
    expect(bits(out)).toEqual(bits(want));
    expect(guard).toEqual([12345.5, 12345.5]);
  });

  test.each(shapes)("float32 [%i, %i] widens exactly and lands at [j, i]", (rows, cols) => {
    const src = Float32Array.from(values(rows * cols, rows * 31 + cols));
    const want = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) want[j * rows + i] = src[i * cols + j];
    const { out, guard } = transpose(inst, rows, cols, src);
    // NaN widens to a NaN (its payload may differ between engines): compare the rest bit for bit
    const nan = want.map((x) => (Number.isNaN(x) ? 1 : 0));
    expect(out.map((x) => (Number.isNaN(x) ? 1 : 0))).toEqual(nan);
    expect(bits(out.map((x, i) => (nan[i] ? 0 : x)))).toEqual(bits(want.map((x, i) => (nan[i] ? 0 : x))));
    expect(guard).toEqual([12345.5, 12345.5]);
  });
});

describe.each(Object.entries(builds))("half-precision widening (%s build)", (_name, inst) => {
  test.each(["BF16", "F16"] as const)("every %s bit pattern widens to the host decoder's value, in place", (dtype) => {
    const n = 65536;
    const all = Uint16Array.from({ length: n }, (_, i) => i);
    const want = Float64Array.from(decodeFloat({ name: "x", dtype, shape: [n], bytes: new Uint8Array(all.buffer) }));
    const ex = inst.exports;
    const { out, guard } = inst.call(() => {
      const pd = inst.alloc(8 * (n + 2));
      const guard = new Float64Array(ex.memory.buffer, pd + 8 * n, 2);
      guard.fill(12345.5);
      // as the fold stages a factor: the bits in the last quarter of the destination
      new Uint16Array(ex.memory.buffer, pd + 6 * n, n).set(all);
      ex.widenHalfToF64(n, pd + 6 * n, pd, dtype === "BF16" ? 1 : 0);
      return { out: new Float64Array(ex.memory.buffer, pd, n).slice(), guard: Array.from(guard) };
    });
    const nan = want.map((x) => (Number.isNaN(x) ? 1 : 0));
    expect(nan.reduce((a, b) => a + b, 0)).toBe(dtype === "BF16" ? 254 : 2046);
    expect(out.map((x) => (Number.isNaN(x) ? 1 : 0))).toEqual(nan);
    expect(bits(out.map((x, i) => (nan[i] ? 0 : x)))).toEqual(bits(want.map((x, i) => (nan[i] ? 0 : x))));
    expect(guard).toEqual([12345.5, 12345.5]);
  });
});
