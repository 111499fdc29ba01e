/**
 * @module view/report-page
 * report.html's script (bundled by esbuild into build/report-client.js and inlined by
 * cli/report-html.ts after ECharts): the layer × head heatmaps (click a cell to open that head's
 * page), the spectra of one layer, σ₁(QK) against σ₁(OV) coloured by layer, the SAD section, the
 * sortable and filterable table with its CSV, and the head page (view/head-page.ts) whose selection
 * lives in the URL (#model/layer/head). The data is the page's JSON block `#report-data`.
 */
import type { NullBand } from "../analysis/null-band";
import { nullBandKey } from "../analysis/null-band";
import { chooseScale, visualMapFor, type ScaleKind } from "./color-scale";
import { fmt, sci } from "./format";
import { headHash, parseHeadHash } from "./head-hash";
import { renderHeadPage, type ChartLike, type CircuitView, type HeadView } from "./head-page";
import { layerColours, CATEGORICAL_12 } from "./palette";
import { drawSad } from "./report-sad";
import { enhanceTable } from "./table";

interface Chart extends ChartLike {
  on(event: string, cb: (p: { value?: unknown; data?: unknown }) => void): void;
}
declare const echarts: { init(el: HTMLElement, theme: null, opts: { renderer: string }): Chart };

// the fields of report.json entries the page reads (src/cli/report.ts has the whole shape)
export interface Entry {
  layer: number; head: number; circuit: "qk" | "ov"; variant: string; rotary_offset: number;
  singular_values: number[]; effective_rank: number; numerical_rank: number; frobenius_norm: number; top_energy: number;
  factor_rows: number; checks_passed: boolean; checks?: CircuitView["checks"]; factor_norms?: { a: number; b: number };
  vectors: string | null; readouts?: CircuitView["readouts"];
  sad?: { n_recon_median: number | null; null_n_recon_median_mean: number | null; verdict: string; firing_positive: number; focus?: import("./report-sad").SadDigest | null; usage_by_prompt: number[][] };
  [k: string]: unknown;
}
export interface ReportData {
  report: { model: string; facts: { n_layers: number; n_heads: number; d_head: number }; entries: Entry[]; scan: { sad?: { tau: number }; readouts?: unknown } };
  nullBands: Record<string, NullBand>;
  /** where the vectors links point (the worker the scan used) */
  apiBase: string;
  apiNote: string;
}

const data = JSON.parse(document.getElementById("report-data")!.textContent!) as ReportData;
const REPORT = data.report;
const PREF = ["folded_augmented", "folded", "raw_augmented", "raw"];
const entries = REPORT.entries.filter((e) => e.rotary_offset === 0);
const nL = REPORT.facts.n_layers;
const nH = REPORT.facts.n_heads;
const pick: Record<string, string | undefined> = {};
for (const c of ["qk", "ov"]) {
  const have = new Set(entries.filter((e) => e.circuit === c).map((e) => e.variant));
  pick[c] = PREF.find((v) => have.has(v)) ?? [...have][0];
}
document.getElementById("variants")!.textContent = ["qk", "ov"].filter((c) => pick[c]).map((c) => c + " " + pick[c]).join(", ");
const of = (c: string) => entries.filter((e) => e.circuit === c && e.variant === pick[c]);
const charts: Chart[] = [];
const mk = (id: string | HTMLElement) => {
  const ch = echarts.init(typeof id === "string" ? document.getElementById(id)! : id, null, { renderer: "svg" });
  charts.push(ch);
  return ch;
};
const layers = [...Array(nL).keys()];
const LAYER_COLOURS = layerColours(nL);

