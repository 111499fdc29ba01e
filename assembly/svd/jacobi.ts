/**
 * @module jacobi
 * One-sided Jacobi SVD of a column-major m×n matrix with m ≥ n: A·V = U·Σ.
 * see: Hestenes 1958; Demmel & Veselić, "Jacobi's method is more accurate than QR", SIAM J. Matrix
 * Anal. Appl. 13(4), 1992; LAPACK dgesvj.f (the convergence test and the rotation formulas).
 *
 * Columns are rotated in round-robin order (below) until every pair is orthogonal to within
 * tol = √m·ε in the relative sense |a_pᵀa_q| ≤ tol·‖a_p‖‖a_q‖. Column norms are recomputed at
 * the start of each sweep (no drift) and updated in closed form inside it. Small singular values are
 * computed to high relative accuracy, which is why this is the core solver.
 *
 * Exactly zero columns (rank deficiency) get an orthonormal completion so that U always has
 * orthonormal columns. The input is scaled by a power of two into [0.5, 1) first, so huge and tiny
 * matrices neither overflow nor underflow, and the scale is undone exactly on σ.
 */
import { dot } from "../blas/dot";
import { axpy, scal } from "../blas/axpy";
import { rot } from "../blas/rot";
import { amax, nrm2 } from "../blas/nrm2";
import {
  STATUS_OK, STATUS_NOT_CONVERGED, STATUS_NON_FINITE,
  DIAG_SWEEPS, DIAG_OFF_ORTHOGONALITY, DIAG_OFF_ORTHOGONALITY_LIMIT, DIAG_RANK,
} from "../shared/status";

/** dgesvj's default sweep limit. */
export const MAX_SWEEPS: i32 = 30;
const EPS: f64 = 2.220446049250313e-16; // 2^-52
/** Below this (after scaling) a column norm is treated as exactly zero. */
const ZERO_COLUMN: f64 = 1e-290;
/** Pairs whose rotations are computed before any is applied (static scratch below). */
const CHUNK: i32 = 32;
const ROT_P: usize = memory.data(CHUNK * 4, 16);
const ROT_Q: usize = memory.data(CHUNK * 4, 16);
const ROT_C: usize = memory.data(CHUNK * 8, 16);
const ROT_S: usize = memory.data(CHUNK * 8, 16);
/** α·β above this is far from underflow, and so is γ² whenever it matters (γ²/(αβ) > tol²). */
const NORMAL_PRODUCT: f64 = 1e-200;

/** 2^e for integer e in [-1022, 1023], exactly. */
function pow2(e: i32): f64 {
  return reinterpret<f64>(<u64>(e + 1023) << 52);
}

/** Exponent e with 2^e ≤ x < 2^(e+1), for finite x > 0 (normal or clamped to −1022). */
function exponentOf(x: f64): i32 {
  const bits = (reinterpret<u64>(x) >>> 52) & 0x7ff;
  return bits == 0 ? -1022 : <i32>bits - 1023;
}

/** Scales column-major [m, n] (leading dimension ld) by alpha. */
export function scaleMatrix(m: i32, n: i32, a: usize, ld: i32, alpha: f64): void {
  for (let j = 0; j < n; j++) scal(m, alpha, a + ((<usize>j * <usize>ld) << 3));
}

/** Largest magnitude of column-major [m, n]; NaN if any entry is NaN. */
export function amaxMatrix(m: i32, n: i32, a: usize, ld: i32): f64 {
  let r: f64 = 0;
  for (let j = 0; j < n; j++) {
    const c = amax(m, a + ((<usize>j * <usize>ld) << 3));
    if (isNaN(c)) return c;
    if (c > r) r = c;
  }
  return r;
}

/**
 * Scales A by a power of two so its largest magnitude lies in [0.5, 1).
 * @returns the exponent e such that A_original = 2^e · A_scaled, or i32.MIN_VALUE when A is not
 * finite, or 0 when A is zero.
 */
export function normalizeScale(m: i32, n: i32, a: usize, ld: i32): i32 {
  const mx = amaxMatrix(m, n, a, ld);
  if (!isFinite(mx)) return i32.MIN_VALUE;
  if (mx == 0) return 0;
  let e = exponentOf(mx) + 1;
  if (e > 1023) e = 1023;
  if (e < -1021) e = -1021;
  if (e != 0) scaleMatrix(m, n, a, ld, pow2(-e));
  return e;
}

/** Multiplies by 2^e with e possibly outside one f64 exponent's range. */
export function timesPow2(x: f64, e: i32): f64 {
  while (e > 1000) { x *= pow2(1000); e -= 1000; }
  while (e < -1000) { x *= pow2(-1000); e += 1000; }
  return x * pow2(e);
}

function swapColumns(m: i32, a: usize, ld: i32, p: i32, q: i32): void {
  const ap = a + ((<usize>p * <usize>ld) << 3);
  const aq = a + ((<usize>q * <usize>ld) << 3);
  for (let i = 0; i < m; i++) {
    const o = <usize>i << 3;
    const t = load<f64>(ap + o);
    store<f64>(ap + o, load<f64>(aq + o));
    store<f64>(aq + o, t);
  }
}

