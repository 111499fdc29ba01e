/**
 * @module test/kernels/svd.gpt2-quick
 * A quick guard for the optimised factored SVD (both builds): real GPT-2 heads against the LAPACK
 * reference spectra, and small synthetic factor pairs that take each path (Cholesky QR or Householder
 * QR; the core's triangular-solve path or its accumulated-rotation fallback) against ml-matrix's SVD
 * of the explicit product. The full kernel suites live elsewhere; this file stays small.
 */
import { describe, expect, it } from "vitest";
import { Matrix as MlMatrix, SingularValueDecomposition } from "ml-matrix";
import { createRng } from "../../src/analysis/random";
import { loadKernels } from "../../src/kernels/load-node";
import type { Matrix } from "../../src/kernels/types";
import { headFactors, maxRelativeError, readSafetensors, referenceSpectrum } from "../../bench/gpt2-weights";

const EPS = 2 ** -52;
const builds = ["release", "scalar"] as const;

/** Deterministic uniform(−1, 1) numbers. */
function random(seed: number): () => number {
  const g = createRng(seed);
  return () => g.uniform() * 2 - 1;
}

/** [m, n] row-major with column j scaled by scale(j). */
function factor(m: number, n: number, seed: number, scale: (j: number) => number): Matrix {
  const r = random(seed);
  const data = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) data[i * n + j] = r() * scale(j);
  return { rows: m, cols: n, data };
}

const toMl = (x: Matrix) => new MlMatrix(Array.from({ length: x.rows }, (_, i) => Array.from(x.data.subarray(i * x.cols, (i + 1) * x.cols))));

describe.each(builds)("svdFactored (%s build)", (build) => {
  const kernels = loadKernels(build);

  describe("GPT-2 small, layer 0", () => {
    const st = readSafetensors();
    it.each([
      [0, "qk"], [5, "qk"], [11, "qk"], [3, "ov"],
    ] as const)("head %i %s matches the LAPACK spectrum and passes its own checks", (head, circuit) => {
      const { a, b } = headFactors(st, 0, head, circuit);
      const r = kernels.factoredSvd(a, b);
      expect(maxRelativeError(r.S, referenceSpectrum(0, head, circuit))).toBeLessThan(1e-5);
      const limit = 64 * EPS * 768;
      expect(r.diagnostics.coreResidual).toBeLessThanOrEqual(limit);
      expect(r.diagnostics.orthogonalityU).toBeLessThanOrEqual(limit);
      expect(r.diagnostics.orthogonalityV).toBeLessThanOrEqual(limit);
    });
  });

  it.each([NaN, Infinity])("rejects %s followed by larger entries (svd and factoredSvd)", (bad) => {
    const a = factor(40, 4, 3, () => 1);
    a.data[77] = bad; // row 19, column 1: entries after it are larger in magnitude
    const b = factor(40, 4, 4, () => 1);
    expect(() => kernels.svd(a)).toThrow(expect.objectContaining({ name: "NonFiniteInput" }));
    expect(() => kernels.factoredSvd(a, b)).toThrow(expect.objectContaining({ name: "NonFiniteInput" }));
  });

  it.each<[string, (j: number) => number, number?]>([
    ["well conditioned (Cholesky QR, triangular-solve path)", (j: number) => 1 + j / 8],
    ["graded columns to 1/300 (Cholesky QR: column scaling does not hurt it)", (j: number) => 300 ** (-j / 8)],
    ["graded to 1e-9 (accumulated fallback)", (j: number) => 10 ** (-j)],
    ["rank deficient (accumulated fallback)", (j: number) => (j < 5 ? 1 : 0)],
    ["nearly parallel columns (Cholesky QR fails its check, Householder redoes it)", () => 1, 1e-2],
  ])("%s agrees with the SVD of the explicit product", (_name, scale, parallel = 0) => {
    const m = 37, n = 9;
    const a = factor(m, n, 1, scale);
    // a_j ← a_0 + parallel·a_j: κ(A) ≈ 1/parallel without any column being small
    if (parallel) for (let i = 0; i < m; i++) for (let j = 1; j < n; j++) a.data[i * n + j] = a.data[i * n] + parallel * a.data[i * n + j];
    const b = factor(m, n, 2, (j) => (scale(j) === 0 ? 0 : 1));
    const r = kernels.factoredSvd(a, b);
    const product = toMl(a).mmul(toMl(b).transpose());
    const ref = new SingularValueDecomposition(product, { autoTranspose: true }).diagonal;
    for (let k = 0; k < n; k++) expect(Math.abs(r.S[k] - ref[k])).toBeLessThanOrEqual(1e-12 * ref[0]);
    // U·diag(S)·Vᵀ reconstructs the product
    let err = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        let x = 0;
        for (let k = 0; k < n; k++) x += r.U[i * n + k] * r.S[k] * r.V[j * n + k];
        err = Math.max(err, Math.abs(x - product.get(i, j)));
      }
    }
    expect(err).toBeLessThanOrEqual(1e-12 * ref[0]);
    const limit = 64 * EPS * m;
    expect(r.diagnostics.orthogonalityU).toBeLessThanOrEqual(limit);
    expect(r.diagnostics.orthogonalityV).toBeLessThanOrEqual(limit);
  });
});
