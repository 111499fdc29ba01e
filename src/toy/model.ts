/**
 * @module toy/model
 * The toy model of method §6 and its hand-derived gradients: an autoencoder `r = W f`,
 * `f' = ReLU(Wᵀ r + b)` with `L_recon = mean_batch ‖f − f'‖²` (summed over features), and one
 * attention head `ℓ_j = r Ω s_jᵀ`, `Ω = W_Q W_Kᵀ`, trained against `softmax(β ℓ*)` with
 * `ℓ*_j = Σ T_ab f_a(r) f_b(s_j)`: `L = L_recon + λ · mean_batch CE(softmax(β ℓ*), softmax(ℓ))`.
 * Anisotropy adds `c·e` (a fixed unit direction) to every feature column: the model uses
 * `W_eff = W + c e 1ᵀ`, and since the shift is constant, `∂L/∂W = ∂L/∂W_eff`.
 *
 * The per-sample passes run either here in TypeScript (the reference: no `passes` given) or in the
 * AssemblyScript kernel assembly/toy/passes.ts through src/kernels/toy.ts (`passes` given: what
 * training uses). Chosen by measurement on this machine (2 cores, Node 20; N = 100, batch 1024,
 * p = 0.2): the reconstruction pass took 9.3 ms per step in TypeScript against 1.2 ms in WebAssembly
 * with f64x2 SIMD, copies across the boundary included; both passes are axpys over contiguous rows of
 * G, M, dG, dM, which SIMD halves and the JIT does not vectorise. End to end (bench/toy.bench.ts, load ≈ 3
 * on 2 cores): many-pairs 69 against 35 steps/s, single-pair 808 against 629. The per-step dense products stay in
 * TypeScript (dense.ts): they are O(N²·max(D, H)) once per step, a minor share. Both backends are
 * checked against finite differences and against each other.
 *
 * This module must not draw random numbers (sampling.ts does) or update parameters (optimizer.ts).
 */
import type { ToyPasses } from "../kernels/types";
import type { ToyConfig } from "./config";
import { mulNN, mulNT, mulTN } from "./dense";
import type { Random } from "../analysis/random";
import type { SparseTokens } from "./sampling";

/** Trainable parameters, row-major: `w` [D, N] (column i is feature i), `b` [N], `wQ`, `wK` [D, H]. */
export interface ToyParams {
  w: Float64Array;
  b: Float64Array;
  wQ: Float64Array;
  wK: Float64Array;
}

export const PARAM_NAMES = ["w", "b", "wQ", "wK"] as const;
export type ParamName = (typeof PARAM_NAMES)[number];

export interface ToyShape {
  nFeatures: number;
  dModel: number;
  dHead: number;
}

export function zeroParams({ nFeatures: n, dModel: d, dHead: h }: ToyShape): ToyParams {
  return { w: new Float64Array(d * n), b: new Float64Array(n), wQ: new Float64Array(d * h), wK: new Float64Array(d * h) };
}

/** Gaussian initialisation (config.initScaleW, config.initScaleHead), b = 0. Draws W, then W_Q, then W_K. */
export function initParams(cfg: ToyConfig, rng: Random): ToyParams {
  const p = zeroParams(cfg);
  const sW = cfg.initScaleW / Math.sqrt(cfg.dModel);
  const sH = cfg.initScaleHead / Math.sqrt(cfg.dModel);
  for (let i = 0; i < p.w.length; i++) p.w[i] = sW * rng.normal();
  for (let i = 0; i < p.wQ.length; i++) p.wQ[i] = sH * rng.normal();
  for (let i = 0; i < p.wK.length; i++) p.wK[i] = sH * rng.normal();
  return p;
}

/** A uniformly random unit direction e [D] for the anisotropy shift. */
export function drawSharedDirection(d: number, rng: Random): Float64Array {
  const e = new Float64Array(d);
  let norm = 0;
  for (let i = 0; i < d; i++) {
    e[i] = rng.normal();
    norm += e[i] * e[i];
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < d; i++) e[i] /= norm;
  return e;
}

