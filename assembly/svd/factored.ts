/**
 * @module factored
 * SVD of the product A·Bᵀ from its factors, never forming the m×m product (method §2; the same idea
 * as TransformerLens's FactoredMatrix). For an attention head, A = W_Q and B = W_K give the QK circuit
 * Ω = W_Q W_Kᵀ, and A = W_V, B = W_Oᵀ give the OV circuit.
 *
 *   A = Q_A R_A,  B = Q_B R_B            (Householder QR, k = min(m, n) reflectors each)
 *   C = R_A R_Bᵀ = U_c Σ V_cᵀ            (k×k core, one-sided Jacobi)
 *   U = Q_A U_c,  V = Q_B V_c            (reflectors applied to [U_c; 0] and [V_c; 0])
 *
 * Cost O(m·n²) instead of O(m³). Every result is checked before it is returned: relative residual of
 * the core, and orthogonality of the full U and V. A result that fails a check returns
 * STATUS_CHECK_FAILED with the measured figures in `diag`, never silently.
 *
 * Signs are canonical (method §1): each pair (u_k, v_k) is flipped so that the entry of u_k with the
 * largest magnitude (first such entry on ties) is positive.
 */
import { dot } from "../blas/dot";
import { scal } from "../blas/axpy";
import { qrHouseholder, qrApplyQ } from "./qr";
import { svdJacobi, normalizeScale, timesPow2 } from "./jacobi";
import {
  STATUS_OK, STATUS_CHECK_FAILED, STATUS_NON_FINITE,
  DIAG_CORE_RESIDUAL, DIAG_ORTHOGONALITY_U, DIAG_ORTHOGONALITY_V, DIAG_LENGTH,
} from "../shared/status";

const EPS: f64 = 2.220446049250313e-16;
/** Check thresholds in units of ε·max(m, n): generous against rounding, tight against real failure. */
const CHECK_FACTOR: f64 = 64.0;

/** f64 elements of workspace `svdFactored` needs for factors of shape [m, n]. */
export function svdFactoredWorkspace(m: i32, n: i32): i32 {
  const k = m < n ? m : n;
  return 2 * k + 3 * k * k + k;
}

/** max_{p,q} |(UᵀU − I)_pq| for column-major U [m, k]. */
export function orthogonalityError(m: i32, k: i32, u: usize, ldu: i32): f64 {
  const col = <usize>ldu << 3;
  let worst: f64 = 0;
  for (let p = 0; p < k; p++) {
    const up = u + <usize>p * col;
    for (let q = p; q < k; q++) {
      const g = dot(m, up, u + <usize>q * col) - (p == q ? 1.0 : 0.0);
      const ag = Math.abs(g);
      if (!(ag <= worst)) worst = ag;
    }
  }
  return worst;
}

