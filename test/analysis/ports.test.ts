/**
 * The in-repo Hungarian (analysis/hungarian.ts) and symmetric eigensolver (analysis/symmetric-eigen.ts)
 * replaced npm linear-sum-assignment and ml-matrix in the worker bundles (−75 kB each); they are ports,
 * so they must give exactly what the packages give: the same assignments (ties included) and the same
 * eigenvalues and eigenvectors bit for bit, on random, tied, rectangular and rank-deficient inputs.
 */
import { linearSumAssignment } from "linear-sum-assignment";
import { EigenvalueDecomposition, Matrix } from "ml-matrix";
import { describe, expect, test } from "vitest";
import { linearSumAssignmentMax } from "../../src/analysis/hungarian";
import { createRng, normals } from "../../src/analysis/random";
import { symmetricEigen } from "../../src/analysis/symmetric-eigen";

describe("Hungarian port", () => {
  const cases: Array<[number, number, string]> = [[1, 1, "n"], [5, 5, "n"], [12, 7, "n"], [7, 12, "n"], [20, 20, "ties"], [30, 9, "abs"], [9, 30, "ties"]];
  test.each(cases)("%i × %i (%s) equals linear-sum-assignment", (n, k, kind) => {
    for (let seed = 0; seed < 5; seed++) {
      const z = normals(createRng(seed * 31 + n * k), n * k);
      const score = z.map((x) => (kind === "ties" ? Math.round(Math.abs(x) * 2) / 2 : kind === "abs" ? Math.abs(x) : x));
      const rows = Array.from({ length: n }, (_, f) => Array.from(score.subarray(f * k, (f + 1) * k)));
      const want = Array.from(linearSumAssignment(rows, { maximaze: true }).rowAssignments);
      expect(Array.from(linearSumAssignmentMax(score, n, k))).toEqual(want);
    }
  });
});

describe("symmetric eigendecomposition port", () => {
  test.each([1, 2, 6, 25, 60])("n = %i: values and vectors equal ml-matrix's bit for bit", (n) => {
    const rng = createRng(n);
    // a Gram matrix of rank min(n, 4) and a full one
    for (const r of [Math.min(n, 4), n + 3]) {
      const x = normals(rng, n * r);
      const g = new Float64Array(n * n);
      for (let a = 0; a < n; a++) for (let b = a; b < n; b++) {
        let s = 0;
        for (let i = 0; i < r; i++) s += x[a * r + i] * x[b * r + i];
        g[a * n + b] = s;
        g[b * n + a] = s;
      }
      const m = new Matrix(n, n);
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) m.set(a, b, g[a * n + b]);
      const want = new EigenvalueDecomposition(m, { assumeSymmetric: true });
      const got = symmetricEigen(g, n);
      expect(Array.from(got.values)).toEqual(want.realEigenvalues);
      const wv = want.eigenvectorMatrix;
      for (let e = 0; e < n; e++) for (let a = 0; a < n; a++) expect(got.vectors[e * n + a]).toBe(wv.get(a, e));
    }
  });
});
