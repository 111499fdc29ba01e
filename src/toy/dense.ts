/**
 * @module toy/dense
 * The few dense row-major float64 products the toy's per-step work needs, written so the innermost
 * loop always runs over contiguous memory (the JIT then keeps it tight). Sizes are tiny (≤ 100 × 100),
 * so no blocking. Callers own all allocation; these functions never allocate.
 */

/** C [m, n] (+)= A [m, k] · B [k, n]. */
export function mulNN(m: number, n: number, k: number, a: Float64Array, b: Float64Array, c: Float64Array, accumulate = false): void {
  if (!accumulate) c.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      if (aip === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += aip * b[bp + j];
    }
  }
}

/** C [m, n] (+)= Aᵀ · B with A [k, m], B [k, n]. */
export function mulTN(m: number, n: number, k: number, a: Float64Array, b: Float64Array, c: Float64Array, accumulate = false): void {
  if (!accumulate) c.fill(0, 0, m * n);
  for (let p = 0; p < k; p++) {
    const ap = p * m;
    const bp = p * n;
    for (let i = 0; i < m; i++) {
      const api = a[ap + i];
      if (api === 0) continue;
      const ci = i * n;
      for (let j = 0; j < n; j++) c[ci + j] += api * b[bp + j];
    }
  }
}

/** C [m, n] (+)= A · Bᵀ with A [m, k], B [n, k]. */
export function mulNT(m: number, n: number, k: number, a: Float64Array, b: Float64Array, c: Float64Array, accumulate = false): void {
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    for (let j = 0; j < n; j++) {
      const bj = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
      c[i * n + j] = accumulate ? c[i * n + j] + s : s;
    }
  }
}
