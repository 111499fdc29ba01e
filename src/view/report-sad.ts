/**
 * @module view/report-sad
 * report.html's SAD section (method §4): Fig. 9a (per-head median N_recon against the rotation null,
 * all firing pairs and, for IOI, END→IO/S2 pairs) and the singular index × prompt selection heatmaps
 * of the head chosen in #sad-head.
 */
import type { ChartLike } from "./head-page";

export interface SadDigest { n_recon_median: number | null; null_n_recon_median_mean: number | null; verdict: string; usage_by_prompt: number[][]; focus?: SadDigest | null }
interface SadEntry { layer: number; head: number; circuit: string; sad?: SadDigest }

export function drawSad(entries: SadEntry[], mk: (id: string) => ChartLike) {
  const sadHeads = entries.filter((e) => e.sad && e.circuit === "qk");
  const dist = (get: (e: SadEntry) => SadDigest | null | undefined) => {
    const own = sadHeads.map((e) => get(e)?.n_recon_median).filter((x): x is number => x !== null && x !== undefined);
    const nul = sadHeads.map((e) => get(e)?.null_n_recon_median_mean).filter((x): x is number => x !== null && x !== undefined);
    const top = Math.ceil(Math.max(1, ...own, ...nul));
    const h = (xs: number[]) => {
      const o = new Array<number>(top + 1).fill(0);
      for (const x of xs) o[Math.round(x)]++;
      return o;
    };
    return { bins: [...Array(top + 1).keys()].map(String), own: h(own), nul: h(nul) };
  };
  const fig = (id: string, get: (e: SadEntry) => SadDigest | null | undefined, title: string) => {
    const d = dist(get);
    mk(id).setOption({
      animation: false,
      title: { text: title, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis" }, legend: { bottom: 0 },
      grid: { left: 50, right: 20, top: 40, bottom: 60 },
      xAxis: { type: "category", name: "median N_recon", data: d.bins },
      yAxis: { type: "value", name: "heads" },
      series: [{ name: "singular basis", type: "bar", data: d.own }, { name: "rotation null (mean of per-seed medians, rounded)", type: "bar", data: d.nul }],
    });
  };
  fig("sad-fig9a", (e) => e.sad, "Per-head median N_recon: singular basis against the null (Fig. 9a)");
  if (document.getElementById("sad-fig9a-focus")) fig("sad-fig9a-focus", (e) => e.sad?.focus, "The same on END→IO and END→S2 pairs");
  const hs = document.getElementById("sad-head") as HTMLSelectElement;
  sadHeads.forEach((e, i) => hs.add(new Option("L" + e.layer + "H" + e.head + " (" + e.sad!.verdict + ")", String(i))));
  const usage = { all: mk("sad-usage"), focus: document.getElementById("sad-usage-focus") ? mk("sad-usage-focus") : null };
  const heat = (chart: ChartLike | null, rows: number[][], title: string) => {
    if (!chart) return;
    const cells: number[][] = [];
    let max = 1;
    rows.forEach((r, p) => r.forEach((c, k) => {
      if (c) {
        cells.push([p, k, c]);
        if (c > max) max = c;
      }
    }));
    const R = rows.length ? rows[0].length : 0;
    chart.setOption({
      animation: false,
      title: { text: title, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { formatter: (q: { value: number[] }) => "prompt " + q.value[0] + ", index " + (q.value[1] + 1) + ": selected " + q.value[2] + "×" },
      grid: { left: 50, right: 16, top: 40, bottom: 64 },
      xAxis: { type: "category", name: "prompt", nameLocation: "middle", nameGap: 22, data: rows.map((_, p) => String(p)) },
      yAxis: { type: "category", name: "singular index", nameLocation: "middle", nameGap: 30, data: [...Array(R).keys()].map((k) => String(k + 1)) },
      visualMap: { min: 0, max, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 180, text: [String(max), "0"], inRange: { color: ["#f7fbff", "#6baed6", "#08306b"] } },
      series: [{ type: "heatmap", data: cells }],
    }, true);
  };
  const show = (i: number) => {
    const e = sadHeads[i];
    if (!e) return;
    heat(usage.all, e.sad!.usage_by_prompt, "L" + e.layer + "H" + e.head + ": selected singular indices per prompt (all firing pairs)");
    if (e.sad!.focus) heat(usage.focus, e.sad!.focus.usage_by_prompt, "L" + e.layer + "H" + e.head + ": END→IO and END→S2 pairs");
  };
  hs.addEventListener("change", () => show(Number(hs.value)));
  show(0);
}
