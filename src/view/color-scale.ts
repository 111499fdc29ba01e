/**
 * @module view/color-scale
 * Colour scales for heatmaps that one extreme head cannot wash out. `linear` maps the value,
 * `log` its log10 (positive values), `quantile` its rank among the cells (each colour step holds the
 * same number of heads). `auto` keeps the median head away from the ends of the bar: linear when the
 * median sits between 15 % and 85 % of it, else log (positive values) when that centres it, else quantile. The colour bar is horizontal under the chart with its end labels in the
 * original units (scientific notation), so nothing is clipped at the chart's edge.
 */
import { fmt } from "./format";
import { SEQUENTIAL } from "./palette";

export type ScaleKind = "auto" | "linear" | "log" | "quantile";

export interface ColourScale {
  kind: Exclude<ScaleKind, "auto">;
  /** the value's position on the bar */
  position(v: number): number;
  min: number;
  max: number;
  /** the value at a position of the bar (for labels) */
  valueAt(p: number): number;
  describe: string;
}

export function chooseScale(values: number[], asked: ScaleKind = "auto"): ColourScale {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const lo = finite[0] ?? 0;
  const hi = finite[finite.length - 1] ?? 1;
  const median = finite.length ? finite[finite.length >> 1] : 0;
  const centred = (f: (v: number) => number) => {
    const p = (f(median) - f(lo)) / (f(hi) - f(lo) || 1);
    return p >= 0.15 && p <= 0.85;
  };
  let kind: ColourScale["kind"] = asked !== "auto" ? asked : centred((v) => v) ? "linear" : lo > 0 && centred(Math.log10) ? "log" : "quantile";
  if (kind === "log" && !(lo > 0)) kind = "quantile";
  if (kind === "log") {
    return { kind, position: (v) => Math.log10(v), min: Math.log10(lo), max: Math.log10(hi), valueAt: (p) => 10 ** p, describe: "log scale" };
  }
  if (kind === "quantile") {
    const n = finite.length;
    const position = (v: number) => {
      // mid-rank of v among the values, in [0, 1]
      let a = 0;
      let b = n;
      while (a < b) { const m = (a + b) >> 1; if (finite[m] < v) a = m + 1; else b = m; }
      let c = a;
      while (c < n && finite[c] === v) c++;
      return n <= 1 ? 0.5 : ((a + c - 1) / 2) / (n - 1);
    };
    const valueAt = (p: number) => finite[Math.min(n - 1, Math.max(0, Math.round(p * (n - 1))))] ?? 0;
    return { kind, position, min: 0, max: 1, valueAt, describe: "quantile scale (colour = rank among heads)" };
  }
  return { kind, position: (v) => v, min: lo, max: hi === lo ? lo + 1 : hi, valueAt: (p) => p, describe: "linear scale" };
}

/** ECharts visualMap for a scale: a horizontal bar under the plot, labelled in the values' units. */
export function visualMapFor(scale: ColourScale) {
  return {
    type: "continuous",
    min: scale.min,
    max: scale.max,
    calculable: false,
    orient: "horizontal",
    left: "center",
    bottom: 0,
    itemWidth: 12,
    itemHeight: 180,
    text: [fmt(scale.valueAt(scale.max)), fmt(scale.valueAt(scale.min))],
    textGap: 6,
    inRange: { color: SEQUENTIAL },
    dimension: 2,
  };
}
