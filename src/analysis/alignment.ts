/**
 * @module analysis/alignment
 * Alignment of a head's singular vectors with a feature dictionary (method §5), in pure TypeScript:
 * no WebAssembly, no I/O, no Hono, so the worker, the CLI and the toy-model trainer share it.
 *
 *   F̂ = F with unit rows;  C_U = F̂ U,  C_V = F̂ V   ([n_features, R] cosines; |cos| is reported
 *   because (u_k, v_k) carry a joint sign ambiguity)
 *   - per feature: best singular index and its |cos|, on each side;
 *   - per singular vector (top k): best feature and its |cos|;
 *   - an optimal one-to-one matching (Hungarian — Jonker–Volgenant, analysis/hungarian.ts — on
 *     |cos|, maximised) and its mean |cos|;
 *   - a null: the same statistics for random unit directions (seeded) in the same space;
 *   - the theory prediction for target pairs (i, j): u ∝ Σ_X⁺ x_i, v ∝ Σ_Y⁺ y_j with features as the
 *     columns of X, Y and Σ_X = X Xᵀ, and its |cos| with the measured singular vectors.
 *
 * Σ_X⁺ x_i is computed without forming the d×d matrix Σ_X: with Σ_X = X Xᵀ, Σ_X⁺ X = X (XᵀX)⁺, so the
 * prediction is X·(G⁺ e_i) with the n×n Gram matrix G = XᵀX (pseudo-inverse by symmetric
 * eigendecomposition, eigenvalues below n·ε·λ_max dropped).
 *
 * When the basis has one more row than the features (the augmented bias coordinate, method §3), each
 * feature is given a 0 there: features are residual-stream directions and never move the constant.
 */
import { linearSumAssignmentMax } from "./hungarian";
import { symmetricEigen } from "./symmetric-eigen";
import { ShapeMismatch, InvalidRequest, NonFiniteInput } from "../errors";
import type { Matrix } from "../kernels/types";
import { createRng, randomUnitRows, RNG_NAME } from "./random";

const EPS = 2 ** -52;

/** One side of a head's thin SVD: the singular vectors as columns of a row-major [rows, k] array. */
export interface SingularBasis {
  /** [rows, k] row-major; columns are u_k (or v_k) */
  U: Float64Array;
  V: Float64Array;
  rows: number;
  k: number;
}

export interface AlignmentOptions {
  /** how many leading singular vectors to report the best feature for (default: all) */
  topK?: number;
  /** seed of the random-direction null (default 0) */
  nullSeed?: number;
  /** independent null draws, each of n_features random directions (default 4; 0 turns the null off) */
  nullDraws?: number;
  /** target pairs (query feature i, key feature j) for the theory prediction, in template order */
  pairs?: Array<[number, number]>;
  /** query-side feature set X (rows are features; default F) */
  querySide?: Matrix;
  /** key-side feature set Y (rows are features; default F) */
  keySide?: Matrix;
  /** leading singular indices the pairs are matched against (default: all k) */
  pairCandidates?: number;
}

export interface SideBest {
  /** best singular index (0-based) per feature */
  index: number[];
  abs_cos: number[];
}

export interface Matching {
  /** [feature, singular index] pairs of the optimal one-to-one matching, by feature */
  pairs: Array<[number, number]>;
  abs_cos: number[];
  mean_abs_cos: number;
}

export interface AlignmentStats {
  per_feature: { u: SideBest; v: SideBest };
  /** for singular index k < top_k: best feature and its |cos| */
  per_singular: { u: { feature: number[]; abs_cos: number[] }; v: { feature: number[]; abs_cos: number[] } };
  matching: { u: Matching; v: Matching };
}

export interface NullSummary {
  seed: number;
  draws: number;
  generator: string;
  /** mean over draws of: mean over directions of the best |cos| */
  per_feature_mean_best_abs_cos: { u: number; v: number };
  /** mean over draws of the matching's mean |cos| */
  matching_mean_abs_cos: { u: number; v: number };
  /** mean over draws of: mean over the top k singular vectors of the best |cos| */
  per_singular_mean_best_abs_cos: { u: number; v: number };
}

