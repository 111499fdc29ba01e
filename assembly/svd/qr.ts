/**
 * @module qr
 * Householder QR of a column-major m×n matrix, in place: unblocked (qrHouseholder, dgeqr2) and
 * blocked (qrHouseholderBlocked, dgeqrf), plus dlarft's T of the compact WY form (formT), which the
 * blocked QR and the factored SVD's Q application share. It never forms Q.
 * see: LAPACK dgeqr2.f, dgeqrf.f, dlarfg.f, dlarf.f, dlarft.f, dlarfb.f.
 *
 * Storage, as in LAPACK: on exit the upper trapezoid of A holds R (k×n, k = min(m, n)); below the
 * diagonal, column j holds the tail of the Householder vector v_j (v_j[0] = 1 is implicit), and
 * tau[j] its scalar, so H_j = I − tau_j v_j v_jᵀ and Q = H_0 H_1 … H_{k−1}.
 *
 * Hot spot: applying one reflector to many columns. Columns are processed four at a time so the
 * reflector is loaded once per four columns (applyReflector4); pairs and singles take the rest.
 */
import { dot, dot2 } from "../blas/dot";
import { axpy, axpy2, scal } from "../blas/axpy";
import { nrm2 } from "../blas/nrm2";
import { gemmSub, gemmTN, gramUpper } from "../blas/gemm";

/** Panel width of the blocked QR: wide enough for the trailing update to run at level-3 speed, narrow
 * enough that the unblocked panel work (level-2, ≈ m·NB² per panel) stays small. Measured on GPT-2
 * factors (768×64) in the SIMD build. */
const NB: i32 = 8;

/**
 * Four columns at once: w_c = x_c[0] + v_tailᵀ x_c[1:] for c < 4, then x_c −= tau·w_c·v. One load of v
 * feeds four multiply-adds in each pass (dot2/axpy2 fed two), and the four partial sums stay in
 * registers: this is the inner loop of the QR, so its load count is what the QR costs.
 */
function applyReflector4(tail: i32, vTail: usize, tau: f64, x0: usize, stride: usize): void {
  const x1 = x0 + stride;
  const x2 = x1 + stride;
  const x3 = x2 + stride;
  let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0), a3 = f64x2.splat(0);
    for (; i + 2 <= tail; i += 2) {
      const o = <usize>i << 3;
      const vv = v128.load(vTail + o);
      a0 = f64x2.add(a0, f64x2.mul(vv, v128.load(x0 + 8 + o)));
      a1 = f64x2.add(a1, f64x2.mul(vv, v128.load(x1 + 8 + o)));
      a2 = f64x2.add(a2, f64x2.mul(vv, v128.load(x2 + 8 + o)));
      a3 = f64x2.add(a3, f64x2.mul(vv, v128.load(x3 + 8 + o)));
    }
    s0 = f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1);
    s1 = f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1);
    s2 = f64x2.extract_lane(a2, 0) + f64x2.extract_lane(a2, 1);
    s3 = f64x2.extract_lane(a3, 0) + f64x2.extract_lane(a3, 1);
  }
  for (let r = i; r < tail; r++) {
    const o = <usize>r << 3;
    const vv = load<f64>(vTail + o);
    s0 += vv * load<f64>(x0 + 8 + o);
    s1 += vv * load<f64>(x1 + 8 + o);
    s2 += vv * load<f64>(x2 + 8 + o);
    s3 += vv * load<f64>(x3 + 8 + o);
  }
  const t0 = -tau * (load<f64>(x0) + s0);
  const t1 = -tau * (load<f64>(x1) + s1);
  const t2 = -tau * (load<f64>(x2) + s2);
  const t3 = -tau * (load<f64>(x3) + s3);
  store<f64>(x0, load<f64>(x0) + t0);
  store<f64>(x1, load<f64>(x1) + t1);
  store<f64>(x2, load<f64>(x2) + t2);
  store<f64>(x3, load<f64>(x3) + t3);
  i = 0;
  if (ASC_FEATURE_SIMD) {
    const v0 = f64x2.splat(t0), v1 = f64x2.splat(t1), v2 = f64x2.splat(t2), v3 = f64x2.splat(t3);
    for (; i + 2 <= tail; i += 2) {
      const o = (<usize>i << 3) + 8;
      const vv = v128.load(vTail + o - 8);
      v128.store(x0 + o, f64x2.add(v128.load(x0 + o), f64x2.mul(v0, vv)));
      v128.store(x1 + o, f64x2.add(v128.load(x1 + o), f64x2.mul(v1, vv)));
      v128.store(x2 + o, f64x2.add(v128.load(x2 + o), f64x2.mul(v2, vv)));
      v128.store(x3 + o, f64x2.add(v128.load(x3 + o), f64x2.mul(v3, vv)));
    }
  }
  for (; i < tail; i++) {
    const o = (<usize>i << 3) + 8;
    const vv = load<f64>(vTail + o - 8);
    store<f64>(x0 + o, load<f64>(x0 + o) + t0 * vv);
    store<f64>(x1 + o, load<f64>(x1 + o) + t1 * vv);
    store<f64>(x2 + o, load<f64>(x2 + o) + t2 * vv);
    store<f64>(x3 + o, load<f64>(x3 + o) + t3 * vv);
  }
}

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
  for (; c + 4 <= ncols; c += 4) applyReflector4(tail, vTail, tau, x + <usize>c * stride, stride);
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
 * The upper triangular T of the compact WY form H_0 ⋯ H_{k−1} = I − V·T·Vᵀ (dlarft, DIRECT = 'F',
 * STOREV = 'C'): T[i,i] = tau_i, T[0:i, i] = −tau_i · T[0:i, 0:i] · (V[:, 0:i]ᵀ v_i).
 * @param g - k×k, ld k: the upper triangle of VᵀV (gramUpper of the explicit V)
 * @param t - k×k, ld k, written (zeros below the diagonal)
 */
