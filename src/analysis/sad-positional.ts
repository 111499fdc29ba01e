/**
 * @module analysis/sad-positional
 * Sparse attention decomposition (method §4) when the score depends on position: rotary models,
 * whose pair (d, s) is scored by Ω_Δ = W̃_Q R_Δ W̃_Kᵀ with Δ = d − s (method §1, §3), and local
 * attention windows (GPT-Neo's local layers: keys K(d) = {s : 0 ≤ d − s < window}). Also the
 * restriction of any SAD to a chosen set of pairs (`focus`, e.g. IOI's END→IO and END→S2), with the
 * null computed for exactly those pairs. Pure TS, float64 throughout.
 *
 * Definitions (x̃ = token vectors with the bias coordinate when augmented; K(d) = causal keys, within
 * the window when there is one; n(d) = |K(d)|):
 *   ℓ(d, s) = x̃_d Ω_{d−s} x̃_sᵀ = q̂_d·k̂_s (rotary applied to q = x̃ W̃_Q and k = x̃ W̃_K at their positions)
 *   y_{s'} = Ω_{d−s'} x̃_{s'}ᵀ (the key side as the query reads it); with Ω_Δ = U^Δ diag(σ^Δ) V^Δᵀ for Δ = d − s:
 *   t_k(d, s)  = (x̃_d·u_k^Δ)(u_k^Δ·y_s)                                   (= σ_k^Δ (x̃_d·u_k^Δ)(v_k^Δ·x̃_s))
 *   t̃_k(d, s)  = (x̃_d·u_k^Δ)(u_k^Δ·(y_s − mean_{s'∈K(d), s'≠s} y_{s'}))
 *   Σ_k t_k = ℓ(d, s) and Σ_k t̃_k = ℓ(d, s) − mean_{s'≠s} ℓ(d, s') exactly, because every y lies in
 *   the column space of W̃_Q, which u_1..u_R span for every Δ. Without rotary (Ω_Δ = Ω) this is the
 *   definition of method §4 (u_kᵀ Ω x̃ᵀ = σ_k v_k·x̃), so the kernel's figures are reproduced.
 *   Firing: A(d, s) ≥ 1/n(d), A = softmax over K(d) of scale·ℓ; queries with n(d) ≥ 2; source 0 skipped
 *   by default. Null: ũ^Δ = U^Δ Q for each seeded rotation Q, terms (x̃_d·ũ_k)(ũ_k·(…)), same pairs.
 * Each offset's SVD is computed once (the caller's `basisOf`, cached), only for offsets of firing pairs.
 * In head space y_{s'} = W̃_Q rot(k̂_{s'}, −d), so u_k·y = (U^Δᵀ W̃_Q)_k · rot(k̂_{s'}, −d) and the mean
 * over keys is one running sum of rotated keys per query.
 */
import { decomposeTerms, numpySum } from "./sad-stats";
import { rotateRows } from "./rotary";
import type { SadRaw } from "../kernels/types";

export interface PositionalGeometry {
  /** rotated dimensions of the head (0: no rotary) */
  rotaryDim: number;
  rotaryBase: number;
  /** keys within d − s < window (null: all causal keys) */
  window: number | null;
}

export interface OffsetBasis {
  /** [m, R] row-major */
  U: Float64Array;
  S: Float64Array;
  /** [m, R] row-major */
  V: Float64Array;
}

export interface PositionalSadInput {
  /** factor rows m (d_model, + 1 when augmented), rank R, head width h */
  rows: number;
  k: number;
  dHead: number;
  /** [B, T, m] */
  X: Float32Array | Float64Array;
  batch: number;
  tokens: number;
  geometry: PositionalGeometry;
  /** the variant's factors A = W̃_Q, B = W̃_K [m, h] (required with rotary) */
  factors?: { a: Float64Array; b: Float64Array };
  /** the SVD of Ω_Δ (called once per offset that occurs) */
  basisOf: (delta: number) => OffsetBasis;
  /** [count, R, R] row-major orthogonal matrices */
  rotations: Float64Array;
  rotationCount: number;
  scale: number;
  tau: number;
  excludeFirstSource: boolean;
  /** per-prompt lengths (right-padded prompts): prompt b's positions are 0..lengths[b]−1 */
  lengths?: Int32Array;
  /** only these (prompt, dest, src) pairs, 3 per pair (default: every candidate pair) */
  focus?: Int32Array;
}

