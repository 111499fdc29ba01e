/**
 * @module pairwise
 * Sums that reproduce numpy's float64 `add.reduce` on a contiguous vector bit for bit (numpy
 * `numpy/_core/src/umath/loops_utils.h.src`, `pairwise_sum`): n < 8 sums left to right from 0;
 * 8 ≤ n ≤ 128 keeps eight accumulators r[j] += a[i + j] and returns
 * ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)) plus the tail left to right; larger n splits at
 * n/2 rounded down to a multiple of 8 and recurses. SAD's N_recon compares a running sum against
 * `τ · total`, so matching numpy's `total` exactly is what makes N_recon reference-exact.
 *
 * The SIMD build holds the eight accumulators as four f64x2 lanes (r0 r1 | r2 r3 | r4 r5 | r6 r7),
 * which performs exactly the same additions in the same order as the scalar build.
 */

const PW_BLOCKSIZE: i32 = 128;

/**
 * Σ p[i], Σ |p[i]| and Σ p[i]² for i < n in numpy's pairwise order, written to out[0..2].
 * @param p - n f64 @param out - 3 f64, written
 */
export function pairwiseSums3(p: usize, n: i32, out: usize): void {
  if (n < 8) {
    let s: f64 = 0, a: f64 = 0, q: f64 = 0;
    for (let i = 0; i < n; i++) {
      const x = load<f64>(p + (<usize>i << 3));
      s += x;
      a += Math.abs(x);
      q += x * x;
    }
    store<f64>(out, s);
    store<f64>(out, a, 8);
    store<f64>(out, q, 16);
    return;
  }
  if (n <= PW_BLOCKSIZE) {
    const tail = n - (n % 8);
    let s: f64, a: f64, q: f64;
    if (ASC_FEATURE_SIMD) {
      let s0 = v128.load(p), s1 = v128.load(p, 16), s2 = v128.load(p, 32), s3 = v128.load(p, 48);
      let a0 = f64x2.abs(s0), a1 = f64x2.abs(s1), a2 = f64x2.abs(s2), a3 = f64x2.abs(s3);
      let q0 = f64x2.mul(s0, s0), q1 = f64x2.mul(s1, s1), q2 = f64x2.mul(s2, s2), q3 = f64x2.mul(s3, s3);
      for (let i = 8; i < tail; i += 8) {
        const o = p + (<usize>i << 3);
        const x0 = v128.load(o), x1 = v128.load(o, 16), x2 = v128.load(o, 32), x3 = v128.load(o, 48);
        s0 = f64x2.add(s0, x0); s1 = f64x2.add(s1, x1); s2 = f64x2.add(s2, x2); s3 = f64x2.add(s3, x3);
        a0 = f64x2.add(a0, f64x2.abs(x0)); a1 = f64x2.add(a1, f64x2.abs(x1));
        a2 = f64x2.add(a2, f64x2.abs(x2)); a3 = f64x2.add(a3, f64x2.abs(x3));
        q0 = f64x2.add(q0, f64x2.mul(x0, x0)); q1 = f64x2.add(q1, f64x2.mul(x1, x1));
        q2 = f64x2.add(q2, f64x2.mul(x2, x2)); q3 = f64x2.add(q3, f64x2.mul(x3, x3));
      }
      s = ((f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1)) + (f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1))) +
        ((f64x2.extract_lane(s2, 0) + f64x2.extract_lane(s2, 1)) + (f64x2.extract_lane(s3, 0) + f64x2.extract_lane(s3, 1)));
      a = ((f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1)) + (f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1))) +
        ((f64x2.extract_lane(a2, 0) + f64x2.extract_lane(a2, 1)) + (f64x2.extract_lane(a3, 0) + f64x2.extract_lane(a3, 1)));
      q = ((f64x2.extract_lane(q0, 0) + f64x2.extract_lane(q0, 1)) + (f64x2.extract_lane(q1, 0) + f64x2.extract_lane(q1, 1))) +
        ((f64x2.extract_lane(q2, 0) + f64x2.extract_lane(q2, 1)) + (f64x2.extract_lane(q3, 0) + f64x2.extract_lane(q3, 1)));
    } else {
      let r0 = load<f64>(p), r1 = load<f64>(p, 8), r2 = load<f64>(p, 16), r3 = load<f64>(p, 24);
      let r4 = load<f64>(p, 32), r5 = load<f64>(p, 40), r6 = load<f64>(p, 48), r7 = load<f64>(p, 56);
      let b0 = Math.abs(r0), b1 = Math.abs(r1), b2 = Math.abs(r2), b3 = Math.abs(r3);
      let b4 = Math.abs(r4), b5 = Math.abs(r5), b6 = Math.abs(r6), b7 = Math.abs(r7);
      let c0 = r0 * r0, c1 = r1 * r1, c2 = r2 * r2, c3 = r3 * r3, c4 = r4 * r4, c5 = r5 * r5, c6 = r6 * r6, c7 = r7 * r7;
      for (let i = 8; i < tail; i += 8) {
        const o = p + (<usize>i << 3);
        const x0 = load<f64>(o), x1 = load<f64>(o, 8), x2 = load<f64>(o, 16), x3 = load<f64>(o, 24);
        const x4 = load<f64>(o, 32), x5 = load<f64>(o, 40), x6 = load<f64>(o, 48), x7 = load<f64>(o, 56);
        r0 += x0; r1 += x1; r2 += x2; r3 += x3; r4 += x4; r5 += x5; r6 += x6; r7 += x7;
        b0 += Math.abs(x0); b1 += Math.abs(x1); b2 += Math.abs(x2); b3 += Math.abs(x3);
        b4 += Math.abs(x4); b5 += Math.abs(x5); b6 += Math.abs(x6); b7 += Math.abs(x7);
        c0 += x0 * x0; c1 += x1 * x1; c2 += x2 * x2; c3 += x3 * x3;
        c4 += x4 * x4; c5 += x5 * x5; c6 += x6 * x6; c7 += x7 * x7;
      }
      s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
      a = ((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7));
      q = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7));
    }
    for (let i = tail; i < n; i++) {
      const x = load<f64>(p + (<usize>i << 3));
      s += x;
      a += Math.abs(x);
      q += x * x;
    }
    store<f64>(out, s);
    store<f64>(out, a, 8);
    store<f64>(out, q, 16);
    return;
  }
  let n2 = n / 2;
  n2 -= n2 % 8;
  pairwiseSums3(p, n2, out);
  const s = load<f64>(out), a = load<f64>(out, 8), q = load<f64>(out, 16);
  pairwiseSums3(p + (<usize>n2 << 3), n - n2, out);
  store<f64>(out, s + load<f64>(out));
  store<f64>(out, a + load<f64>(out, 8), 8);
  store<f64>(out, q + load<f64>(out, 16), 16);
}