/**
 * Replaces column p of U (m rows) by a unit vector orthogonal to columns 0..p−1, which must already be
 * orthonormal. Tries e_0, e_1, … and keeps the first that survives two Gram–Schmidt passes.
 */
function completeColumn(m: i32, u: usize, ldu: i32, p: i32): void {
  const up = u + ((<usize>p * <usize>ldu) << 3);
  for (let i = 0; i < m; i++) {
    for (let r = 0; r < m; r++) store<f64>(up + (<usize>r << 3), r == i ? 1.0 : 0.0);
    for (let pass = 0; pass < 2; pass++) {
      for (let q = 0; q < p; q++) {
        const uq = u + ((<usize>q * <usize>ldu) << 3);
        axpy(m, -dot(m, uq, up), uq, up);
      }
    }
    const nrm = nrm2(m, up);
    if (nrm > 0.5) {
      scal(m, 1.0 / nrm, up);
      return;
    }
  }
}

/**
 * One-sided Jacobi SVD, A = U·diag(σ)·Vᵀ, in place.
 *
 * @param m - rows, m ≥ n
 * @param n - columns, ≥ 0
 * @param a - [m, n] column-major f64, leading dimension lda ≥ m; overwritten by U (orthonormal columns)
 * @param s - n f64, written: σ in non-increasing order
 * @param v - [n, n] column-major f64, leading dimension ldv ≥ n, written
 * @param work - n f64 of workspace
 * @param diag - DIAG_LENGTH f64, written: sweeps, final off-orthogonality, numerical rank
 * @returns STATUS_OK; −1/−2/−4/−7 for an invalid m, n, lda, ldv; STATUS_NON_FINITE;
 *   STATUS_NOT_CONVERGED (U, σ, V still written, from the last sweep)
 */
export function svdJacobi(
  m: i32, n: i32, a: usize, lda: i32, s: usize, v: usize, ldv: i32, work: usize, diag: usize,
): i32 {
  if (m < 0) return -1;
  if (n < 0 || n > m) return -2;
  if (lda < (m > 1 ? m : 1)) return -4;
  if (ldv < (n > 1 ? n : 1)) return -7;
  return jacobiSweeps(m, n, a, lda, s, v, ldv, work, diag);
}

/**
 * `svdJacobi` without argument checks, for callers inside the module. `v = 0` skips accumulating V
 * (half of every rotation's work): the caller then recovers V from A·V = U·Σ itself (svd/factored.ts
 * does it with triangular solves, as dgejsv does for a well-conditioned triangular A).
 */