export interface PositionalSadRaw extends SadRaw {
  selected: Uint16Array;
  /** offsets Δ whose SVD was computed, ascending */
  offsets: number[];
}

/** Keys of query d: [lo, d]. */
export const keyRange = (d: number, window: number | null) => (window === null ? 0 : Math.max(0, d - window + 1));

/** y ← x·M for x [n] and M [n, c] row-major. */
function vecMat(x: Float64Array, M: Float64Array, n: number, c: number, y: Float64Array): void {
  y.fill(0);
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const o = i * c;
    for (let j = 0; j < c; j++) y[j] += xi * M[o + j];
  }
}

/** y ← M·x for M [r, c] row-major and x [c]. */
function matVec(M: Float64Array, x: Float64Array, r: number, c: number, y: Float64Array): void {
  for (let i = 0; i < r; i++) {
    let s = 0;
    const o = i * c;
    for (let j = 0; j < c; j++) s += M[o + j] * x[j];
    y[i] = s;
  }
}

/** Per-offset quantities, computed on first use. */
interface OffsetCache {
  basis: OffsetBasis;
  /** rotary: G = U^Δᵀ A [R, h]; fixed basis: unused */
  G?: Float64Array;
}

/**
 * The state of one prompt: per token, what the pair terms need.
 * rotary: qh = rot(x̃A, t), kh = rot(x̃B, t) [T, h]; fixed: a = x̃U, b = (x̃V)∘σ [T, R].
 */
class PromptState {
  readonly x: Float64Array;
  qh?: Float64Array;
  kh?: Float64Array;
  a?: Float64Array;
  b?: Float64Array;
  constructor(readonly inp: PositionalSadInput, readonly prompt: number, readonly rotary: boolean, readonly fixed?: OffsetBasis) {
    const { rows: m, tokens: T, k: R, dHead: h } = inp;
    this.x = Float64Array.from(inp.X.subarray(prompt * T * m, (prompt + 1) * T * m));
    const row = (t: number) => this.x.subarray(t * m, (t + 1) * m);
    if (rotary) {
      const { a, b } = inp.factors!;
      this.qh = new Float64Array(T * h);
      this.kh = new Float64Array(T * h);
      for (let t = 0; t < T; t++) {
        vecMat(row(t), a, m, h, this.qh.subarray(t * h, (t + 1) * h));
        vecMat(row(t), b, m, h, this.kh.subarray(t * h, (t + 1) * h));
        const g = inp.geometry;
        rotateRows(this.qh.subarray(t * h, (t + 1) * h), 1, h, g.rotaryDim, g.rotaryBase, t, this.qh.subarray(t * h, (t + 1) * h));
        rotateRows(this.kh.subarray(t * h, (t + 1) * h), 1, h, g.rotaryDim, g.rotaryBase, t, this.kh.subarray(t * h, (t + 1) * h));
      }
    } else {
      const f = fixed!;
      this.a = new Float64Array(T * R);
      this.b = new Float64Array(T * R);
      for (let t = 0; t < T; t++) {
        vecMat(row(t), f.U, m, R, this.a.subarray(t * R, (t + 1) * R));
        const bt = this.b.subarray(t * R, (t + 1) * R);
        vecMat(row(t), f.V, m, R, bt);
        for (let k = 0; k < R; k++) bt[k] *= f.S[k];
      }
    }
  }

