/**
 * @module fold
 * One factor of a head's circuit, folded as method §3 defines it, written straight into the
 * column-major float64 layout svdFactored reads (services/head-factors.ts decides the flags):
 *
 *   v_ij = γ_i · x_ij                      (γ absent: v_ij = x_ij)
 *   out_ij = v_ij − (1/d) Σ_i' v_i'j         (centre = 1; else out_ij = v_ij)
 *   bias'_j = b_j + Σ_i β_i · x_ij           (the folded bias, on the unscaled x; β or b may be absent)
 *   out_dj = bias'_j                          (augment = 1: the (d + 1)-th row)
 *
 * x is the [d, h] factor, sent as it is: row-major [d, h] at `w`, or (transposed = 1) row-major
 * [h, d], read as its transpose (the OV circuit's W_O). Every sum runs over i in increasing order and
 * the arithmetic is float64 throughout, so the results are the same bits as the plain loops that
 * defined the variants before this kernel; `info` gets ‖out‖²_F and whether any entry is non-zero.
 *
 * Folding here, in memory that stays allocated between calls, replaced JavaScript loops that wrote
 * fresh float64 arrays and then copied them in: at d_model 4096 those first touches of new memory
 * and the loops cost more than a third of the worker's time outside the SVD.
 */

const TILE = 16;

/**
 * @param d rows of the factor before augmenting (d_model)
 * @param h columns (d_head)
 * @param w the factor's values, float64, as described above
 * @param gamma γ [d] or 0
 * @param beta β [d] or 0 (used only with augment)
 * @param bias b [h] or 0 (used only with augment)
 * @param out column-major [d + augment, h], leading dimension d + augment
 * @param scratch 2·h float64 values
 * @param info 2 float64 values: ‖out‖²_F summed column by column (each column over its rows in
 *   order, then the columns in order), then 1 when some entry is non-zero (0 otherwise)
 */
export function foldFactor(
  d: i32, h: i32, w: usize, transposed: i32, gamma: usize, beta: usize, bias: usize, centre: i32, augment: i32,
  out: usize, scratch: usize, info: usize,
): void {
  const rows = d + (augment != 0 ? 1 : 0);
  const mean = scratch;
  const colSq = scratch + (<usize>h << 3);
  for (let j = 0; j < h; j++) {
    store<f64>(mean + (<usize>j << 3), 0.0);
    store<f64>(colSq + (<usize>j << 3), 0.0);
  }
  if (transposed != 0) foldColumns(d, h, w, gamma, centre, rows, out, mean, colSq);
  else foldRows(d, h, w, gamma, centre, rows, out, mean, colSq);
  if (augment != 0) {
    // the last row: b + βᵀx, on the unscaled x, summed over i in order
    for (let j = 0; j < h; j++) store<f64>(out + ((<usize>j * rows + d) << 3), bias != 0 ? load<f64>(bias + (<usize>j << 3)) : 0.0);
    if (beta != 0) {
      for (let i = 0; i < d; i++) {
        const bi = load<f64>(beta + (<usize>i << 3));
        for (let j = 0; j < h; j++) {
          const p = out + ((<usize>j * rows + d) << 3);
          store<f64>(p, load<f64>(p) + bi * (transposed != 0 ? load<f64>(w + ((<usize>j * d + i) << 3)) : load<f64>(w + ((<usize>i * h + j) << 3))));
        }
      }
    }
    for (let j = 0; j < h; j++) {
      const v = load<f64>(out + ((<usize>j * rows + d) << 3));
      const p = colSq + (<usize>j << 3);
      store<f64>(p, load<f64>(p) + v * v);
    }
  }
  let sq = 0.0;
  let nonZero = false;
  for (let j = 0; j < h; j++) sq += load<f64>(colSq + (<usize>j << 3));
  for (let j = 0; j < h && !nonZero; j++) {
    const col = out + ((<usize>j * rows) << 3);
    for (let i = 0; i < rows; i++) {
      if (load<f64>(col + (<usize>i << 3)) != 0) {
        nonZero = true;
        break;
      }
    }
  }
  store<f64>(info, sq);
  store<f64>(info + 8, nonZero ? 1.0 : 0.0);
}

/** x row-major [d, h]: the means row by row, then the fold in 16 × 16 tiles, written column-major. */
function foldRows(d: i32, h: i32, w: usize, gamma: usize, centre: i32, rows: i32, out: usize, mean: usize, colSq: usize): void {
  if (centre != 0) {
    for (let i = 0; i < d; i++) {
      const g = gamma != 0 ? load<f64>(gamma + (<usize>i << 3)) : 1.0;
      const row = w + ((<usize>i * h) << 3);
      for (let j = 0; j < h; j++) {
        const x = load<f64>(row + (<usize>j << 3));
        const p = mean + (<usize>j << 3);
        store<f64>(p, load<f64>(p) + (gamma != 0 ? g * x : x));
      }
    }
    for (let j = 0; j < h; j++) store<f64>(mean + (<usize>j << 3), load<f64>(mean + (<usize>j << 3)) / <f64>d);
  }
  for (let i0 = 0; i0 < d; i0 += TILE) {
    const i1 = min(i0 + TILE, d);
    for (let j0 = 0; j0 < h; j0 += TILE) {
      const j1 = min(j0 + TILE, h);
      for (let j = j0; j < j1; j++) {
        const m = load<f64>(mean + (<usize>j << 3));
        const col = out + ((<usize>j * rows) << 3);
        let s = load<f64>(colSq + (<usize>j << 3));
        for (let i = i0; i < i1; i++) {
          const x = load<f64>(w + ((<usize>i * h + j) << 3));
          let v = gamma != 0 ? load<f64>(gamma + (<usize>i << 3)) * x : x;
          if (centre != 0) v -= m;
          store<f64>(col + (<usize>i << 3), v);
          s += v * v;
        }
        store<f64>(colSq + (<usize>j << 3), s);
      }
    }
  }
}

/** x given as row-major [h, d] (its transpose): each column of x is a contiguous row there. */
function foldColumns(d: i32, h: i32, w: usize, gamma: usize, centre: i32, rows: i32, out: usize, mean: usize, colSq: usize): void {
  for (let j = 0; j < h; j++) {
    const src = w + ((<usize>j * d) << 3);
    let m = 0.0;
    if (centre != 0) {
      for (let i = 0; i < d; i++) {
        const x = load<f64>(src + (<usize>i << 3));
        m += gamma != 0 ? load<f64>(gamma + (<usize>i << 3)) * x : x;
      }
      m /= <f64>d;
    }
    const col = out + ((<usize>j * rows) << 3);
    let s = 0.0;
    for (let i = 0; i < d; i++) {
      const x = load<f64>(src + (<usize>i << 3));
      let v = gamma != 0 ? load<f64>(gamma + (<usize>i << 3)) * x : x;
      if (centre != 0) v -= m;
      store<f64>(col + (<usize>i << 3), v);
      s += v * v;
    }
    store<f64>(mean + (<usize>j << 3), m);
    store<f64>(colSq + (<usize>j << 3), s);
  }
}
