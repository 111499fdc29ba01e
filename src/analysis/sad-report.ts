/**
 * @module analysis/sad-report
 * What the scan report and the demo's prediction view say about one head's sparse attention
 * decomposition (method §4) and about all heads together: the per-head figures against the rotation
 * null, a verdict, the singular index × prompt selection counts, the same restricted to a focus set
 * of pairs (IOI's END→IO and END→S2), and the distribution of per-head median N_recon against the
 * null's (the paper's Fig. 9a). Pure TS, no I/O: reads a SAD answer (`headscope.sad/v1`) as JSON.
 */

/** Heads with fewer decomposed firing pairs than this get no verdict. */
export const SAD_VERDICT_MIN_PAIRS = 20;
/** A head is sparse when its median N_recon is at most this fraction of the null's. */
export const SAD_VERDICT_RATIO = 0.5;

export type SadVerdict = "sparse" | "not sparse" | "too few pairs";

export const SAD_VERDICT_RULE =
  `sparse: at least ${SAD_VERDICT_MIN_PAIRS} decomposed firing pairs and median N_recon ≤ ${SAD_VERDICT_RATIO} × the rotation null's ` +
  `(mean over seeds of the per-seed median); not sparse: otherwise; too few pairs: fewer than ${SAD_VERDICT_MIN_PAIRS} (or no null)`;

export function sadVerdict(positive: number, median: number | null, nullMedian: number | null): SadVerdict {
  if (positive < SAD_VERDICT_MIN_PAIRS || median === null || nullMedian === null) return "too few pairs";
  return median <= SAD_VERDICT_RATIO * nullMedian ? "sparse" : "not sparse";
}

export interface SadFigures {
  candidates: number;
  firing: number;
  firing_positive: number;
  firing_nonpositive: number;
  n_recon_median: number | null;
  n_recon_p90: number | null;
  /** Rolls–Tovee sparseness, median over pairs */
  sparseness_median: number | null;
  null_n_recon_median_mean: number | null;
  null_n_recon_p90_mean: number | null;
  null_sparseness_median_mean: number | null;
  /** the null's mean median N_recon minus the singular basis's (> 0 is the SAD claim) */
  n_recon_median_gap: number | null;
  verdict: SadVerdict;
  /** times each singular index was selected */
  usage: number[];
  /** [prompt][singular index] selection counts */
  usage_by_prompt: number[][];
}

export interface SadHeadReport extends SadFigures {
  id: string;
  tau: number;
  batch: number;
  tokens: number;
  /** rotary / window settings when the score depended on position */
  positional: { rotary_dim: number; rotary_base: number | null; window: number | null; offsets: number } | null;
  /** the same figures restricted to the requested focus pairs */
  focus: (SadFigures & { pairs_listed: number }) | null;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function figures(a: Record<string, any>): SadFigures {
  const perSeed: Array<Record<string, unknown>> = a.null?.per_seed ?? [];
  const positive = Number(a.pairs?.firing_positive ?? 0);
  const median = num(a.n_recon?.median);
  const nullMedian = num(a.null?.n_recon_median_mean);
  return {
    candidates: Number(a.pairs?.candidates ?? 0),
    firing: Number(a.pairs?.firing ?? 0),
    firing_positive: positive,
    firing_nonpositive: Number(a.pairs?.firing_nonpositive ?? 0),
    n_recon_median: median,
    n_recon_p90: num(a.n_recon?.p90),
    sparseness_median: num(a.sparseness?.median),
    null_n_recon_median_mean: nullMedian,
    null_n_recon_p90_mean: num(mean(perSeed.map((s) => Number(s.n_recon_p90)).filter(Number.isFinite))),
    null_sparseness_median_mean: num(a.null?.sparseness_median_mean),
    n_recon_median_gap: median !== null && nullMedian !== null ? nullMedian - median : null,
    verdict: sadVerdict(positive, median, nullMedian),
    usage: Array.isArray(a.usage) ? a.usage : [],
    usage_by_prompt: Array.isArray(a.usage_by_prompt) ? a.usage_by_prompt : [],
  };
}

/** One head's report from its SAD answer. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function sadHeadReport(a: Record<string, any>): SadHeadReport {
  const p = a.choices?.positional;
  return {
    id: String(a.id),
    tau: Number(a.choices?.tau),
    batch: Number(a.input?.batch),
    tokens: Number(a.input?.tokens),
    ...figures(a),
    positional: p ? { rotary_dim: Number(p.rotary_dim), rotary_base: num(p.rotary_base), window: num(p.window), offsets: Array.isArray(p.offsets) ? p.offsets.length : 0 } : null,
    focus: a.focus ? { pairs_listed: Number(a.focus.pairs_listed), ...figures(a.focus) } : null,
  };
}

/** Fig. 9a: per-head median N_recon in the singular basis and under the null, as integer-bin histograms. */
export function medianDistribution(heads: Array<Pick<SadFigures, "n_recon_median" | "null_n_recon_median_mean" | "verdict">>) {
  const own = heads.map((h) => h.n_recon_median).filter((v): v is number => v !== null);
  const nul = heads.map((h) => h.null_n_recon_median_mean).filter((v): v is number => v !== null);
  const top = Math.ceil(Math.max(1, ...own, ...nul));
  const hist = (xs: number[]) => {
    const h = new Array<number>(top + 1).fill(0);
    for (const x of xs) h[Math.round(x)]++;
    return h;
  };
  const verdicts: Record<SadVerdict, number> = { sparse: 0, "not sparse": 0, "too few pairs": 0 };
  for (const h of heads) verdicts[h.verdict]++;
  return { bins: [...Array(top + 1).keys()], singular: hist(own), null: hist(nul), verdicts, heads: heads.length };
}
