/**
 * @module toy/step
 * One training step's loss and gradient of the toy model (method §6) in one call: the feature-space
 * products, the per-sample passes (passes.ts) and the map of their gradients back to W, b, W_Q, W_K.
 * The host (src/model.ts through src/kernels/) copies the parameters and the batch in and the gradients
 * out; nothing stays in memory between calls. Everything is row-major f64:
 *
 *   W_eff = W + c e 1ᵀ          (the head's features: token-side anisotropy)
 *   G = WᵀW                      (the decoder reconstructs from W f, so G never sees the shift)
 *   A_Q = W_effᵀ W_Q, A_K = W_effᵀ W_K, M = A_Q A_Kᵀ = W_effᵀ Ω W_eff
 *   passes → dG, db, dM
 *   dW   = W (dG + dGᵀ) + W_Q dA_Qᵀ + W_K dA_Kᵀ,  dA_Q = dM A_K,  dA_K = dMᵀ A_Q
 *   dW_Q = W_eff dA_Q,  dW_K = W_eff dA_K
 *
 * Why: the products are O(N²·max(D, H)) per step, and in TypeScript they took about a third of a
 * many-pairs step (measured with --cpu-prof, N = 100, D = H = 50); here their inner loops are the
 * f64x2 axpy and dot kernels, and the host crosses the boundary once per step instead of once per pass.
 * The loops run in the same order as src/toy/dense.ts, so the axpy-based products agree bit for bit
 * with the TypeScript reference and the dot-based ones (two accumulators) to rounding.
 */
import { axpy } from "../blas/axpy";
import { dot } from "../blas/dot";
import { toyAttentionPass, toyReconPass } from "./passes";

/** C [m, n] = A [m, k] · B [k, n] (accumulate ≠ 0: C +=). Row i of C gathers axpys of B's rows. */
function mulNN(m: i32, n: i32, k: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  const rowC = <usize>n << 3;
  if (!accumulate) memory.fill(c, 0, rowC * <usize>m);
  for (let i = 0; i < m; i++) {
    const ci = c + <usize>i * rowC;
    const ai = a + ((<usize>i * <usize>k) << 3);
    for (let p = 0; p < k; p++) {
      const aip = load<f64>(ai + (<usize>p << 3));
      if (aip != 0) axpy(n, aip, b + <usize>p * rowC, ci);
    }
  }
}

/** C [m, n] = Aᵀ · B with A [k, m], B [k, n]. */
function mulTN(m: i32, n: i32, k: i32, a: usize, b: usize, c: usize): void {
  const rowC = <usize>n << 3;
  memory.fill(c, 0, rowC * <usize>m);
  for (let p = 0; p < k; p++) {
    const ap = a + ((<usize>p * <usize>m) << 3);
    const bp = b + <usize>p * rowC;
    for (let i = 0; i < m; i++) {
      const api = load<f64>(ap + (<usize>i << 3));
      if (api != 0) axpy(n, api, bp, c + <usize>i * rowC);
    }
  }
}

/** C [m, n] (+)= A · Bᵀ with A [m, k], B [n, k]. */
function mulNT(m: i32, n: i32, k: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  const rowK = <usize>k << 3;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const o = c + ((<usize>i * <usize>n + <usize>j) << 3);
      const s = dot(k, a + <usize>i * rowK, b + <usize>j * rowK);
      store<f64>(o, accumulate ? load<f64>(o) + s : s);
    }
  }
}

/** Workspace in f64 slots toyStep needs for N features, width D, head H and m keys. */
export function toyStepWorkspace(n: i32, d: i32, h: i32, m: i32): i32 {
  return d * n + 4 * n * n + 4 * n * h + 3 * n + 2 * m + 2;
}