export function formT(k: i32, g: usize, tau: usize, t: usize): void {
  const colK = <usize>k << 3;
  for (let i = 0; i < k; i++) {
    const ti = t + <usize>i * colK;
    const gi = g + <usize>i * colK;
    const taui = load<f64>(tau + (<usize>i << 3));
    memory.fill(ti, 0, colK);
    for (let l = 0; l < i; l++) axpy(l + 1, load<f64>(gi + (<usize>l << 3)), t + <usize>l * colK, ti);
    scal(i, -taui, ti);
    store<f64>(ti + (<usize>i << 3), taui);
  }
}

/** f64 elements of workspace `qrHouseholderBlocked` needs for an [m, n] matrix. */
export function qrBlockedWorkspace(m: i32, n: i32): i32 {
  return m * NB + 2 * NB * NB + NB * n;
}

/**
 * Blocked Householder QR (dgeqrf): the same factorisation and storage as `qrHouseholder`, computed
 * NB columns at a time. Each panel is factored unblocked; the trailing columns then take the panel's
 * reflectors in one compact WY update, C ← (I − V·Tᵀ·Vᵀ)·C = C − V·(Tᵀ·(Vᵀ·C)), two register-blocked
 * products (blas/gemm.ts) instead of NB level-2 passes over C.
 * see: LAPACK dgeqrf.f, dlarft.f, dlarfb.f; Schreiber & Van Loan 1989.
 *
 * @param work - qrBlockedWorkspace(m, n) f64: the panel's V made explicit, its Gram matrix and T, and W
 */
export function qrHouseholderBlocked(m: i32, n: i32, a: usize, lda: i32, tau: usize, work: usize): void {
  const k = m < n ? m : n;
  const col = <usize>lda << 3;
  const vp = work;                                       // [m − j0, jb], ld m − j0
  const gp = vp + ((<usize>m * <usize>NB) << 3);         // jb×jb, ld jb
  const tp = gp + ((<usize>(NB * NB)) << 3);             // jb×jb, ld jb
  const wp = tp + ((<usize>(NB * NB)) << 3);             // [jb, nc], ld jb
  for (let j0 = 0; j0 < k; j0 += NB) {
    const jb = k - j0 < NB ? k - j0 : NB;
    const r = m - j0;
    const a00 = a + <usize>j0 * col + (<usize>j0 << 3);
    qrHouseholder(r, jb, a00, lda, tau + (<usize>j0 << 3));
    const nc = n - j0 - jb;
    if (nc <= 0) continue;
    // explicit V of the panel: zeros above the diagonal (R lives there in A), ones on it
    const colV = <usize>r << 3;
    for (let l = 0; l < jb; l++) {
      const vl = vp + <usize>l * colV;
      memory.fill(vl, 0, <usize>l << 3);
      store<f64>(vl + (<usize>l << 3), 1.0);
      memory.copy(vl + (<usize>(l + 1) << 3), a00 + <usize>l * col + (<usize>(l + 1) << 3), <usize>(r - l - 1) << 3);
    }
    gramUpper(r, jb, vp, r, gp, jb);
    formT(jb, gp, tau + (<usize>j0 << 3), tp);
    const c = a00 + <usize>jb * col;
    gemmTN(r, jb, nc, vp, r, c, lda, wp, jb);
    // W ← Tᵀ·W, bottom row first so each row reads only rows not yet overwritten
    const colT = <usize>jb << 3;
    for (let q = 0; q < nc; q++) {
      const wq = wp + <usize>q * colT;
      for (let i = jb - 1; i >= 0; i--) store<f64>(wq + (<usize>i << 3), dot(i + 1, tp + <usize>i * colT, wq));
    }
    gemmSub(r, nc, jb, vp, r, wp, jb, c, lda);
  }
}
