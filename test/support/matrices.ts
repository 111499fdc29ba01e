/**
 * Adversarial test matrices (after gonum's testlapack `mtype`s): zero, identity, rank-deficient,
 * prescribed condition number, tiny and huge scales, and plain random — all from a seeded generator
 * so every failure reproduces.
 */
import type { Matrix } from "../../src/kernels/types";

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(r: () => number): number {
  const u = Math.max(r(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export const matrix = (rows: number, cols: number, f: (i: number, j: number) => number): Matrix => {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) data[i * cols + j] = f(i, j);
  return { rows, cols, data };
};

export const randomMatrix = (rows: number, cols: number, seed: number, scale = 1): Matrix => {
  const r = rng(seed);
  return matrix(rows, cols, () => scale * gaussian(r));
};

export function multiply(a: Matrix, b: Matrix, transposeB = false): Matrix {
  const n = transposeB ? b.rows : b.cols;
  const inner = a.cols;
  return matrix(a.rows, n, (i, j) => {
    let s = 0;
    for (let p = 0; p < inner; p++) s += a.data[i * inner + p] * (transposeB ? b.data[j * b.cols + p] : b.data[p * b.cols + j]);
    return s;
  });
}

/** Orthonormal columns [n, k] from modified Gram–Schmidt of a random matrix. */
export function randomOrthonormal(n: number, k: number, seed: number): Matrix {
  const q = randomMatrix(n, k, seed);
  const d = q.data;
  for (let j = 0; j < k; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += d[i * k + p] * d[i * k + j];
        for (let i = 0; i < n; i++) d[i * k + j] -= dot * d[i * k + p];
      }
    }
    let nrm = 0;
    for (let i = 0; i < n; i++) nrm += d[i * k + j] ** 2;
    nrm = Math.sqrt(nrm);
    for (let i = 0; i < n; i++) d[i * k + j] /= nrm;
  }
  return q;
}

/** U diag(s) Vᵀ with random orthonormal U [m, r], V [n, r]. */
export function withSpectrum(m: number, n: number, s: number[], seed: number): Matrix {
  const r = s.length;
  const u = randomOrthonormal(m, r, seed);
  const v = randomOrthonormal(n, r, seed + 1);
  return matrix(m, n, (i, j) => {
    let x = 0;
    for (let p = 0; p < r; p++) x += u.data[i * r + p] * s[p] * v.data[j * r + p];
    return x;
  });
}

/** Geometric spectrum from 1 down to 1/cond. */
export const conditioned = (m: number, n: number, cond: number, seed: number): Matrix => {
  const k = Math.min(m, n);
  const s = Array.from({ length: k }, (_, i) => (k === 1 ? 1 : cond ** (-i / (k - 1))));
  return withSpectrum(m, n, s, seed);
};

export interface NamedMatrix {
  name: string;
  a: Matrix;
}

/** The adversarial set used by every kernel suite. */
export function adversarialMatrices(): NamedMatrix[] {
  const scaled = (a: Matrix, f: number): Matrix => ({ ...a, data: a.data.map((x) => x * f) });
  return [
    { name: "zero 5x3", a: matrix(5, 3, () => 0) },
    { name: "identity 4x4", a: matrix(4, 4, (i, j) => (i === j ? 1 : 0)) },
    { name: "1x1", a: matrix(1, 1, () => -3.5) },
    { name: "column 7x1", a: randomMatrix(7, 1, 11) },
    { name: "row 1x6", a: randomMatrix(1, 6, 12) },
    { name: "random 12x5", a: randomMatrix(12, 5, 13) },
    { name: "wide 5x12", a: randomMatrix(5, 12, 14) },
    { name: "rank 2 of 9x6", a: withSpectrum(9, 6, [3, 0.5], 15) },
    { name: "rank 1 of 8x8", a: withSpectrum(8, 8, [2], 16) },
    { name: "cond 1e8 20x10", a: conditioned(20, 10, 1e8, 17) },
    { name: "repeated singular values 10x6", a: withSpectrum(10, 6, [1, 1, 1, 0.5, 0.5, 0.1], 18) },
    { name: "tiny scale 1e-150", a: scaled(randomMatrix(10, 4, 19), 1e-150) },
    { name: "huge scale 1e150", a: scaled(randomMatrix(10, 4, 20), 1e150) },
    { name: "random 64x64", a: randomMatrix(64, 64, 21) },
  ];
}
