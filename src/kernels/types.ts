/**
 * @module kernels/types
 * The plain interface every SVD implementation offers: the WebAssembly kernels (kernels.ts) and the
 * slow, obvious oracle the tests hold them against. Matrices are row-major; results are float64.
 */

/** A row-major matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array | Float64Array;
}

/** What the kernel measured about its own result (method §2 checks). */
export interface SvdDiagnostics {
  /** Jacobi sweeps used (the last one found nothing to rotate). */
  sweeps: number;
  /** max |u_pᵀu_q| / (‖u_p‖‖u_q‖) over the core's columns at convergence. */
  offOrthogonality: number;
  /** ‖C − U_c Σ V_cᵀ‖_F / ‖C‖_F of the core. */
  coreResidual: number;
  /** max |UᵀU − I| of the returned U. */
  orthogonalityU: number;
  /** max |VᵀV − I| of the returned V. */
  orthogonalityV: number;
  /** σ_k > max(m, n)·ε·σ_1 count. */
  rank: number;
}

/** A = U·diag(S)·Vᵀ with U [m, k] and V [n, k] row-major, S non-increasing, canonical signs. */
export interface Svd {
  U: Float64Array;
  S: Float64Array;
  V: Float64Array;
  /** rows of U */
  m: number;
  /** rows of V */
  n: number;
  /** number of singular triplets */
  k: number;
  diagnostics: SvdDiagnostics;
}

export interface Kernels {
  readonly name: string;
  /** Thin SVD of A [m, n]; k = min(m, n). */
  svd(a: Matrix): Svd;
  /** Thin SVD of A·Bᵀ from its factors A, B [m, n]; k = min(m, n). Never forms A·Bᵀ. */
  factoredSvd(a: Matrix, b: Matrix): Svd;
}
