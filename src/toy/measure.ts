/**
 * @module toy/measure
 * What the toy experiments measure on a snapshot of the parameters (method §5 and §6): the singular
 * values of Ω from the WebAssembly kernels' `factoredSvd(W_Q, W_K)` (Ω is never formed), |cos|
 * between each template pair's features and the singular vectors (query feature ↔ u, key feature ↔ v),
 * the Hungarian matching of pairs to the top singular indices, Spearman(σ, template), the feature
 * Gram matrix's distance from orthogonality, the whitened-direction prediction `u ∝ Σ_X⁺ x_i`, and a
 * random-direction null. Features are the columns of `W_eff` (the model's actual directions, shared
 * anisotropic shift included). Pure functions of their inputs; no training state.
 *
 * The Hungarian matching and the whitened directions come from the shared analysis/alignment module
 * (method §5), so the toy and the worker compute them the same way; what is toy-specific here is
 * matching template *pairs* (query side and key side together) to singular indices.
 */
import { createRng } from "../analysis/random";
import { alignFeatures, hungarianMax, whitenedDirections, type AlignmentResult } from "../analysis/alignment";
import type { Kernels } from "../kernels/types";
import type { ToyConfig } from "./config";

/** One template pair's alignment with its matched singular index. */
export interface PairAlignment {
  query: number;
  key: number;
  value: number;
  /** 0-based singular index the Hungarian matching assigned (-1: none) */
  index: number;
  /** |cos(w_query, u_index)| */
  cosU: number;
  /** |cos(w_key, v_index)| */
  cosV: number;
  /** |cos(u_pred, u_index)| with u_pred = Σ_X⁺ w_query (method §5) */
  whitenedCosU: number;
  /** |cos(v_pred, v_index)| with v_pred = Σ_X⁺ w_key */
  whitenedCosV: number;
}

export interface Snapshot {
  /** singular values of Ω, non-increasing */
  sigma: number[];
  pairs: PairAlignment[];
  /** mean over pairs of (cosU + cosV)/2 at the matched index */
  matchedMean: number;
  /** pairs whose matched index has |cos| ≥ matchThreshold on both sides */
  matchedCount: number;
  /** Spearman rank correlation of σ at the matched index with the template value (null for < 2 pairs) */
  spearman: number | null;
  /** |cos(w_q, u_1)| and |cos(w_k, v_1)| for the strongest template pair against the top singular pair */
  top1CosU: number;
  top1CosV: number;
  /** σ_1 / σ_2 */
  sigmaRatio: number;
  /** RMS of the off-diagonal entries of the normalised feature Gram matrix F̂ᵀF̂ (0: orthogonal) */
  gramOffDiagRms: number;
  /** max off-diagonal |cos| between any two features */
  gramMaxAbsCos: number;
  /** mean signed cosine over all feature pairs (the anisotropy reading) */
  meanPairwiseCos: number;
  /** max |cos| of any attended feature to any feature outside the template */
  attendedMaxCosToOthers: number;
  /** the pair behind attendedMaxCosToOthers, with its signed cosine (−1: antipodal) */
  attendedWorst: { attended: number; other: number; cos: number };
  /** every feature pair with |cos| ≥ 0.9, signed: duplicates (+1) and antipodal superposition (−1) */
  collisions: { a: number; b: number; cos: number }[];
  /** mean over pairs of |cos(Σ_X⁺ w, w)|: how far whitening moves the predicted directions */
  whitenedVsFeatureCos: number;
  /** mean over pairs of (whitenedCosU + whitenedCosV)/2 */
  whitenedMean: number;
}

/** Columns of W_eff [D, N] as unit rows: F̂ [N, D]. */
export function unitFeatures(wEff: Float64Array, d: number, n: number): Float64Array {
  const f = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let k = 0; k < d; k++) norm += wEff[k * n + i] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < d; k++) f[i * d + k] = wEff[k * n + i] / norm;
  }
  return f;
}

/** |F̂ X| [N, k] for X [D, k] row-major with unit columns (the |cos| matrix of method §5). */
export function absCosines(fHat: Float64Array, n: number, d: number, x: Float64Array, k: number): Float64Array {
  const c = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < d; p++) {
      const fip = fHat[i * d + p];
      for (let j = 0; j < k; j++) c[i * k + j] += fip * x[p * k + j];
    }
  }
  for (let i = 0; i < c.length; i++) c[i] = Math.abs(c[i]);
  return c;
}

function ranks(x: number[]): number[] {
  const order = x.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(x.length);
  for (let s = 0; s < order.length; ) {
    let e = s;
    while (e + 1 < order.length && order[e + 1][0] === order[s][0]) e++;
    for (let t = s; t <= e; t++) r[order[t][1]] = (s + e) / 2 + 1; // ties share the mean rank
    s = e + 1;
  }
  return r;
}

/** Spearman's ρ (Pearson on mid-ranks); null when undefined. */
export function spearman(x: number[], y: number[]): number | null {
  if (x.length < 2) return null;
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (v: number[]) => v.reduce((s, a) => s + a, 0) / v.length;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
}