  /** ℓ(d, s) */
  score(d: number, s: number): number {
    const n = this.rotary ? this.inp.dHead : this.inp.k;
    const p = this.rotary ? this.qh! : this.a!;
    const q = this.rotary ? this.kh! : this.b!;
    let acc = 0;
    for (let i = 0; i < n; i++) acc += p[d * n + i] * q[s * n + i];
    return acc;
  }
}

/**
 * α (query side, x̃_d·u_k without σ) and β̃ (key side, u_k·(y_s − mean y_{s'})) of one pair, and the
 * non-relative β (u_k·y_s), all of length R; α∘β̃ are the relative terms.
 */
class PairTermsBuilder {
  private readonly tmpH: Float64Array;
  private readonly tmpR: Float64Array;
  private readonly cache = new Map<number, OffsetCache>();
  constructor(readonly inp: PositionalSadInput, readonly rotary: boolean) {
    this.tmpH = new Float64Array(inp.dHead);
    this.tmpR = new Float64Array(inp.k);
  }

  offsets(): number[] {
    return [...this.cache.keys()].sort((x, y) => x - y);
  }

  offset(delta: number): OffsetCache {
    const key = this.rotary ? delta : 0;
    let c = this.cache.get(key);
    if (!c) {
      const basis = this.inp.basisOf(key);
      c = { basis };
      if (this.rotary) {
        // G = Uᵀ A [R, h]
        const { rows: m, k: R, dHead: h } = this.inp;
        const A = this.inp.factors!.a;
        const G = new Float64Array(R * h);
        for (let i = 0; i < m; i++) {
          for (let k = 0; k < R; k++) {
            const u = basis.U[i * R + k];
            if (u === 0) continue;
            for (let j = 0; j < h; j++) G[k * h + j] += u * A[i * h + j];
          }
        }
        c.G = G;
      }
      this.cache.set(key, c);
    }
    return c;
  }

  /**
   * Fills alpha, betaRel (and beta when given) for pair (d, s) of prompt state ps, keys [lo, d].
   */
  terms(ps: PromptState, d: number, s: number, lo: number, alpha: Float64Array, betaRel: Float64Array, beta?: Float64Array): void {
    const { rows: m, k: R, dHead: h } = this.inp;
    const others = d - lo;
    if (this.rotary) {
      const { basis, G } = this.offset(d - s);
      vecMat(ps.x.subarray(d * m, (d + 1) * m), basis.U, m, R, alpha);
      const kh = ps.kh!;
      const g = this.inp.geometry;
      // rotated key relative to the other keys' mean, brought back by −d
      const v = this.tmpH;
      if (others > 0) {
        v.fill(0);
        for (let j = lo; j <= d; j++) if (j !== s) for (let i = 0; i < h; i++) v[i] += kh[j * h + i];
        for (let i = 0; i < h; i++) v[i] = kh[s * h + i] - v[i] / others;
        rotateRows(v, 1, h, g.rotaryDim, g.rotaryBase, -d, v);
        matVec(G!, v, R, h, betaRel);
      } else betaRel.fill(0);
      if (beta) {
        for (let i = 0; i < h; i++) v[i] = kh[s * h + i];
        rotateRows(v, 1, h, g.rotaryDim, g.rotaryBase, -d, v);
        matVec(G!, v, R, h, beta);
      }
    } else {
      const a = ps.a!;
      const b = ps.b!;
      const sum = this.tmpR;
      sum.fill(0);
      for (let j = lo; j <= d; j++) if (j !== s) for (let k = 0; k < R; k++) sum[k] += b[j * R + k];
      for (let k = 0; k < R; k++) {
        alpha[k] = a[d * R + k];
        betaRel[k] = others > 0 ? b[s * R + k] - sum[k] / others : 0;
        if (beta) beta[k] = b[s * R + k];
      }
    }
  }
}