const scaleSelect = document.getElementById("scale") as HTMLSelectElement;
const heatCharts: Record<string, Chart> = {};
function heat(id: string, c: string, field: "s1" | "er", title: string) {
  const es = of(c);
  if (!es.length) {
    document.getElementById(id)!.textContent = "no " + c + " results";
    return;
  }
  const raw = es.map((e) => (field === "s1" ? e.singular_values[0] : e.effective_rank));
  const scale = chooseScale(raw, scaleSelect.value as ScaleKind);
  const cells = es.map((e, i) => [e.head, e.layer, scale.position(raw[i]), raw[i]]);
  heatCharts[id] ??= mk(id);
  heatCharts[id].setOption({
    animation: false,
    title: { text: `${title} · ${c.toUpperCase()} (${pick[c]}) · ${scale.describe}`, left: "center", textStyle: { fontSize: 13 } },
    tooltip: { formatter: (p: { value: number[] }) => `L${p.value[1]}H${p.value[0]}: ${fmt(p.value[3])} (click to open)` },
    grid: { left: 50, right: 16, top: 36, bottom: 64 },
    xAxis: { type: "category", name: "head", nameLocation: "middle", nameGap: 22, data: [...Array(nH).keys()].map(String) },
    yAxis: { type: "category", name: "layer", nameLocation: "middle", nameGap: 28, data: layers.map(String) },
    visualMap: visualMapFor(scale),
    series: [{ type: "heatmap", data: cells, emphasis: { itemStyle: { borderColor: "#000", borderWidth: 1 } } }],
  }, true);
}
const drawHeatmaps = () => {
  heat("s1-qk", "qk", "s1", "σ₁");
  heat("s1-ov", "ov", "s1", "σ₁");
  heat("er-qk", "qk", "er", "effective rank");
  heat("er-ov", "ov", "er", "effective rank");
};
drawHeatmaps();
scaleSelect.addEventListener("change", drawHeatmaps);
for (const ch of Object.values(heatCharts)) {
  ch.on("click", (p) => {
    const v = p.value as number[];
    openHead(v[1], v[0], true);
  });
}

const sel = document.getElementById("layer") as HTMLSelectElement;
for (const l of layers) sel.add(new Option(String(l), String(l)));
const specCharts: Record<string, Chart> = { qk: mk("spec-qk"), ov: mk("spec-ov") };
function spectra(layer: number) {
  for (const c of ["qk", "ov"]) {
    const es = of(c).filter((e) => e.layer === layer);
    specCharts[c].setOption({
      animation: false,
      color: nH <= 12 ? CATEGORICAL_12 : layerColours(nH),
      title: { text: "σ_k · " + c.toUpperCase() + " layer " + layer, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "item", formatter: (p: { seriesName: string; value: number[] }) => `${p.seriesName}: σ_${p.value[0]} = ${fmt(p.value[1])}` },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 64, right: 20, top: 40, bottom: 60 },
      xAxis: { type: "value", name: "k", min: 1, max: "dataMax" },
      yAxis: { type: "log", name: "σ_k", axisLabel: { formatter: sci } },
      series: es.map((e) => ({ name: "H" + e.head, type: "line", showSymbol: false, data: e.singular_values.map((s, k) => [k + 1, s > 0 ? s : null]) })),
    }, true);
  }
}
sel.addEventListener("change", () => spectra(Number(sel.value)));
spectra(0);

{
  const qk = new Map(of("qk").map((e) => [e.layer + ":" + e.head, e]));
  const byLayer = layers.map((l) => ({
    name: "L" + l, type: "scatter", symbolSize: 7, itemStyle: { color: LAYER_COLOURS[l] },
    data: of("ov").filter((e) => e.layer === l && qk.has(l + ":" + e.head)).map((e) => [qk.get(l + ":" + e.head)!.singular_values[0], e.singular_values[0], e.head]),
  }));
  const scatter = mk("qk-ov");
  scatter.setOption({
    animation: false,
    color: LAYER_COLOURS,
    title: { text: "σ₁(QK) against σ₁(OV), one point per head, colour = layer", left: "center", textStyle: { fontSize: 13 } },
    tooltip: { formatter: (p: { seriesName: string; value: number[] }) => p.seriesName + "H" + p.value[2] + ": QK " + fmt(p.value[0]) + ", OV " + fmt(p.value[1]) },
    legend: { type: "scroll", bottom: 0 },
    grid: { left: 64, right: 20, top: 40, bottom: 60 },
    xAxis: { type: "log", name: "σ₁ QK", axisLabel: { formatter: sci } },
    yAxis: { type: "log", name: "σ₁ OV", axisLabel: { formatter: sci } },
    series: byLayer,
  });
  scatter.on("click", (p) => {
    const v = p.value as number[];
    const s = (p as { seriesName?: string }).seriesName ?? "";
    openHead(Number(s.slice(1)), v[2], true);
  });
  // the layer colours, readable by tests and screen readers
  document.getElementById("qk-ov")!.dataset.layerColours = LAYER_COLOURS.join(",");
}

