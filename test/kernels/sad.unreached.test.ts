/**
 * N_recon when rounding keeps the τ threshold out of reach: every positive term is needed, so the
 * kernel reports their number (not numpy's argmax-of-all-false 1) and the caller counts the case.
 * The driver reaches this branch only through rounding, so the rule is driven directly through the
 * kernel's own nRecon (exported as sadNRecon), in both builds.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { kernelPath } from "../../src/kernels/load-node";
import { instantiate } from "../../src/kernels/instance";

const Module = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;

for (const build of ["release", "scalar"] as const) {
  const k = instantiate(new Module(readFileSync(kernelPath(build))));
  const nRecon = (terms: number[], total: number, tau: number) =>
    k.call(() => {
      const pt = k.alloc(8 * terms.length);
      const pw = k.alloc(12 * terms.length);
      new Float64Array(k.exports.memory.buffer, pt, terms.length).set(terms);
      return k.exports.sadNRecon(pt, terms.length, total, tau, pw);
    });

  test(`${build}: reachable thresholds give the smallest prefix`, () => {
    expect(nRecon([0.5, -0.25, 3, 1], 4.25, 1)).toBe(3); // 3 + 1 + 0.5 = 4.5 ≥ 4.25
    expect(nRecon([0.5, -0.25, 3, 1], 4.25, 0.5)).toBe(1);
  });

  test(`${build}: an unreachable threshold reports every positive term, flagged negative`, () => {
    // a total above the positive terms' sum (as rounding can make it): 3 positive terms, none enough
    expect(nRecon([0.5, -0.25, 3, 1, 0], 4.5 * (1 + 1e-9), 1)).toBe(-3);
    expect(nRecon([2], 2 * (1 + 1e-9), 1)).toBe(-1);
  });
}
