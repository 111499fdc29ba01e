/**
 * @module factored
 * SVD of the product A·Bᵀ from its factors, never forming the m×m product (method §2; the same idea
 * as TransformerLens's FactoredMatrix). For an attention head, A = W_Q and B = W_K give the QK circuit
 * Ω = W_Q W_Kᵀ, and A = W_V, B = W_Oᵀ give the OV circuit.
 *
 *   A = Q_A R_A,  B = Q_B R_B            (QR of each factor, k = min(m, n))
 *   C = R_A R_Bᵀ = U_c Σ V_cᵀ            (k×k core, one-sided Jacobi)
 *   U = Q_A U_c,  V = Q_B V_c
 *
 * Cost O(m·n²) instead of O(m³), in one of two ways (svdFactored explains the choice):
 * - Cholesky QR, the fast path: R from AᵀA = RᵀR and U = A·(R_A⁻¹U_c), one Gram matrix and one
 *   product per factor. Its rounding grows like κ(A)²·ε, so its result is accepted only when the
 *   checks below pass with a tighter bound.
 * - Householder QR (blocked, qr.ts), otherwise: U = Q_A·[U_c; 0] in compact WY form (LAPACK dlarft;
 *   Schreiber & Van Loan, "A storage-efficient WY representation for products of Householder
 *   transformations", SIAM J. Sci. Stat. Comput. 10(1), 1989): because [U_c; 0] is zero below row k,
 *   Vᵀ[U_c; 0] only involves the k×k top of V, and the O(m·k²) work left is the Gram matrix VᵀV that
 *   builds T and one register-blocked product V·W (dorm2r's reflector-by-reflector application costs
 *   twice the flops of that product, at level-1 speed).
 *
 * Every result is checked before it is returned: relative residual of the core, and orthogonality of
 * the full U and V (every pair of columns). A result that fails a check returns STATUS_CHECK_FAILED
 * with the measured figures in `diag`, never silently.
 *
 * Signs are canonical (method §1): each pair (u_k, v_k) is flipped so that the entry of u_k with the
 * largest magnitude (first such entry on ties) is positive.
 */
import { dot } from "../blas/dot";
import { axpy, scal } from "../blas/axpy";
import { gemmSub, gemmTN, gramUpper } from "../blas/gemm";
import { formT, qrHouseholderBlocked, qrBlockedWorkspace } from "./qr";
import { jacobiSweeps, normalizeScale, timesPow2 } from "./jacobi";
import {
  STATUS_OK, STATUS_CHECK_FAILED, STATUS_NON_FINITE,
  DIAG_CORE_RESIDUAL, DIAG_ORTHOGONALITY_U, DIAG_ORTHOGONALITY_V, DIAG_CHECK_LIMIT, DIAG_LENGTH,
} from "../shared/status";

const EPS: f64 = 2.220446049250313e-16;
/** Check thresholds in units of ε·max(m, n): generous against rounding, tight against real failure. */
const CHECK_FACTOR: f64 = 64.0;
/**
 * Largest σ_1/σ_k of the core for which V_c comes from triangular solves instead of accumulated
 * rotations (its error grows like κ·ε; at 1e3 that stays far inside the final check's bound).
 */
const COND_SOLVE: f64 = 1e3;
/**
 * Cholesky QR is abandoned before the core when (max r_jj / min r_jj)², a lower bound on κ(A)², exceeds
 * this: its orthogonality loss ≈ κ²·ε would fail the final check.
 */
const CHOLESKY_COND2: f64 = 1e6;
/** The Cholesky QR result must pass the checks at this factor (CHECK_FACTOR is 64) or is recomputed. */
const CHOLESKY_CHECK_FACTOR: f64 = 8.0;
/** The solved V_c must be orthogonal to this many k·ε, or the rotations are accumulated after all. */
const SOLVE_ORTHOGONALITY: f64 = 16.0;

/** f64 elements of workspace `svdFactored` needs for factors of shape [m, n]. */
export function svdFactoredWorkspace(m: i32, n: i32): i32 {
  const k = m < n ? m : n;
  return 3 * k + 8 * k * k + qrBlockedWorkspace(m, n);
}

/**
 * max_{p,q} |(UᵀU − I)_pq| for column-major U [m, k], from the full Gram matrix (every pair, not a
 * sample). `g` is k×k workspace.
 */
export function orthogonalityError(m: i32, k: i32, u: usize, ldu: i32, g: usize): f64 {
  gramUpper(m, k, u, ldu, g, k);
  let worst: f64 = 0;
  for (let q = 0; q < k; q++) {
    const gq = g + ((<usize>q * <usize>k) << 3);
    for (let p = 0; p <= q; p++) {
      const ag = Math.abs(load<f64>(gq + (<usize>p << 3)) - (p == q ? 1.0 : 0.0));
      if (!(ag <= worst)) worst = ag;
    }
  }
  return worst;
}