/**
 * Loss and (backward ≠ 0) gradient of one step.
 *
 * Arguments
 *   n, d, h, m     features N, width D, head H, keys per query m (all ≥ 1)
 *   reconTokens    natural tokens T ≥ 1: rPtr i32[T + 1], rIdx i32[·], rVal f64[·] (compressed sparse rows)
 *   samples        attention samples S ≥ 1, S·(m + 1) tokens (query first): aPtr, aIdx, aVal
 *   tplPtr i32[n + 1], tplKey i32[·], tplVal f64[·]   the template rows, query feature → (key, value)
 *   beta, lambda   target temperature, CE weight
 *   c, e           anisotropy strength and the unit direction e f64[d]
 *   w f64[d·n], b f64[n], wQ, wK f64[d·h]             parameters
 *   dW, db, dWQ, dWK                                  gradients (overwritten) when backward ≠ 0
 *   work           f64[toyStepWorkspace(n, d, h, m)]
 *   out            f64[2]: mean reconstruction loss, mean CE
 * Status: 0 ok; −1 bad n; −2 bad m; −3 bad samples; −4 bad tokens; −5 bad d or h.
 */
export function toyStep(
  n: i32, d: i32, h: i32, m: i32,
  reconTokens: i32, rPtr: usize, rIdx: usize, rVal: usize,
  samples: i32, aPtr: usize, aIdx: usize, aVal: usize,
  tplPtr: usize, tplKey: usize, tplVal: usize, beta: f64, lambda: f64,
  c: f64, e: usize, w: usize, b: usize, wQ: usize, wK: usize,
  dW: usize, db: usize, dWQ: usize, dWK: usize, backward: i32, work: usize, out: usize,
): i32 {
  if (n < 1) return -1;
  if (m < 1) return -2;
  if (samples < 1) return -3;
  if (reconTokens < 1) return -4;
  if (d < 1 || h < 1) return -5;
  const nn = (<usize>n * <usize>n) << 3;
  const nh = (<usize>n * <usize>h) << 3;
  const wEff = work;
  const gram = wEff + ((<usize>d * <usize>n) << 3);
  const mOm = gram + nn;
  const dG = mOm + nn;
  const dM = dG + nn;
  const aQ = dM + nn;
  const aK = aQ + nh;
  const dAQ = aK + nh;
  const dAK = dAQ + nh;
  const passWork = dAK + nh;

  // W_eff = W + c e 1ᵀ
  for (let k = 0; k < d; k++) {
    const shift = c * load<f64>(e + (<usize>k << 3));
    const row = (<usize>k * <usize>n) << 3;
    for (let i = 0; i < n; i++) {
      const o = row + (<usize>i << 3);
      store<f64>(wEff + o, load<f64>(w + o) + shift);
    }
  }
  mulTN(n, n, d, w, w, gram);
  mulTN(n, h, d, wEff, wQ, aQ);
  mulTN(n, h, d, wEff, wK, aK);
  mulNT(n, n, h, aQ, aK, mOm, false);

  let status = toyReconPass(n, reconTokens, rPtr, rIdx, rVal, gram, b, dG, db, backward, passWork, out);
  if (status != 0) return status == -1 ? -1 : -4;
  status = toyAttentionPass(n, m, samples, aPtr, aIdx, aVal, mOm, tplPtr, tplKey, tplVal, beta, lambda, dM, backward, passWork, out + 8);
  if (status != 0) return status;
  if (!backward) return 0;

  // dG ← dG + dGᵀ
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const oij = dG + ((<usize>i * <usize>n + <usize>j) << 3);
      const oji = dG + ((<usize>j * <usize>n + <usize>i) << 3);
      const s = load<f64>(oij) + load<f64>(oji);
      store<f64>(oij, s);
      store<f64>(oji, s);
    }
  }
  mulNN(d, n, n, w, dG, dW, false);
  mulNN(n, h, n, dM, aK, dAQ, false);
  mulTN(n, h, n, dM, aQ, dAK);
  mulNT(d, n, h, wQ, dAQ, dW, true);
  mulNT(d, n, h, wK, dAK, dW, true);
  mulNN(d, h, n, wEff, dAQ, dWQ, false);
  mulNN(d, h, n, wEff, dAK, dWK, false);
  return 0;
}