export interface TheoryPair {
  query_feature: number;
  key_feature: number;
  /** singular index this pair is compared with (its position in `pairs`) */
  index: number;
  /** |cos(Σ_X⁺ x_i, u_index)| and |cos(Σ_Y⁺ y_j, v_index)| */
  u_abs_cos: number;
  v_abs_cos: number;
  /** the singular index that best matches each prediction, and its |cos| */
  best_u_index: number;
  best_u_abs_cos: number;
  best_v_index: number;
  best_v_abs_cos: number;
  /** |cos| between each prediction and the raw feature (1 when the features are isotropic) */
  prediction_vs_feature: { u: number; v: number };
}

/**
 * Template pairs matched one-to-one to singular indices: the Hungarian algorithm maximises the sum of
 * the pair score √(|cos(x_i, u_k)|·|cos(y_j, v_k)|) (raw features, both sides at once: the geometric
 * mean is high only when both sides align) over the leading `candidates` singular indices. The
 * "many pairs" check of method §6, where pair p should occupy singular index p. The only pair
 * matching in the project: the worker's report and the toy's measurements both come from here.
 */
export interface PairMatching {
  /** singular index assigned to each pair (−1 when there are more pairs than singular vectors) */
  index: number[];
  u_abs_cos: number[];
  v_abs_cos: number[];
  score: number[];
  mean_score: number;
  /** pairs assigned to their own position (index[p] = p) */
  in_order: number;
  /** how many leading singular indices the pairs were matched against */
  candidates: number;
}

export interface AlignmentResult extends AlignmentStats {
  n_features: number;
  /** feature dimension (d_model) */
  d: number;
  /** singular vectors compared */
  k: number;
  top_k: number;
  /** "zero" when the basis has the augmented bias row and features got a 0 there */
  bias_coordinate: "zero" | "none";
  /** the same statistics for random unit directions (null model) */
  null: NullSummary | null;
  theory: { pseudo_inverse: string; pairs: TheoryPair[]; pair_matching: PairMatching } | null;
}

/** Unit rows of F (f64); a zero or non-finite row is an error, never a silent NaN. */
export function normalizeRows(f: Matrix, what = "F"): Float64Array {
  const { rows, cols, data } = f;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < cols; i++) {
      const x = data[r * cols + i];
      if (!Number.isFinite(x)) throw new NonFiniteInput(`${what} holds ${x} at [${r}, ${i}]`, { tensor: what, index: r * cols + i });
      s += x * x;
    }
    if (s === 0) throw new InvalidRequest(`${what} row ${r} is zero; a feature needs a direction`, { tensor: what, row: r });
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < cols; i++) out[r * cols + i] = data[r * cols + i] * inv;
  }
  return out;
}

/** C = F̂ W for unit rows F̂ [n, d] and basis columns W [rows, k] (rows = d or d + 1, extra row ignored). */
export function cosines(fhat: Float64Array, n: number, d: number, w: Float64Array, k: number): Float64Array {
  // columns of W made contiguous, then one dot product per (feature, column) with four partial sums:
  // about 4× faster in V8 than accumulating rows of W into C (16k features × 768 × 64: 0.5 s, not 2 s)
  const wt = new Float64Array(k * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < k; j++) wt[j * d + i] = w[i * k + j];
  const c = new Float64Array(n * k);
  const d4 = d - (d % 4);
  for (let f = 0; f < n; f++) {
    const fo = f * d;
    for (let j = 0; j < k; j++) {
      const wo = j * d;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let i = 0;
      for (; i < d4; i += 4) {
        s0 += fhat[fo + i] * wt[wo + i];
        s1 += fhat[fo + i + 1] * wt[wo + i + 1];
        s2 += fhat[fo + i + 2] * wt[wo + i + 2];
        s3 += fhat[fo + i + 3] * wt[wo + i + 3];
      }
      for (; i < d; i++) s0 += fhat[fo + i] * wt[wo + i];
      c[f * k + j] = (s0 + s1) + (s2 + s3);
    }
  }
  return c;
}