/** W_eff [D, N] = W + c e 1ᵀ (written into `out`). */
export function effectiveFeatures(w: Float64Array, e: Float64Array, c: number, n: number, out: Float64Array): Float64Array {
  const d = e.length;
  for (let k = 0; k < d; k++) {
    const shift = c * e[k];
    for (let i = 0; i < n; i++) out[k * n + i] = w[k * n + i] + shift;
  }
  return out;
}

export interface Losses {
  /** mean over the reconstruction batch of ‖f − f'‖² (summed over features) */
  recon: number;
  /** mean over the attention batch of CE(softmax(β ℓ*), softmax(ℓ)) */
  ce: number;
  /** recon + λ · ce */
  total: number;
}

/** The template as compressed rows: query feature a → (key feature, value) entries. */
interface TemplateRows {
  ptr: Int32Array;
  key: Int32Array;
  value: Float64Array;
}

function templateRows(cfg: ToyConfig): TemplateRows {
  const n = cfg.nFeatures;
  const sorted = [...cfg.template].sort((x, y) => x.query - y.query || x.key - y.key);
  const ptr = new Int32Array(n + 1);
  for (const t of sorted) ptr[t.query + 1]++;
  for (let a = 0; a < n; a++) ptr[a + 1] += ptr[a];
  return { ptr, key: Int32Array.from(sorted, (t) => t.key), value: Float64Array.from(sorted, (t) => t.value) };
}

/** Forward and backward pass with preallocated workspace; one instance per configuration. */
export class ToyModel {
  readonly n: number;
  readonly d: number;
  readonly h: number;
  private readonly cfg: ToyConfig;
  private readonly tpl: TemplateRows;
  readonly e: Float64Array;
  // per-step products
  readonly wEff: Float64Array;
  private readonly gram: Float64Array;
  private readonly aQ: Float64Array;
  private readonly aK: Float64Array;
  private readonly mOmega: Float64Array;
  // their gradients
  private readonly dGram: Float64Array;
  private readonly dM: Float64Array;
  private readonly dAQ: Float64Array;
  private readonly dAK: Float64Array;
  // per-token scratch [N]
  private readonly z: Float64Array;
  private readonly fDense: Float64Array;
  private readonly g: Float64Array;
  private readonly tvec: Float64Array;
  private readonly hvec: Float64Array;
  private readonly logits: Float64Array;
  private readonly target: Float64Array;

  private readonly passes: ToyPasses | undefined;

  /**
   * @param e - the shared direction [D] (used only when cfg.anisotropy ≠ 0)
   * @param passes - the WebAssembly per-sample passes; without them the TypeScript reference runs
   */
  constructor(cfg: ToyConfig, e: Float64Array, passes?: ToyPasses) {
    this.passes = passes;
    const { nFeatures: n, dModel: d, dHead: h } = cfg;
    this.cfg = cfg;
    this.n = n;
    this.d = d;
    this.h = h;
    this.e = e;
    this.tpl = templateRows(cfg);
    this.wEff = new Float64Array(d * n);
    this.gram = new Float64Array(n * n);
    this.aQ = new Float64Array(n * h);
    this.aK = new Float64Array(n * h);
    this.mOmega = new Float64Array(n * n);
    this.dGram = new Float64Array(n * n);
    this.dM = new Float64Array(n * n);
    this.dAQ = new Float64Array(n * h);
    this.dAK = new Float64Array(n * h);
    this.z = new Float64Array(n);
    this.fDense = new Float64Array(n);
    this.g = new Float64Array(n);
    this.tvec = new Float64Array(n);
    this.hvec = new Float64Array(n);
    this.logits = new Float64Array(cfg.keysPerQuery);
    this.target = new Float64Array(cfg.keysPerQuery);
  }

