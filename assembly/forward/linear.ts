/**
 * @module forward/linear
 * Y = X·W (+ b) in float32 for the forward pass: X [n, k] row-major (row stride ldx), W as the
 * checkpoint stores it ("in_out" [k, m] row-major, GPT-2's Conv1D; or "out_in" [m, k], nn.Linear),
 * Y [n, m] (row stride ldy), overwritten or accumulated into (the residual stream adds a block's
 * output in place).
 *
 * A GEMM in the GotoBLAS shape, packing its operands itself (in `work`, so the host only copies the
 * weights in as read): W is packed once per call into panels of 8 output columns ([⌈m/8⌉][k][8], the
 * last zero-padded), then for each chunk of 64 rows of X those rows are packed 4-row-interleaved
 * ([16][k][4]), and every 4-row group meets every panel in a 4 × 8 register tile: eight f32x4
 * accumulators while the shared index i runs, per i two panel loads and four splat loads feeding
 * sixteen multiply-adds, both operands read sequentially (pointer bumps, no index arithmetic). The
 * panel (k × 32 bytes) stays in L1/L2 while it meets the chunk's 16 groups; the packed chunk stays in
 * L2 while it meets every panel. Measured against the unpacked 4 × 8 tile, packing X is ~12% faster;
 * 5 × 8, 6 × 8, 4 × 12 tiles and unrolling i are 2× slower (V8 uses 16 xmm registers: they spill).
 *
 * Every Y[t, j] is accumulated over i in order, then the bias is added, then Y if accumulating — in
 * both builds, in a last group of fewer than 4 rows (padded with zero rows, only the real ones stored)
 * and in the edge code (every row of a last panel under 8 columns; every row in the scalar build), so
 * the scalar and SIMD builds agree bit for bit and a row's result does not depend on which rows it
 * was computed with.
 */

const CHUNK: i32 = 64;
/** W's layout codes (src/kernels/forward.ts) */
const IN_OUT: i32 = 0;

/** Bytes of W [k, m] packed into panels of 8 columns (packLinearF32's output). */
export function linearPanelBytes(k: i32, m: i32): i32 {
  return (((m + 7) >> 3) << 3) * k * 4;
}

/** Bytes of `work` linearF32 needs for k, m: the packed panels, then one packed chunk of rows. */
export function linearWorkspace(k: i32, m: i32): i32 {
  return linearPanelBytes(k, m) + CHUNK * k * 4;
}

/**
 * A slab of W (either layout) into its place in the panels of 8 columns, where panel p holds
 * W[i, 8p + c] at (p·k + i)·8 + c. "in_out": the slab is rows from … from + count − 1 of W [k, m];
 * "out_in": it is rows from … from + count − 1 of Wᵀ [m, k] (W's columns), from a multiple of 8 and
 * count too unless the slab reaches m, so every panel it touches is written whole (zero-padded past m).
 */
