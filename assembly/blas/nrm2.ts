/**
 * @module nrm2
 * Euclidean norm and largest magnitude of contiguous f64 vectors. `nrm2` scales by the largest
 * magnitude only when the plain sum of squares could overflow or underflow, so well-scaled vectors
 * (the common case) cost one pass.
 * see: LAPACK dnrm2.f (Blue's algorithm motivates the thresholds).
 */
import { dot } from "./dot";

/** max |x[i]|, and 0 for n = 0. A NaN entry makes the result NaN. */
export function amax(n: i32, x: usize): f64 {
  let m: f64 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    // pmax is one maxpd on x64 (WebAssembly's f64x2.max needs a NaN-propagating sequence) but may
    // drop a NaN; x·0 is NaN exactly for NaN and ±Inf, so `bad` flags them, and the rare vector
    // holding one takes the plain loop below from the start (Inf gives Inf, NaN gives NaN)
    let m0 = f64x2.splat(0);
    let bad = f64x2.splat(0);
    const zero = f64x2.splat(0);
    for (; i + 2 <= n; i += 2) {
      const xv = v128.load(x + (<usize>i << 3));
      m0 = f64x2.pmax(m0, f64x2.abs(xv));
      bad = f64x2.add(bad, f64x2.mul(xv, zero));
    }
    m = Math.max(f64x2.extract_lane(m0, 0), f64x2.extract_lane(m0, 1));
    if (!(f64x2.extract_lane(bad, 0) + f64x2.extract_lane(bad, 1) == 0)) {
      m = 0;
      i = 0;
    }
  }
  for (; i < n; i++) {
    const a = Math.abs(load<f64>(x + (<usize>i << 3)));
    if (!(a <= m)) {
      if (isNaN(a)) return a; // `m = a` alone would lose the NaN to any later, larger entry
      m = a;
    }
  }
  return m;
}

// 2^-500 ≈ 3.05e-151 and 2^500 ≈ 3.27e150: squares of values inside stay normal and finite.
const SMALL: f64 = 3.0549363634996047e-151;
const BIG: f64 = 3.273390607896142e150;

/** ‖x‖₂ without spurious overflow or underflow. */
export function nrm2(n: i32, x: usize): f64 {
  const m = amax(n, x);
  if (m == 0 || !isFinite(m)) return m;
  if (m > SMALL && m < BIG / <f64>(n > 0 ? n : 1)) return Math.sqrt(dot(n, x, x));
  let s: f64 = 0;
  const inv = 1.0 / m;
  for (let i = 0; i < n; i++) {
    const v = load<f64>(x + (<usize>i << 3)) * inv;
    s += v * v;
  }
  return m * Math.sqrt(s);
}
