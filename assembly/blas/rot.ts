/**
 * @module rot
 * Plane rotation of two contiguous f64 vectors (BLAS drot with unit stride):
 * x ← c·x − s·y, y ← s·x + c·y. This is the sign convention of the one-sided Jacobi update in
 * svd/jacobi.ts (Demmel & Veselić 1992, eq. 4.2); note BLAS drot uses the opposite sign of s.
 */

// @ts-ignore: decorator
@inline
export function rot(n: i32, x: usize, y: usize, c: f64, s: f64): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const cv = f64x2.splat(c);
    const sv = f64x2.splat(s);
    for (; i + 2 <= n; i += 2) {
      const o = <usize>i << 3;
      const xv = v128.load(x + o);
      const yv = v128.load(y + o);
      v128.store(x + o, f64x2.sub(f64x2.mul(cv, xv), f64x2.mul(sv, yv)));
      v128.store(y + o, f64x2.add(f64x2.mul(sv, xv), f64x2.mul(cv, yv)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 3;
    const xv = load<f64>(x + o);
    const yv = load<f64>(y + o);
    store<f64>(x + o, c * xv - s * yv);
    store<f64>(y + o, s * xv + c * yv);
  }
}
