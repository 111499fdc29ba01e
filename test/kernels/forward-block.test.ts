/**
 * runBlock's chunk loop (src/kernels/forward.ts): every chunk `next` hands out is captured and
 * marked done in order, chunks of any size up to the capacity give the rows one big chunk gives, and
 * a chunk that does not fit its offsets or the capacity is refused before anything is written.
 */
import { describe, expect, test } from "vitest";
import { createForwardKernels, type BlockChunk, type BlockShape } from "../../src/kernels/forward";
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
