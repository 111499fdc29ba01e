/**
 * @module cli/report-html
 * report.html: one self-contained page (ECharts 6 inlined, no network) with layer × head heatmaps of
 * σ₁ and effective rank per circuit, the spectra of one layer at a time, σ₁(QK) against σ₁(OV), and a
 * table of every head's numbers. Charts use the SVG renderer so their text is in the DOM.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Report } from "./report";

/** Escapes a script body so that no `</script` can end the element early. */
const inlineScript = (js: string) => js.replace(/<\/(script)/gi, "<\\/$1");
const json = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

export function echartsSource(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve("echarts/dist/echarts.min.js"), "utf8");
}

/** Formats a number the way the page's table does (4 significant digits). */
export const fmt = (x: number) => (x === 0 ? "0" : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toPrecision(4));

export function renderReportHtml(report: Report, echarts = echartsSource()): string {
  const f = report.facts;
  const withSad = report.entries.some((e) => e.sad);
  const sadCells = (e: Report["entries"][number]) =>
    !withSad ? "" : e.sad ? `<td class="sad">${e.sad.n_recon_median ?? "–"}</td><td>${e.sad.null_n_recon_median_mean === null ? "–" : fmt(e.sad.null_n_recon_median_mean)}</td>` : "<td></td><td></td>";
  const rows = report.entries
    .filter((e) => e.rotary_offset === 0)
    .map(
      (e) =>
        `<tr data-layer="${e.layer}" data-head="${e.head}" data-circuit="${e.circuit}" data-variant="${e.variant}"><td>${e.layer}</td><td>${e.head}</td><td>${e.circuit}</td><td>${e.variant}</td>` +
        `<td class="s1">${fmt(e.singular_values[0] ?? 0)}</td><td>${fmt(e.singular_values[1] ?? 0)}</td><td class="er">${fmt(e.effective_rank)}</td><td>${fmt(e.top_energy)}</td>${sadCells(e)}</tr>`,
    )
    .join("\n");
  const facts = [
    ["architecture", f.architecture], ["layers", f.n_layers], ["heads", f.n_heads], ["kv heads", f.n_kv_heads],
    ["d_model", f.d_model], ["d_head", f.d_head], ["score scale", fmt(f.attention_scale)], ["norm", f.norm],
    ["rotary_dim", f.rotary_dim], ["n_heads from", f.n_heads_source], ["entries", report.entries.length],
  ].map(([k, v]) => `<tr><th>${esc(String(k))}</th><td>${esc(String(v))}</td></tr>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>headscope · ${esc(report.model)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1280px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.chart{height:380px;border:1px solid #ddd;border-radius:4px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}
th{text-align:left}#heads{max-height:480px;overflow:auto;display:block}
.note{color:#666}
</style></head><body>
<h1>headscope scan · <span id="model">${esc(report.model)}</span></h1>
<p class="note">QK: Ω = W_Q W_Kᵀ, OV: W_V W_O, singular values from the factored SVD (method §1–§3). Variant per chart: <span id="variants"></span>.</p>
<table id="facts">${facts}</table>
<h2>σ₁ per layer and head</h2><div class="grid"><div id="s1-qk" class="chart"></div><div id="s1-ov" class="chart"></div></div>
<h2>Effective rank per layer and head</h2><div class="grid"><div id="er-qk" class="chart"></div><div id="er-ov" class="chart"></div></div>
<h2>Spectra of layer <select id="layer"></select></h2><div class="grid"><div id="spec-qk" class="chart"></div><div id="spec-ov" class="chart"></div></div>
<h2>QK against OV</h2><div class="grid"><div id="qk-ov" class="chart"></div></div>
<h2>Every head</h2>
<table id="heads"><thead><tr><th>layer</th><th>head</th><th>circuit</th><th>variant</th><th>σ₁</th><th>σ₂</th><th>eff. rank</th><th>σ₁²/Σσ²</th>${withSad ? "<th>SAD N_recon median</th><th>null (rotation)</th>" : ""}</tr></thead><tbody>
${rows}
</tbody></table>
<script>${inlineScript(echarts)}</script>
<script>
const REPORT = ${json(report)};
const PREF = ["folded_augmented", "folded", "raw_augmented", "raw"];
const entries = REPORT.entries.filter((e) => e.rotary_offset === 0);
const nL = REPORT.facts.n_layers, nH = REPORT.facts.n_heads;
const pick = {};
for (const c of ["qk", "ov"]) {
  const have = new Set(entries.filter((e) => e.circuit === c).map((e) => e.variant));
  pick[c] = PREF.find((v) => have.has(v));
}
document.getElementById("variants").textContent = ["qk", "ov"].filter((c) => pick[c]).map((c) => c + " " + pick[c]).join(", ");
const of = (c) => entries.filter((e) => e.circuit === c && e.variant === pick[c]);
const charts = [];
const mk = (id) => { const ch = echarts.init(document.getElementById(id), null, { renderer: "svg" }); charts.push(ch); return ch; };
function heat(id, c, field, title) {
  const data = of(c).map((e) => [e.head, e.layer, field === "s1" ? e.singular_values[0] : e.effective_rank]);
  if (!data.length) { document.getElementById(id).textContent = "no " + c + " results"; return; }
  const vals = data.map((d) => d[2]);
  mk(id).setOption({
    animation: false,
    title: { text: title + " · " + c.toUpperCase() + " (" + pick[c] + ")", left: "center", textStyle: { fontSize: 13 } },
    tooltip: { formatter: (p) => "L" + p.value[1] + "H" + p.value[0] + ": " + p.value[2].toPrecision(4) },
    grid: { left: 50, right: 80, top: 40, bottom: 40 },
    xAxis: { type: "category", name: "head", data: [...Array(nH).keys()].map(String) },
    yAxis: { type: "category", name: "layer", data: [...Array(nL).keys()].map(String) },
    visualMap: { min: Math.min(...vals), max: Math.max(...vals), calculable: true, orient: "vertical", right: 0, top: "middle", precision: 2,
      inRange: { color: ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"] } },
    series: [{ type: "heatmap", data, emphasis: { itemStyle: { borderColor: "#000" } } }],
  });
}
heat("s1-qk", "qk", "s1", "σ₁"); heat("s1-ov", "ov", "s1", "σ₁");
heat("er-qk", "qk", "er", "effective rank"); heat("er-ov", "ov", "er", "effective rank");
const sel = document.getElementById("layer");
for (let l = 0; l < nL; l++) sel.add(new Option(String(l), String(l)));
const specCharts = { qk: mk("spec-qk"), ov: mk("spec-ov") };
function spectra(layer) {
  for (const c of ["qk", "ov"]) {
    const es = of(c).filter((e) => e.layer === layer);
    specCharts[c].setOption({
      animation: false,
      title: { text: "σ_k · " + c.toUpperCase() + " layer " + layer, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "item" },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 60, right: 20, top: 40, bottom: 60 },
      xAxis: { type: "value", name: "k", min: 1 },
      yAxis: { type: "log", name: "σ_k" },
      series: es.map((e) => ({ name: "H" + e.head, type: "line", showSymbol: false,
        data: e.singular_values.map((s, k) => [k + 1, Math.max(s, 1e-12)]) })),
    }, true);
  }
}
sel.addEventListener("change", () => spectra(Number(sel.value)));
spectra(0);
{
  const qk = new Map(of("qk").map((e) => [e.layer + ":" + e.head, e]));
  const byLayer = [...Array(nL).keys()].map((l) => ({
    name: "L" + l, type: "scatter", symbolSize: 7,
    data: of("ov").filter((e) => e.layer === l && qk.has(l + ":" + e.head)).map((e) => [qk.get(l + ":" + e.head).singular_values[0], e.singular_values[0], e.head]),
  }));
  mk("qk-ov").setOption({
    animation: false,
    title: { text: "σ₁(QK) against σ₁(OV), one point per head", left: "center", textStyle: { fontSize: 13 } },
    tooltip: { formatter: (p) => p.seriesName + "H" + p.value[2] + ": QK " + p.value[0].toPrecision(4) + ", OV " + p.value[1].toPrecision(4) },
    legend: { type: "scroll", bottom: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 60 },
    xAxis: { type: "log", name: "σ₁ QK" },
    yAxis: { type: "log", name: "σ₁ OV" },
    series: byLayer,
  });
}
window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
window.HEADSCOPE_READY = true;
</script>
</body></html>
`;
}