function bestPerRow(abs: Float64Array, n: number, k: number): SideBest {
  const index: number[] = [];
  const best: number[] = [];
  for (let f = 0; f < n; f++) {
    let bi = 0;
    let bv = -1;
    for (let j = 0; j < k; j++) if (abs[f * k + j] > bv) { bv = abs[f * k + j]; bi = j; }
    index.push(bi);
    best.push(k === 0 ? 0 : bv);
  }
  return { index, abs_cos: best };
}

function bestPerColumn(abs: Float64Array, n: number, k: number, topK: number) {
  const feature: number[] = [];
  const best: number[] = [];
  for (let j = 0; j < topK; j++) {
    let bi = 0;
    let bv = -1;
    for (let f = 0; f < n; f++) if (abs[f * k + j] > bv) { bv = abs[f * k + j]; bi = f; }
    feature.push(bi);
    best.push(n === 0 ? 0 : bv);
  }
  return { feature, abs_cos: best };
}

/** Optimal one-to-one matching of rows to columns maximising Σ score (min(n, k) matched pairs). */
export function hungarianMax(score: Float64Array, n: number, k: number): Matching {
  if (n === 0 || k === 0) return { pairs: [], abs_cos: [], mean_abs_cos: 0 };
  const rowAssignments = linearSumAssignmentMax(score, n, k);
  const pairs: Array<[number, number]> = [];
  const vals: number[] = [];
  for (let f = 0; f < n; f++) {
    const j = rowAssignments[f];
    if (j >= 0) {
      pairs.push([f, j]);
      vals.push(score[f * k + j]);
    }
  }
  const mean = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : 0;
  return { pairs, abs_cos: vals, mean_abs_cos: mean };
}

const absOf = (c: Float64Array) => c.map(Math.abs);

function checkBasis(basis: SingularBasis, d: number, what: string) {
  if (basis.rows !== d && basis.rows !== d + 1) {
    throw new ShapeMismatch(`${what} has ${d} columns; the singular vectors have ${basis.rows} rows (expected d_model or d_model + 1)`, {
      expected: [basis.rows - 1, basis.rows],
      actual: d,
    });
  }
}

/** The §5 statistics of unit rows F̂ [n, d] against a basis. */
export function alignmentStats(fhat: Float64Array, n: number, d: number, basis: SingularBasis, topK = basis.k): AlignmentStats {
  const au = absOf(cosines(fhat, n, d, basis.U, basis.k));
  const av = absOf(cosines(fhat, n, d, basis.V, basis.k));
  const k = basis.k;
  return {
    per_feature: { u: bestPerRow(au, n, k), v: bestPerRow(av, n, k) },
    per_singular: { u: bestPerColumn(au, n, k, topK), v: bestPerColumn(av, n, k, topK) },
    matching: { u: hungarianMax(au, n, k), v: hungarianMax(av, n, k) },
  };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** Σ_X⁺ x_i for every feature i (rows of Xr [n, d] are the features): X (XᵀX)⁺ e_i, returned as rows. */
export function whitenedDirections(xr: Matrix): Float64Array {
  const { rows: n, cols: d, data } = xr;
  const g = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += data[a * d + i] * data[b * d + i];
      g[a * n + b] = s;
      g[b * n + a] = s;
    }
  }
  const { values: lam, vectors } = symmetricEigen(g, n);
  let lamMax = 0;
  for (const x of lam) if (x > lamMax) lamMax = x;
  const cut = Math.max(n, d) * EPS * lamMax;
  // G⁺ = Σ_{λ > cut} w wᵀ / λ
  const gp = new Float64Array(n * n);
  for (let e = 0; e < n; e++) {
    if (!(lam[e] > cut)) continue;
    for (let a = 0; a < n; a++) {
      const wa = vectors[e * n + a] / lam[e];
      for (let b = 0; b < n; b++) gp[a * n + b] += wa * vectors[e * n + b];
    }
  }
  // prediction_i = Σ_m x_m G⁺[m, i]
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < n; m++) {
      const c = gp[m * n + i];
      if (c === 0) continue;
      for (let t = 0; t < d; t++) out[i * d + t] += c * data[m * d + t];
    }
  }
  return out;
}

