/**
 * @module project
 * Y = X·W for row-major X [n, m] and W [m, r] (token vectors times singular vectors, and the null's
 * rotations): the only O(n·m·r) step of SAD. W is first packed (`packColumns4`) into panels of four
 * columns, so the product reads it sequentially: panel p holds W[i, 4p … 4p + 3] at (p·m + i)·4,
 * the last panel zero-padded, so every tile, the edge ones included, reads it sequentially. Before,
 * the rows past a prompt's last group of four went through a scalar loop reading W column-wise:
 * bench:sad's IOI head (prompts of 15–21 tokens) took 162.6 ms against 117.3 ms now, while the
 * 256 × 24 head (whole groups) went only from 171.5 to 165.6 ms.
 *
 * `projectPacked` is register-tiled like a GEMM micro-kernel: a 4-row × 4-column block of Y stays in
 * registers (eight f64x2 accumulators in the SIMD build) while the shared index i runs, so each loaded
 * panel row serves four rows of X. 4 × 4 and not 4 × 8: V8 compiles wasm SIMD to the sixteen xmm
 * registers of x86-64, and sixteen accumulators plus operands spilled to the stack (measured: the
 * 4 × 8 tile took ~30% longer for the whole SAD run). Rows past the last group of four take a
 * 1-row × 4-column tile. Each Y[t, k] is accumulated over i in order, in every tile and both builds,
 * so they agree bit for bit.
 */

/** f64 elements `packColumns4` writes for W [m, r]. */
export function packedSize(m: i32, r: i32): i32 {
  return ((r + 3) >> 2) * m * 4;
}

/** W [m, r] row-major → panels of 4 columns (packedSize(m, r) f64 at `out`). */
export function packColumns4(m: i32, r: i32, w: usize, out: usize): void {
  const panels = (r + 3) >> 2;
  for (let p = 0; p < panels; p++) {
    const k0 = p << 2;
    const cols = min(4, r - k0);
    let dst = out + ((<usize>p * <usize>m) << 5);
    let src = w + (<usize>k0 << 3);
    const ldw = <usize>r << 3;
    for (let i = 0; i < m; i++) {
      for (let c = 0; c < 4; c++) store<f64>(dst + (<usize>c << 3), c < cols ? load<f64>(src + (<usize>c << 3)) : 0);
      dst += 32;
      src += ldw;
    }
  }
}

/** Stores columns k0 … k0 + cols − 1 of a 4-wide accumulator pair (lo: k0, k0 + 1; hi: k0 + 2, k0 + 3). */
// @ts-ignore: decorator
@inline
function storeCols(yp: usize, lo: v128, hi: v128, cols: i32): void {
  if (cols == 4) {
    v128.store(yp, lo);
    v128.store(yp, hi, 16);
    return;
  }
  store<f64>(yp, f64x2.extract_lane(lo, 0));
  if (cols > 1) store<f64>(yp, f64x2.extract_lane(lo, 1), 8);
  if (cols > 2) store<f64>(yp, f64x2.extract_lane(hi, 0), 16);
}

