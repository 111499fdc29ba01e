/**
 * @module axpy
 * y ← y + α·x over contiguous f64 vectors (BLAS daxpy with unit stride), and the two-column variant
 * used by the Householder updates.
 */

/** y[i] += alpha·x[i] for i < n. */
// @ts-ignore: decorator
@inline
export function axpy(n: i32, alpha: f64, x: usize, y: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const av = f64x2.splat(alpha);
    for (; i + 2 <= n; i += 2) {
      const o = <usize>i << 3;
      v128.store(y + o, f64x2.add(v128.load(y + o), f64x2.mul(av, v128.load(x + o))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 3;
    store<f64>(y + o, load<f64>(y + o) + alpha * load<f64>(x + o));
  }
}

/** y0 += a0·x and y1 += a1·x, loading x once. */
// @ts-ignore: decorator
@inline
export function axpy2(n: i32, a0: f64, a1: f64, x: usize, y0: usize, y1: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const v0 = f64x2.splat(a0);
    const v1 = f64x2.splat(a1);
    for (; i + 2 <= n; i += 2) {
      const o = <usize>i << 3;
      const xv = v128.load(x + o);
      v128.store(y0 + o, f64x2.add(v128.load(y0 + o), f64x2.mul(v0, xv)));
      v128.store(y1 + o, f64x2.add(v128.load(y1 + o), f64x2.mul(v1, xv)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 3;
    const xv = load<f64>(x + o);
    store<f64>(y0 + o, load<f64>(y0 + o) + a0 * xv);
    store<f64>(y1 + o, load<f64>(y1 + o) + a1 * xv);
  }
}

/** x[i] *= alpha for i < n. */
// @ts-ignore: decorator
@inline
export function scal(n: i32, alpha: f64, x: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const av = f64x2.splat(alpha);
    for (; i + 2 <= n; i += 2) {
      const o = <usize>i << 3;
      v128.store(x + o, f64x2.mul(av, v128.load(x + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 3;
    store<f64>(x + o, alpha * load<f64>(x + o));
  }
}
