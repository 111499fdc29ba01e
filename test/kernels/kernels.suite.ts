/**
 * One suite for every SVD implementation (the way gonum's testlapack and Hono's common cases run one
 * body of tests against each implementation): residual, orthogonality, ordering, factored equals
 * dense, transpose symmetry, on the adversarial matrices of support/matrices.ts and on random shapes
 * from fast-check with a fixed seed.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { Matrix, Svd, SvdKernels } from "../../src/kernels/types";
import { adversarialMatrices, matrix, multiply, randomMatrix, withSpectrum } from "../support/matrices";
import { EPS, ORTHO, RECON } from "../support/tolerances";

export interface SuiteTolerance {
  /** multiplier on max(m, n)·ε for orthogonality and reconstruction */
  factor: number;
}

const frob = (a: Matrix) => Math.sqrt(Array.from(a.data).reduce((s, x) => s + x * x, 0));

export function orthogonalityError(x: Float64Array, rows: number, k: number): number {
  let worst = 0;
  for (let p = 0; p < k; p++) {
    for (let q = p; q < k; q++) {
      let d = 0;
      for (let i = 0; i < rows; i++) d += x[i * k + p] * x[i * k + q];
      worst = Math.max(worst, Math.abs(d - (p === q ? 1 : 0)));
    }
  }
  return worst;
}

/** ‖A − U Σ Vᵀ‖_F for A [m, n]. */
export function reconstructionError(a: Matrix, r: Svd): number {
  let s = 0;
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) {
      let x = 0;
      for (let p = 0; p < r.k; p++) x += r.U[i * r.k + p] * r.S[p] * r.V[j * r.k + p];
      s += (a.data[i * a.cols + j] - x) ** 2;
    }
  }
  return Math.sqrt(s);
}

function expectValidSvd(a: Matrix, r: Svd, tol: SuiteTolerance) {
  const k = Math.min(a.rows, a.cols);
  const scale = Math.max(a.rows, a.cols) * EPS * tol.factor;
  expect(r.k).toBe(k);
  expect(r.S.length).toBe(k);
  for (let p = 0; p < k; p++) {
    expect(r.S[p]).toBeGreaterThanOrEqual(0);
    if (p > 0) expect(r.S[p]).toBeLessThanOrEqual(r.S[p - 1]);
  }
  expect(orthogonalityError(r.U, a.rows, k)).toBeLessThanOrEqual(ORTHO * scale);
  expect(orthogonalityError(r.V, a.cols, k)).toBeLessThanOrEqual(ORTHO * scale);
  expect(reconstructionError(a, r)).toBeLessThanOrEqual(RECON * scale * frob(a) + Number.MIN_VALUE);
  // canonical signs: the largest-magnitude entry of each u_k is positive
  for (let p = 0; p < k; p++) {
    let best = 0;
    let sign = 1;
    for (let i = 0; i < a.rows; i++) {
      const x = r.U[i * k + p];
      if (Math.abs(x) > best) {
        best = Math.abs(x);
        sign = x;
      }
    }
    expect(sign).toBeGreaterThan(0);
  }
}

/** Singular values agree with another SVD's to `rel`·σ_1. */
function expectSameSpectrum(s: Float64Array, t: Float64Array, rel: number) {
  expect(s.length).toBe(t.length);
  const top = Math.max(s[0] ?? 0, t[0] ?? 0);
  for (let p = 0; p < s.length; p++) expect(Math.abs(s[p] - t[p])).toBeLessThanOrEqual(rel * top + Number.MIN_VALUE);
}

