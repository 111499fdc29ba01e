/**
 * SAD against shared/reference/gpt2-small-sad-L0-positions.json (numpy/LAPACK f64): layer 0 of GPT-2
 * small, x_p = ln_1(wpe[p]) for p < 128, unfolded weights with the augmented bias, queries 1..127,
 * τ = 1, source 0 excluded. Counts, N_recon median and p90 must be exact, sparseness medians within
 * 1e-4, the listed term vectors within 1e-5 relative; the rotation null (random, so only its
 * statistics) within 25% of the reference, and above the singular basis for every head.
 * Both builds (SIMD and scalar) run the whole comparison.
 */
import { describe, expect, test } from "vitest";
import { seededRotations } from "../../src/analysis/random";
import { aggregateSad } from "../../src/analysis/sad-stats";
import { loadKernels, type KernelBuild } from "../../src/kernels/load-node";
import { buildHeadFactors } from "../../src/services/head-factors";
import { gpt2Head, positionTokens, sadReference } from "../support/gpt2";

const P = 128;
const SEEDS = [0, 1, 2, 3, 4, 5, 6, 7];
const ref = sadReference();
const X = positionTokens(0, P);

function headSvd(kernels: ReturnType<typeof loadKernels>, h: number) {
  const w = gpt2Head(0, h);
  const { a, b } = buildHeadFactors(kernels, 
    { circuit: "qk", dModel: 768, dHead: 64, read: w.W_Q, other: w.W_K, bQ: w.b_Q, bK: w.b_K, dtypes: {} },
    { fold_ln: false, bias: "augmented" },
  );
  const svd = kernels.factoredSvd(a, b);
  return { U: svd.U, S: svd.S, V: svd.V, rows: svd.m, k: svd.k };
}

const relClose = (got: ArrayLike<number>, want: number[]) => {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    // the reference rounds to 7 significant digits: compare relative to each entry, floored at 1e-6 of the largest
    const scale = Math.max(Math.abs(want[i]), 1e-6 * Math.max(...want.map(Math.abs)));
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
  }
  return worst;
};

for (const build of ["release", "scalar"] as KernelBuild[]) {
  describe(`GPT-2 small layer 0 positional SAD (${build} build)`, () => {
    const kernels = loadKernels(build);
    test.each(ref.heads.map((r) => [r.head, r] as const))("head %i matches the reference", (h, r) => {
      const svd = headSvd(kernels, h);
      const raw = kernels.sad({
        ...svd,
        X,
        batch: 1,
        tokens: P,
        rotations: seededRotations(svd.k, SEEDS),
        rotationCount: SEEDS.length,
        scale: 1 / 8,
        tau: 1,
        excludeFirstSource: true,
        recordSelected: false,
      });
      const agg = aggregateSad(raw, svd.k, SEEDS);
      expect(agg.pairs.firing_positive).toBe(r.pairs_firing_positive);
      expect(agg.pairs.firing_nonpositive).toBe(r.pairs_firing_nonpositive);
      expect(agg.n_recon.median).toBe(r.n_recon_median);
      expect(agg.n_recon.p90).toBe(r.n_recon_p90);
      expect(Math.abs(agg.sparseness.median - r.rolls_tovee_median)).toBeLessThan(1e-4);
      const nul = agg.null!;
      expect(Math.abs(nul.n_recon_median_mean - r.null_rotation_n_recon_median_mean8)).toBeLessThan(0.25 * r.null_rotation_n_recon_median_mean8);
      expect(Math.abs(nul.sparseness_median_mean - r.null_rotation_rolls_tovee_median_mean8)).toBeLessThan(0.25 * r.null_rotation_rolls_tovee_median_mean8);
      expect(nul.n_recon_median_mean).toBeGreaterThan(agg.n_recon.median);
      expect(agg.usage.reduce((a, b) => a + b, 0)).toBe(raw.nRecon.reduce((a, b) => a + b, 0));
      console.log(
        `[${build}] L0H${h}: pairs ${agg.pairs.firing_positive}/${agg.pairs.firing_nonpositive} (ref ${r.pairs_firing_positive}/${r.pairs_firing_nonpositive}), ` +
          `N_recon median ${agg.n_recon.median} p90 ${agg.n_recon.p90} (ref ${r.n_recon_median} ${r.n_recon_p90}), ` +
          `S median ${agg.sparseness.median.toPrecision(6)} (ref ${r.rolls_tovee_median}), ` +
          `null N_recon ${nul.n_recon_median_mean.toFixed(2)} (ref ${r.null_rotation_n_recon_median_mean8}), null S ${nul.sparseness_median_mean.toFixed(4)} (ref ${r.null_rotation_rolls_tovee_median_mean8})`,
      );
    });

    test.each(ref.examples.map((e) => [e.head, e.dest, e.src, e] as const))("head %i pair (%i, %i): term vectors", (h, d, s, e) => {
      const svd = headSvd(kernels, h);
      const { terms, relative } = kernels.pairTerms(svd, X, P, d, s);
      expect(relClose(terms, e.terms)).toBeLessThan(1e-5);
      expect(relClose(relative, e.relative_terms)).toBeLessThan(1e-5);
      const score = terms.reduce((a, b) => a + b, 0);
      expect(Math.abs(score - e.score) / Math.abs(e.score)).toBeLessThan(1e-9);
    });
  });
}