function packPanels(k: i32, m: i32, w: usize, layout: i32, out: usize, from: i32, count: i32): void {
  if (layout == IN_OUT) {
    const panels = (m + 7) >> 3;
    const rowW = <usize>m << 2;
    for (let p = 0; p < panels; p++) {
      const j0 = p << 3;
      const cols = min(8, m - j0);
      const dst = out + ((<usize>p * <usize>k + <usize>from) << 5);
      let src = w + (<usize>j0 << 2);
      for (let i = 0; i < count; i++) {
        const d = dst + (<usize>i << 5);
        if (cols == 8) {
          if (ASC_FEATURE_SIMD) {
            v128.store(d, v128.load(src));
            v128.store(d, v128.load(src, 16), 16);
          } else {
            for (let c = 0; c < 8; c++) store<f32>(d + (<usize>c << 2), load<f32>(src + (<usize>c << 2)));
          }
        } else {
          for (let c = 0; c < 8; c++) store<f32>(d + (<usize>c << 2), c < cols ? load<f32>(src + (<usize>c << 2)) : 0);
        }
        src += rowW;
      }
    }
  } else {
    // column j of W is row j − from of the slab: the panel's 8 source rows are read side by side
    // along i and each panel row written whole, so both sides stream (a column at a time, writing
    // with stride 8, was 4× slower on Llama's 28,672-long rows)
    const rowW = <usize>k << 2;
    for (let p = from >> 3; (p << 3) < from + count; p++) {
      const j0 = p << 3;
      const dst = out + ((<usize>p * <usize>k) << 5);
      const src = w + <usize>(j0 - from) * rowW;
      let i = 0;
      if (ASC_FEATURE_SIMD && j0 + 8 <= m) i = transposePanel(k, src, rowW, dst);
      const cols = min(8, m - j0);
      for (; i < k; i++) {
        const d = dst + (<usize>i << 5);
        const s = src + (<usize>i << 2);
        for (let c = 0; c < 8; c++) store<f32>(d + (<usize>c << 2), c < cols ? load<f32>(s + <usize>c * rowW) : 0);
      }
    }
  }
}

/**
 * Panel rows 0 … 4⌊k/4⌋ − 1 of a whole panel from its 8 source rows (row stride rowW): four i at a
 * time, two 4 × 4 transposes in registers. Returns the first i left to the caller.
 */
function transposePanel(k: i32, src: usize, rowW: usize, dst: usize): i32 {
  const s0 = src, s1 = s0 + rowW, s2 = s1 + rowW, s3 = s2 + rowW;
  const s4 = s3 + rowW, s5 = s4 + rowW, s6 = s5 + rowW, s7 = s6 + rowW;
  let i = 0;
  for (; i + 4 <= k; i += 4) {
    const o = <usize>i << 2;
    const d = dst + (<usize>i << 5);
    const a0 = v128.load(s0 + o), a1 = v128.load(s1 + o), a2 = v128.load(s2 + o), a3 = v128.load(s3 + o);
    const b0 = v128.load(s4 + o), b1 = v128.load(s5 + o), b2 = v128.load(s6 + o), b3 = v128.load(s7 + o);
    let t0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5);
    let t2 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
    v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
    v128.store(d, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
    v128.store(d, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
    v128.store(d, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
    t0 = v128.shuffle<f32>(b0, b1, 0, 4, 1, 5); t1 = v128.shuffle<f32>(b2, b3, 0, 4, 1, 5);
    t2 = v128.shuffle<f32>(b0, b1, 2, 6, 3, 7); t3 = v128.shuffle<f32>(b2, b3, 2, 6, 3, 7);
    v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), 16);
    v128.store(d, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 48);
    v128.store(d, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 80);
    v128.store(d, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 112);
  }
  return i;
}

/**
 * W (either layout, as linearF32 takes it) into panels for linearPackedF32, for a caller that
 * multiplies many row blocks by the same W (the forward pass packs each block's weights once).
 * @param out - linearPanelBytes(k, m) bytes, 16-byte aligned
 */
export function packLinearF32(k: i32, m: i32, w: usize, layout: i32, out: usize): void {
  packPanels(k, m, w, layout, out, 0, layout == IN_OUT ? k : m);
}

/**
 * packLinearF32 one slab at a time, so a host packing a large W needs to hold only a slab of it in
 * this memory: `w` holds rows from … from + count − 1 of W [k, m] ("in_out") or of Wᵀ [m, k]
 * ("out_in"; from a multiple of 8, and count too unless from + count = m). The slabs of a whole W,
 * in any order, leave `out` exactly as packLinearF32 does.
 */
export function packLinearRowsF32(k: i32, m: i32, w: usize, layout: i32, out: usize, from: i32, count: i32): void {
  packPanels(k, m, w, layout, out, from, count);
}