export function runKernelSuite(makeKernels: () => SvdKernels, tol: SuiteTolerance) {
  const kernels = makeKernels();

  describe(`${kernels.name}: svd on adversarial matrices`, () => {
    for (const { name, a } of adversarialMatrices()) {
      test(name, () => {
        const r = kernels.svd(a);
        expectValidSvd(a, r, tol);
        // transposing swaps U and V and keeps σ
        const at = matrix(a.cols, a.rows, (i, j) => a.data[j * a.cols + i]);
        const rt = kernels.svd(at);
        expectValidSvd(at, rt, tol);
        expectSameSpectrum(rt.S, r.S, 1e-13);
      });
    }
  });

  test(`${kernels.name}: zero matrix gives zero σ and orthonormal completions`, () => {
    const r = kernels.svd(matrix(6, 4, () => 0));
    expect(Array.from(r.S)).toEqual([0, 0, 0, 0]);
    expect(orthogonalityError(r.U, 6, 4)).toBe(0);
  });

  test(`${kernels.name}: identity has σ = 1`, () => {
    const r = kernels.svd(matrix(5, 5, (i, j) => (i === j ? 1 : 0)));
    for (const s of r.S) expect(s).toBeCloseTo(1, 14);
  });

  test(`${kernels.name}: condition number 1e8 is resolved to relative accuracy`, () => {
    const s = Array.from({ length: 10 }, (_, i) => 10 ** (-8 * i / 9));
    const a = withSpectrum(20, 10, s, 41);
    const r = kernels.svd(a);
    for (let p = 0; p < 10; p++) expect(Math.abs(r.S[p] - s[p]) / s[p]).toBeLessThan(1e-6);
  });

  describe(`${kernels.name}: factoredSvd`, () => {
    const cases: Array<[string, Matrix, Matrix]> = [
      ["GPT-2-like 96x8", randomMatrix(96, 8, 1), randomMatrix(96, 8, 2)],
      ["d_head > d_model 5x12", randomMatrix(5, 12, 3), randomMatrix(5, 12, 4)],
      ["1x1", matrix(1, 1, () => 2), matrix(1, 1, () => -3)],
      ["zero factor", matrix(10, 3, () => 0), randomMatrix(10, 3, 5)],
      ["rank-deficient factor", withSpectrum(30, 6, [1, 0.5], 6), randomMatrix(30, 6, 7)],
      ["cond 1e8 factor", withSpectrum(40, 8, Array.from({ length: 8 }, (_, i) => 10 ** (-8 * i / 7)), 8), randomMatrix(40, 8, 9)],
      ["huge", randomMatrix(12, 4, 10, 1e150), randomMatrix(12, 4, 11, 1e100)],
      ["tiny", randomMatrix(12, 4, 12, 1e-150), randomMatrix(12, 4, 13, 1e-100)],
    ];
    for (const [name, a, b] of cases) {
      test(`${name}: valid, and equal to the SVD of the dense product`, () => {
        const r = kernels.factoredSvd(a, b);
        const dense = multiply(a, b, true);
        const k = Math.min(a.rows, a.cols);
        expect(r.k).toBe(k);
        const scale = Math.max(a.rows, a.cols) * EPS * tol.factor;
        expect(orthogonalityError(r.U, a.rows, k)).toBeLessThanOrEqual(ORTHO * scale);
        expect(orthogonalityError(r.V, a.rows, k)).toBeLessThanOrEqual(ORTHO * scale);
        expect(reconstructionError(dense, r)).toBeLessThanOrEqual(RECON * scale * frob(dense) * 10 + Number.MIN_VALUE);
        const d = kernels.svd(dense);
        expectSameSpectrum(r.S, d.S.slice(0, k), 1e-12);
      });
    }
  });

  test(`${kernels.name}: random shapes (fast-check, fixed seed)`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 10 }), fc.integer(), (m, n, seed) => {
        const a = randomMatrix(m, n, seed);
        expectValidSvd(a, kernels.svd(a), tol);
        const b = randomMatrix(m, n, seed ^ 0x5bd1e995);
        const f = kernels.factoredSvd(a, b);
        expectSameSpectrum(f.S, kernels.svd(multiply(a, b, true)).S.slice(0, Math.min(m, n)), 1e-12);
      }),
      { seed: 20261124, numRuns: 60 },
    );
  });
}