function cosine(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

function column(x: Float64Array, rows: number, cols: number, j: number): Float64Array {
  const c = new Float64Array(rows);
  for (let i = 0; i < rows; i++) c[i] = x[i * cols + j];
  return c;
}

/** Features as rows [N, D] (the transpose of W_eff's columns), unnormalised: X of method §5. */
export function featureRows(wEff: Float64Array, d: number, n: number): Float64Array {
  const f = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) f[i * d + k] = wEff[k * n + i];
  return f;
}

/** Hungarian matching of template pairs to the top `pairs.length` singular indices on (|cos_U| + |cos_V|)/2. */
function matchPairs(cfg: ToyConfig, cU: Float64Array, cV: Float64Array, k: number): number[] {
  const top = Math.min(k, cfg.template.length);
  const score = new Float64Array(cfg.template.length * top);
  cfg.template.forEach((t, p) => {
    for (let j = 0; j < top; j++) score[p * top + j] = (cU[t.query * k + j] + cV[t.key * k + j]) / 2;
  });
  const assigned = cfg.template.map(() => -1);
  for (const [p, j] of hungarianMax(score, cfg.template.length, top).pairs) assigned[p] = j;
  return assigned;
}

export interface FullSnapshot extends Snapshot {
  /** |F̂ U| [N, k] and |F̂ V| [N, k], row-major */
  cosU: Float64Array;
  cosV: Float64Array;
  k: number;
}

/**
 * Measures one snapshot.
 * @param wEff - [D, N] effective feature directions (columns)
 * @param wQ, wK - [D, H]
 */
export function measureSnapshot(cfg: ToyConfig, kernels: Kernels, wEff: Float64Array, wQ: Float64Array, wK: Float64Array): FullSnapshot {
  const { nFeatures: n, dModel: d, dHead: h } = cfg;
  const omega = kernels.factoredSvd({ rows: d, cols: h, data: wQ }, { rows: d, cols: h, data: wK });
  const k = omega.k;
  const fHat = unitFeatures(wEff, d, n);
  const cU = absCosines(fHat, n, d, omega.U, k);
  const cV = absCosines(fHat, n, d, omega.V, k);
  const xRows = featureRows(wEff, d, n);
  const predicted = whitenedDirections({ rows: n, cols: d, data: xRows }); // row i: Σ_X⁺ x_i
  const row = (x: Float64Array, i: number) => x.subarray(i * d, (i + 1) * d);

  const assigned = matchPairs(cfg, cU, cV, k);
  const pairs: PairAlignment[] = cfg.template.map((t, p) => {
    const j = assigned[p];
    const uPred = row(predicted, t.query);
    const vPred = row(predicted, t.key);
    return {
      query: t.query,
      key: t.key,
      value: t.value,
      index: j,
      cosU: j >= 0 ? cU[t.query * k + j] : 0,
      cosV: j >= 0 ? cV[t.key * k + j] : 0,
      whitenedCosU: j >= 0 ? Math.abs(cosine(uPred, column(omega.U, d, k, j))) : 0,
      whitenedCosV: j >= 0 ? Math.abs(cosine(vPred, column(omega.V, d, k, j))) : 0,
    };
  });
  const mean = (v: number[]) => (v.length ? v.reduce((s, a) => s + a, 0) / v.length : 0);
  const matchedMean = mean(pairs.map((p) => (p.cosU + p.cosV) / 2));
  const matchedCount = pairs.filter((p) => p.index >= 0 && p.cosU >= cfg.matchThreshold && p.cosV >= cfg.matchThreshold).length;
  const sigma = Array.from(omega.S);
  const rho = spearman(
    pairs.map((p) => p.value),
    pairs.map((p) => (p.index >= 0 ? sigma[p.index] : 0)),
  );

  // the strongest pair against the top singular pair
  const strongest = cfg.template.reduce((best, t) => (t.value > best.value ? t : best), cfg.template[0]);
  const top1CosU = strongest ? cU[strongest.query * k] : 0;
  const top1CosV = strongest ? cV[strongest.key * k] : 0;

  // feature Gram
  let off2 = 0;
  let offMax = 0;
  let offSum = 0;
  let attendedMax = 0;
  let attendedWorst = { attended: -1, other: -1, cos: 0 };
  const collisions: { a: number; b: number; cos: number }[] = [];
  const attended = new Set(cfg.template.flatMap((t) => [t.query, t.key]));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let c = 0;
      for (let p = 0; p < d; p++) c += fHat[i * d + p] * fHat[j * d + p];
      off2 += c * c;
      offSum += c;
      offMax = Math.max(offMax, Math.abs(c));
      if (Math.abs(c) >= 0.9) collisions.push({ a: i, b: j, cos: c });
      if (attended.has(i) !== attended.has(j) && Math.abs(c) > attendedMax) {
        attendedMax = Math.abs(c);
        attendedWorst = attended.has(i) ? { attended: i, other: j, cos: c } : { attended: j, other: i, cos: c };
      }
    }
  }
  const offCount = (n * (n - 1)) / 2;
  const whitenedVsFeatureCos = mean(
    cfg.template.flatMap((t) => [t.query, t.key]).map((i) => Math.abs(cosine(row(predicted, i), row(xRows, i)))),
  );
  return {
    sigma,
    pairs,
    matchedMean,
    matchedCount,
    spearman: rho,
    top1CosU,
    top1CosV,
    sigmaRatio: sigma.length > 1 && sigma[1] > 0 ? sigma[0] / sigma[1] : Infinity,
    gramOffDiagRms: offCount ? Math.sqrt(off2 / offCount) : 0,
    gramMaxAbsCos: offMax,
    meanPairwiseCos: offCount ? offSum / offCount : 0,
    attendedMaxCosToOthers: attendedMax,
    attendedWorst,
    collisions,
    whitenedVsFeatureCos,
    whitenedMean: mean(pairs.map((p) => (p.whitenedCosU + p.whitenedCosV) / 2)),
    cosU: cU,
    cosV: cV,
    k,
  };
}

