/**
 * @module status
 * Status codes every kernel returns, following LAPACK's INFO rules: 0 is success, a negative value -i
 * means argument i was invalid, a positive value means the algorithm ran but its result must not be
 * trusted (diagnostics are written to the caller's `diag` array). Kernels never throw for bad data;
 * `abort` is reserved for bugs.
 *
 * Keep in sync with src/kernels/status.ts (enforced by test/kernels/status.sync.test.ts).
 */

/** Success. */
export const STATUS_OK: i32 = 0;
/** One-sided Jacobi did not reach orthogonality within the sweep limit. */
export const STATUS_NOT_CONVERGED: i32 = 1;
/** The result failed its own residual or orthogonality check. */
export const STATUS_CHECK_FAILED: i32 = 2;
/** An input contained NaN or ±Inf. */
export const STATUS_NON_FINITE: i32 = 3;
/** The arena could not grow to hold the workspace. */
export const STATUS_OUT_OF_MEMORY: i32 = 4;

/** Layout of the f64 diagnostics array written by the SVD kernels (length DIAG_LENGTH). */
export const DIAG_SWEEPS: i32 = 0;
export const DIAG_OFF_ORTHOGONALITY: i32 = 1;
export const DIAG_CORE_RESIDUAL: i32 = 2;
export const DIAG_ORTHOGONALITY_U: i32 = 3;
export const DIAG_ORTHOGONALITY_V: i32 = 4;
export const DIAG_RANK: i32 = 5;
/** The limit the accepted result's residual and orthogonality checks were held to (factor·ε·max(m, n)). */
export const DIAG_CHECK_LIMIT: i32 = 6;
/** Jacobi's convergence tolerance on the off-orthogonality (√m·ε). */
export const DIAG_OFF_ORTHOGONALITY_LIMIT: i32 = 7;
export const DIAG_LENGTH: i32 = 8;

/** Layout of the i32 `counts` array written by sadRun (length SAD_COUNTS_LENGTH + 2·rotations). */
export const SAD_POSITIVE: i32 = 0;
export const SAD_NONPOSITIVE: i32 = 1;
export const SAD_UNREACHED: i32 = 2;
export const SAD_SELECTED: i32 = 3;
export const SAD_CANDIDATES: i32 = 4;
export const SAD_COUNTS_LENGTH: i32 = 5;

/** sadRun flags: skip source 0; write the selected indices of every pair; continue a run in chunks
 * of prompts (keep counts, usage and histograms, append pairs). */
export const SAD_EXCLUDE_FIRST: i32 = 1;
export const SAD_RECORD_SELECTED: i32 = 2;
export const SAD_CONTINUE: i32 = 4;
