/**
 * @module toy/acceptance
 * The acceptance checks of issue 5, evaluated on finished runs: per-run pass/fail for single-pair and
 * many-pairs, and the anisotropy table (mean pairwise feature cosine beside c, mean matched |cos|
 * over seeds). Thresholds are the issue's; nothing here tunes or retries a run.
 */
import type { ToyRun } from "./train";

export interface Check {
  name: string;
  value: number | null;
  threshold: string;
  pass: boolean;
}

export interface RunAcceptance {
  seed: number;
  anisotropy: number;
  checks: Check[];
  /** figures reported beside the checks (matched counts at each reported threshold; the crowded case's counts) */
  figures: { name: string; value: number | null }[];
  pass: boolean;
}

const check = (name: string, value: number | null, threshold: string, pass: boolean): Check => ({ name, value, threshold, pass });

/** The checks that apply to a run's experiment (none for the anisotropy sweep, which is a table; none for the crowded case, which is a picture). */
export function checkRun(run: ToyRun): RunAcceptance {
  const f = run.final;
  const checks: Check[] = [];
  if (run.config.name === "single-pair") {
    checks.push(
      check("|cos(w_0, u_1)|", f.top1CosU, "≥ 0.95", f.top1CosU >= 0.95),
      check("|cos(w_1, v_1)|", f.top1CosV, "≥ 0.95", f.top1CosV >= 0.95),
      check("σ_1 / σ_2", f.sigmaRatio, "≥ 5", f.sigmaRatio >= 5),
      check("alignment step (alignment ≥ 0.95)", f.alignStep, "< orthogonal step", f.alignStep !== null && f.orthogonalStep !== null && f.alignStep < f.orthogonalStep),
      check("orthogonal step (max |cos| to others ≤ 0.1)", f.orthogonalStep, "reached", f.orthogonalStep !== null),
      check("max |cos| of w_0, w_1 to the other features", f.attendedMaxCosToOthers, "≤ 0.05", f.attendedMaxCosToOthers <= 0.05),
    );
  } else if (run.config.name === "many-pairs") {
    checks.push(
      check("pairs matched one-to-one in the top 20", f.matchedCount, "≥ 18", f.matchedCount >= 18),
      check("mean matched |cos|", f.matchedMean, "≥ 0.9", f.matchedMean >= 0.9),
      check("Spearman(σ, template)", f.spearman, "≥ 0.8", f.spearman !== null && f.spearman >= 0.8),
    );
  }
  const figures: RunAcceptance["figures"] = [];
  if (run.config.template.length > 1) {
    figures.push(...(f.matchedCounts ?? []).map((m) => ({ name: `matched at |cos| ≥ ${m.threshold}`, value: m.count })));
    figures.push({ name: "mean matched |cos|", value: f.matchedMean });
  }
  if (run.config.name === "crowded") {
    for (const status of ["own", "shared", "none"] as const) figures.push({ name: `pairs: ${status}`, value: (f.occupancy ?? []).filter((o) => o.status === status).length });
  }
  return { seed: run.seed, anisotropy: run.config.anisotropy, checks, figures, pass: checks.every((c) => c.pass) };
}

export interface AnisotropyRow {
  c: number;
  seeds: number;
  /** mean over seeds of the final mean signed pairwise feature cosine */
  meanPairwiseCos: number;
  /** mean over seeds of the final mean token cosine */
  meanTokenCos: number;
  matchedMeanAvg: number;
  matchedMeanMin: number;
  matchedMeanMax: number;
  matchedCountAvg: number;
  /** mean over seeds of the matched count at each reported threshold (0.9, 0.8) */
  matchedCountsAvg: { threshold: number; count: number }[];
  spearmanAvg: number | null;
}

/** One row per anisotropy value c, over the runs that used it, sorted by c. */
export function anisotropyTable(runs: ToyRun[]): AnisotropyRow[] {
  const byC = new Map<number, ToyRun[]>();
  for (const r of runs) byC.set(r.config.anisotropy, [...(byC.get(r.config.anisotropy) ?? []), r]);
  const avg = (v: number[]) => v.reduce((s, a) => s + a, 0) / v.length;
  return [...byC.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([c, rs]) => {
      const mm = rs.map((r) => r.final.matchedMean);
      const sp = rs.map((r) => r.final.spearman).filter((x): x is number => x !== null);
      return {
        c,
        seeds: rs.length,
        meanPairwiseCos: avg(rs.map((r) => r.final.meanPairwiseCos)),
        meanTokenCos: avg(rs.map((r) => r.final.meanTokenCos)),
        matchedMeanAvg: avg(mm),
        matchedMeanMin: Math.min(...mm),
        matchedMeanMax: Math.max(...mm),
        matchedCountAvg: avg(rs.map((r) => r.final.matchedCount)),
        matchedCountsAvg: (rs[0].final.matchedCounts ?? []).map((m, i) => ({ threshold: m.threshold, count: avg(rs.map((r) => r.final.matchedCounts[i]?.count ?? 0)) })),
        spearmanAvg: sp.length ? avg(sp) : null,
      };
    });
}

/** Whether mean matched |cos| never rises by more than `slack` as c grows (the "degrades smoothly" reading). */
export function degradesMonotonically(rows: AnisotropyRow[], slack = 0.02): boolean {
  return rows.every((r, i) => i === 0 || r.matchedMeanAvg <= rows[i - 1].matchedMeanAvg + slack);
}
