/**
 * Golden: every GPT-2 small head, every variant of shared/reference/gpt2-small-spectra.json
 * (numpy/LAPACK float64), through the same factor construction the worker uses.
 */
import { describe, expect, test } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import { buildHeadFactors } from "../../src/services/head-factors";
import type { HeadWeights } from "../../src/services/head-weights";
import { D_HEAD, D_MODEL, gpt2Head, spectraReference, type Gpt2Head } from "../support/gpt2";
import { GOLDEN_FLOOR, GOLDEN_RELATIVE } from "../support/tolerances";

const weights = (h: Gpt2Head, circuit: "qk" | "ov"): HeadWeights => ({
  circuit, dModel: D_MODEL, dHead: D_HEAD,
  read: circuit === "qk" ? h.W_Q : h.W_V,
  other: circuit === "qk" ? h.W_K : h.W_O,
  bQ: h.b_Q, bK: h.b_K, lnW: h.ln_w, lnB: h.ln_b, dtypes: {},
});

const VARIANTS = {
  qk: { raw: { fold_ln: false, bias: "none" }, folded: { fold_ln: true, bias: "none" }, folded_augmented: { fold_ln: true, bias: "augmented" } },
  ov: { raw: { fold_ln: false, bias: "none" }, folded: { fold_ln: true, bias: "none" } },
} as const;

/** max relative error over σ_k ≥ GOLDEN_FLOOR·σ_1 */
function worstRelative(got: Float64Array, want: number[]): number {
  let worst = 0;
  for (let k = 0; k < want.length; k++) {
    if (want[k] < GOLDEN_FLOOR * want[0]) continue;
    worst = Math.max(worst, Math.abs(got[k] - want[k]) / want[k]);
  }
  return worst;
}

const ref = spectraReference();

for (const build of ["release", "scalar"] as const) {
  describe(`GPT-2 small spectra, ${build} build`, () => {
    const kernels = loadKernels(build);
    // the scalar build is the slower reference path: layers 0 and 11 keep it honest
    const heads = build === "release" ? ref.heads : ref.heads.filter((h) => h.layer === 0 || h.layer === 11);
    test(`${heads.length} heads × 5 variants match LAPACK within ${GOLDEN_RELATIVE} relative`, () => {
      let compared = 0;
      let worst = 0;
      for (const r of heads) {
        const head = gpt2Head(r.layer, r.head);
        for (const circuit of ["qk", "ov"] as const) {
          for (const [name, opts] of Object.entries(VARIANTS[circuit])) {
            const f = buildHeadFactors(kernels, weights(head, circuit), opts);
            expect(f.variant.name).toBe(name);
            const got = kernels.factoredSvd(f.a, f.b);
            const want = (r[circuit] as Record<string, number[]>)[name];
            expect(got.S.length).toBe(want.length);
            const err = worstRelative(got.S, want);
            if (!(err <= GOLDEN_RELATIVE)) throw new Error(`L${r.layer}H${r.head} ${circuit} ${name}: relative error ${err}`);
            worst = Math.max(worst, err);
            compared++;
          }
        }
      }
      expect(compared).toBe(heads.length * 5);
      expect(worst).toBeLessThanOrEqual(GOLDEN_RELATIVE);
    });
  });
}
