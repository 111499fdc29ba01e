/**
 * The checks a stored result carries are the kernel's own: the values it measured and the limits it
 * held them to, so a check in a stored result says how good that result is. Real GPT-2 heads.
 */
import { expect, test } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import { decomposeHead, kernelChecks } from "../../src/services/decompose-head";
import type { HeadWeights } from "../../src/services/head-weights";
import { D_HEAD, D_MODEL, gpt2Head } from "../support/gpt2";

const EPS = 2 ** -52;
const kernels = loadKernels("release");

function weights(layer: number, head: number, circuit: "qk" | "ov"): HeadWeights {
  const w = gpt2Head(layer, head);
  return {
    circuit, dModel: D_MODEL, dHead: D_HEAD, read: circuit === "qk" ? w.W_Q : w.W_V, other: circuit === "qk" ? w.W_K : w.W_O,
    bQ: w.b_Q, bK: w.b_K, lnW: w.ln_w, lnB: w.ln_b, dtypes: {},
  };
}

test.each([
  [0, 1, "qk"],
  [5, 3, "ov"],
  [11, 0, "qk"],
] as const)("layer %i head %i %s: checks are the kernel's measured values against the limits it applied", (layer, head, circuit) => {
  const { summary } = decomposeHead(kernels, { model: "m", layer, head, circuit }, weights(layer, head, circuit), {}, { sha256: "0".repeat(64), bytes: 1 }, "k");
  expect(summary.checks.map((c) => c.name)).toEqual(["core_residual", "orthogonality_U", "orthogonality_V", "jacobi_off_orthogonality"]);
  const rows = summary.variant.factor_rows;
  const [residual, ou, ov, off] = summary.checks;
  // the residual and orthogonality limit is the kernel's factor·ε·max(m, n): 8 (Cholesky QR) or 64 (Householder)
  expect([8, 64].map((f) => f * EPS * rows)).toContainEqual(residual.limit);
  expect(ou.limit).toBe(residual.limit);
  expect(ov.limit).toBe(residual.limit);
  // Jacobi's tolerance on the d_head × d_head core
  expect(off.limit).toBe(Math.sqrt(D_HEAD) * EPS);
  for (const c of summary.checks) {
    // measured, not constants: rounding leaves every one of them above 0 and within its limit
    expect(c.value).toBeGreaterThan(0);
    expect(c.value).toBeLessThanOrEqual(c.limit);
    expect(c.passed).toBe(true);
  }
});

test("a check compares the value with its limit (a value over it does not pass)", () => {
  const dg = { sweeps: 3, offOrthogonality: 1e-17, coreResidual: 2e-12, orthogonalityU: 1e-13, orthogonalityV: 1e-13, rank: 64, checkLimit: 1e-12, offOrthogonalityLimit: 1.8e-15 };
  expect(kernelChecks(dg).map((c) => c.passed)).toEqual([false, true, true, true]);
});
