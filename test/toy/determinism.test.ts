import { describe, expect, it } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import { SINGLE_PAIR } from "../../src/toy/config";
import { createRng } from "../../src/analysis/random";
import { sampleAttentionBatch, sampleReconBatch, TokenBuffer } from "../../src/toy/sampling";
import { trainToy } from "../../src/toy/train";

describe("seeded randomness", () => {
  it("a seed fixes the stream, and different seeds differ", () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it("geometric gaps give Bernoulli(p) features with uniform values", () => {
    const rng = createRng(7);
    const cfg = { ...SINGLE_PAIR, nFeatures: 50, featureProbability: 0.2 };
    const buf = new TokenBuffer(20000, 200000);
    sampleReconBatch(buf, cfg, 20000, rng);
    const nnz = buf.ptr[buf.tokens];
    expect(nnz / (20000 * 50)).toBeCloseTo(0.2, 2);
    let mean = 0;
    let outOfRange = 0;
    for (let e = 0; e < nnz; e++) {
      if (buf.idx[e] < 0 || buf.idx[e] >= 50 || buf.val[e] < 0 || buf.val[e] >= 1) outOfRange++;
      mean += buf.val[e];
    }
    expect(outOfRange).toBe(0);
    expect(mean / nnz).toBeCloseTo(0.5, 2);
  });

  it("co-occurrence switches a template pair on in the configured fraction of samples", () => {
    const rng = createRng(8);
    const m = SINGLE_PAIR.keysPerQuery;
    const buf = new TokenBuffer(4000 * (m + 1), 4000 * (m + 1) * 3);
    sampleAttentionBatch(buf, SINGLE_PAIR, 4000, rng);
    const has = (t: number, f: number) => {
      for (let e = buf.ptr[t]; e < buf.ptr[t + 1]; e++) if (buf.idx[e] === f) return true;
      return false;
    };
    let together = 0;
    for (let s = 0; s < 4000; s++) {
      const q = s * (m + 1);
      if (has(q, 0) && Array.from({ length: m }, (_, j) => has(q + 1 + j, 1)).some(Boolean)) together++;
    }
    // 0.5 switched on, plus the natural chance p · (1 − (1 − p)^m) ≈ 0.017 of the rest
    expect(together / 4000).toBeGreaterThan(0.47);
    expect(together / 4000).toBeLessThan(0.55);
  });
});

describe("toy training", () => {
  const kernels = loadKernels();
  const passes = loadKernels();

  it("is deterministic for a fixed seed", () => {
    const cfg = { ...SINGLE_PAIR, steps: 60 };
    const a = trainToy(cfg, 3, kernels, undefined, passes);
    const b = trainToy(cfg, 3, kernels, undefined, passes);
    const c = trainToy(cfg, 4, kernels, undefined, passes);
    expect(b.curves).toEqual(a.curves);
    expect(b.final).toEqual(a.final);
    expect(c.curves.totalLoss).not.toEqual(a.curves.totalLoss);
  }, 30_000);

  // how fast it gets there is for `npm run bench:toy`, not for a test
  it("a short single-pair run reaches the alignment", () => {
    const run = trainToy({ ...SINGLE_PAIR, steps: 400 }, 0, kernels, undefined, passes);
    expect(run.final.top1CosU).toBeGreaterThanOrEqual(0.95);
    expect(run.final.top1CosV).toBeGreaterThanOrEqual(0.95);
    expect(run.final.sigmaRatio).toBeGreaterThanOrEqual(5);
    expect(run.final.alignStep).not.toBeNull();
    // the head, not chance: the random-direction null stays far below
    expect(run.final.nullMatchedMean).toBeLessThan(0.6);
  }, 120_000);
});

describe("anisotropy modes", () => {
  it("orthogonal mode keeps W ⊥ e, so every feature's e-component stays exactly c", async () => {
    const { MANY_PAIRS } = await import("../../src/toy/config");
    const { drawSharedDirection, initParams } = await import("../../src/toy/model");
    const cfg = { ...MANY_PAIRS, anisotropy: 0.75, anisotropyMode: "orthogonal" as const, steps: 30, attentionBatch: 64, reconBatch: 64, measureEvery: 10 };
    const run = trainToy(cfg, 2, loadKernels(), undefined, loadKernels());
    // the same stream order as trainToy: W, W_Q, W_K, then e
    const rng = createRng(2);
    initParams(cfg, rng);
    const e = drawSharedDirection(cfg.dModel, rng);
    const { w } = run.final.params;
    let worst = 0;
    for (let i = 0; i < cfg.nFeatures; i++) {
      let dot = 0;
      for (let k = 0; k < cfg.dModel; k++) dot += e[k] * w[k][i];
      worst = Math.max(worst, Math.abs(dot));
    }
    expect(worst).toBeLessThan(1e-12);
    expect(run.final.meanPairwiseCos).toBeGreaterThan(0.3);
  });
});