/** Y[t, k] = Σ_i X[t, i]·W[i, k] with W packed by packColumns4. @param x - [n, m] @param wp - packed W @param y - [n, r], written */
export function projectPacked(n: i32, m: i32, r: i32, x: usize, wp: usize, y: usize): void {
  const ldx = <usize>m << 3;
  const ldy = <usize>r << 3;
  const panels = (r + 3) >> 2;
  const panelBytes = <usize>m << 5;
  for (let p = 0; p < panels; p++) {
    const k0 = p << 2;
    const cols = min(4, r - k0);
    const pw = wp + <usize>p * panelBytes;
    let t0 = 0;
    for (; t0 + 4 <= n; t0 += 4) {
      const x0 = x + <usize>t0 * ldx;
      const x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
      const y0 = y + <usize>t0 * ldy + (<usize>k0 << 3);
      if (ASC_FEATURE_SIMD) {
        let a00 = f64x2.splat(0), a01 = f64x2.splat(0);
        let a10 = f64x2.splat(0), a11 = f64x2.splat(0);
        let a20 = f64x2.splat(0), a21 = f64x2.splat(0);
        let a30 = f64x2.splat(0), a31 = f64x2.splat(0);
        let wi = pw;
        for (let i = 0; i < m; i++) {
          const w0 = v128.load(wi), w1 = v128.load(wi, 16);
          const o = <usize>i << 3;
          const s0 = v128.load64_splat(x0 + o);
          a00 = f64x2.add(a00, f64x2.mul(s0, w0)); a01 = f64x2.add(a01, f64x2.mul(s0, w1));
          const s1 = v128.load64_splat(x1 + o);
          a10 = f64x2.add(a10, f64x2.mul(s1, w0)); a11 = f64x2.add(a11, f64x2.mul(s1, w1));
          const s2 = v128.load64_splat(x2 + o);
          a20 = f64x2.add(a20, f64x2.mul(s2, w0)); a21 = f64x2.add(a21, f64x2.mul(s2, w1));
          const s3 = v128.load64_splat(x3 + o);
          a30 = f64x2.add(a30, f64x2.mul(s3, w0)); a31 = f64x2.add(a31, f64x2.mul(s3, w1));
          wi += 32;
        }
        storeCols(y0, a00, a01, cols);
        storeCols(y0 + ldy, a10, a11, cols);
        storeCols(y0 + 2 * ldy, a20, a21, cols);
        storeCols(y0 + 3 * ldy, a30, a31, cols);
      } else {
        let c00: f64 = 0, c01: f64 = 0, c02: f64 = 0, c03: f64 = 0;
        let c10: f64 = 0, c11: f64 = 0, c12: f64 = 0, c13: f64 = 0;
        let c20: f64 = 0, c21: f64 = 0, c22: f64 = 0, c23: f64 = 0;
        let c30: f64 = 0, c31: f64 = 0, c32: f64 = 0, c33: f64 = 0;
        let wi = pw;
        for (let i = 0; i < m; i++) {
          const w0 = load<f64>(wi), w1 = load<f64>(wi, 8), w2 = load<f64>(wi, 16), w3 = load<f64>(wi, 24);
          const o = <usize>i << 3;
          const s0 = load<f64>(x0 + o), s1 = load<f64>(x1 + o), s2 = load<f64>(x2 + o), s3 = load<f64>(x3 + o);
          c00 += s0 * w0; c01 += s0 * w1; c02 += s0 * w2; c03 += s0 * w3;
          c10 += s1 * w0; c11 += s1 * w1; c12 += s1 * w2; c13 += s1 * w3;
          c20 += s2 * w0; c21 += s2 * w1; c22 += s2 * w2; c23 += s2 * w3;
          c30 += s3 * w0; c31 += s3 * w1; c32 += s3 * w2; c33 += s3 * w3;
          wi += 32;
        }
        storeRow(y0, c00, c01, c02, c03, cols);
        storeRow(y0 + ldy, c10, c11, c12, c13, cols);
        storeRow(y0 + 2 * ldy, c20, c21, c22, c23, cols);
        storeRow(y0 + 3 * ldy, c30, c31, c32, c33, cols);
      }
    }
    // the last rows, one at a time, the same order
    for (; t0 < n; t0++) {
      const xt = x + <usize>t0 * ldx;
      const yt = y + <usize>t0 * ldy + (<usize>k0 << 3);
      if (ASC_FEATURE_SIMD) {
        let lo = f64x2.splat(0), hi = f64x2.splat(0);
        let wi = pw;
        for (let i = 0; i < m; i++) {
          const s = v128.load64_splat(xt + (<usize>i << 3));
          lo = f64x2.add(lo, f64x2.mul(s, v128.load(wi)));
          hi = f64x2.add(hi, f64x2.mul(s, v128.load(wi, 16)));
          wi += 32;
        }
        storeCols(yt, lo, hi, cols);
      } else {
        let c0: f64 = 0, c1: f64 = 0, c2: f64 = 0, c3: f64 = 0;
        let wi = pw;
        for (let i = 0; i < m; i++) {
          const s = load<f64>(xt + (<usize>i << 3));
          c0 += s * load<f64>(wi); c1 += s * load<f64>(wi, 8); c2 += s * load<f64>(wi, 16); c3 += s * load<f64>(wi, 24);
          wi += 32;
        }
        storeRow(yt, c0, c1, c2, c3, cols);
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function storeRow(yp: usize, c0: f64, c1: f64, c2: f64, c3: f64, cols: i32): void {
  store<f64>(yp, c0);
  if (cols > 1) store<f64>(yp, c1, 8);
  if (cols > 2) store<f64>(yp, c2, 16);
  if (cols > 3) store<f64>(yp, c3, 24);
}