/**
 * Null of method §5: the same matching statistics with every attended feature replaced by a random
 * unit direction (the singular vectors stay). Returns the mean matched |cos| and matched count.
 */
export function randomDirectionNull(cfg: ToyConfig, kernels: Kernels, wQ: Float64Array, wK: Float64Array, seed: number): { matchedMean: number; matchedCount: number } {
  const { nFeatures: n, dModel: d, dHead: h } = cfg;
  const rng = createRng(seed);
  const wRand = new Float64Array(d * n);
  for (let i = 0; i < wRand.length; i++) wRand[i] = rng.normal();
  const omega = kernels.factoredSvd({ rows: d, cols: h, data: wQ }, { rows: d, cols: h, data: wK });
  const fHat = unitFeatures(wRand, d, n);
  const cU = absCosines(fHat, n, d, omega.U, omega.k);
  const cV = absCosines(fHat, n, d, omega.V, omega.k);
  const assigned = matchPairs(cfg, cU, cV, omega.k);
  const scores = cfg.template.map((t, p) => {
    const j = assigned[p];
    return j >= 0 ? [cU[t.query * omega.k + j], cV[t.key * omega.k + j]] : [0, 0];
  });
  return {
    matchedMean: scores.reduce((s, [a, b]) => s + (a + b) / 2, 0) / Math.max(1, scores.length),
    matchedCount: scores.filter(([a, b]) => a >= cfg.matchThreshold && b >= cfg.matchThreshold).length,
  };
}

/**
 * Mean pairwise cosine between natural token vectors r = W_eff f (nonzero ones), the token-side
 * reading of anisotropy (method §6 reports about 0.92 at c = 0.75).
 * @param tokens - sparse natural tokens
 */
export function meanTokenCosine(wEff: Float64Array, d: number, n: number, tokens: { tokens: number; ptr: Int32Array; idx: Int32Array; val: Float64Array }): number {
  const rs: Float64Array[] = [];
  for (let t = 0; t < tokens.tokens; t++) {
    const r = new Float64Array(d);
    for (let e = tokens.ptr[t]; e < tokens.ptr[t + 1]; e++) for (let k = 0; k < d; k++) r[k] += tokens.val[e] * wEff[k * n + tokens.idx[e]];
    let norm = 0;
    for (let k = 0; k < d; k++) norm += r[k] * r[k];
    if (norm === 0) continue;
    norm = Math.sqrt(norm);
    for (let k = 0; k < d; k++) r[k] /= norm;
    rs.push(r);
  }
  let sum = 0;
  let count = 0;
  for (let i = 0; i < rs.length; i++) {
    for (let j = i + 1; j < rs.length; j++) {
      let c = 0;
      for (let k = 0; k < d; k++) c += rs[i][k] * rs[j][k];
      sum += c;
      count++;
    }
  }
  return count ? sum / count : 0;
}

/**
 * The full method §5 report from the shared alignment module for the final snapshot: per-feature and
 * per-singular best matches, per-side Hungarian matchings over all features, its random-direction
 * null, and the theory prediction with template pair p compared with singular index p.
 */
export function methodAlignment(cfg: ToyConfig, kernels: Kernels, wEff: Float64Array, wQ: Float64Array, wK: Float64Array, nullSeed: number): AlignmentResult {
  const { nFeatures: n, dModel: d, dHead: h } = cfg;
  const omega = kernels.factoredSvd({ rows: d, cols: h, data: wQ }, { rows: d, cols: h, data: wK });
  return alignFeatures(
    { rows: n, cols: d, data: featureRows(wEff, d, n) },
    { U: omega.U, V: omega.V, rows: d, k: omega.k },
    { topK: Math.min(omega.k, cfg.template.length), nullSeed, pairs: cfg.template.map((t) => [t.query, t.key] as [number, number]) },
  );
}