function absCosWithColumn(vec: Float64Array, vo: number, d: number, w: Float64Array, k: number, j: number): number {
  let dot = 0;
  let nv = 0;
  let nw = 0;
  for (let i = 0; i < d; i++) {
    const x = vec[vo + i];
    const y = w[i * k + j];
    dot += x * y;
    nv += x * x;
  }
  // the basis column is unit over all its rows; the bias row (if any) is not part of the feature space
  for (let i = 0; i < w.length / k; i++) nw += w[i * k + j] ** 2;
  return nv === 0 || nw === 0 ? 0 : Math.abs(dot) / Math.sqrt(nv * nw);
}

function rowAbsCos(a: Float64Array, ao: number, b: ArrayLike<number>, bo: number, d: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < d; i++) {
    dot += a[ao + i] * b[bo + i];
    na += a[ao + i] ** 2;
    nb += b[bo + i] ** 2;
  }
  return na === 0 || nb === 0 ? 0 : Math.abs(dot) / Math.sqrt(na * nb);
}

/**
 * Everything method §5 asks for, for one head.
 * @param f - F [n_features, d] row-major (d = d_model; the basis may have d or d + 1 rows)
 * @param basis - U, V [rows, k] of the head's circuit
 * @example
 *   const r = alignFeatures({ rows: 20, cols: 10, data }, { U, V, rows: 10, k: 10 }, { pairs: [[0, 1]] });
 *   r.matching.u.mean_abs_cos; r.theory?.pairs[0].u_abs_cos
 */
export function alignFeatures(f: Matrix, basis: SingularBasis, opts: AlignmentOptions = {}): AlignmentResult {
  const { rows: n, cols: d } = f;
  if (n < 1) throw new ShapeMismatch(`F must have at least one feature row, got [${n}, ${d}]`, { tensor: "F", shape: [n, d] });
  checkBasis(basis, d, "F");
  const topK = Math.min(basis.k, Math.max(0, Math.floor(opts.topK ?? basis.k)));
  const fhat = normalizeRows(f, "F");
  const stats = alignmentStats(fhat, n, d, basis, topK);

  let nullSummary: NullSummary | null = null;
  const draws = Math.max(0, Math.floor(opts.nullDraws ?? 4));
  if (draws > 0) {
    const seed = opts.nullSeed ?? 0;
    const rng = createRng(seed);
    const acc = { fu: [] as number[], fv: [] as number[], mu: [] as number[], mv: [] as number[], su: [] as number[], sv: [] as number[] };
    for (let t = 0; t < draws; t++) {
      const r = alignmentStats(randomUnitRows(n, d, rng), n, d, basis, topK);
      acc.fu.push(mean(r.per_feature.u.abs_cos));
      acc.fv.push(mean(r.per_feature.v.abs_cos));
      acc.mu.push(r.matching.u.mean_abs_cos);
      acc.mv.push(r.matching.v.mean_abs_cos);
      acc.su.push(mean(r.per_singular.u.abs_cos));
      acc.sv.push(mean(r.per_singular.v.abs_cos));
    }
    nullSummary = {
      seed,
      draws,
      generator: RNG_NAME,
      per_feature_mean_best_abs_cos: { u: mean(acc.fu), v: mean(acc.fv) },
      matching_mean_abs_cos: { u: mean(acc.mu), v: mean(acc.mv) },
      per_singular_mean_best_abs_cos: { u: mean(acc.su), v: mean(acc.sv) },
    };
  }

  let theory: AlignmentResult["theory"] = null;
  if (opts.pairs && opts.pairs.length > 0) {
    const xq = opts.querySide ?? f;
    const yk = opts.keySide ?? f;
    for (const [name, m] of [["query-side features", xq], ["key-side features", yk]] as const) {
      if (m.cols !== d) throw new ShapeMismatch(`${name} have ${m.cols} columns, F has ${d}`, { expected: d, actual: m.cols });
      normalizeRows(m, name); // rejects NaN and zero rows
    }
    const pu = whitenedDirections(xq);
    const pv = yk === xq ? pu : whitenedDirections(yk);
    const pairs: TheoryPair[] = opts.pairs.map(([i, j], p) => {
      if (!(Number.isInteger(i) && i >= 0 && i < xq.rows && Number.isInteger(j) && j >= 0 && j < yk.rows)) {
        throw new InvalidRequest(`pair ${p} (${i}, ${j}) is out of range: ${xq.rows} query-side and ${yk.rows} key-side features`, { pair: p });
      }
      const index = Math.min(p, basis.k - 1);
      let bu = 0, bui = 0, bv = 0, bvi = 0;
      for (let k = 0; k < basis.k; k++) {
        const cu = absCosWithColumn(pu, i * d, d, basis.U, basis.k, k);
        const cv = absCosWithColumn(pv, j * d, d, basis.V, basis.k, k);
        if (cu > bu) { bu = cu; bui = k; }
        if (cv > bv) { bv = cv; bvi = k; }
      }
      return {
        query_feature: i,
        key_feature: j,
        index,
        u_abs_cos: absCosWithColumn(pu, i * d, d, basis.U, basis.k, index),
        v_abs_cos: absCosWithColumn(pv, j * d, d, basis.V, basis.k, index),
        best_u_index: bui,
        best_u_abs_cos: bu,
        best_v_index: bvi,
        best_v_abs_cos: bv,
        prediction_vs_feature: { u: rowAbsCos(pu, i * d, xq.data, i * d, d), v: rowAbsCos(pv, j * d, yk.data, j * d, d) },
      };
    });
    theory = {
      pseudo_inverse: "Σ_X⁺x_i = X(XᵀX)⁺e_i; symmetric eigendecomposition, λ ≤ max(n, d)·ε·λ_max dropped",
      pairs,
      pair_matching: matchPairs(xq, yk, opts.pairs, basis, opts.pairCandidates),
    };
  }

  return {
    n_features: n,
    d,
    k: basis.k,
    top_k: topK,
    bias_coordinate: basis.rows === d + 1 ? "zero" : "none",
    ...stats,
    null: nullSummary,
    theory,
  };
}