/**
 * N_recon and Rolls–Tovee sparseness of a relative term vector by decomposeTerms' rule (totals in
 * numpy's pairwise order, positive terms summed in descending order, the same 1e-12 slack), without
 * the selected set and without allocating: the null calls this for every pair and rotation.
 */
class NullCounter {
  private readonly pos: Float64Array;
  private readonly abs: Float64Array;
  private readonly sq: Float64Array;
  constructor(r: number) {
    this.pos = new Float64Array(r);
    this.abs = new Float64Array(r);
    this.sq = new Float64Array(r);
  }
  /** returns N_recon (0 when Σ t̃ ≤ 0), and sets `reached` and `sparseness` */
  reached = true;
  sparseness = 0;
  count(rel: Float64Array, tau: number): number {
    const r = rel.length;
    let np = 0;
    for (let k = 0; k < r; k++) {
      const v = rel[k];
      this.abs[k] = Math.abs(v);
      this.sq[k] = v * v;
      if (v > 0) this.pos[np++] = v;
    }
    const total = numpySum(rel);
    this.sparseness = (numpySum(this.abs) / r) ** 2 / (numpySum(this.sq) / r);
    if (!(total > 0)) return 0;
    const sorted = this.pos.subarray(0, np).sort();
    const thr = tau * total - 1e-12 * Math.abs(total);
    let c = 0;
    for (let i = np - 1; i >= 0; i--) {
      c += sorted[i];
      if (c >= thr) {
        this.reached = true;
        return np - i;
      }
    }
    this.reached = false;
    return np;
  }
}

