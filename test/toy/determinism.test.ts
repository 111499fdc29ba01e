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
    const cfg = { ...SINGLE_PAIR, steps: 60, sadSamples: 256 };
    const a = trainToy(cfg, 3, kernels, undefined, passes);
    const b = trainToy(cfg, 3, kernels, undefined, passes);
    const c = trainToy(cfg, 4, kernels, undefined, passes);
    expect(b.curves).toEqual(a.curves);
    expect(b.final).toEqual(a.final);
    expect(c.curves.totalLoss).not.toEqual(a.curves.totalLoss);
  }, 120_000);

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

describe("token-side anisotropy (method §6)", () => {
  it("the decoder ignores the shift: reconstruction at c > 0 equals reconstruction at c = 0 for the same W, while the head sees it", async () => {
    const { MANY_PAIRS } = await import("../../src/toy/config");
    const { drawSharedDirection, initParams, PARAM_NAMES, ToyModel, zeroParams } = await import("../../src/toy/model");
    for (const passes of [undefined, loadKernels()]) {
      const base = { ...MANY_PAIRS, attentionBatch: 32, reconBatch: 32 };
      const rng = createRng(21);
      const params = initParams(base, rng);
      for (let i = 0; i < params.b.length; i++) params.b[i] = 0.1 * rng.normal();
      const e = drawSharedDirection(base.dModel, rng);
      const recon = new TokenBuffer(32, 32 * 30);
      const attn = new TokenBuffer(32 * 9, 32 * 9 * 30);
      sampleReconBatch(recon, base, 32, rng);
      sampleAttentionBatch(attn, base, 32, rng);
      const at = (c: number, lambda: number) => {
        const cfg = { ...base, anisotropy: c, lambda };
        const g = zeroParams(cfg);
        return { losses: new ToyModel(cfg, e, passes).lossAndGradients(params, recon, attn, g), g };
      };
      // reconstruction alone (λ = 0): loss and every gradient identical at c = 0.75 and c = 0
      const r0 = at(0, 0);
      const r1 = at(0.75, 0);
      expect(r1.losses.recon).toBe(r0.losses.recon);
      for (const name of PARAM_NAMES) expect(Array.from(r1.g[name])).toEqual(Array.from(r0.g[name]));
      // the head does read the shifted tokens (the check above is not vacuous)
      expect(Math.abs(at(0.75, 1).losses.ce - at(0, 1).losses.ce)).toBeGreaterThan(1e-3);
    }
  });

  it("training at c = 0.75 keeps the features anisotropic (nothing trains the shift away)", async () => {
    const { MANY_PAIRS } = await import("../../src/toy/config");
    const cfg = { ...MANY_PAIRS, anisotropy: 0.75, steps: 30, attentionBatch: 64, reconBatch: 64, measureEvery: 10 };
    const run = trainToy(cfg, 2, loadKernels(), undefined, loadKernels());
    expect(run.final.meanPairwiseCos).toBeGreaterThan(0.2);
    expect(run.final.meanTokenCos).toBeGreaterThan(run.final.meanPairwiseCos);
  });
});

describe("acceptance tables regenerate from a seed", () => {
  it("the same seeds give the same table, and a seed's run does not depend on which other seeds ran", async () => {
    const { buildReport, formatAcceptance } = await import("../../src/toy/report");
    const kernels = loadKernels();
    const passes = loadKernels();
    const cfg = { ...SINGLE_PAIR, steps: 80, sadSamples: 64, sadNullSeeds: 2 };
    const table = (seeds: number[]) => formatAcceptance(buildReport("single-pair", seeds.map((s) => trainToy(cfg, s, kernels, undefined, passes)), { name: "x", simd: true }, new Date(0)));
    const both = table([3, 4]);
    expect(table([3, 4])).toBe(both);
    const rows = both.split("\n");
    const alone = table([4]).split("\n");
    expect(alone[1]).toBe(rows[2]); // seed 4's row
    expect(both).toContain("SAD");
  }, 60_000);
});