  /**
   * Losses on the given batches and, when `grads` is given, ∂L/∂θ written into it (overwritten).
   * @param recon - natural tokens for the reconstruction loss
   * @param attn - attention samples, m + 1 tokens each (query first)
   */
  lossAndGradients(params: ToyParams, recon: SparseTokens, attn: SparseTokens, grads?: ToyParams): Losses {
    const { n, d, h, cfg } = this;
    const wEff = effectiveFeatures(params.w, this.e, cfg.anisotropy, n, this.wEff);
    mulTN(n, n, d, wEff, wEff, this.gram); // G = W_effᵀ W_eff
    mulTN(n, h, d, wEff, params.wQ, this.aQ); // A_Q = W_effᵀ W_Q
    mulTN(n, h, d, wEff, params.wK, this.aK); // A_K = W_effᵀ W_K
    mulNT(n, n, h, this.aQ, this.aK, this.mOmega); // M = A_Q A_Kᵀ = W_effᵀ Ω W_eff
    this.dGram.fill(0);
    this.dM.fill(0);
    if (grads) grads.b.fill(0);

    let reconLoss: number;
    let ce: number;
    if (this.passes) {
      const r = this.passes.toyPasses(
        { n, m: cfg.keysPerQuery, beta: cfg.targetTemperature, lambda: cfg.lambda, gram: this.gram, b: params.b, mOmega: this.mOmega, recon, attn, template: this.tpl },
        grads ? { dGram: this.dGram, db: grads.b, dM: this.dM } : undefined,
      );
      reconLoss = r.recon;
      ce = r.ce;
    } else {
      reconLoss = this.reconPass(params.b, recon, grads?.b);
      ce = this.attentionPass(attn, grads !== undefined);
    }

    if (grads) {
      // dW_eff = W_eff (dG + dGᵀ) + W_Q dA_Qᵀ + W_K dA_Kᵀ
      const dG = this.dGram;
      for (let i = 0; i < n; i++) {
        for (let j = i; j < n; j++) {
          const s = dG[i * n + j] + dG[j * n + i];
          dG[i * n + j] = s;
          dG[j * n + i] = s;
        }
      }
      mulNN(d, n, n, wEff, dG, grads.w);
      mulNN(n, h, n, this.dM, this.aK, this.dAQ); // dA_Q = dM A_K
      mulTN(n, h, n, this.dM, this.aQ, this.dAK); // dA_K = dMᵀ A_Q
      mulNT(d, n, h, params.wQ, this.dAQ, grads.w, true);
      mulNT(d, n, h, params.wK, this.dAK, grads.w, true);
      mulNN(d, h, n, wEff, this.dAQ, grads.wQ); // dW_Q = W_eff dA_Q
      mulNN(d, h, n, wEff, this.dAK, grads.wK); // dW_K = W_eff dA_K
    }
    return { recon: reconLoss, ce, total: reconLoss + cfg.lambda * ce };
  }

  /** L_recon and, with `db`, its gradient into dGram and db. z = f G + b, f' = ReLU(z). */
  private reconPass(b: Float64Array, batch: SparseTokens, db: Float64Array | undefined): number {
    const { n, gram, dGram, z, fDense } = this;
    const { ptr, idx, val, tokens } = batch;
    const scale = 2 / tokens;
    let loss = 0;
    for (let t = 0; t < tokens; t++) {
      const e0 = ptr[t];
      const e1 = ptr[t + 1];
      z.set(b);
      for (let e = e0; e < e1; e++) {
        const a = idx[e];
        const fa = val[e];
        fDense[a] = fa;
        const row = a * n;
        for (let i = 0; i < n; i++) z[i] += fa * gram[row + i];
      }
      for (let i = 0; i < n; i++) {
        const zi = z[i];
        const diff = (zi > 0 ? zi : 0) - fDense[i];
        loss += diff * diff;
        z[i] = zi > 0 ? scale * diff : 0; // z now holds ∂L/∂z
      }
      for (let e = e0; e < e1; e++) fDense[idx[e]] = 0;
      if (db) {
        for (let i = 0; i < n; i++) db[i] += z[i];
        for (let e = e0; e < e1; e++) {
          const fa = val[e];
          const row = idx[e] * n;
          for (let i = 0; i < n; i++) dGram[row + i] += fa * z[i];
        }
      }
    }
    return loss / tokens;
  }

