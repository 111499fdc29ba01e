/** Tolerances for kernel tests, in units of machine epsilon where they are rounding bounds. */
export const EPS = 2 ** -52;
/** ‖UᵀU − I‖max ≤ ORTHO·max(m, n)·ε */
export const ORTHO = 64;
/** ‖A − U Σ Vᵀ‖_F ≤ RECON·max(m, n)·ε·‖A‖_F */
export const RECON = 64;
/** singular values against LAPACK's (reference file has 7 significant digits) */
export const GOLDEN_RELATIVE = 1e-5;
/** σ_k below this fraction of σ_1 are not compared relatively (method: σ_k ≥ 1e-6·σ_1) */
export const GOLDEN_FLOOR = 1e-6;