/** ‖C − U·diag(s)·Vᵀ‖_F / ‖C‖_F for k×k column-major matrices (0 when C = 0). */
function coreResidual(k: i32, c: usize, u: usize, s: usize, v: usize): f64 {
  let num: f64 = 0;
  let den: f64 = 0;
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < k; i++) {
      let r: f64 = 0;
      for (let p = 0; p < k; p++) {
        r += load<f64>(u + ((<usize>(p * k + i)) << 3)) * load<f64>(s + (<usize>p << 3)) *
          load<f64>(v + ((<usize>(p * k + j)) << 3));
      }
      const cij = load<f64>(c + ((<usize>(j * k + i)) << 3));
      num += (cij - r) * (cij - r);
      den += cij * cij;
    }
  }
  return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
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
 * @param a - [m, n] column-major f64, ld m; destroyed (holds QR reflectors on exit)
 * @param b - [m, n] column-major f64, ld m; destroyed
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

  const tauA = work;
  const tauB = tauA + (<usize>k << 3);
  const core = tauB + (<usize>k << 3);           // k×k, becomes U_c
  const coreCopy = core + ((<usize>(k * k)) << 3); // k×k, kept for the residual check
  const vc = coreCopy + ((<usize>(k * k)) << 3);   // k×k
  const jwork = vc + ((<usize>(k * k)) << 3);      // k

  qrHouseholder(m, n, a, m, tauA);
  qrHouseholder(m, n, b, m, tauB);

  // C = R_A R_Bᵀ; R is k×n upper trapezoidal in the top rows of each factor (column stride m)
  const col = <usize>m << 3;
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < k; i++) {
      let acc: f64 = 0;
      const start = i > j ? i : j;
      for (let p = start; p < n; p++) {
        acc += load<f64>(a + <usize>p * col + (<usize>i << 3)) * load<f64>(b + <usize>p * col + (<usize>j << 3));
      }
      store<f64>(core + ((<usize>(j * k + i)) << 3), acc);
      store<f64>(coreCopy + ((<usize>(j * k + i)) << 3), acc);
    }
  }

  const status = svdJacobi(k, k, core, k, s, vc, k, jwork, diag);
  if (status != STATUS_OK) return status;

  store<f64>(diag + (<usize>DIAG_CORE_RESIDUAL << 3), coreResidual(k, coreCopy, core, s, vc));

  // U = Q_A [U_c; 0], V = Q_B [V_c; 0]
  for (let j = 0; j < k; j++) {
    const uj = u + <usize>j * col;
    const vj = v + <usize>j * col;
    for (let i = 0; i < m; i++) {
      const o = <usize>i << 3;
      store<f64>(uj + o, i < k ? load<f64>(core + ((<usize>(j * k + i)) << 3)) : 0.0);
      store<f64>(vj + o, i < k ? load<f64>(vc + ((<usize>(j * k + i)) << 3)) : 0.0);
    }
  }
  qrApplyQ(m, k, a, m, tauA, u, m, k);
  qrApplyQ(m, k, b, m, tauB, v, m, k);
  canonicalizeSigns(m, k, u, m, m, v, m);

  if (ea + eb != 0) {
    for (let p = 0; p < k; p++) store<f64>(s + (<usize>p << 3), timesPow2(load<f64>(s + (<usize>p << 3)), ea + eb));
  }
  for (let p = 0; p < k; p++) {
    if (!isFinite(load<f64>(s + (<usize>p << 3)))) return STATUS_NON_FINITE; // σ overflowed f64
  }

  const ou = orthogonalityError(m, k, u, m);
  const ov = orthogonalityError(m, k, v, m);
  store<f64>(diag + (<usize>DIAG_ORTHOGONALITY_U << 3), ou);
  store<f64>(diag + (<usize>DIAG_ORTHOGONALITY_V << 3), ov);
  const limit = CHECK_FACTOR * EPS * <f64>(m > n ? m : n);
  const res = load<f64>(diag + (<usize>DIAG_CORE_RESIDUAL << 3));
  if (!(ou <= limit) || !(ov <= limit) || !(res <= limit)) return STATUS_CHECK_FAILED;
  return STATUS_OK;
}

/**
 * `svdFactored` for `count` heads of one layer, packed one after another (a: count·m·n, u and v:
 * count·m·k, s: count·k, diag: count·DIAG_LENGTH, status: count i32). Every head runs even when an
 * earlier one fails; the return value is the first non-zero status, or STATUS_OK.
 */
export function svdFactoredBatch(
  count: i32, m: i32, n: i32, a: usize, b: usize, u: usize, s: usize, v: usize,
  work: usize, diag: usize, status: usize,
): i32 {
  const k = m < n ? m : n;
  const ab = (<usize>m * <usize>n) << 3;
  const uv = (<usize>m * <usize>k) << 3;
  let first = STATUS_OK;
  for (let h = 0; h < count; h++) {
    const st = svdFactored(
      m, n, a + <usize>h * ab, b + <usize>h * ab, u + <usize>h * uv, s + ((<usize>(h * k)) << 3),
      v + <usize>h * uv, work, diag + ((<usize>(h * DIAG_LENGTH)) << 3),
    );
    store<i32>(status + (<usize>h << 2), st);
    if (first == STATUS_OK && st != STATUS_OK) first = st;
  }
  return first;
}