/** Runs positional SAD (or focus-restricted SAD) over the batch. */
export function sadPositional(inp: PositionalSadInput): PositionalSadRaw {
  const { batch: B, tokens: T, k: R, geometry: g } = inp;
  const rotary = g.rotaryDim > 0;
  if (rotary && !inp.factors) throw new Error("rotary SAD needs the head's factors");
  const builder = new PairTermsBuilder(inp, rotary);
  const fixed = rotary ? undefined : builder.offset(0).basis;
  const nrot = inp.rotationCount;
  const s0 = inp.excludeFirstSource ? 1 : 0;

  // focus: pairs grouped by prompt and query
  let focus: Map<number, Map<number, Set<number>>> | undefined;
  if (inp.focus) {
    focus = new Map();
    for (let i = 0; i < inp.focus.length; i += 3) {
      const [b, d, s] = [inp.focus[i], inp.focus[i + 1], inp.focus[i + 2]];
      if (!focus.has(b)) focus.set(b, new Map());
      const byD = focus.get(b)!;
      if (!byD.has(d)) byD.set(d, new Set());
      byD.get(d)!.add(s);
    }
  }

  const pairs: number[] = [];
  const nRecon: number[] = [];
  const sparseness: number[] = [];
  const score: number[] = [];
  const relTotal: number[] = [];
  const selected: number[] = [];
  const usage = new Int32Array(R);
  let candidates = 0, nonpositive = 0, unreached = 0;
  const nullOut = Array.from({ length: nrot }, () => ({ positive: 0, unreached: 0, histogram: new Int32Array(R + 1), sparseness: [] as number[] }));

  const alpha = new Float64Array(R), betaRel = new Float64Array(R), rel = new Float64Array(R);
  const aRot = new Float64Array(R), bRot = new Float64Array(R);
  const row = new Float64Array(T);
  const counter = new NullCounter(R);
  const rotationViews = Array.from({ length: nrot }, (_, r) => inp.rotations.subarray(r * R * R, (r + 1) * R * R));

  for (let b = 0; b < B; b++) {
    const byD = focus?.get(b);
    if (focus && !byD) continue;
    const ps = new PromptState(inp, b, rotary, fixed);
    const Tb = inp.lengths ? inp.lengths[b] : T;
    for (let d = 1; d < Tb; d++) {
      const wanted = byD?.get(d);
      if (focus && !wanted) continue;
      const lo = keyRange(d, g.window);
      const n = d - lo + 1;
      if (n < 2) continue;
      let mx = -Infinity;
      for (let j = lo; j <= d; j++) {
        row[j] = ps.score(d, j);
        if (row[j] * inp.scale > mx) mx = row[j] * inp.scale;
      }
      if (!Number.isFinite(mx)) throw new RangeError(`a score of prompt ${b} query ${d} is not finite`);
      let den = 0;
      for (let j = lo; j <= d; j++) den += Math.exp(row[j] * inp.scale - mx);
      const thr = 1 / n;
      for (let s = Math.max(lo, s0); s <= d; s++) {
        if (wanted && !wanted.has(s)) continue;
        candidates++;
        if (!(Math.exp(row[s] * inp.scale - mx) / den >= thr)) continue;
        builder.terms(ps, d, s, lo, alpha, betaRel);
        for (let k = 0; k < R; k++) rel[k] = alpha[k] * betaRel[k];
        const dec = decomposeTerms(rel, inp.tau);
        if (dec.n_recon === null) {
          nonpositive++;
          continue;
        }
        if (!dec.reached) unreached++;
        pairs.push(b, d, s);
        nRecon.push(dec.n_recon);
        sparseness.push(dec.sparseness);
        score.push(row[s]);
        relTotal.push(dec.total);
        for (const k of dec.selected) {
          usage[k]++;
          selected.push(k);
        }
        for (let r = 0; r < nrot; r++) {
          const Q = rotationViews[r];
          vecMat(alpha, Q, R, R, aRot);
          vecMat(betaRel, Q, R, R, bRot);
          for (let k = 0; k < R; k++) rel[k] = aRot[k] * bRot[k];
          const n = counter.count(rel, inp.tau);
          if (n === 0) continue;
          const o = nullOut[r];
          if (!counter.reached) o.unreached++;
          o.positive++;
          o.histogram[n]++;
          o.sparseness.push(counter.sparseness);
        }
      }
    }
  }
  return {
    positive: nRecon.length, nonpositive, unreached, candidates,
    pairs: Int32Array.from(pairs), nRecon: Int32Array.from(nRecon), sparseness: Float64Array.from(sparseness),
    score: Float64Array.from(score), relativeTotal: Float64Array.from(relTotal), usage,
    selected: Uint16Array.from(selected),
    null: nullOut.map((o) => ({ positive: o.positive, unreached: o.unreached, histogram: o.histogram, sparseness: Float32Array.from(o.sparseness) })),
    offsets: builder.offsets(),
  };
}

/**
 * t_k and t̃_k of one pair (the `terms` option): Σ_k t_k = ℓ(d, s), Σ_k t̃_k = the relative score.
 * Queries d = 0 have no relative terms (zeros).
 */
export function pairTermsPositional(inp: PositionalSadInput, prompt: number, d: number, s: number): { terms: Float64Array; relative: Float64Array; score: number } {
  const rotary = inp.geometry.rotaryDim > 0;
  const builder = new PairTermsBuilder(inp, rotary);
  const ps = new PromptState(inp, prompt, rotary, rotary ? undefined : builder.offset(0).basis);
  const R = inp.k;
  const alpha = new Float64Array(R), betaRel = new Float64Array(R), beta = new Float64Array(R);
  const lo = keyRange(d, inp.geometry.window);
  if (d - s >= (inp.geometry.window ?? Infinity)) throw new RangeError(`pair ${d}:${s} is outside the window ${inp.geometry.window}`);
  builder.terms(ps, d, s, lo, alpha, betaRel, beta);
  const terms = new Float64Array(R), relative = new Float64Array(R);
  for (let k = 0; k < R; k++) {
    terms[k] = alpha[k] * beta[k];
    relative[k] = d === 0 ? 0 : alpha[k] * betaRel[k];
  }
  return { terms, relative, score: ps.score(d, s) };
}