  /** Mean CE and, with `backward`, its λ-weighted gradient into dM. ℓ_j = f_r M f_jᵀ. */
  private attentionPass(batch: SparseTokens, backward: boolean): number {
    const { n, mOmega, dM, g, tvec, hvec, logits, target, tpl } = this;
    const m = this.cfg.keysPerQuery;
    const beta = this.cfg.targetTemperature;
    const { ptr, idx, val } = batch;
    const samples = batch.tokens / (m + 1);
    const coef = this.cfg.lambda / samples;
    let ceSum = 0;
    for (let s = 0; s < samples; s++) {
      const tq = s * (m + 1);
      const q0 = ptr[tq];
      const q1 = ptr[tq + 1];
      g.fill(0);
      for (let e = q0; e < q1; e++) {
        const a = idx[e];
        const fa = val[e];
        const row = a * n;
        for (let i = 0; i < n; i++) g[i] += fa * mOmega[row + i];
        for (let r = tpl.ptr[a]; r < tpl.ptr[a + 1]; r++) tvec[tpl.key[r]] += tpl.value[r] * fa;
      }
      let maxL = -Infinity;
      let maxT = -Infinity;
      for (let j = 0; j < m; j++) {
        const tk = tq + 1 + j;
        let l = 0;
        let lt = 0;
        for (let e = ptr[tk]; e < ptr[tk + 1]; e++) {
          l += val[e] * g[idx[e]];
          lt += val[e] * tvec[idx[e]];
        }
        logits[j] = l;
        target[j] = beta * lt;
        if (l > maxL) maxL = l;
        if (target[j] > maxT) maxT = target[j];
      }
      for (let e = q0; e < q1; e++) {
        const a = idx[e];
        for (let r = tpl.ptr[a]; r < tpl.ptr[a + 1]; r++) tvec[tpl.key[r]] = 0;
      }
      let zL = 0;
      let zT = 0;
      for (let j = 0; j < m; j++) {
        zL += Math.exp(logits[j] - maxL);
        zT += Math.exp(target[j] - maxT);
      }
      const lse = maxL + Math.log(zL);
      for (let j = 0; j < m; j++) {
        const pT = Math.exp(target[j] - maxT) / zT;
        const logP = logits[j] - lse;
        ceSum -= pT * logP;
        logits[j] = coef * (Math.exp(logP) - pT); // now ∂L/∂ℓ_j
      }
      if (!backward) continue;
      // h = Σ_j dℓ_j f_j; dM[a, :] += f_r,a h
      for (let j = 0; j < m; j++) {
        const tk = tq + 1 + j;
        const dl = logits[j];
        for (let e = ptr[tk]; e < ptr[tk + 1]; e++) hvec[idx[e]] += dl * val[e];
      }
      for (let e = q0; e < q1; e++) {
        const fa = val[e];
        const row = idx[e] * n;
        for (let i = 0; i < n; i++) dM[row + i] += fa * hvec[i];
      }
      for (let j = 0; j < m; j++) {
        const tk = tq + 1 + j;
        for (let e = ptr[tk]; e < ptr[tk + 1]; e++) hvec[idx[e]] = 0;
      }
    }
    return ceSum / samples;
  }
}

/** W ← (I − e eᵀ) W: removes every column's component along the unit direction e (W [D, N]). */
export function projectOutDirection(w: Float64Array, e: Float64Array, n: number): void {
  const d = e.length;
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let k = 0; k < d; k++) dot += e[k] * w[k * n + i];
    for (let k = 0; k < d; k++) w[k * n + i] -= dot * e[k];
  }
}
