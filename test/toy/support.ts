/**
 * @module test/toy/support
 * Small configurations and a naive, definition-by-definition forward pass of the toy model (r = W f,
 * f' = ReLU(Wᵀ r + b), ℓ_j = (r W_Q)·(s_j W_K)) that the factored implementation is held against.
 */
import { SINGLE_PAIR, type ToyConfig } from "../../src/toy/config";
import type { ToyParams } from "../../src/toy/model";
import type { SparseTokens } from "../../src/toy/sampling";

/** A tiny, dense-ish configuration that exercises every code path (two template rows, anisotropy). */
export const TINY: ToyConfig = {
  ...SINGLE_PAIR,
  name: "tiny",
  nFeatures: 7,
  dModel: 4,
  dHead: 3,
  template: [
    { query: 0, key: 1, value: 1 },
    { query: 0, key: 3, value: 0.5 },
    { query: 2, key: 4, value: 0.7 },
  ],
  featureProbability: 0.4,
  keysPerQuery: 3,
  lambda: 2,
  targetTemperature: 3,
  attentionBatch: 5,
  reconBatch: 4,
  anisotropy: 0.3,
  initScaleHead: 1,
};

function dense(tokens: SparseTokens, t: number, n: number): number[] {
  const f = new Array<number>(n).fill(0);
  for (let e = tokens.ptr[t]; e < tokens.ptr[t + 1]; e++) f[tokens.idx[e]] = tokens.val[e];
  return f;
}

/** The loss straight from method §6, with D-space vectors. */
export function naiveLoss(cfg: ToyConfig, p: ToyParams, e: Float64Array, recon: SparseTokens, attn: SparseTokens): { recon: number; ce: number } {
  const { nFeatures: n, dModel: d, dHead: h } = cfg;
  // the head reads tokens through W + c e 1ᵀ; the decoder reconstructs from W f (method §6)
  const w = (k: number, i: number) => p.w[k * n + i] + cfg.anisotropy * e[k];
  const embed = (f: number[]) => Array.from({ length: d }, (_, k) => f.reduce((s, fi, i) => s + w(k, i) * fi, 0));
  const embedPlain = (f: number[]) => Array.from({ length: d }, (_, k) => f.reduce((s, fi, i) => s + p.w[k * n + i] * fi, 0));
  let rl = 0;
  for (let t = 0; t < recon.tokens; t++) {
    const f = dense(recon, t, n);
    const r = embedPlain(f);
    for (let i = 0; i < n; i++) {
      let z = p.b[i];
      for (let k = 0; k < d; k++) z += p.w[k * n + i] * r[k];
      rl += (Math.max(0, z) - f[i]) ** 2;
    }
  }
  const m = cfg.keysPerQuery;
  const samples = attn.tokens / (m + 1);
  let ce = 0;
  for (let s = 0; s < samples; s++) {
    const fq = dense(attn, s * (m + 1), n);
    const r = embed(fq);
    const q = Array.from({ length: h }, (_, c) => r.reduce((acc, rk, k) => acc + rk * p.wQ[k * h + c], 0));
    const l: number[] = [];
    const lt: number[] = [];
    for (let j = 0; j < m; j++) {
      const fk = dense(attn, s * (m + 1) + 1 + j, n);
      const sv = embed(fk);
      const k = Array.from({ length: h }, (_, c) => sv.reduce((acc, x, kk) => acc + x * p.wK[kk * h + c], 0));
      l.push(q.reduce((acc, qc, c) => acc + qc * k[c], 0));
      lt.push(cfg.targetTemperature * cfg.template.reduce((acc, tp) => acc + tp.value * fq[tp.query] * fk[tp.key], 0));
    }
    const lse = (v: number[]) => {
      const mx = Math.max(...v);
      return mx + Math.log(v.reduce((acc, x) => acc + Math.exp(x - mx), 0));
    };
    const zl = lse(l);
    const zt = lse(lt);
    for (let j = 0; j < m; j++) ce -= Math.exp(lt[j] - zt) * (l[j] - zl);
  }
  return { recon: rl / recon.tokens, ce: ce / samples };
}