if (document.getElementById("sad-fig9a")) drawSad(entries, mk);

const table = document.getElementById("heads") as HTMLTableElement;
const controls = enhanceTable(table, document.getElementById("heads-filter") as HTMLInputElement);
document.getElementById("heads-csv")!.addEventListener("click", (ev) => {
  const a = ev.currentTarget as HTMLAnchorElement;
  a.href = URL.createObjectURL(new Blob([controls.csv()], { type: "text/csv" }));
});
table.addEventListener("click", (ev) => {
  const tr = (ev.target as HTMLElement).closest("tr");
  if (tr?.dataset.layer) openHead(Number(tr.dataset.layer), Number(tr.dataset.head), true);
});

// the head page
const headRoot = document.getElementById("head-page")!;
function circuitView(e: Entry | undefined): CircuitView | undefined {
  if (!e) return undefined;
  return {
    circuit: e.circuit, variant: e.variant, singular_values: e.singular_values, effective_rank: e.effective_rank,
    frobenius_norm: e.frobenius_norm, top_energy: e.top_energy, numerical_rank: e.numerical_rank,
    d_head: REPORT.facts.d_head, factor_rows: e.factor_rows, checks: e.checks, factor_norms: e.factor_norms,
    readouts: "readouts" in e ? e.readouts : undefined,
    readoutsAbsent: REPORT.scan.readouts
      ? "Not computed for this result (stored before readouts, or a rotary offset Δ ≠ 0)."
      : "None: the scan had no readout basis (no embedding in the checkpoint) or ran with --readouts 0.",
    vectorsUrl: e.vectors ? data.apiBase + e.vectors : null,
    json: e,
  };
}
let shown = "";
async function openHead(layer: number, head: number, push: boolean) {
  if (!(layer >= 0 && layer < nL && head >= 0 && head < nH)) {
    headRoot.hidden = false;
    headRoot.replaceChildren(Object.assign(document.createElement("p"), { className: "note", textContent: `No head L${layer}H${head} in this report (layers 0–${nL - 1}, heads 0–${nH - 1}).` }));
    return;
  }
  const key = `${layer}/${head}`;
  const hash = headHash({ model: REPORT.model, layer, head });
  if (push && location.hash !== hash) history.pushState(null, "", hash);
  if (shown === key) return headRoot.scrollIntoView();
  shown = key;
  const find = (c: string) => entries.find((e) => e.layer === layer && e.head === head && e.circuit === c && e.variant === pick[c]);
  const qkE = find("qk");
  const view: HeadView = {
    model: REPORT.model, layer, head, qk: circuitView(qkE), ov: circuitView(find("ov")),
    sad: qkE?.sad ? { n_recon_median: qkE.sad.n_recon_median, null_n_recon_median_mean: qkE.sad.null_n_recon_median_mean, verdict: qkE.sad.verdict, firing_positive: qkE.sad.firing_positive, tau: REPORT.scan.sad?.tau } : REPORT.scan.sad ? null : undefined,
    vectorsNote: data.apiNote,
  };
  headRoot.hidden = false;
  await renderHeadPage(headRoot, view, {
    chart: (el) => mk(el),
    nullBand: async (rows, d) => data.nullBands[nullBandKey(rows, d)],
  });
  if (push) headRoot.scrollIntoView();
}
const fromHash = () => {
  const r = parseHeadHash(location.hash);
  if (!r) return;
  if (r.model !== REPORT.model) {
    headRoot.hidden = false;
    headRoot.replaceChildren(Object.assign(document.createElement("p"), { className: "note", textContent: `This report is of ${REPORT.model}, not ${r.model}.` }));
    return;
  }
  return openHead(r.layer, r.head, false);
};
window.addEventListener("hashchange", () => void fromHash());
window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
void Promise.resolve(fromHash()).then(() => {
  (window as unknown as { HEADSCOPE_READY: boolean }).HEADSCOPE_READY = true;
});
