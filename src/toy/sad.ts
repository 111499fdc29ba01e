/**
 * @module toy/sad
 * Sparse attention decomposition (method §4) of a trained toy head on its own token batches, with the
 * shared SAD kernel (WebAssembly, `kernels.sad`) and the shared Haar rotations (analysis/random).
 * No second SAD implementation lives here: this module only lays the toy's samples out as prompts,
 * builds the rotated bases, and picks pairs out of the kernel's per-pair results.
 *
 * Layout (a choice, recorded in the output): each attention sample becomes one prompt
 * `[s_1, …, s_m, r]` of token vectors `W_eff f` (keys first, the query last), scale 1 (the toy's
 * softmax sees ℓ itself), τ as given, source 0 not excluded. Only pairs whose destination is the
 * query are kept. Because the kernel's keys are causal, the query is also one of its own keys, so the
 * relative baseline of a pair is the mean over the other m − 1 keys and the query itself.
 *
 * The rotation null per pair: for a Haar Q, the kernel is run on the basis (U Q, 1, V diag(σ) Q), whose
 * terms are exactly `t_k^rot = (x_d·ũ_k)(ũ_kᵀ Ω x_sᵀ)` of method §4 (Ωᵀ U Q = V diag(σ) Q). The terms
 * still sum to ℓ, so the same pairs fire and can be compared one by one; the kernel's own null only
 * returns histograms over every destination, including key-to-key pairs that mean nothing here.
 */
import { createRng, haarOrthogonal, HAAR_NAME, RNG_NAME } from "../analysis/random";
import type { Kernels } from "../kernels/types";
import type { ToyConfig } from "./config";
import { effectiveFeatures, type ToyParams } from "./model";
import { sampleAttentionBatch, TokenBuffer } from "./sampling";

export interface SadGroup {
  /** decomposed pairs (positive relative total) in the group */
  pairs: number;
  /** median N_recon in the singular basis */
  medianNRecon: number | null;
  /** mean over null seeds of the per-seed median N_recon */
  nullMedianNRecon: number | null;
  medianSparseness: number | null;
  nullMedianSparseness: number | null;
}

export interface ToySad {
  tau: number;
  samples: number;
  nullSeeds: number[];
  /** query-destination pairs whose query holds a template query feature and whose key holds its partner */
  targeted: SadGroup;
  /** every query-destination pair with a positive relative total */
  all: SadGroup;
  /** firing pairs with Σ t̃ ≤ 0 over every destination, keys included (the kernel returns only the count) */
  nonpositive: number;
  layout: string;
  null: string;
}

