import { describe, expect, it } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import { MANY_PAIRS, SINGLE_PAIR } from "../../src/toy/config";
import { measureSnapshot, spearman } from "../../src/toy/measure";
import { createRng } from "../../src/analysis/random";

describe("toy measurements", () => {
  it("Spearman uses mid-ranks and is ±1 on monotone data", () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 45])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1], [1])).toBeNull();
  });

  it("recovers a planted head: Ω = Σ_p t_p (Σ⁺ w_q)(Σ⁺ w_k)ᵀ aligns with every pair in template order", () => {
    const kernels = loadKernels();
    const cfg = { ...MANY_PAIRS, nFeatures: 40, dModel: 40, dHead: 40, template: MANY_PAIRS.template.slice(0, 10).map((t) => ({ ...t, key: t.query + 10 })) };
    const { dModel: d, nFeatures: n } = cfg;
    // orthonormal features: the identity, so Σ⁺ w = w
    const w = new Float64Array(d * n);
    for (let i = 0; i < n; i++) w[i * n + i] = 1;
    // W_Q = Σ_p √t_p e_q ⊗ e_p, W_K = Σ_p √t_p e_k ⊗ e_p
    const wQ = new Float64Array(d * d);
    const wK = new Float64Array(d * d);
    cfg.template.forEach((t, p) => {
      wQ[t.query * d + p] = Math.sqrt(t.value);
      wK[t.key * d + p] = Math.sqrt(t.value);
    });
    const s = measureSnapshot(cfg, kernels, w, wQ, wK);
    expect(s.matchedCount).toBe(10);
    expect(s.matchedMean).toBeCloseTo(1, 10);
    expect(s.spearman).toBeCloseTo(1, 12);
    expect(s.pairs.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.whitenedMean).toBeCloseTo(1, 10);
    expect(s.gramOffDiagRms).toBe(0);
  });

  it("random heads do not align (the scale of the null)", () => {
    const kernels = loadKernels();
    const rng = createRng(5);
    const { dModel: d, nFeatures: n, dHead: h } = SINGLE_PAIR;
    const rand = (len: number) => Float64Array.from({ length: len }, () => rng.normal());
    const s = measureSnapshot(SINGLE_PAIR, kernels, rand(d * n), rand(d * h), rand(d * h));
    expect(s.matchedMean).toBeLessThan(0.9);
  });
});