/**
 * ‖C − U·diag(s)·Vᵀ‖_F / ‖C‖_F for k×k column-major matrices (0 when C = 0). Column j of the residual
 * is c_j − Σ_p (s_p v_jp) u_p, built in `r` (k f64) with SIMD axpys.
 */
function coreResidual(k: i32, c: usize, u: usize, s: usize, v: usize, r: usize): f64 {
  let num: f64 = 0;
  let den: f64 = 0;
  const col = <usize>k << 3;
  for (let j = 0; j < k; j++) {
    const cj = c + <usize>j * col;
    memory.copy(r, cj, col);
    for (let p = 0; p < k; p++) {
      const coef = load<f64>(s + (<usize>p << 3)) * load<f64>(v + <usize>p * col + (<usize>j << 3));
      axpy(k, -coef, u + <usize>p * col, r);
    }
    num += dot(k, r, r);
    den += dot(k, cj, cj);
  }
  return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/**
 * V = R_B⁻ᵀ·R_A⁻¹·U·diag(s), the right singular vectors of C = R_A R_Bᵀ from its left ones (dtrsm
 * twice). R_A, R_B: k×k upper triangles with leading dimensions lda, ldb, nonsingular; u and v are
 * k×k, ld k. R_A⁻¹ is back substitution (solveUpper), R_B⁻ᵀ forward substitution (solveUpperTransposed).
 */
function solveRightVectors(k: i32, ra: usize, lda: i32, rb: usize, ldb: i32, u: usize, s: usize, v: usize): void {
  const colK = <usize>k << 3;
  for (let j = 0; j < k; j++) {
    const vj = v + <usize>j * colK;
    memory.copy(vj, u + <usize>j * colK, colK);
    scal(k, load<f64>(s + (<usize>j << 3)), vj);
  }
  solveUpper(k, ra, lda, v);
  for (let j = 0; j < k; j++) solveUpperTransposed(k, rb, ldb, v + <usize>j * colK);
}

/**
 * Turns the reflector storage left by qrHouseholder in the first k columns of A into an explicit V:
 * zeros above the diagonal (where R was: call only once R is no longer needed) and ones on it.
 */
function explicitReflectors(m: i32, k: i32, a: usize, lda: i32): void {
  const col = <usize>lda << 3;
  for (let j = 0; j < k; j++) {
    const aj = a + <usize>j * col;
    memory.fill(aj, 0, <usize>j << 3);
    store<f64>(aj + (<usize>j << 3), 1.0);
  }
}

/**
 * X ← Q·[X_c; 0] for Q = H_0 ⋯ H_{k−1} = I − V·T·Vᵀ (compact WY; dlarft DIRECT = 'F', STOREV = 'C').
 *
 * @param v - [m, k] explicit reflectors (explicitReflectors), leading dimension m
 * @param tau - k reflector scalars
 * @param xc - [k, k] column-major, ld k
 * @param x - [m, k] column-major, ld m, written
 * @param g - k×k workspace (VᵀV), t - k×k workspace (T), w - k×k workspace (W = T·V₁ᵀ·X_c)
 */
function applyQCompactWY(
  m: i32, k: i32, v: usize, tau: usize, xc: usize, x: usize, g: usize, t: usize, w: usize,
): void {
  const colK = <usize>k << 3;
  const colM = <usize>m << 3;
  gramUpper(m, k, v, m, g, k);
  formT(k, g, tau, t);
  // Z = V₁ᵀ·X_c (V₁ = top k×k of V: explicit, zeros above its unit diagonal), kept in g; then
  // W = T·Z as W = −(−T·Z), both through the register-blocked kernels: dense k³ products beat k²
  // short triangular dots and axpys here
  gemmTN(k, k, k, v, m, xc, k, g, k);
  memory.fill(w, 0, <usize>k * colK);
  gemmSub(k, k, k, t, k, g, k, w, k);
  scal(k * k, -1.0, w);
  // X = [X_c; 0] − V·W
  for (let j = 0; j < k; j++) {
    const xj = x + <usize>j * colM;
    memory.copy(xj, xc + <usize>j * colK, colK);
    memory.fill(xj + colK, 0, colM - colK);
  }
  gemmSub(m, k, k, v, m, w, k, x, m);
}

/** Flips (u_p, v_p) so the largest-magnitude entry of u_p is positive (method §1). */
export function canonicalizeSigns(m: i32, k: i32, u: usize, ldu: i32, mv: i32, v: usize, ldv: i32): void {
  for (let p = 0; p < k; p++) {
    const up = u + ((<usize>p * <usize>ldu) << 3);
    let best: f64 = 0;
    let sign: f64 = 1;
    for (let i = 0; i < m; i++) {
      const x = load<f64>(up + (<usize>i << 3));
      if (Math.abs(x) > best) { best = Math.abs(x); sign = x; }
    }
    if (sign < 0) {
      scal(m, -1.0, up);
      scal(mv, -1.0, v + ((<usize>p * <usize>ldv) << 3));
    }
  }
}

/**
 * SVD of A·Bᵀ from its factors.
 *
 * @param m - rows of both factors (d_model, or d_model + 1 when bias-augmented), ≥ 0
 * @param n - columns of both factors (d_head), ≥ 0; k = min(m, n) triplets are returned
 * @param a - [m, n] column-major f64, ld m; destroyed (scaled by a power of two, and holds the
 *   Householder vectors on exit when the Householder path ran)
 * @param b - [m, n] column-major f64, ld m; destroyed likewise
 * @param u - [m, k] column-major f64, written: left singular vectors (query / read side)
 * @param s - k f64, written: σ non-increasing
 * @param v - [m, k] column-major f64, written: right singular vectors (key / write side)
 * @param work - svdFactoredWorkspace(m, n) f64
 * @param diag - DIAG_LENGTH f64, written
 * @returns STATUS_OK, STATUS_NON_FINITE, STATUS_NOT_CONVERGED or STATUS_CHECK_FAILED; −1/−2 for
 *   negative m or n
 */
export function svdFactored(
  m: i32, n: i32, a: usize, b: usize, u: usize, s: usize, v: usize, work: usize, diag: usize,
): i32 {
  if (m < 0) return -1;
  if (n < 0) return -2;
  for (let i = 0; i < DIAG_LENGTH; i++) store<f64>(diag + (<usize>i << 3), 0.0);
  const k = m < n ? m : n;
  if (k == 0) return STATUS_OK;

  const ea = normalizeScale(m, n, a, m);
  const eb = normalizeScale(m, n, b, m);
  if (ea == i32.MIN_VALUE || eb == i32.MIN_VALUE) return STATUS_NON_FINITE;

  const kk = <usize>(k * k) << 3;
  const tauA = work;
  const tauB = tauA + (<usize>k << 3);
  const jwork = tauB + (<usize>k << 3);   // k
  const core = jwork + (<usize>k << 3);   // k×k: C, becomes U_c
  const coreCopy = core + kk;             // k×k: C kept for the residual check
  const vc = coreCopy + kk;               // k×k: V_c
  const g = vc + kk;                      // k×k: Gram matrices
  const t = g + kk;                       // k×k: WY factor T
  const w = t + kk;                       // k×k: W = T·V₁ᵀ·X_c
  const ra = w + kk;                      // k×k: Cholesky R_A
  const rb = ra + kk;                     // k×k: Cholesky R_B
  const qwork = rb + kk;                  // qrBlockedWorkspace(m, n)

  // Fast path, Cholesky QR: R from AᵀA = RᵀR, then U = A·(R_A⁻¹U_c) and V = B·(R_B⁻¹V_c), one Gram
  // matrix and one product per factor where Householder needs a QR plus a Q application (≈40% fewer
  // flops, all of them register-blocked). Whatever R is, U·Σ·Vᵀ = A·R_A⁻¹·(U_cΣV_cᵀ)·R_B⁻ᵀ·Bᵀ
  // reproduces A·Bᵀ up to the core residual; what R's rounding (≈ κ(A)²·ε, Cholesky QR's known loss
  // of orthogonality) can spoil is the orthogonality of U and V, and σ by no more than that. So the
  // same full checks certify the result, held here to CHOLESKY_CHECK_FACTOR (8× tighter than the
  // final bound, so this path never returns vectors much less orthogonal than Householder's). When
  // they fail, when Cholesky breaks down, or when R's diagonal already shows κ² > CHOLESKY_COND2,
  // the Householder path below recomputes from A and B, which this path only reads.
  // see: Stathopoulos & Wu, "A block orthogonalization procedure with constant synchronization
  // requirements", SIAM J. Sci. Comput. 23(6), 2002; Yamamoto et al., "Roundoff error analysis of
  // the CholeskyQR2 algorithm", ETNA 44, 2015.
  if (m >= n && choleskyOfGram(m, n, a, ra) && choleskyOfGram(m, n, b, rb)) {
    const status = coreSvd(k, n, ra, k, rb, k, core, coreCopy, vc, s, g, jwork, diag);
    if (status != STATUS_OK) return status;
    productWithInverse(m, k, a, ra, core, u);
    productWithInverse(m, k, b, rb, vc, v);
    const checked = finish(m, n, k, u, s, v, ea + eb, g, diag, CHOLESKY_CHECK_FACTOR);
    if (checked != STATUS_CHECK_FAILED) return checked;
  }

  // Householder path: blocked QR of both factors, then Q applied in compact WY form
  qrHouseholderBlocked(m, n, a, m, tauA, qwork);
  qrHouseholderBlocked(m, n, b, m, tauB, qwork);
  const status = coreSvd(k, n, a, m, b, m, core, coreCopy, vc, s, g, jwork, diag);
  if (status != STATUS_OK) return status;
  // U = Q_A [U_c; 0], V = Q_B [V_c; 0]; R_A and R_B were consumed by the core above
  explicitReflectors(m, k, a, m);
  explicitReflectors(m, k, b, m);
  applyQCompactWY(m, k, a, tauA, core, u, g, t, w);
  applyQCompactWY(m, k, b, tauB, vc, v, g, t, w);
  return finish(m, n, k, u, s, v, ea + eb, g, diag, CHECK_FACTOR);
}

/**
 * R with RᵀR = AᵀA (dsyrk, then dpotf2 with UPLO = 'U', left-looking by columns: column j of R is a
 * forward substitution with the columns before it). Returns false when a pivot is not positive and
 * finite, or when the diagonal of R already shows (max r_jj / min r_jj)² > CHOLESKY_COND2 (a lower
 * bound on κ(A)², so those factors would fail the final orthogonality check anyway).
 * @param a - [m, n] column-major, ld m, m ≥ n; r - n×n, ld n, written (upper triangle)
 */
function choleskyOfGram(m: i32, n: i32, a: usize, r: usize): bool {
  gramUpper(m, n, a, m, r, n);
  const col = <usize>n << 3;
  let dmin = Infinity;
  let dmax: f64 = 0;
  for (let j = 0; j < n; j++) {
    const rj = r + <usize>j * col;
    solveUpperTransposed(j, r, n, rj); // R[0:j, j] = R[0:j, 0:j]⁻ᵀ·G[0:j, j]
    const o = <usize>j << 3;
    const d = load<f64>(rj + o) - dot(j, rj, rj);
    if (!(d > 0) || !isFinite(d)) return false;
    const rjj = Math.sqrt(d);
    store<f64>(rj + o, rjj);
    if (rjj < dmin) dmin = rjj;
    if (rjj > dmax) dmax = rjj;
  }
  return dmax * dmax <= CHOLESKY_COND2 * dmin * dmin;
}

/** X ← R⁻¹·X for k×k upper triangular R (ld ldr) and X (ld k), by columns (dtrsm, back substitution). */
function solveUpper(k: i32, r: usize, ldr: i32, x: usize): void {
  const colR = <usize>ldr << 3;
  const colK = <usize>k << 3;
  for (let j = 0; j < k; j++) {
    const xj = x + <usize>j * colK;
    for (let i = k - 1; i >= 0; i--) {
      const ri = r + <usize>i * colR;
      const o = <usize>i << 3;
      const yi = load<f64>(xj + o) / load<f64>(ri + o);
      store<f64>(xj + o, yi);
      axpy(i, -yi, ri, xj);
    }
  }
}

/**
 * x ← R⁻ᵀ·x for the len×len upper triangle of R (ld ldr), by forward substitution: row i of Rᵀ is
 * column i of R, contiguous, so each step is one SIMD dot.
 */
function solveUpperTransposed(len: i32, r: usize, ldr: i32, x: usize): void {
  const colR = <usize>ldr << 3;
  for (let i = 0; i < len; i++) {
    const ri = r + <usize>i * colR;
    const o = <usize>i << 3;
    store<f64>(x + o, (load<f64>(x + o) - dot(i, ri, x)) / load<f64>(ri + o));
  }
}

/** Y = A·(R⁻¹·X) for A [m, k] (ld m), R k×k upper triangular and X k×k (ld k, overwritten). */
function productWithInverse(m: i32, k: i32, a: usize, r: usize, x: usize, y: usize): void {
  solveUpper(k, r, k, x);
  scal(k * k, -1.0, x); // gemmSub subtracts: Y = 0 − A·(−X)
  memory.fill(y, 0, (<usize>m * <usize>k) << 3);
  gemmSub(m, k, k, a, m, x, k, y, m);
}

/**
 * The core SVD, C = R_A·R_Bᵀ = U_c·Σ·V_cᵀ, with the residual written to diag. R_A and R_B are the top
 * k rows of k×n upper trapezoids with column strides lda, ldb (bytes: ·8).
 *
 * One-sided Jacobi without accumulating V_c: C·V_c = U_c·Σ and C = R_A R_Bᵀ give
 * V_c = R_B⁻ᵀ·R_A⁻¹·U_c·Σ, two triangular solves with the R factors we already hold (the idea of
 * dgejsv's triangular-solve path; Drmač & Veselić, "New fast and accurate Jacobi SVD algorithm
 * II", SIAM J. Matrix Anal. Appl. 29(4), 2008). Skipping the accumulation halves every rotation's
 * work, the bulk of the core's cost. The solve loses about (κ(C) + κ(R_A) + κ(R_B))·ε, so it is
 * kept only when σ_1/σ_k ≤ COND_SOLVE and V_c is orthogonal to SOLVE_ORTHOGONALITY·k·ε (the Gram
 * matrix is k×k, cheap); otherwise Jacobi runs again from C, accumulating V_c by rotations.
 */
function coreSvd(
  k: i32, n: i32, ra: usize, lda: i32, rb: usize, ldb: i32,
  core: usize, coreCopy: usize, vc: usize, s: usize, g: usize, jwork: usize, diag: usize,
): i32 {
  // C = R_A R_Bᵀ: c_j = Σ_{p ≥ j} R_B[j, p] · R_A[0:p+1, p], as SIMD axpys down R_A's columns
  const colA = <usize>lda << 3;
  const colB = <usize>ldb << 3;
  const colK = <usize>k << 3;
  const kk = <usize>k * colK;
  for (let j = 0; j < k; j++) {
    const cj = core + <usize>j * colK;
    memory.fill(cj, 0, colK);
    for (let p = j; p < n; p++) {
      const len = p + 1 < k ? p + 1 : k;
      axpy(len, load<f64>(rb + <usize>p * colB + (<usize>j << 3)), ra + <usize>p * colA, cj);
    }
  }
  memory.copy(coreCopy, core, kk);

  let status = jacobiSweeps(k, k, core, k, s, 0, k, jwork, diag);
  if (status != STATUS_OK) return status;
  const s1 = load<f64>(s);
  let solved = false;
  if (s1 > 0 && load<f64>(s + (<usize>(k - 1) << 3)) * COND_SOLVE >= s1) {
    solveRightVectors(k, ra, lda, rb, ldb, core, s, vc);
    solved = orthogonalityError(k, k, vc, k, g) <= SOLVE_ORTHOGONALITY * <f64>k * EPS;
  }
  if (!solved) {
    memory.copy(core, coreCopy, kk);
    status = jacobiSweeps(k, k, core, k, s, vc, k, jwork, diag);
    if (status != STATUS_OK) return status;
  }
  store<f64>(diag + (<usize>DIAG_CORE_RESIDUAL << 3), coreResidual(k, coreCopy, core, s, vc, jwork));
  return STATUS_OK;
}

/**
 * Canonical signs, σ scaled back by 2^e, then the checks every result must pass: orthogonality of
 * U and V from their full Gram matrices and the core residual, against factor·ε·max(m, n).
 */
function finish(
  m: i32, n: i32, k: i32, u: usize, s: usize, v: usize, e: i32, g: usize, diag: usize, factor: f64,
): i32 {
  canonicalizeSigns(m, k, u, m, m, v, m);
  if (e != 0) {
    for (let p = 0; p < k; p++) store<f64>(s + (<usize>p << 3), timesPow2(load<f64>(s + (<usize>p << 3)), e));
  }
  for (let p = 0; p < k; p++) {
    if (!isFinite(load<f64>(s + (<usize>p << 3)))) return STATUS_NON_FINITE; // σ overflowed f64
  }
  const ou = orthogonalityError(m, k, u, m, g);
  const ov = orthogonalityError(m, k, v, m, g);
  store<f64>(diag + (<usize>DIAG_ORTHOGONALITY_U << 3), ou);
  store<f64>(diag + (<usize>DIAG_ORTHOGONALITY_V << 3), ov);
  const limit = factor * EPS * <f64>(m > n ? m : n);
  store<f64>(diag + (<usize>DIAG_CHECK_LIMIT << 3), limit);
  const res = load<f64>(diag + (<usize>DIAG_CORE_RESIDUAL << 3));
  if (!(ou <= limit) || !(ov <= limit) || !(res <= limit)) return STATUS_CHECK_FAILED;
  return STATUS_OK;
}
