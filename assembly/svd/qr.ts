/**
 * @module qr
 * Householder QR of a column-major m×n matrix, in place, and application of the resulting Q.
 * see: LAPACK dgeqr2.f, dlarfg.f, dlarf.f, dorm2r.f (unblocked forms).
 *
 * Storage, as in LAPACK: on exit the upper trapezoid of A holds R (k×n, k = min(m, n)); below the
 * diagonal, column j holds the tail of the Householder vector v_j (v_j[0] = 1 is implicit), and
 * tau[j] its scalar, so H_j = I − tau_j v_j v_jᵀ and Q = H_0 H_1 … H_{k−1}.
 *
 * Hot spot: applying one reflector to many columns. Columns are processed in pairs so the reflector
 * is loaded once per two columns (dot2/axpy2), which halves the loads of the inner loops.
 */
import { dot, dot2 } from "../blas/dot";
import { axpy, axpy2, scal } from "../blas/axpy";
import { nrm2 } from "../blas/nrm2";

/**
 * Applies H = I − tau·v·vᵀ from the left to `ncols` columns of X.
 * @param len - length of v (rows touched), ≥ 1
 * @param vTail - v[1..len) (v[0] = 1 is implicit)
 * @param x - pointer to the first touched row of the first column
 * @param ldx - column stride of X in elements
 */
export function applyReflector(len: i32, vTail: usize, tau: f64, x: usize, ldx: i32, ncols: i32): void {
  if (tau == 0) return;
  const tail = len - 1;
  const stride = <usize>ldx << 3;
  let c = 0;
  const scratchPtr = changetype<usize>(memory.data(8));
  for (; c + 2 <= ncols; c += 2) {
    const x0 = x + <usize>c * stride;
    const x1 = x0 + stride;
    const w0 = load<f64>(x0) + dot2(tail, vTail, x0 + 8, x1 + 8, scratchPtr);
    const w1 = load<f64>(x1) + load<f64>(scratchPtr);
    const t0 = -tau * w0;
    const t1 = -tau * w1;
    store<f64>(x0, load<f64>(x0) + t0);
    store<f64>(x1, load<f64>(x1) + t1);
    axpy2(tail, t0, t1, vTail, x0 + 8, x1 + 8);
  }
  if (c < ncols) {
    const x0 = x + <usize>c * stride;
    const w0 = load<f64>(x0) + dot(tail, vTail, x0 + 8);
    const t0 = -tau * w0;
    store<f64>(x0, load<f64>(x0) + t0);
    axpy(tail, t0, vTail, x0 + 8);
  }
}

/**
 * Householder QR, A = Q·R, in place.
 * @param m - rows, ≥ 0
 * @param n - columns, ≥ 0
 * @param a - [m, n] column-major f64, leading dimension lda ≥ max(1, m)
 * @param tau - min(m, n) f64, written
 */
export function qrHouseholder(m: i32, n: i32, a: usize, lda: i32, tau: usize): void {
  const k = m < n ? m : n;
  const col = <usize>lda << 3;
  for (let j = 0; j < k; j++) {
    const ajj = a + <usize>j * col + (<usize>j << 3);
    const alpha = load<f64>(ajj);
    const xnorm = nrm2(m - j - 1, ajj + 8);
    let t: f64 = 0;
    if (xnorm != 0) {
      // dlarfg: beta = −sign(alpha)·‖(alpha, x)‖, v = x / (alpha − beta), tau = (beta − alpha)/beta
      const beta = -copysign<f64>(Math.hypot(alpha, xnorm), alpha);
      t = (beta - alpha) / beta;
      scal(m - j - 1, 1.0 / (alpha - beta), ajj + 8);
      store<f64>(ajj, beta);
    }
    store<f64>(tau + (<usize>j << 3), t);
    if (j + 1 < n) applyReflector(m - j, ajj + 8, t, ajj + col, lda, n - j - 1);
  }
}

/**
 * X ← Q·X for the Q stored by `qrHouseholder` (dorm2r, SIDE = 'L', TRANS = 'N').
 * @param m - rows of Q and X
 * @param k - number of reflectors
 * @param a - reflectors as left by qrHouseholder, leading dimension lda
 * @param x - [m, ncols] column-major, leading dimension ldx
 */
export function qrApplyQ(m: i32, k: i32, a: usize, lda: i32, tau: usize, x: usize, ldx: i32, ncols: i32): void {
  const col = <usize>lda << 3;
  for (let j = k - 1; j >= 0; j--) {
    const t = load<f64>(tau + (<usize>j << 3));
    const ajj = a + <usize>j * col + (<usize>j << 3);
    applyReflector(m - j, ajj + 8, t, x + (<usize>j << 3), ldx, ncols);
  }
}