/**
 * Matches template pairs (i, j) to singular indices one-to-one (see PairMatching).
 * @param xq - query-side features [n_q, d] @param yk - key-side features [n_k, d]
 * @param candidates - leading singular indices to match against (default: all k)
 */
export function matchPairs(xq: Matrix, yk: Matrix, pairs: Array<[number, number]>, basis: SingularBasis, candidates = basis.k): PairMatching {
  const d = xq.cols;
  const k = basis.k;
  const cu = cosines(normalizeRows(xq, "query-side features"), xq.rows, d, basis.U, k);
  const cv = cosines(normalizeRows(yk, "key-side features"), yk.rows, d, basis.V, k);
  return matchPairsOnCosines(cu, cv, k, pairs, candidates);
}

/** The same matching from precomputed cosines C_U [n_q, k], C_V [n_k, k] (signed or absolute). */
export function matchPairsOnCosines(cu: Float64Array, cv: Float64Array, k: number, pairs: Array<[number, number]>, candidates = k): PairMatching {
  const top = Math.max(0, Math.min(k, Math.floor(candidates)));
  const P = pairs.length;
  const score = new Float64Array(P * top);
  for (let p = 0; p < P; p++) {
    const [i, j] = pairs[p];
    for (let c = 0; c < top; c++) score[p * top + c] = pairScore(cu[i * k + c], cv[j * k + c]);
  }
  const m = hungarianMax(score, P, top);
  const index = new Array<number>(P).fill(-1);
  for (const [p, c] of m.pairs) index[p] = c;
  const at = (arr: Float64Array, f: number, c: number) => (c < 0 ? 0 : Math.abs(arr[f * k + c]));
  const scores = index.map((c, p) => (c < 0 ? 0 : score[p * top + c]));
  return {
    index,
    u_abs_cos: index.map((c, p) => at(cu, pairs[p][0], c)),
    v_abs_cos: index.map((c, p) => at(cv, pairs[p][1], c)),
    score: scores,
    mean_score: P ? scores.reduce((a, b) => a + b, 0) / P : 0,
    in_order: index.filter((c, p) => c === p).length,
    candidates: top,
  };
}

/** The pair score of the matching: √(|cos_u|·|cos_v|). */
export function pairScore(cosU: number, cosV: number): number {
  return Math.sqrt(Math.abs(cosU) * Math.abs(cosV));
}
