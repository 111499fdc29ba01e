/**
 * @module forward/linear
 * Y = X·W (+ b) in float32 for the forward pass: X [n, k] row-major (row stride ldx), W [k, m] packed
 * in panels of 8 output columns ([⌈m/8⌉][k][8], the last panel zero-padded; the host packs it,
 * src/kernels/forward.ts), Y [n, m] (row stride ldy), overwritten or accumulated into (the residual
 * stream adds a block's output in place).
 *
 * The SIMD build keeps a 4-row × 8-column block of Y in eight f32x4 accumulators while the shared
 * index i runs: per i, two panel loads and four splat loads of X feed sixteen multiply-adds. The
 * packed panel is read sequentially (k × 32 bytes, held in L1 while it meets every 4-row block of a
 * chunk of rows); rows are taken in chunks of 64 so the chunk of X stays in L2.
 * Every Y[t, j] is accumulated over i in order, then the bias is added, then Y if accumulating — in
 * both builds and in the edge code, so the scalar and SIMD builds agree bit for bit and a row's
 * result does not depend on which rows it was computed with.
 */

const CHUNK: i32 = 64;

/** One row, one panel: 8 columns accumulated in scalar registers. */
// @ts-ignore: decorator
@inline
function rowPanel(k: i32, xr: usize, w: usize, cols: i32, bias: usize, j0: i32, yr: usize, accumulate: i32): void {
  let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0, a4: f32 = 0, a5: f32 = 0, a6: f32 = 0, a7: f32 = 0;
  for (let i = 0; i < k; i++) {
    const xv = load<f32>(xr + (<usize>i << 2));
    const wi = w + (<usize>i << 5);
    a0 += xv * load<f32>(wi); a1 += xv * load<f32>(wi, 4);
    a2 += xv * load<f32>(wi, 8); a3 += xv * load<f32>(wi, 12);
    a4 += xv * load<f32>(wi, 16); a5 += xv * load<f32>(wi, 20);
    a6 += xv * load<f32>(wi, 24); a7 += xv * load<f32>(wi, 28);
  }
  for (let c = 0; c < cols; c++) {
    let v: f32 = c == 0 ? a0 : c == 1 ? a1 : c == 2 ? a2 : c == 3 ? a3 : c == 4 ? a4 : c == 5 ? a5 : c == 6 ? a6 : a7;
    if (bias) v += load<f32>(bias + (<usize>(j0 + c) << 2));
    const yp = yr + (<usize>(j0 + c) << 2);
    if (accumulate) v = load<f32>(yp) + v;
    store<f32>(yp, v);
  }
}

// @ts-ignore: decorator
@inline
function finish(acc: v128, bv: v128, yp: usize, accumulate: i32): void {
  let r = f32x4.add(acc, bv);
  if (accumulate) r = f32x4.add(v128.load(yp), r);
  v128.store(yp, r);
}

/** Four rows, one full panel, in eight f32x4 accumulators. */
// @ts-ignore: decorator
@inline
function block4x8(k: i32, x0: usize, rowX: usize, w: usize, bias: usize, y0: usize, rowY: usize, accumulate: i32): void {
  const x1 = x0 + rowX, x2 = x1 + rowX, x3 = x2 + rowX;
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  for (let i = 0; i < k; i++) {
    const wi = w + (<usize>i << 5);
    const w0 = v128.load(wi), w1 = v128.load(wi, 16);
    const o = <usize>i << 2;
    const s0 = v128.load32_splat(x0 + o);
    a00 = f32x4.add(a00, f32x4.mul(s0, w0)); a01 = f32x4.add(a01, f32x4.mul(s0, w1));
    const s1 = v128.load32_splat(x1 + o);
    a10 = f32x4.add(a10, f32x4.mul(s1, w0)); a11 = f32x4.add(a11, f32x4.mul(s1, w1));
    const s2 = v128.load32_splat(x2 + o);
    a20 = f32x4.add(a20, f32x4.mul(s2, w0)); a21 = f32x4.add(a21, f32x4.mul(s2, w1));
    const s3 = v128.load32_splat(x3 + o);
    a30 = f32x4.add(a30, f32x4.mul(s3, w0)); a31 = f32x4.add(a31, f32x4.mul(s3, w1));
  }
  const b0 = bias ? v128.load(bias) : f32x4.splat(0);
  const b1 = bias ? v128.load(bias, 16) : f32x4.splat(0);
  const y1 = y0 + rowY, y2 = y1 + rowY, y3 = y2 + rowY;
  finish(a00, b0, y0, accumulate); finish(a01, b1, y0 + 16, accumulate);
  finish(a10, b0, y1, accumulate); finish(a11, b1, y1 + 16, accumulate);
  finish(a20, b0, y2, accumulate); finish(a21, b1, y2 + 16, accumulate);
  finish(a30, b0, y3, accumulate); finish(a31, b1, y3 + 16, accumulate);
}

/**
 * Y[t, j] = (accumulate ? Y[t, j] : 0) + (b[j] + Σ_i X[t, i]·W[i, j]).
 * @param bias - [m] f32, or 0 for none
 */
export function linearF32(
  n: i32, k: i32, m: i32, x: usize, ldx: i32, wp: usize, bias: usize, y: usize, ldy: i32, accumulate: i32,
): void {
  const panels = (m + 7) >> 3;
  const rowX = <usize>ldx << 2;
  const rowY = <usize>ldy << 2;
  const panelBytes = <usize>k << 5;
  for (let t0 = 0; t0 < n; t0 += CHUNK) {
    const t1 = min(n, t0 + CHUNK);
    for (let p = 0; p < panels; p++) {
      const w = wp + <usize>p * panelBytes;
      const j0 = p << 3;
      const cols = min(8, m - j0);
      let t = t0;
      if (ASC_FEATURE_SIMD && cols == 8) {
        const bp = bias ? bias + (<usize>j0 << 2) : 0;
        for (; t + 4 <= t1; t += 4) {
          block4x8(k, x + <usize>t * rowX, rowX, w, bp, y + <usize>t * rowY + (<usize>j0 << 2), rowY, accumulate);
        }
      }
      for (; t < t1; t++) rowPanel(k, x + <usize>t * rowX, w, cols, bias, j0, y + <usize>t * rowY, accumulate);
    }
  }
}
