/**
 * @module kernels/status
 * The kernel status codes and diagnostics layout, mirrored from assembly/shared/status.ts.
 * test/kernels/status.sync.test.ts parses both files and fails when they drift apart.
 */

export const STATUS_OK = 0;
export const STATUS_NOT_CONVERGED = 1;
export const STATUS_CHECK_FAILED = 2;
export const STATUS_NON_FINITE = 3;
export const STATUS_OUT_OF_MEMORY = 4;

export const DIAG_SWEEPS = 0;
export const DIAG_OFF_ORTHOGONALITY = 1;
export const DIAG_CORE_RESIDUAL = 2;
export const DIAG_ORTHOGONALITY_U = 3;
export const DIAG_ORTHOGONALITY_V = 4;
export const DIAG_RANK = 5;
export const DIAG_CHECK_LIMIT = 6;
export const DIAG_OFF_ORTHOGONALITY_LIMIT = 7;
export const DIAG_LENGTH = 8;

/** Layout of the i32 `counts` array written by sadRun (length SAD_COUNTS_LENGTH + 2·rotations). */
export const SAD_POSITIVE = 0;
export const SAD_NONPOSITIVE = 1;
export const SAD_UNREACHED = 2;
export const SAD_SELECTED = 3;
export const SAD_CANDIDATES = 4;
export const SAD_COUNTS_LENGTH = 5;

/** sadRun flags: skip source 0; write the selected indices of every pair; continue a run in chunks
 * of prompts (keep counts, usage and histograms, append pairs). */
export const SAD_EXCLUDE_FIRST = 1;
export const SAD_RECORD_SELECTED = 2;
export const SAD_CONTINUE = 4;
