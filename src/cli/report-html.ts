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
  const withFocus = report.entries.some((e) => e.sad?.focus);
  const sadSection = withSad ? renderSadSection(report, withFocus) : "";
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
th{text-align:left}#heads,#sad-heads{max-height:480px;overflow:auto;display:block}
.v-sparse{color:#1a7f37;font-weight:600}.v-not{color:#b42318}.v-few{color:#888}
.note{color:#666}
</style></head><body>
<h1>headscope scan · <span id="model">${esc(report.model)}</span></h1>
<p class="note">QK: Ω = W_Q W_Kᵀ, OV: W_V W_O, singular values from the factored SVD (method §1–§3). Variant per chart: <span id="variants"></span>.</p>
<table id="facts">${facts}</table>
<h2>σ₁ per layer and head</h2><div class="grid"><div id="s1-qk" class="chart"></div><div id="s1-ov" class="chart"></div></div>
<h2>Effective rank per layer and head</h2><div class="grid"><div id="er-qk" class="chart"></div><div id="er-ov" class="chart"></div></div>
<h2>Spectra of layer <select id="layer"></select></h2><div class="grid"><div id="spec-qk" class="chart"></div><div id="spec-ov" class="chart"></div></div>
<h2>QK against OV</h2><div class="grid"><div id="qk-ov" class="chart"></div></div>
${sadSection}
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
${withSad ? SAD_SCRIPT : ""}
window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
window.HEADSCOPE_READY = true;
</script>
</body></html>
`;
}

const nums = (x: number | null) => (x === null ? "–" : fmt(x));
const verdictClass = (v: string) => (v === "sparse" ? "v-sparse" : v === "not sparse" ? "v-not" : "v-few");

/** The SAD part of the page: the rule, Fig. 9a, a per-head table against the null, and the index × prompt heatmaps. */
function renderSadSection(report: Report, withFocus: boolean): string {
  const sad = report.scan.sad;
  const heads = report.entries.filter((e) => e.sad);
  const v = report.sad_overview?.verdicts;
  const prompts = sad?.prompts ? Object.entries(sad.prompts).filter(([, x]) => typeof x !== "object").map(([k, x]) => `${k} ${x}`).join(", ") : "from an activation file";
  const focusCells = (e: (typeof heads)[number]) => {
    const f = e.sad!.focus;
    return !withFocus ? "" : f
      ? `<td>${f.firing_positive}/${f.pairs_listed}</td><td>${nums(f.n_recon_median)}</td><td>${nums(f.null_n_recon_median_mean)}</td><td class="${verdictClass(f.verdict)}">${f.verdict}</td>`
      : "<td></td><td></td><td></td><td></td>";
  };
  const rows = heads.map((e) => {
    const d = e.sad!;
    return `<tr data-layer="${e.layer}" data-head="${e.head}"><td>${e.layer}</td><td>${e.head}</td><td>${e.variant}</td><td>${d.firing_positive}</td><td>${d.firing_nonpositive}</td>` +
      `<td class="med">${nums(d.n_recon_median)}</td><td>${nums(d.n_recon_p90)}</td><td class="nullmed">${nums(d.null_n_recon_median_mean)}</td><td>${nums(d.null_n_recon_p90_mean)}</td>` +
      `<td>${nums(d.sparseness_median)}</td><td>${nums(d.null_sparseness_median_mean)}</td><td class="verdict ${verdictClass(d.verdict)}">${d.verdict}</td>${focusCells(e)}</tr>`;
  }).join("\n");
  const positional = heads.find((e) => e.sad!.positional)?.sad!.positional;
  return `<h2>Sparse attention decomposition (method §4)</h2>
<p class="note">Prompts: ${esc(prompts)}; ${sad?.batch ?? "?"} prompts × ${sad?.tokens ?? "?"} tokens (${esc(sad?.prompt_lengths ?? "")}); τ = ${sad?.tau}.
${positional ? `Score depends on position: ${positional.rotary_dim ? `rotary (rotary_dim ${positional.rotary_dim}, base ${positional.rotary_base}): each firing pair (d, s) is decomposed in the SVD of Ω_Δ, Δ = d − s, and the null rotates each Ω_Δ's basis` : ""}${positional.window ? ` local window ${positional.window}` : ""}.` : ""}
Verdict rule: ${esc(sad?.verdict_rule ?? "")}. Heads: <span id="sad-verdicts">${v ? `${v.sparse} sparse, ${v["not sparse"]} not sparse, ${v["too few pairs"]} too few pairs` : ""}</span>.</p>
<div class="grid"><div id="sad-fig9a" class="chart"></div>${withFocus ? '<div id="sad-fig9a-focus" class="chart"></div>' : ""}</div>
<h2>Singular index × prompt: how often each index is selected, <select id="sad-head"></select></h2>
<div class="grid"><div id="sad-usage" class="chart"></div>${withFocus ? '<div id="sad-usage-focus" class="chart"></div>' : ""}</div>
<h2>SAD per head against the rotation null</h2>
<table id="sad-heads"><thead><tr><th>layer</th><th>head</th><th>variant</th><th>firing (Σt̃ &gt; 0)</th><th>firing (Σt̃ ≤ 0)</th><th>N_recon median</th><th>p90</th><th>null median</th><th>null p90</th><th>Rolls–Tovee</th><th>null R–T</th><th>verdict</th>${withFocus ? "<th>END→IO/S2 firing</th><th>median</th><th>null</th><th>verdict</th>" : ""}</tr></thead><tbody>
${rows}
</tbody></table>`;
}

/** Page script for the SAD section (runs after the main script; REPORT, mk, nL, nH are in scope). */
const SAD_SCRIPT = `
{
  const sadHeads = entries.filter((e) => e.sad && e.circuit === "qk");
  const dist = (get) => {
    const own = sadHeads.map((e) => get(e) && get(e).n_recon_median).filter((x) => x !== null && x !== undefined);
    const nul = sadHeads.map((e) => get(e) && get(e).null_n_recon_median_mean).filter((x) => x !== null && x !== undefined);
    const top = Math.ceil(Math.max(1, ...own, ...nul));
    const h = (xs) => { const o = new Array(top + 1).fill(0); for (const x of xs) o[Math.round(x)]++; return o; };
    return { bins: [...Array(top + 1).keys()].map(String), own: h(own), nul: h(nul) };
  };
  const fig = (id, get, title) => {
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
  if (document.getElementById("sad-fig9a-focus")) fig("sad-fig9a-focus", (e) => e.sad.focus, "The same on END→IO and END→S2 pairs");
  const hs = document.getElementById("sad-head");
  sadHeads.forEach((e, i) => hs.add(new Option("L" + e.layer + "H" + e.head + " (" + e.sad.verdict + ")", String(i))));
  const usageCharts = { all: mk("sad-usage"), focus: document.getElementById("sad-usage-focus") ? mk("sad-usage-focus") : null };
  const heat = (chart, rows, title) => {
    if (!chart) return;
    const data = [];
    let max = 1;
    rows.forEach((r, p) => r.forEach((c, k) => { if (c) { data.push([p, k, c]); if (c > max) max = c; } }));
    const R = rows.length ? rows[0].length : 0;
    chart.setOption({
      animation: false,
      title: { text: title, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { formatter: (q) => "prompt " + q.value[0] + ", index " + (q.value[1] + 1) + ": selected " + q.value[2] + "×" },
      grid: { left: 50, right: 80, top: 40, bottom: 40 },
      xAxis: { type: "category", name: "prompt", data: rows.map((_, p) => String(p)) },
      yAxis: { type: "category", name: "singular index", data: [...Array(R).keys()].map((k) => String(k + 1)) },
      visualMap: { min: 0, max, calculable: true, orient: "vertical", right: 0, top: "middle", inRange: { color: ["#f7fbff", "#6baed6", "#08306b"] } },
      series: [{ type: "heatmap", data }],
    }, true);
  };
  const show = (i) => {
    const e = sadHeads[i];
    if (!e) return;
    heat(usageCharts.all, e.sad.usage_by_prompt, "L" + e.layer + "H" + e.head + ": selected singular indices per prompt (all firing pairs)");
    if (e.sad.focus) heat(usageCharts.focus, e.sad.focus.usage_by_prompt, "L" + e.layer + "H" + e.head + ": END→IO and END→S2 pairs");
  };
  hs.addEventListener("change", () => show(Number(hs.value)));
  show(0);
}
`;
