/**
 * How the forward pass shares prompts between threads (src/model/chunks.ts): whole prompts in
 * consecutive chunks of about equal token counts; a chunk is handed out once per layer, and only
 * after it has been through the previous layer; a failed thread stops the others.
 */
import { Worker } from "node:worker_threads";
import { describe, expect, test } from "vitest";
import { abortQueue, chunkPlan, chunkQueue, takeChunks } from "../../src/model/chunks";

describe("chunkPlan", () => {
  test("cuts whole prompts into consecutive chunks of at least 64 tokens, about total ÷ (threads × 8)", () => {
    const lengths = Array.from({ length: 200 }, (_, b) => 5 + (b % 17));
    const total = lengths.reduce((a, b) => a + b, 0);
    const plan = chunkPlan(lengths, 2);
    const starts = [...plan.prompts];
    expect(starts[0]).toBe(0);
    expect(starts[starts.length - 1]).toBe(200);
    const sizes = starts.slice(1).map((p, c) => plan.offsets[p] - plan.offsets[starts[c]]);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
    const target = Math.ceil(total / 16);
    // every chunk but the last reaches the target by its last prompt, and is under it without it
    sizes.slice(0, -1).forEach((n, c) => {
      expect(n).toBeGreaterThanOrEqual(target);
      expect(n - lengths[starts[c + 1] - 1]).toBeLessThan(target);
    });
    expect(plan.capacity).toEqual({
      rows: Math.max(...sizes),
      prompts: Math.max(...starts.slice(1).map((p, c) => p - starts[c])),
      promptTokens: 21,
    });
  });

  test("few tokens make one chunk; a prompt longer than the target is a chunk of its own", () => {
    expect([...chunkPlan([3, 4, 5], 4).prompts]).toEqual([0, 3]);
    expect([...chunkPlan([10, 300, 10, 10], 2).prompts]).toEqual([0, 2, 4]);
    expect([...chunkPlan([300, 10, 60], 2).prompts]).toEqual([0, 1, 3]);
  });
});

describe("takeChunks", () => {
  const lengths = Array.from({ length: 40 }, () => 8); // 320 tokens: 5 chunks of 64
  const d = 2;
  const embedded = Float32Array.from({ length: 320 * d }, (_, i) => i);
  const queue = () => {
    const q = chunkQueue(chunkPlan(lengths, 2), d, 3);
    q.resid.set(embedded);
    return q;
  };

  test("hands every chunk of a layer out once, as views of the shared rows with offsets from 0", () => {
    const q = queue();
    const a = takeChunks(q, 0), b = takeChunks(q, 0);
    const got = [a(), b(), a(), a(), b()];
    expect(a()).toBeUndefined();
    expect(b()).toBeUndefined();
    got.forEach((c, i) => {
      expect(c!.resid.buffer).toBe(q.resid.buffer);
      expect(c!.resid[0]).toBe(i * 64 * d);
      expect(c!.resid.length).toBe(64 * d);
      expect(c!.captured.buffer).toBe(q.captures[0].buffer);
      expect([...c!.offsets]).toEqual([0, 8, 16, 24, 32, 40, 48, 56, 64]);
    });
    got.forEach((c) => c!.done!());
    expect(takeChunks(q, 1)()!.captured.buffer).toBe(q.captures[1].buffer);
  });

  test("a chunk of the next layer waits until another thread is done with the previous one", () => {
    const q = queue();
    takeChunks(q, 0)(); // chunk 0, layer 0: taken, not done
    // another thread marks it done 150 ms later (the layout of q.sync: abort, 3 layer counters, then chunk 0's layers done)
    const other = new Worker(
      "const { sync } = require('node:worker_threads').workerData; setTimeout(() => { Atomics.store(sync, 4, 1); Atomics.notify(sync, 4); }, 150);",
      { eval: true, workerData: { sync: q.sync } },
    );
    try {
      const t0 = performance.now();
      const next = takeChunks(q, 1)()!; // chunk 0 again, one layer on: blocks until then
      expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
      expect(next.resid[0]).toBe(0);
    } finally {
      void other.terminate();
    }
  });

  test("done() lets the next layer take the chunk at once", () => {
    const q = queue();
    takeChunks(q, 0)()!.done!();
    const t0 = performance.now();
    expect(takeChunks(q, 1)()!.resid[0]).toBe(0);
    expect(performance.now() - t0).toBeLessThan(50);
  });

  test("an aborted queue makes a waiting or asking thread throw", () => {
    const q = queue();
    takeChunks(q, 0)(); // chunk 0 is never done
    const waiting = takeChunks(q, 1);
    abortQueue(q);
    expect(() => waiting()).toThrow(/forward pass aborted: another thread failed/);
    expect(() => takeChunks(q, 0)()).toThrow(/aborted/);
  });
});
