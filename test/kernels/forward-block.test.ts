/**
 * runBlock's chunk loop (src/kernels/forward.ts): every chunk `next` hands out is captured and
 * marked done in order, chunks of any size up to the capacity give the rows one big chunk gives, and
 * a chunk that does not fit its offsets or the capacity is refused before anything is written;
 * weights packed slab by slab through a small staging area give the same bits, and memoryBytes
 * bounds the memory a block really takes.
 */
import { describe, expect, test } from "vitest";
import {
  createForwardKernels, forwardKernels, linearWeights, type BlockChunk, type BlockShape, type BlockWeights, type WeightLayout,
} from "../../src/kernels/forward";
import { instantiate } from "../../src/kernels/instance";
import { ShapeMismatch } from "../../src/errors";
import { compileKernels, kernelPath } from "../../src/kernels/load-node";
import { gaussian, rng } from "../support/matrices";

const kernels = createForwardKernels(compileKernels(kernelPath("release")));
const d = 8;
const shape: BlockShape = {
  dModel: d, nHeads: 2, nKvHeads: 2, dHead: 4, norm: "layernorm", eps: 1e-5, scale: 0.5, activation: "gelu_new", gated: false, parallelResidual: false,
};
const r = rng(3);
const rows = (n: number) => Float32Array.from({ length: n * d }, () => gaussian(r));
const chunk = (resid: Float32Array, offsets: number[], done?: () => void): BlockChunk =>
  ({ resid, offsets: Int32Array.from(offsets), captured: new Float32Array(resid.length), done });

describe("runBlock", () => {
  test("captures every chunk it is handed, in order, and says when each is done", () => {
    const a = chunk(rows(5), [0, 2, 5]), b = chunk(rows(3), [0, 3]);
    const order: string[] = [];
    a.done = () => order.push("a");
    b.done = () => order.push("b");
    const queue = [a, b];
    const ran = kernels.runBlock({ shape, capacity: { rows: 5, prompts: 2, promptTokens: 3 }, next: () => queue.shift() });
    expect(ran).toBe(2);
    expect(order).toEqual(["a", "b"]);
    // one big chunk of the same prompts captures the same bits
    const whole = chunk(Float32Array.from([...a.resid, ...b.resid]), [0, 2, 5, 8]);
    kernels.runBlock({ shape, capacity: { rows: 8, prompts: 3, promptTokens: 3 }, next: ((once) => () => once.shift())([whole]) });
    expect(Buffer.from(whole.captured.buffer).equals(Buffer.concat([Buffer.from(a.captured.buffer), Buffer.from(b.captured.buffer)]))).toBe(true);
    // each captured row is normalised: mean 0, variance 1
    const row = [...a.captured.subarray(0, d)];
    expect(Math.abs(row.reduce((s, v) => s + v, 0) / d)).toBeLessThan(1e-6);
  });

  test("a chunk that does not fit its offsets or the capacity is refused, its rows untouched", () => {
    const capacity = { rows: 4, prompts: 2, promptTokens: 3 };
    const run = (c: BlockChunk) => () => kernels.runBlock({ shape, capacity, next: ((once) => () => once.shift())([c]) });
    const tooMany = chunk(rows(5), [0, 2, 5]);
    expect(run(tooMany)).toThrow(ShapeMismatch);
    expect(run(tooMany)).toThrow("chunk of 5 rows, 2 prompts of up to 3 tokens exceeds the capacity 4, 2, 3");
    expect(tooMany.captured.every((v) => v === 0)).toBe(true);
    expect(run(chunk(rows(4), [0, 4]))).toThrow("chunk of 4 rows, 1 prompts of up to 4 tokens exceeds the capacity 4, 2, 3");
    expect(run(chunk(rows(3), [0, 2]))).toThrow("residual of 24 values does not hold the 2 tokens of width 8 the offsets describe");
  });
});

