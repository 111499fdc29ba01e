/**
 * @module toy/sad
 * Sparse attention decomposition (method §4) of a trained toy head on its own attention samples, with
 * the head's own key set: a sample is one query r and m keys s_1..s_m, and the query is not one of its
 * keys. So for pair (r, s_j): ℓ_j = r Ω s_jᵀ = Σ_k t_k, t_k = σ_k (r·u_k)(v_k·s_j); the firing rule is
 * softmax over the m keys (scale 1, the toy's own) with A_j ≥ 1/m; the relative baseline is the mean
 * over the other m − 1 keys, t̃_k = σ_k (r·u_k)(v_k·(s_j − mean_{j' ≠ j} s_j')). N_recon, the selected
 * set and the Rolls–Tovee sparseness come from the shared rule (analysis/sad-stats `decomposeTerms`,
 * the kernel's rule in TypeScript), so no second selection rule lives here; only the terms are formed
 * here, because the shared SAD kernel's key set is causal (it would count the query among its keys).
 *
 * The rotation null per pair: for a Haar Q, the basis (U Q, 1, V diag(σ) Q) gives exactly
 * `t_k^rot = (r·ũ_k)(ũ_kᵀ Ω s_jᵀ)` of method §4 (Ωᵀ U Q = V diag(σ) Q). The terms still sum to ℓ, so the
 * same pairs fire (decided once, in the singular basis) and can be compared one by one.
 */
import { createRng, haarOrthogonal, HAAR_NAME, RNG_NAME } from "../analysis/random";
import { decomposeTerms } from "../analysis/sad-stats";
import type { ToyConfig } from "./config";
import type { HeadSvd } from "./measure";
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
  /** firing pairs with Σ t̃ ≤ 0 (counted, not decomposed) */
  nonpositive: number;
  /** firing pairs (A_j ≥ 1/m) */
  firing: number;
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

interface Basis {
  /** [D, k] row-major columns: query side ũ_k and key side (σ-weighted) */
  U: Float64Array;
  S: Float64Array;
  V: Float64Array;
}

/** Rows of x [D] projected on the k columns of b [D, k], times w_k: out_k = w_k Σ_i x_i b[i, k]. */
function project(x: Float64Array, xo: number, b: Float64Array, d: number, k: number, w: Float64Array | null, out: Float64Array): void {
  out.fill(0);
  for (let i = 0; i < d; i++) {
    const xi = x[xo + i];
    if (xi === 0) continue;
    for (let c = 0; c < k; c++) out[c] += xi * b[i * k + c];
  }
  if (w) for (let c = 0; c < k; c++) out[c] *= w[c];
}

/**
 * SAD of the trained head at each τ.
 * @param omega - the final decomposition of Ω (shared with the other final measurements)
 * @param wEff - [D, N] the token-side features (what the head reads)
 * @param seed - draws the samples (a stream separate from training's)
 */
export function toySad(cfg: ToyConfig, omega: HeadSvd, wEff: Float64Array, seed: number, opts: { samples: number; nullSeeds: number; taus: number[] }): ToySad[] {
  const { nFeatures: n, dModel: d, keysPerQuery: m } = cfg;
  const k = omega.k;
  const T = m + 1;
  const rng = createRng(seed ^ 0x5ad);
  const buf = new TokenBuffer(opts.samples * T, opts.samples * T * (cfg.featureProbability * n + 2));
  sampleAttentionBatch(buf, cfg, opts.samples, rng);
  // token vectors W_eff f, in sampling order: query first, then the m keys
  const x = new Float64Array(opts.samples * T * d);
  for (let t = 0; t < opts.samples * T; t++) {
    for (let e = buf.ptr[t]; e < buf.ptr[t + 1]; e++) {
      const f = buf.idx[e];
      const v = buf.val[e];
      for (let c = 0; c < d; c++) x[t * d + c] += v * wEff[c * n + f];
    }
  }
  const has = (token: number, feature: number) => {
    for (let e = buf.ptr[token]; e < buf.ptr[token + 1]; e++) if (buf.idx[e] === feature) return true;
    return false;
  };
  const targeted = (s: number, j: number) => cfg.template.some((t) => has(s * T, t.query) && has(s * T + 1 + j, t.key));

  const nullSeeds = Array.from({ length: opts.nullSeeds }, (_, i) => i);
  const bases: Basis[] = [
    { U: omega.U, S: omega.S, V: omega.V },
    ...nullSeeds.map((sd) => {
      const q = haarOrthogonal(k, createRng(sd));
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

  // per basis and sample: a_k = σ_k (r·u_k) [k] and b_jk = v_k·s_j [m, k]
  const a = new Float64Array(k);
  const bk = new Float64Array(m * k);
  const bRow = new Float64Array(k);
  const rel = new Float64Array(k);
  const logits = new Float64Array(m);
  // firing pairs (sample, key) decided in the singular basis
  const firing: [number, number][] = [];
  {
    const b0 = bases[0];
    for (let s = 0; s < opts.samples; s++) {
      project(x, s * T * d, b0.U, d, k, b0.S, a);
      let max = -Infinity;
      for (let j = 0; j < m; j++) {
        project(x, (s * T + 1 + j) * d, b0.V, d, k, null, bRow);
        let l = 0;
        for (let c = 0; c < k; c++) l += a[c] * bRow[c];
        logits[j] = l;
        if (l > max) max = l;
      }
      let z = 0;
      for (let j = 0; j < m; j++) z += Math.exp(logits[j] - max);
      for (let j = 0; j < m; j++) if (Math.exp(logits[j] - max) / z >= 1 / m) firing.push([s, j]);
    }
  }
  const bySample = new Map<number, number[]>();
  for (const [s, j] of firing) bySample.set(s, [...(bySample.get(s) ?? []), j]);

  return opts.taus.map((tau) => {
    const groups = bases.map((basis) => {
      const out = { tN: [] as number[], tS: [] as number[], aN: [] as number[], aS: [] as number[], nonpositive: 0 };
      for (const [s, js] of bySample) {
        project(x, s * T * d, basis.U, d, k, basis.S, a);
        for (let j = 0; j < m; j++) project(x, (s * T + 1 + j) * d, basis.V, d, k, null, bk.subarray(j * k, (j + 1) * k));
        for (const j of js) {
          for (let c = 0; c < k; c++) {
            let others = 0;
            for (let jj = 0; jj < m; jj++) if (jj !== j) others += bk[jj * k + c];
            rel[c] = a[c] * (bk[j * k + c] - others / (m - 1));
          }
          const r = decomposeTerms(rel, tau);
          if (r.n_recon === null) {
            out.nonpositive++;
            continue;
          }
          out.aN.push(r.n_recon);
          out.aS.push(r.sparseness);
          if (targeted(s, j)) {
            out.tN.push(r.n_recon);
            out.tS.push(r.sparseness);
          }
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
      firing: firing.length,
      layout: "per sample: query r, keys s_1..s_m (W_eff f); key set = the m keys (the query is not its own key); firing softmax over the m keys, scale 1, A ≥ 1/m; baseline = mean of the other m − 1 keys",
      null: `per pair, basis (U Q, 1, V diag(σ) Q), Q Haar (${HAAR_NAME}; ${RNG_NAME}); null figure = mean over seeds of the per-seed median`,
    };
  });
}