export function jacobiSweeps(
  m: i32, n: i32, a: usize, lda: i32, s: usize, v: usize, ldv: i32, work: usize, diag: usize,
): i32 {
  const wantV = v != 0;

  const e = normalizeScale(m, n, a, lda);
  if (e == i32.MIN_VALUE) return STATUS_NON_FINITE;

  const colA = <usize>lda << 3;
  const colV = <usize>ldv << 3;
  if (wantV) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) store<f64>(v + <usize>j * colV + (<usize>i << 3), i == j ? 1.0 : 0.0);
    }
  }

  const tol = Math.sqrt(<f64>(m > 1 ? m : 1)) * EPS;
  const tol2 = tol * tol;
  const norms = work; // squared column norms
  let sweeps = 0;
  let converged = n < 2;
  let worstOff2: f64 = 0; // (max off-orthogonality)², of the last sweep
  while (!converged && sweeps < MAX_SWEEPS) {
    sweeps++;
    for (let p = 0; p < n; p++) {
      const ap = a + <usize>p * colA;
      store<f64>(norms + (<usize>p << 3), dot(m, ap, ap));
    }
    let rotations = 0;
    worstOff2 = 0;
    // Round-robin (tournament) ordering: each of the nn − 1 steps pairs every column with another,
    // disjointly, so the pairs of a step are independent. Their inner products and rotation
    // parameters are computed first and the rotations applied after, in chunks of CHUNK pairs: the
    // divisions and square roots of one pair no longer wait for the previous pair's rotation (in
    // cyclic-by-rows order each pair's dot product needs the column just rotated), which was a
    // latency chain of ~100 cycles per pair. Disjointness makes the chunking invisible in the result.
    // see: Brent & Luk, "The solution of singular-value and symmetric eigenvalue problems on
    // multiprocessor arrays", SIAM J. Sci. Stat. Comput. 6(1), 1985 (the ordering; its convergence).
    const nn = n + (n & 1); // odd n: a dummy column nn − 1 = n sits out one pair per step
    for (let r = 0; r < nn - 1; r++) {
      for (let i0 = 0; i0 < nn >> 1; i0 += CHUNK) {
        const i1 = i0 + CHUNK < nn >> 1 ? i0 + CHUNK : nn >> 1;
        let count = 0;
        for (let i = i0; i < i1; i++) {
          const x = i == 0 ? nn - 1 : (r + i) % (nn - 1);
          const y = i == 0 ? r : (r - i + nn - 1) % (nn - 1);
          const p = x < y ? x : y;
          const q = x < y ? y : x;
          if (q >= n) continue;
          const alpha = load<f64>(norms + (<usize>p << 3));
          const beta = load<f64>(norms + (<usize>q << 3));
          if (alpha == 0 || beta == 0) continue;
          const gamma = dot(m, a + <usize>p * colA, a + <usize>q * colA);
          // |γ|/√(αβ) > tol, compared in squares: most pairs end here, and two square roots and two
          // divisions per pair were a measurable share of a sweep. Below NORMAL_PRODUCT the squares
          // could underflow, so the plain quotient decides.
          const g2 = gamma * gamma;
          const ab = alpha * beta;
          if (ab > NORMAL_PRODUCT) {
            if (g2 > worstOff2 * ab) worstOff2 = g2 / ab;
            if (!(g2 > tol2 * ab)) continue;
          } else {
            const off = Math.abs(gamma) / Math.sqrt(alpha) / Math.sqrt(beta);
            if (off * off > worstOff2) worstOff2 = off * off;
            if (!(off > tol)) continue;
          }
          // zeta = cot(2θ); t = tan θ, the smaller root (Rutishauser)
          const zeta = (beta - alpha) / (2.0 * gamma);
          const az = Math.abs(zeta);
          const t = az > 1e150 ? 0.5 / zeta : copysign<f64>(1.0, zeta) / (az + Math.sqrt(1.0 + zeta * zeta));
          const c = 1.0 / Math.sqrt(1.0 + t * t);
          store<f64>(norms + (<usize>p << 3), Math.max(0.0, alpha - t * gamma));
          store<f64>(norms + (<usize>q << 3), beta + t * gamma);
          const o = <usize>count;
          store<i32>(ROT_P + (o << 2), p);
          store<i32>(ROT_Q + (o << 2), q);
          store<f64>(ROT_C + (o << 3), c);
          store<f64>(ROT_S + (o << 3), c * t);
          count++;
        }
        for (let i = 0; i < count; i++) {
          const o = <usize>i;
          const p = <usize>load<i32>(ROT_P + (o << 2));
          const q = <usize>load<i32>(ROT_Q + (o << 2));
          const c = load<f64>(ROT_C + (o << 3));
          const sn = load<f64>(ROT_S + (o << 3));
          rot(m, a + p * colA, a + q * colA, c, sn);
          if (wantV) rot(n, v + p * colV, v + q * colV, c, sn);
        }
        rotations += count;
      }
    }
    if (rotations == 0) converged = true;
  }

  // σ_p = ‖a_p‖, then sort descending (selection sort: n is a head width, ≤ a few hundred)
  for (let p = 0; p < n; p++) {
    store<f64>(s + (<usize>p << 3), nrm2(m, a + <usize>p * colA));
  }
  for (let p = 0; p < n - 1; p++) {
    let best = p;
    let bestVal = load<f64>(s + (<usize>p << 3));
    for (let q = p + 1; q < n; q++) {
      const sq = load<f64>(s + (<usize>q << 3));
      if (sq > bestVal) { best = q; bestVal = sq; }
    }
    if (best != p) {
      store<f64>(s + (<usize>best << 3), load<f64>(s + (<usize>p << 3)));
      store<f64>(s + (<usize>p << 3), bestVal);
      swapColumns(m, a, lda, p, best);
      if (wantV) swapColumns(n, v, ldv, p, best);
    }
  }
  // normalise U's columns; complete the null space
  let rank = 0;
  const s1 = n > 0 ? load<f64>(s) : 0.0;
  for (let p = 0; p < n; p++) {
    const sp = load<f64>(s + (<usize>p << 3));
    if (sp > ZERO_COLUMN) {
      scal(m, 1.0 / sp, a + <usize>p * colA);
      if (sp > <f64>m * EPS * s1) rank++;
    } else {
      store<f64>(s + (<usize>p << 3), 0.0);
      completeColumn(m, a, lda, p);
    }
  }
  if (e != 0) {
    for (let p = 0; p < n; p++) store<f64>(s + (<usize>p << 3), timesPow2(load<f64>(s + (<usize>p << 3)), e));
  }
  store<f64>(diag + (<usize>DIAG_SWEEPS << 3), <f64>sweeps);
  store<f64>(diag + (<usize>DIAG_OFF_ORTHOGONALITY << 3), Math.sqrt(worstOff2));
  store<f64>(diag + (<usize>DIAG_OFF_ORTHOGONALITY_LIMIT << 3), tol);
  store<f64>(diag + (<usize>DIAG_RANK << 3), <f64>rank);
  return converged ? STATUS_OK : STATUS_NOT_CONVERGED;
}
