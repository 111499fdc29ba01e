/**
 * @module view/palette
 * Colours of the pages. Layers get categorical colours, distinct for up to 12 layers (Tableau 10 and
 * two dark ones), and a perceptual rainbow (turbo) sampled at n points beyond, so no two layers
 * share a colour (ECharts' default palette has 9 and repeats: layer 9 took layer 0's colour). Values
 * get a sequential scale (viridis).
 */

export const CATEGORICAL_12 = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939",
];

/** turbo (Mikhailov 2019), 10 anchors */
const TURBO = ["#30123b", "#4662d7", "#36aaf9", "#1ae4b6", "#72fe5e", "#c8ef34", "#faba39", "#f66b19", "#cb2a04", "#7a0403"];

/** viridis, 5 anchors: low → high */
export const SEQUENTIAL = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

const hex = (c: string) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
const toHex = (rgb: number[]) => "#" + rgb.map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");

/** The colour at t ∈ [0, 1] of a piecewise-linear scale through `anchors`. */
export function interpolate(anchors: string[], t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (anchors.length - 1);
  const i = Math.min(anchors.length - 2, Math.floor(x));
  const a = hex(anchors[i]);
  const b = hex(anchors[i + 1]);
  const f = x - i;
  return toHex(a.map((v, j) => v + (b[j] - v) * f));
}

/** One colour per layer, all different. */
export function layerColours(n: number): string[] {
  if (n <= CATEGORICAL_12.length) return CATEGORICAL_12.slice(0, n);
  const out: string[] = [];
  for (let l = 0; l < n; l++) {
    let c = interpolate(TURBO, l / (n - 1));
    // rounding can make neighbours equal at very large n: nudge until unique
    while (out.includes(c)) c = toHex(hex(c).map((v, j) => (j === 2 ? (v + 1) % 256 : v)));
    out.push(c);
  }
  return out;
}