/**
 * `rows` rows of X from x into groups of 4 interleaved: group g holds X[4g + r, i] at (g·k + i)·4 + r;
 * a last group of fewer than 4 rows is filled with zero rows.
 */
function packRows4(k: i32, rows: i32, x: usize, rowX: usize, out: usize): void {
  for (let g = 0; (g << 2) < rows; g++) {
    const x0 = x + <usize>(g << 2) * rowX;
    const left = rows - (g << 2);
    if (left < 4) memory.fill(out + ((<usize>g * <usize>k) << 4), 0, <usize>k << 4);
    const x1 = x0 + rowX, x2 = x1 + rowX, x3 = x2 + rowX;
    let d = out + ((<usize>g * <usize>k) << 4);
    for (let i = 0; i < k; i++) {
      const o = <usize>i << 2;
      store<f32>(d, load<f32>(x0 + o));
      if (left > 1) store<f32>(d, load<f32>(x1 + o), 4);
      if (left > 2) store<f32>(d, load<f32>(x2 + o), 8);
      if (left > 3) store<f32>(d, load<f32>(x3 + o), 12);
      d += 16;
    }
  }
}

/** One row, one panel: 8 columns accumulated in scalar registers, `cols` of them stored. */
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

/** Four packed rows (xp: [k][4]), one full panel (w: [k][8]), in eight f32x4 accumulators; the first `rows` rows stored. */
// @ts-ignore: decorator
@inline
function block4x8(k: i32, xp: usize, w: usize, bias: usize, y0: usize, rowY: usize, accumulate: i32, rows: i32): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  let wi = w;
  let xi = xp;
  const end = w + (<usize>k << 5);
  while (wi < end) {
    const w0 = v128.load(wi), w1 = v128.load(wi, 16);
    const s0 = v128.load32_splat(xi);
    a00 = f32x4.add(a00, f32x4.mul(s0, w0)); a01 = f32x4.add(a01, f32x4.mul(s0, w1));
    const s1 = v128.load32_splat(xi, 4);
    a10 = f32x4.add(a10, f32x4.mul(s1, w0)); a11 = f32x4.add(a11, f32x4.mul(s1, w1));
    const s2 = v128.load32_splat(xi, 8);
    a20 = f32x4.add(a20, f32x4.mul(s2, w0)); a21 = f32x4.add(a21, f32x4.mul(s2, w1));
    const s3 = v128.load32_splat(xi, 12);
    a30 = f32x4.add(a30, f32x4.mul(s3, w0)); a31 = f32x4.add(a31, f32x4.mul(s3, w1));
    wi += 32;
    xi += 16;
  }
  const b0 = bias ? v128.load(bias) : f32x4.splat(0);
  const b1 = bias ? v128.load(bias, 16) : f32x4.splat(0);
  const y1 = y0 + rowY, y2 = y1 + rowY, y3 = y2 + rowY;
  finish(a00, b0, y0, accumulate); finish(a01, b1, y0 + 16, accumulate);
  if (rows > 1) { finish(a10, b0, y1, accumulate); finish(a11, b1, y1 + 16, accumulate); }
  if (rows > 2) { finish(a20, b0, y2, accumulate); finish(a21, b1, y2 + 16, accumulate); }
  if (rows > 3) { finish(a30, b0, y3, accumulate); finish(a31, b1, y3 + 16, accumulate); }
}

/**
 * Y[t, j] = (accumulate ? Y[t, j] : 0) + (b[j] + Σ_i X[t, i]·W[i, j]).
 * @param layout - 0: w is W [k, m] row-major; 1: w is Wᵀ [m, k] row-major
 * @param bias - [m] f32, or 0 for none
 * @param work - linearWorkspace(k, m) bytes, 16-byte aligned
 */
