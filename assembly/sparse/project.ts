/**
 * @module project
 * Y = X·W for row-major X [n, m] and W [m, r] (token vectors times singular vectors, and the null's
 * rotations): the only O(n·m·r) step of SAD. Register-tiled like a GEMM micro-kernel: a 4-row × 8-column
 * block of Y stays in registers (sixteen f64x2 accumulators in the SIMD build) while the shared index i
 * runs, so each loaded W row segment serves four rows of X. Edges fall back to a plain loop. Each
 * Y[t, k] is accumulated over i in order in both builds, so they agree bit for bit.
 */

/** Y[t, k] = Σ_i X[t, i]·W[i, k]. @param x - [n, m] @param w - [m, r] @param y - [n, r], written */
export function projectRows(n: i32, m: i32, r: i32, x: usize, w: usize, y: usize): void {
  const ldx = <usize>m << 3;
  const ldw = <usize>r << 3;
  let t0 = 0;
  if (ASC_FEATURE_SIMD) {
    for (; t0 + 4 <= n; t0 += 4) {
      const x0 = x + <usize>t0 * ldx;
      const x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
      let k0 = 0;
      for (; k0 + 8 <= r; k0 += 8) {
        const wk = w + (<usize>k0 << 3);
        let a00 = f64x2.splat(0), a01 = f64x2.splat(0), a02 = f64x2.splat(0), a03 = f64x2.splat(0);
        let a10 = f64x2.splat(0), a11 = f64x2.splat(0), a12 = f64x2.splat(0), a13 = f64x2.splat(0);
        let a20 = f64x2.splat(0), a21 = f64x2.splat(0), a22 = f64x2.splat(0), a23 = f64x2.splat(0);
        let a30 = f64x2.splat(0), a31 = f64x2.splat(0), a32 = f64x2.splat(0), a33 = f64x2.splat(0);
        for (let i = 0; i < m; i++) {
          const wi = wk + <usize>i * ldw;
          const w0 = v128.load(wi), w1 = v128.load(wi, 16), w2 = v128.load(wi, 32), w3 = v128.load(wi, 48);
          const o = <usize>i << 3;
          const s0 = v128.load64_splat(x0 + o);
          a00 = f64x2.add(a00, f64x2.mul(s0, w0)); a01 = f64x2.add(a01, f64x2.mul(s0, w1));
          a02 = f64x2.add(a02, f64x2.mul(s0, w2)); a03 = f64x2.add(a03, f64x2.mul(s0, w3));
          const s1 = v128.load64_splat(x1 + o);
          a10 = f64x2.add(a10, f64x2.mul(s1, w0)); a11 = f64x2.add(a11, f64x2.mul(s1, w1));
          a12 = f64x2.add(a12, f64x2.mul(s1, w2)); a13 = f64x2.add(a13, f64x2.mul(s1, w3));
          const s2 = v128.load64_splat(x2 + o);
          a20 = f64x2.add(a20, f64x2.mul(s2, w0)); a21 = f64x2.add(a21, f64x2.mul(s2, w1));
          a22 = f64x2.add(a22, f64x2.mul(s2, w2)); a23 = f64x2.add(a23, f64x2.mul(s2, w3));
          const s3 = v128.load64_splat(x3 + o);
          a30 = f64x2.add(a30, f64x2.mul(s3, w0)); a31 = f64x2.add(a31, f64x2.mul(s3, w1));
          a32 = f64x2.add(a32, f64x2.mul(s3, w2)); a33 = f64x2.add(a33, f64x2.mul(s3, w3));
        }
        const y0 = y + ((<usize>t0 * <usize>r + <usize>k0) << 3);
        const y1 = y0 + ldw, y2 = y1 + ldw, y3 = y2 + ldw;
        v128.store(y0, a00); v128.store(y0, a01, 16); v128.store(y0, a02, 32); v128.store(y0, a03, 48);
        v128.store(y1, a10); v128.store(y1, a11, 16); v128.store(y1, a12, 32); v128.store(y1, a13, 48);
        v128.store(y2, a20); v128.store(y2, a21, 16); v128.store(y2, a22, 32); v128.store(y2, a23, 48);
        v128.store(y3, a30); v128.store(y3, a31, 16); v128.store(y3, a32, 32); v128.store(y3, a33, 48);
      }
      if (k0 < r) plainBlock(t0, t0 + 4, k0, r, m, r, x, w, y);
    }
  } else {
    // scalar build: 4×4 blocks of scalar accumulators
    for (; t0 + 4 <= n; t0 += 4) {
      const x0 = x + <usize>t0 * ldx;
      const x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
      let k0 = 0;
      for (; k0 + 4 <= r; k0 += 4) {
        const wk = w + (<usize>k0 << 3);
        let c00: f64 = 0, c01: f64 = 0, c02: f64 = 0, c03: f64 = 0;
        let c10: f64 = 0, c11: f64 = 0, c12: f64 = 0, c13: f64 = 0;
        let c20: f64 = 0, c21: f64 = 0, c22: f64 = 0, c23: f64 = 0;
        let c30: f64 = 0, c31: f64 = 0, c32: f64 = 0, c33: f64 = 0;
        for (let i = 0; i < m; i++) {
          const wi = wk + <usize>i * ldw;
          const w0 = load<f64>(wi), w1 = load<f64>(wi, 8), w2 = load<f64>(wi, 16), w3 = load<f64>(wi, 24);
          const o = <usize>i << 3;
          const s0 = load<f64>(x0 + o), s1 = load<f64>(x1 + o), s2 = load<f64>(x2 + o), s3 = load<f64>(x3 + o);
          c00 += s0 * w0; c01 += s0 * w1; c02 += s0 * w2; c03 += s0 * w3;
          c10 += s1 * w0; c11 += s1 * w1; c12 += s1 * w2; c13 += s1 * w3;
          c20 += s2 * w0; c21 += s2 * w1; c22 += s2 * w2; c23 += s2 * w3;
          c30 += s3 * w0; c31 += s3 * w1; c32 += s3 * w2; c33 += s3 * w3;
        }
        const y0 = y + ((<usize>t0 * <usize>r + <usize>k0) << 3);
        const y1 = y0 + ldw, y2 = y1 + ldw, y3 = y2 + ldw;
        store<f64>(y0, c00); store<f64>(y0, c01, 8); store<f64>(y0, c02, 16); store<f64>(y0, c03, 24);
        store<f64>(y1, c10); store<f64>(y1, c11, 8); store<f64>(y1, c12, 16); store<f64>(y1, c13, 24);
        store<f64>(y2, c20); store<f64>(y2, c21, 8); store<f64>(y2, c22, 16); store<f64>(y2, c23, 24);
        store<f64>(y3, c30); store<f64>(y3, c31, 8); store<f64>(y3, c32, 16); store<f64>(y3, c33, 24);
      }
      if (k0 < r) plainBlock(t0, t0 + 4, k0, r, m, r, x, w, y);
    }
  }
  if (t0 < n) plainBlock(t0, n, 0, r, m, r, x, w, y);
}

/** Y[t, k] for t0 ≤ t < t1, k0 ≤ k < k1, one accumulator at a time (same order as the tiles). */
function plainBlock(t0: i32, t1: i32, k0: i32, k1: i32, m: i32, r: i32, x: usize, w: usize, y: usize): void {
  for (let t = t0; t < t1; t++) {
    const xt = x + ((<usize>t * <usize>m) << 3);
    for (let k = k0; k < k1; k++) {
      let acc: f64 = 0;
      for (let i = 0; i < m; i++) acc += load<f64>(xt + (<usize>i << 3)) * load<f64>(w + ((<usize>i * <usize>r + <usize>k) << 3));
      store<f64>(y + ((<usize>t * <usize>r + <usize>k) << 3), acc);
    }
  }
}
