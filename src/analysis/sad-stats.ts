/**
 * @module analysis/sad-stats
 * Per-head aggregates of a sparse attention decomposition (method §4), computed from what the kernel
 * measured: N_recon histogram, median and p90, median sparseness, the null's statistics per seed and
 * their means, and singular-index usage. Medians and percentiles follow numpy exactly (median: mean of
 * the two middle values; percentile: method "linear", including numpy's lerp that switches ends at
 * γ ≥ 0.5), because the reference values were computed with numpy. Pure TS, no I/O.
 */
import type { SadRaw } from "../kernels/types";

/** numpy.median of ascending-sorted values (NaN for none). */
export function medianSorted(sorted: ArrayLike<number>): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = n >> 1;
  return n % 2 === 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
}

/** numpy.percentile(values, 100·q) (method "linear") of ascending-sorted values. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  // numpy 2.x _quantile: virtual index (n − 1)·q, neighbours clipped to the last value, then _lerp
  const vi = (n - 1) * q;
  if (vi >= n - 1) return sorted[n - 1];
  if (vi < 0) return sorted[0];
  const prev = Math.floor(vi);
  const gamma = vi - prev;
  const a = sorted[prev];
  const b = sorted[prev + 1];
  const diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/** Ascending values of an integer histogram (hist[n] = count of value n). */
export function expandHistogram(hist: ArrayLike<number>): Int32Array {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  const out = new Int32Array(total);
  let o = 0;
  for (let i = 0; i < hist.length; i++) for (let c = 0; c < hist[i]; c++) out[o++] = i;
  return out;
}

export function histogramOf(values: ArrayLike<number>, bins: number): number[] {
  const h = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) h[values[i]]++;
  return h;
}

const sortedCopy = (a: ArrayLike<number>) => Float64Array.from(a).sort();
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export interface SadNullSeedStats {
  seed: number;
  pairs_positive: number;
  n_recon_median: number;
  n_recon_p90: number;
  sparseness_median: number;
}

export interface SadAggregates {
  pairs: {
    /** (d, s) pairs the firing rule examined */
    candidates: number;
    firing: number;
    firing_positive: number;
    firing_nonpositive: number;
    /** pairs whose threshold rounding kept out of reach; reported with N_recon = their number of positive terms */
    n_recon_unreached: number;
  };
  n_recon: { median: number; p90: number; mean: number; histogram: number[] };
  sparseness: { median: number; p90: number };
  /** times singular index k was in a selected set S(d, s) */
  usage: number[];
  null: {
    seeds: number[];
    per_seed: SadNullSeedStats[];
    /** mean over seeds of the per-seed median (the reference's "mean8" figures) */
    n_recon_median_mean: number;
    sparseness_median_mean: number;
    n_recon_histogram: number[];
  } | null;
  /** null's mean median N_recon minus the singular basis's; > 0 is the SAD claim */
  n_recon_median_gap: number | null;
}

/** Aggregates of one head from the kernel's raw output. */
export function aggregateSad(raw: SadRaw, k: number, seeds: number[]): SadAggregates {
  const nrec = Int32Array.from(raw.nRecon).sort();
  const rts = sortedCopy(raw.sparseness);
  const perSeed = raw.null.map((n, i): SadNullSeedStats => {
    const vals = expandHistogram(n.histogram);
    const rt = Float32Array.from(n.sparseness).sort();
    return {
      seed: seeds[i],
      pairs_positive: n.positive,
      n_recon_median: medianSorted(vals),
      n_recon_p90: percentileSorted(vals, 0.9),
      sparseness_median: medianSorted(Float64Array.from(rt)),
    };
  });
  const nullHist = new Array<number>(k + 1).fill(0);
  for (const n of raw.null) for (let i = 0; i <= k; i++) nullHist[i] += n.histogram[i];
  let sum = 0;
  for (let i = 0; i < nrec.length; i++) sum += nrec[i];
  const median = medianSorted(nrec);
  const nullSummary = raw.null.length
    ? {
        seeds,
        per_seed: perSeed,
        n_recon_median_mean: mean(perSeed.map((p) => p.n_recon_median)),
        sparseness_median_mean: mean(perSeed.map((p) => p.sparseness_median)),
        n_recon_histogram: nullHist,
      }
    : null;
  return {
    pairs: {
      candidates: raw.candidates,
      firing: raw.positive + raw.nonpositive,
      firing_positive: raw.positive,
      firing_nonpositive: raw.nonpositive,
      n_recon_unreached: raw.unreached,
    },
    n_recon: { median, p90: percentileSorted(nrec, 0.9), mean: nrec.length ? sum / nrec.length : NaN, histogram: histogramOf(nrec, k + 1) },
    sparseness: { median: medianSorted(rts), p90: percentileSorted(rts, 0.9) },
    usage: Array.from(raw.usage),
    null: nullSummary,
    n_recon_median_gap: nullSummary ? nullSummary.n_recon_median_mean - median : null,
  };
}

/** Σ x in numpy's pairwise order (float64 add.reduce of a contiguous vector; see assembly/sparse/pairwise.ts). */
export function numpySum(x: ArrayLike<number>, start = 0, n = x.length): number {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[start + i];
    return s;
  }
  if (n <= 128) {
    const r = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => x[start + j]);
    const tail = n - (n % 8);
    for (let i = 8; i < tail; i += 8) for (let j = 0; j < 8; j++) r[j] += x[start + i + j];
    let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (let i = tail; i < n; i++) s += x[start + i];
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return numpySum(x, start, n2) + numpySum(x, start + n2, n - n2);
}

/** N_recon, selected indices and Rolls–Tovee sparseness of one relative term vector (the kernel's rule, in TS). */
export function decomposeTerms(rel: ArrayLike<number>, tau: number): { total: number; n_recon: number | null; selected: number[]; sparseness: number } {
  const r = rel.length;
  const total = numpySum(rel);
  const sparseness = (numpySum(Array.from(rel, Math.abs)) / r) ** 2 / (numpySum(Array.from(rel, (v) => v * v)) / r);
  if (!(total > 0)) return { total, n_recon: null, selected: [], sparseness };
  const order = Array.from({ length: r }, (_, i) => i).filter((i) => rel[i] > 0).sort((a, b) => rel[b] - rel[a]);
  const thr = tau * total - 1e-12 * Math.abs(total);
  let c = 0;
  for (let i = 0; i < order.length; i++) {
    c += rel[order[i]];
    if (c >= thr) return { total, n_recon: i + 1, selected: order.slice(0, i + 1), sparseness };
  }
  return { total, n_recon: 1, selected: order.slice(0, 1), sparseness };
}