export function linearF32(
  n: i32, k: i32, m: i32, x: usize, ldx: i32, w: usize, layout: i32, bias: usize, y: usize, ldy: i32, accumulate: i32, work: usize,
): void {
  const panelBytes = <usize>((m + 7) >> 3) * (<usize>k << 5);
  packPanels(k, m, w, layout, work, 0, layout == IN_OUT ? k : m);
  linearPackedF32(n, k, m, x, ldx, work, bias, y, ldy, accumulate, work + panelBytes);
}

/**
 * linearPackedF32's SIMD core for rows the caller has packed itself (packRows4's layout: `groups`
 * groups of 4 rows, [g][k][4]), for a W of whole panels only (m a multiple of 8): Y rows
 * 0 … 4·groups − 1, computed exactly as linearPackedF32 computes them (readout/topk.ts widens F16
 * rows straight into this layout).
 */
export function linearPackedGroupsF32(
  groups: i32, k: i32, m: i32, xp: usize, wp: usize, bias: usize, y: usize, ldy: i32, accumulate: i32,
): void {
  packedGroups(groups << 2, k, m, xp, wp, bias, y, ldy, accumulate);
}

/** linearPackedGroupsF32 for `rows` rows (the last group may hold fewer than 4: only those are stored). */
function packedGroups(rows: i32, k: i32, m: i32, xp: usize, wp: usize, bias: usize, y: usize, ldy: i32, accumulate: i32): void {
  const groups = (rows + 3) >> 2;
  const rowY = <usize>ldy << 2;
  const panelBytes = <usize>k << 5;
  for (let p = 0; p < (m >> 3); p++) {
    const pw = wp + <usize>p * panelBytes;
    const j0 = p << 3;
    const bp = bias ? bias + (<usize>j0 << 2) : 0;
    for (let g = 0; g < groups; g++) {
      block4x8(k, xp + ((<usize>g * <usize>k) << 4), pw, bp, y + <usize>(g << 2) * rowY + (<usize>j0 << 2), rowY, accumulate, rows - (g << 2));
    }
  }
}

/** Bytes of `xwork` linearPackedF32 needs: one packed chunk of rows. */
export function linearPackedWorkspace(k: i32): i32 {
  return CHUNK * k * 4;
}

/**
 * linearF32 with W already in panels of 8 columns ([⌈m/8⌉][k][8], the last zero-padded, as
 * packLinearF32 writes them), for a caller that multiplies by the same W many times (readout/topk.ts,
 * the forward pass).
 * @param xwork - linearPackedWorkspace(k) bytes
 */
export function linearPackedF32(
  n: i32, k: i32, m: i32, x: usize, ldx: i32, wp: usize, bias: usize, y: usize, ldy: i32, accumulate: i32, xwork: usize,
): void {
  const panels = (m + 7) >> 3;
  const rowX = <usize>ldx << 2;
  const rowY = <usize>ldy << 2;
  const panelBytes = <usize>k << 5;
  const xp = xwork;
  for (let t0 = 0; t0 < n; t0 += CHUNK) {
    const t1 = min(n, t0 + CHUNK);
    // with SIMD every row goes through the 4 × 8 tiles (a last group of fewer than 4 rows padded with zeros)
    const tiled = ASC_FEATURE_SIMD ? t1 - t0 : 0;
    if (tiled > 0) {
      packRows4(k, tiled, x + <usize>t0 * rowX, rowX, xp);
      packedGroups(tiled, k, m & ~7, xp, wp, bias, y + <usize>t0 * rowY, ldy, accumulate);
    }
    // what the tiles leave: every row without SIMD, and every row of a last panel under 8 columns
    for (let p = 0; p < panels; p++) {
      const pw = wp + <usize>p * panelBytes;
      const j0 = p << 3;
      const cols = min(8, m - j0);
      for (let t = cols == 8 ? t0 + tiled : t0; t < t1; t++) {
        rowPanel(k, x + <usize>t * rowX, pw, cols, bias, j0, y + <usize>t * rowY, accumulate);
      }
    }
  }
}