describe.each([
  { arch: "GPT-2-like (W as [in, out], LayerNorm, biases)", layout: "in_out" as WeightLayout, gated: false },
  { arch: "Llama-like (W as [out, in], RMSNorm, SwiGLU, GQA)", layout: "out_in" as WeightLayout, gated: true },
])("a block's weights, $arch", ({ layout, gated }) => {
  const s: BlockShape = gated
    ? { dModel: 24, nHeads: 4, nKvHeads: 2, dHead: 6, norm: "rmsnorm", eps: 1e-5, scale: 6 ** -0.5, activation: "silu", gated, parallelResidual: false }
    : { dModel: 24, nHeads: 4, nKvHeads: 4, dHead: 6, norm: "layernorm", eps: 1e-5, scale: 6 ** -0.5, activation: "gelu_new", gated, parallelResidual: false };
  const ff = 40;
  const w = rng(11);
  const f = (n: number, at = 0) => Float32Array.from({ length: n }, () => at + 0.2 * gaussian(w));
  const lin = (k: number, m: number) => linearWeights(k, m, layout, f(k * m), gated ? undefined : f(m));
  const norm = () => ({ weight: f(24, 1), bias: gated ? undefined : f(24) });
  const block: BlockWeights = {
    ln1: norm(), qkv: lin(24, (s.nHeads + 2 * s.nKvHeads) * 6), out: lin(24, 24), ln2: norm(), up: lin(24, gated ? 2 * ff : ff), down: lin(ff, 24),
  };
  // room for 3,000 rows, so the workspace outgrows the initial 1 MiB of memory
  const capacity = { rows: 3000, prompts: 2, promptTokens: 4 };
  const resid = f(7 * 24);
  /** the block on one chunk of two prompts (3 and 4 tokens), through a fresh instance */
  const run = (stageValues?: number) => {
    const k = instantiate(compileKernels(kernelPath("release")));
    const c = { resid: resid.slice(), offsets: Int32Array.from([0, 3, 7]), captured: new Float32Array(resid.length) };
    const fk = forwardKernels(k, "wasm", stageValues);
    fk.runBlock({ shape: s, block, capacity, next: ((once: BlockChunk[]) => () => once.shift())([c]) });
    return { resid: c.resid, used: k.exports.memory.buffer.byteLength, bound: fk.memoryBytes(s, ff, capacity) };
  };

  test("packed through a staging area of 40 floats (slabs of one or two rows, or 8 columns), the same bits", () => {
    const whole = run();
    const slabs = run(40);
    expect(Buffer.from(slabs.resid.buffer).equals(Buffer.from(whole.resid.buffer))).toBe(true);
    expect(Buffer.from(whole.resid.buffer).equals(Buffer.from(resid.buffer))).toBe(false);
  });

  test("weights of other shapes than the block's are refused", () => {
    const fk = createForwardKernels(compileKernels(kernelPath("release")));
    const c = { resid: resid.slice(), offsets: Int32Array.from([0, 3, 7]), captured: new Float32Array(resid.length) };
    const wrong = { ...block, up: lin(24, gated ? 2 * ff + 2 : ff + 1) };
    expect(() => fk.runBlock({ shape: s, block: wrong, capacity, next: ((once: BlockChunk[]) => () => once.shift())([c]) }))
      .toThrow(`block weights do not match d_model 24, 4/${s.nKvHeads} heads of 6, ff ${ff}`);
    expect(c.captured.every((v) => v === 0)).toBe(true);
  });

  test("memoryBytes is at least the memory the block took, and over by no more than what it counts as present", () => {
    const { used, bound } = run();
    expect(used).toBeGreaterThan(2 ** 21);
    expect(bound).toBeGreaterThan(used - 65536); // memory grows by whole 64 KiB pages
    expect(bound - used).toBeLessThan(4 * 3000 * 24 + 4096); // the parallel residual's second input, the absent biases
  });
});
