/**
 * @module dot
 * Inner products of contiguous f64 vectors (BLAS ddot with unit stride). The SIMD build keeps two
 * f64x2 accumulators so consecutive adds do not wait on each other; the scalar build is the plain loop
 * the SIMD path must agree with (both are under test). Summation order differs between the builds, so
 * results agree to rounding, not bit for bit.
 */

/** Σ x[i]·y[i] for i < n. @param x - n f64 @param y - n f64 */
// @ts-ignore: decorator
@inline
export function dot(n: i32, x: usize, y: usize): f64 {
  let i = 0;
  let sum: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    let acc0 = f64x2.splat(0);
    let acc1 = f64x2.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 3;
      acc0 = f64x2.add(acc0, f64x2.mul(v128.load(x + o), v128.load(y + o)));
      acc1 = f64x2.add(acc1, f64x2.mul(v128.load(x + o, 16), v128.load(y + o, 16)));
    }
    acc0 = f64x2.add(acc0, acc1);
    sum = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1);
  }
  for (; i < n; i++) {
    const o = <usize>i << 3;
    sum += load<f64>(x + o) * load<f64>(y + o);
  }
  return sum;
}

/**
 * Two inner products sharing one vector: returns x·y0 and writes x·y1 to `out1`. Loading `x` once for
 * two columns is what makes applying a Householder reflector to many columns cheap.
 */
// @ts-ignore: decorator
@inline
export function dot2(n: i32, x: usize, y0: usize, y1: usize, out1: usize): f64 {
  let i = 0;
  let s0: f64 = 0;
  let s1: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f64x2.splat(0);
    let a1 = f64x2.splat(0);
    for (; i + 2 <= n; i += 2) {
      const o = <usize>i << 3;
      const xv = v128.load(x + o);
      a0 = f64x2.add(a0, f64x2.mul(xv, v128.load(y0 + o)));
      a1 = f64x2.add(a1, f64x2.mul(xv, v128.load(y1 + o)));
    }
    s0 = f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1);
    s1 = f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1);
  }
  for (; i < n; i++) {
    const o = <usize>i << 3;
    const xv = load<f64>(x + o);
    s0 += xv * load<f64>(y0 + o);
    s1 += xv * load<f64>(y1 + o);
  }
  store<f64>(out1, s1);
  return s0;
}
