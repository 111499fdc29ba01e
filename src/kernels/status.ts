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
export const DIAG_LENGTH = 6;
