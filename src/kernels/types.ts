/**
 * @module kernels/types
 * The kernels' types: matrices, results, and the one Kernels interface (plus the SVD view the test
 * oracle also implements). Matrices are row-major; results are float64.
 */
import type { HalfBits } from "../wire/safetensors";
import type { ReadoutState } from "./readout";
export type { ReadoutState } from "./readout";
import type { ToyStepGradients, ToyStepInput } from "./toy";

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
  /** the limit the kernel held the residual and orthogonality to (factor·ε·max(m, n)); 0 for `svd`, which runs no such check */
  checkLimit: number;
  /** Jacobi's convergence tolerance on offOrthogonality (√k·ε) */
  offOrthogonalityLimit: number;
}

/**
 * One factor of a head's circuit as sent, and how to fold it (method §3; services/head-factors.ts
 * decides, assembly/svd/fold.ts folds): the factor is x [d, h], given as `w` row-major [d, h], or
 * row-major [h, d] when `transposed`. Folded: diag(γ)·x, its column means taken away when `centre`,
 * and with `augment` a last row b + βᵀx. γ, β and b are optional.
 */
export interface FactorPlan {
  /** the factor's values, row-major; half-precision bits are widened in the kernels' memory */
  w: Float32Array | Float64Array | HalfBits;
  d: number;
  h: number;
  transposed: boolean;
  gamma?: Float32Array | Float64Array;
  beta?: Float32Array | Float64Array;
  bias?: Float32Array | Float64Array;
  centre: boolean;
  augment: boolean;
}

/** What folding found: each folded factor's Frobenius norm, and which are all zeros. */
export interface FoldedFactors {
  norms: { a: number; b: number };
  zero: [boolean, boolean];
}

/** A folded pair's factored SVD; `svd` is absent when a factor is all zeros (nothing to decompose). */
export interface FoldedSvd extends FoldedFactors {
  svd?: Svd;
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


// ---------------------------------------------------------------------------------------------
// Sparse attention decomposition (method §4)
// ---------------------------------------------------------------------------------------------

/** One head's SVD and a batch of token vectors, as the SAD kernel reads them. */
export interface SadInput {
  /** [rows, k] row-major: u_k are columns */
  U: Float64Array;
  S: Float64Array;
  /** [rows, k] row-major */
  V: Float64Array;
  rows: number;
  k: number;
  /** [batch, tokens, rows] row-major token vectors, exactly as the head reads them */
  X: Float32Array | Float64Array;
  batch: number;
  tokens: number;
  /** [count, k, k] row-major orthogonal matrices for the null (ũ = U Q) */
  rotations: Float64Array;
  rotationCount: number;
  scale: number;
  tau: number;
  excludeFirstSource: boolean;
  /** also return the selected singular indices of every decomposed pair */
  recordSelected: boolean;
  /** per-prompt lengths 2..tokens (prompts right-padded to `tokens`; rows past a prompt's length are never read) */
  lengths?: Int32Array;
  /** only these (prompt, dest, src) pairs, 3 per pair, in any order (repeats count once): the candidates of a focus set */
  focus?: Int32Array;
}

/** Per-rotation null outcome. */
export interface SadNullRaw {
  /** firing pairs with a positive relative total in this basis */
  positive: number;
  unreached: number;
  /** N_recon histogram, index n = count of pairs with N_recon = n (length k + 1) */
  histogram: Int32Array;
  /** sparseness of each of the `positive` pairs */
  sparseness: Float32Array;
}

/** What the kernel measured; aggregates (medians, percentiles) are the caller's. */
export interface SadRaw {
  /** firing pairs with Σ t̃ > 0 (decomposed) */
  positive: number;
  /** firing pairs with Σ t̃ ≤ 0 (counted, not decomposed) */
  nonpositive: number;
  /** pairs whose threshold was never reached through rounding (reported with N_recon = their number of positive terms) */
  unreached: number;
  /** (d, s) pairs the firing rule looked at */
  candidates: number;
  /** (prompt, dest, src) of each decomposed pair, 3 per pair */
  pairs: Int32Array;
  nRecon: Int32Array;
  sparseness: Float64Array;
  score: Float64Array;
  relativeTotal: Float64Array;
  /** times each singular index was selected */
  usage: Int32Array;
  /** selected indices, pair after pair (nRecon[i] each), when asked for */
  selected?: Uint16Array;
  null: SadNullRaw[];
}

/** Terms of one pair. */
export interface PairTerms {
  terms: Float64Array;
  relative: Float64Array;
}

/** The WebAssembly kernels (kernels.ts): one instance, three parts (svd.ts, sad.ts, toy.ts). */
export interface Kernels {
  readonly name: string;
  /** true for the SIMD build */
  readonly simd: boolean;
  /** Thin SVD of A [m, n]; k = min(m, n). */
  svd(a: Matrix): Svd;
  /** Thin SVD of A·Bᵀ from its factors A, B [m, n]; k = min(m, n). Never forms A·Bᵀ. */
  factoredSvd(a: Matrix, b: Matrix): Svd;
  /** factoredSvd of two factors folded in WebAssembly memory from their plans (never materialized here). */
  foldedSvd(a: FactorPlan, b: FactorPlan): FoldedSvd;
  /** The two folded factors themselves, row-major [d (+1), h], for callers that need them. */
  foldFactors(a: FactorPlan, b: FactorPlan): FoldedFactors & { a: Matrix; b: Matrix };
  /** Sparse attention decomposition of a batch (method §4). */
  sad(input: SadInput): SadRaw;
  /**
   * t_k(d, s) and t̃_k(d, s) of one prompt X [tokens, rows], in the singular basis or (with `rotation`
   * [k, k]) in the rotated basis ũ = U Q.
   */
  pairTerms(
    svd: Pick<SadInput, "U" | "S" | "V" | "rows" | "k">,
    x: Float32Array | Float64Array,
    tokens: number,
    dest: number,
    src: number,
    rotation?: Float64Array,
  ): PairTerms;
  /** One toy-model training step's losses (mean reconstruction, mean CE) and, with `grads`, its gradient. */
  toyStep(input: ToyStepInput, grads?: ToyStepGradients): { recon: number; ce: number };
  /** Starts token readouts of m vectors ([m, d], vector-major) keeping k tokens at each end (kernels/readout.ts). */
  readoutStart(vectors: ArrayLike<number>, d: number, m: number, k: number): ReadoutState;
  /** Offers the basis's next rows ([rows, d]; Uint16Array holds F16 bits) to the running lists. */
  readoutAdd(state: ReadoutState, rows: Uint16Array | Float32Array): void;
}

/** The part of Kernels that the slow, obvious test oracle also implements. */
export type SvdKernels = Pick<Kernels, "name" | "svd" | "factoredSvd">;

/** What the toy trainer needs for its training steps. */
export type ToyPasses = Pick<Kernels, "name" | "simd" | "toyStep">;
