/** The SAD aggregates' numpy conventions, against numpy itself (fixtures/numpy-quantiles.json), bit for bit. */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { decomposeTerms, expandHistogram, medianSorted, numpySum, percentileSorted } from "../../src/analysis/sad-stats";

const fixture: { meta: { numpy: string }; cases: Array<{ values: number[]; median: number; p90: number }> } = JSON.parse(
  readFileSync(new URL("../fixtures/numpy-quantiles.json", import.meta.url), "utf8"),
);

describe(`numpy ${fixture.meta.numpy} medians and percentiles`, () => {
  test.each(fixture.cases.map((c) => [c.values.length, c] as const))("n = %i", (_n, c) => {
    expect(medianSorted(c.values)).toBe(c.median);
    expect(percentileSorted(c.values, 0.9)).toBe(c.p90);
  });
  test("empty input gives NaN; histograms expand in order", () => {
    expect(medianSorted([])).toBeNaN();
    expect(percentileSorted([], 0.9)).toBeNaN();
    expect(Array.from(expandHistogram([0, 2, 0, 1]))).toEqual([1, 1, 3]);
  });
});

describe("numpySum and the N_recon rule in TypeScript", () => {
  test("pairwise order: eight accumulators differ from a left-to-right sum where it matters", () => {
    // expected values printed by numpy 2.4: np.array(x).sum() against Python's left-to-right sum(x)
    const x = [1e16, 1, -1e16, 1, 1, 1, 1, 1, 1, 1];
    expect(x.reduce((a, b) => a + b, 0)).toBe(7);
    expect(numpySum(x)).toBe(6);
    const y = [1e16, 1, 1, 1, 1, 1, 1, 1, -1e16, 1, 1, 1, 1, 1, 1, 1, 1];
    expect(y.reduce((a, b) => a + b, 0)).toBe(8);
    expect(numpySum(y)).toBe(15);
    expect(numpySum([1, 2, 3])).toBe(6);
    expect(numpySum(Array.from({ length: 300 }, (_, i) => i))).toBe(44850);
  });
  test("N_recon counts the sorted prefix reaching τ of the total; non-positive totals are not decomposed", () => {
    expect(decomposeTerms([5, -1, 3, -2, 1], 1)).toMatchObject({ total: 6, n_recon: 2, selected: [0, 2] });
    expect(decomposeTerms([5, -1, 3, -2, 1], 0.5)).toMatchObject({ n_recon: 1, selected: [0] });
    expect(decomposeTerms([1, 1, 1, 1], 1)).toMatchObject({ n_recon: 4, sparseness: 1 });
    expect(decomposeTerms([-1, 0.5], 1).n_recon).toBeNull();
  });
});
