/**
 * The oracle: an independent SVD (ml-matrix's Golub–Kahan implementation, from JAMA) applied the
 * obvious way — the factored SVD forms the dense product first. Slow, simple, and sharing no code
 * with the WebAssembly kernels except the sign convention.
 */
import { Matrix as MlMatrix, SingularValueDecomposition } from "ml-matrix";
import { canonicalize } from "../../src/kernels/svd";
import type { Matrix, Svd, SvdKernels } from "../../src/kernels/types";

const toMl = (a: Matrix) => {
  const rows: number[][] = [];
  for (let i = 0; i < a.rows; i++) rows.push(Array.from(a.data.subarray(i * a.cols, (i + 1) * a.cols)));
  return new MlMatrix(rows);
};

function svdOf(a: Matrix): Svd {
  const k = Math.min(a.rows, a.cols);
  const d = new SingularValueDecomposition(toMl(a), { autoTranspose: true });
  const u = d.leftSingularVectors;
  const v = d.rightSingularVectors;
  const U = new Float64Array(a.rows * k);
  const V = new Float64Array(a.cols * k);
  for (let i = 0; i < a.rows; i++) for (let p = 0; p < k; p++) U[i * k + p] = u.get(i, p);
  for (let i = 0; i < a.cols; i++) for (let p = 0; p < k; p++) V[i * k + p] = v.get(i, p);
  const S = Float64Array.from(d.diagonal.slice(0, k));
  const diagnostics = { sweeps: 0, offOrthogonality: 0, coreResidual: 0, orthogonalityU: 0, orthogonalityV: 0, rank: d.rank, checkLimit: 0, offOrthogonalityLimit: 0 };
  return canonicalize({ U, S, V, m: a.rows, n: a.cols, k, diagnostics });
}

export const referenceKernels: SvdKernels = {
  name: "reference-ml-matrix",
  svd: svdOf,
  factoredSvd(a: Matrix, b: Matrix): Svd {
    const prod = toMl(a).mmul(toMl(b).transpose());
    const dense: Matrix = { rows: a.rows, cols: a.rows, data: Float64Array.from(prod.to1DArray()) };
    const full = svdOf(dense);
    const k = Math.min(a.rows, a.cols);
    const take = (x: Float64Array, rows: number) => {
      const out = new Float64Array(rows * k);
      for (let i = 0; i < rows; i++) for (let p = 0; p < k; p++) out[i * k + p] = x[i * full.k + p];
      return out;
    };
    return { ...full, U: take(full.U, a.rows), V: take(full.V, a.rows), S: full.S.slice(0, k), k, n: a.rows };
  },
};
