import { describe, expect, it } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import { MANY_PAIRS, SINGLE_PAIR } from "../../src/toy/config";
import { decomposeHead, measureSnapshot, methodAlignment, spearman } from "../../src/toy/measure";
import { createRng } from "../../src/analysis/random";

/** W = I (orthonormal features, so Σ⁺ w = w) and a head planted column by column. */
function planted(n: number, h: number, columns: { q: number[]; k: number[]; scale: number }[]) {
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) w[i * n + i] = 1;
  const wQ = new Float64Array(n * h);
  const wK = new Float64Array(n * h);
  columns.forEach((c, p) => {
    for (const f of c.q) wQ[f * h + p] = Math.sqrt(c.scale / c.q.length);
    for (const f of c.k) wK[f * h + p] = Math.sqrt(c.scale / c.k.length);
  });
  return { w, wQ, wK };
}

describe("toy measurements", () => {
  const kernels = loadKernels();

  it("Spearman uses mid-ranks and is ±1 on monotone data", () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 45])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1], [1])).toBeNull();
  });

  it("recovers a planted head: every pair in template order, and the §5 report holds the same matching", () => {
    const cfg = { ...MANY_PAIRS, nFeatures: 40, dModel: 40, dHead: 40, template: MANY_PAIRS.template.slice(0, 10).map((t) => ({ ...t, key: t.query + 10 })) };
    const { w, wQ, wK } = planted(40, 40, cfg.template.map((t) => ({ q: [t.query], k: [t.key], scale: t.value })));
    const omega = decomposeHead(cfg, kernels, wQ, wK);
    const s = measureSnapshot(cfg, omega, w);
    expect(s.matchedCount).toBe(10);
    expect(s.matchedCounts).toEqual([{ threshold: 0.9, count: 10 }, { threshold: 0.8, count: 10 }]);
    expect(s.matchedMean).toBeCloseTo(1, 10);
    expect(s.spearman).toBeCloseTo(1, 12);
    expect(s.pairs.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.whitenedMean).toBeCloseTo(1, 10);
    expect(s.gramOffDiagRms).toBe(0);
    expect(s.occupancy.every((o) => o.status === "own")).toBe(true);
    // one matching in the project: the report's §5 section assigns the same indices
    const method = methodAlignment(cfg, omega, w, 0);
    expect(method.theory?.pair_matching.index).toEqual(s.pairs.map((p) => p.index));
    expect(method.theory?.pair_matching.candidates).toBe(10);
  });

  it("says which pairs own a singular vector, which share one and which have none (crowded case)", () => {
    // 12 pairs (i, i + 20), H = 10: pairs 0–7 get a column each, pairs 8 and 9 share column 8,
    // column 9 reads features 35 → 15 that no pair uses, pairs 10 and 11 get nothing
    const cfg = { ...MANY_PAIRS, nFeatures: 40, dModel: 40, dHead: 10, template: Array.from({ length: 12 }, (_, i) => ({ query: i, key: i + 20, value: 1 - i / 12 })) };
    const cols = [
      ...cfg.template.slice(0, 8).map((t) => ({ q: [t.query], k: [t.key], scale: 4 * t.value })),
      { q: [8, 9], k: [28, 29], scale: 1 },
      { q: [35], k: [15], scale: 0.5 },
    ];
    const { w, wQ, wK } = planted(40, 10, cols);
    const s = measureSnapshot(cfg, decomposeHead(cfg, kernels, wQ, wK), w);
    expect(s.occupancy.map((o) => o.status)).toEqual([...Array(8).fill("own"), "shared", "shared", "none", "none"]);
    expect(s.occupancy[8].sharesWith).toEqual([9]);
    expect(s.occupancy[8].bestScore).toBeCloseTo(Math.SQRT1_2, 10);
  });

  it("random heads do not align (the scale of the null)", () => {
    const rng = createRng(5);
    const { dModel: d, nFeatures: n, dHead: h } = SINGLE_PAIR;
    const rand = (len: number) => Float64Array.from({ length: len }, () => rng.normal());
    const s = measureSnapshot(SINGLE_PAIR, decomposeHead(SINGLE_PAIR, kernels, rand(d * h), rand(d * h)), rand(d * n));
    expect(s.matchedMean).toBeLessThan(0.9);
  });
});