const median = (v: number[]): number | null => {
  if (!v.length) return null;
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

const meanOrNull = (v: (number | null)[]) => {
  const x = v.filter((a): a is number => a !== null);
  return x.length ? x.reduce((a, b) => a + b, 0) / x.length : null;
};

/**
 * SAD of the trained head at each τ.
 * @param seed - draws the samples (a stream separate from training's)
 */
export function toySad(
  cfg: ToyConfig,
  kernels: Kernels,
  params: ToyParams,
  e: Float64Array,
  seed: number,
  opts: { samples: number; nullSeeds: number; taus: number[] },
): ToySad[] {
  const { nFeatures: n, dModel: d, dHead: h, keysPerQuery: m } = cfg;
  const rng = createRng(seed ^ 0x5ad);
  const buf = new TokenBuffer(opts.samples * (m + 1), opts.samples * (m + 1) * (cfg.featureProbability * n + 2));
  sampleAttentionBatch(buf, cfg, opts.samples, rng);
  const wEff = effectiveFeatures(params.w, e, cfg.anisotropy, n, new Float64Array(d * n));
  const T = m + 1;
  const x = new Float64Array(opts.samples * T * d);
  // prompt b: tokens 0..m−1 are the keys, token m the query
  for (let b = 0; b < opts.samples; b++) {
    for (let t = 0; t < T; t++) {
      const src = b * T + (t === m ? 0 : t + 1); // sampling order: query first, then keys
      const at = (b * T + t) * d;
      for (let e2 = buf.ptr[src]; e2 < buf.ptr[src + 1]; e2++) {
        const f = buf.idx[e2];
        const v = buf.val[e2];
        for (let k = 0; k < d; k++) x[at + k] += v * wEff[k * n + f];
      }
    }
  }
  const has = (token: number, feature: number) => {
    for (let e2 = buf.ptr[token]; e2 < buf.ptr[token + 1]; e2++) if (buf.idx[e2] === feature) return true;
    return false;
  };
  const targeted = (b: number, keyPos: number) =>
    cfg.template.some((t) => has(b * T, t.query) && has(b * T + 1 + keyPos, t.key));

  const omega = kernels.factoredSvd({ rows: d, cols: h, data: params.wQ }, { rows: d, cols: h, data: params.wK });
  const k = omega.k;
  const nullSeeds = Array.from({ length: opts.nullSeeds }, (_, i) => i);
  const bases = [
    { U: omega.U, S: omega.S, V: omega.V },
    ...nullSeeds.map((s) => {
      const q = haarOrthogonal(k, createRng(s));
      const uq = new Float64Array(d * k);
      const vsq = new Float64Array(d * k);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < k; j++) {
          let a = 0;
          let c = 0;
          for (let p = 0; p < k; p++) {
            a += omega.U[i * k + p] * q[p * k + j];
            c += omega.V[i * k + p] * omega.S[p] * q[p * k + j];
          }
          uq[i * k + j] = a;
          vsq[i * k + j] = c;
        }
      }
      return { U: uq, S: new Float64Array(k).fill(1), V: vsq };
    }),
  ];

  return opts.taus.map((tau) => {
    // per basis: N_recon and sparseness of each query-destination pair, grouped
    const groups = bases.map((basis) => {
      const raw = kernels.sad({
        ...basis, rows: d, k, X: x, batch: opts.samples, tokens: T,
        rotations: new Float64Array(0), rotationCount: 0, scale: 1, tau, excludeFirstSource: false, recordSelected: false,
      });
      const out = { tN: [] as number[], tS: [] as number[], aN: [] as number[], aS: [] as number[], nonpositive: raw.nonpositive };
      for (let i = 0; i < raw.positive; i++) {
        const [b, dest, src] = [raw.pairs[3 * i], raw.pairs[3 * i + 1], raw.pairs[3 * i + 2]];
        if (dest !== m || src === m) continue;
        out.aN.push(raw.nRecon[i]);
        out.aS.push(raw.sparseness[i]);
        if (targeted(b, src)) {
          out.tN.push(raw.nRecon[i]);
          out.tS.push(raw.sparseness[i]);
        }
      }
      return out;
    });
    const [sing, ...nulls] = groups;
    const group = (nk: "tN" | "aN", sk: "tS" | "aS"): SadGroup => ({
      pairs: sing[nk].length,
      medianNRecon: median(sing[nk]),
      nullMedianNRecon: meanOrNull(nulls.map((g) => median(g[nk]))),
      medianSparseness: median(sing[sk]),
      nullMedianSparseness: meanOrNull(nulls.map((g) => median(g[sk]))),
    });
    return {
      tau,
      samples: opts.samples,
      nullSeeds,
      targeted: group("tN", "tS"),
      all: group("aN", "aS"),
      nonpositive: sing.nonpositive,
      layout: "prompt [s_1..s_m, r] of W_eff f; queries d = m only; scale 1; source 0 kept; the query is also a causal key of itself",
      null: `per pair, kernel run on (U Q, 1, V diag(σ) Q), Q Haar (${HAAR_NAME}; ${RNG_NAME}); null figure = mean over seeds of the per-seed median`,
    };
  });
}
