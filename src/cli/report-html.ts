/**
 * @module cli/report-html
 * report.html: one self-contained page (ECharts 6 inlined, no network) with layer × head heatmaps of
 * σ₁ and effective rank per circuit (linear, log or quantile colour scales; click a cell to open the
 * head), the spectra of one layer, σ₁(QK) against σ₁(OV) coloured by layer, every metric defined, a
 * sortable and filterable table with its CSV, and a page per head (view/head-page.ts, shared with the
 * demo page) whose selection is the URL's #model/layer/head. The page's script is src/view/report-page.ts,
 * bundled into build/report-client.js; this module writes the HTML, the data block and the Gaussian
 * null bands of the heads' factor shapes (computed here with the WebAssembly factored SVD). Charts use
 * the SVG renderer so their text is in the DOM.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { gaussianNullBand, nullBandKey, type NullBand } from "../analysis/null-band";
import { loadKernels } from "../kernels/load-node";
import type { Kernels } from "../kernels/types";
import { metricsHtml } from "../view/metrics";
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

/** The page's script (src/view/report-page.ts), built by `npm run build:demo` and scripts/build-cli.mjs. */
export function reportClientSource(): string {
  const path = fileURLToPath(new URL("../../build/report-client.js", import.meta.url));
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new Error(`report page script not built: ${path} is missing (run \`npm run build:demo\`)`);
  }
}

/** Null bands of every factor shape [rows, d_head] among the entries that carry factor norms. */
export function reportNullBands(report: Report, kernels?: Pick<Kernels, "factoredSvd">): Record<string, NullBand> {
  const shapes = new Map<string, [number, number]>();
  for (const e of report.entries) if (e.factor_norms) shapes.set(nullBandKey(e.factor_rows, report.facts.d_head), [e.factor_rows, report.facts.d_head]);
  if (!shapes.size) return {};
  const k = kernels ?? loadKernels("release");
  return Object.fromEntries([...shapes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, [rows, d]]) => [key, gaussianNullBand(k, rows, d)]));
}

/** Where the vectors links of the head pages point. */
function apiOf(report: Report) {
  return report.scan.endpoint === "local"
    ? { apiBase: "http://127.0.0.1:8787", apiNote: "The vectors links point to the local worker: `npm start` serves them from the scan's state (.wrangler/state, or the scan's --state)." }
    : { apiBase: "", apiNote: "The vectors links are paths on the worker the scan used (--endpoint); prefix them with its URL." };
}

export function renderReportHtml(report: Report, echarts = echartsSource(), opts: { kernels?: Pick<Kernels, "factoredSvd">; client?: string } = {}): string {
  const f = report.facts;
  const withSad = report.entries.some((e) => e.sad);
  const withFocus = report.entries.some((e) => e.sad?.focus);
  const sadSection = withSad ? renderSadSection(report, withFocus) : "";
  const sadCells = (e: Report["entries"][number]) =>
    !withSad ? "" : e.sad ? `<td class="sad">${e.sad.n_recon_median ?? "–"}</td><td>${e.sad.null_n_recon_median_mean === null ? "–" : fmt(e.sad.null_n_recon_median_mean)}</td>` : "<td></td><td></td>";
  const num = (x: number) => `<td data-value="${x}">${fmt(x)}</td>`;
  const rows = report.entries
    .filter((e) => e.rotary_offset === 0)
    .map(
      (e) =>
        `<tr data-layer="${e.layer}" data-head="${e.head}" data-circuit="${e.circuit}" data-variant="${e.variant}"><td>${e.layer}</td><td>${e.head}</td><td>${e.circuit}</td><td>${e.variant}</td>` +
        `${num(e.singular_values[0] ?? 0).replace("<td", '<td class="s1"')}${num(e.singular_values[1] ?? 0)}${num(e.effective_rank).replace("<td", '<td class="er"')}${num(e.top_energy)}${num(e.sigma_ratio_2_1)}${sadCells(e)}` +
        `<td class="${e.checks_passed ? "ok" : "fail"}" title="${esc((e.checks ?? []).map((c) => `${c.name} ${fmt(c.value)} ≤ ${fmt(c.limit)}`).join("; "))}">${e.checks_passed ? "passed" : "FAILED"}</td></tr>`,
    )
    .join("\n");
  const facts = [
    ["architecture", f.architecture], ["layers", f.n_layers], ["heads", f.n_heads], ["kv heads", f.n_kv_heads],
    ["d_model", f.d_model], ["d_head", f.d_head], ["score scale", fmt(f.attention_scale)], ["norm", f.norm],
    ["rotary_dim", f.rotary_dim], ["n_heads from", f.n_heads_source], ["entries", report.entries.length],
  ].map(([k, v]) => `<tr><th>${esc(String(k))}</th><td>${esc(String(v))}</td></tr>`).join("");
  const pageData = { report, nullBands: reportNullBands(report, opts.kernels), ...apiOf(report) };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>headscope · ${esc(report.model)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1280px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}h3{font-size:15px}h4{font-size:14px;margin:12px 0 4px}
.grid,.head-grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.chart{height:380px;border:1px solid #ddd;border-radius:4px}.heat{height:420px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}
th{text-align:left}#heads,#sad-heads{max-height:480px;overflow:auto;display:block}
#heads tbody tr{cursor:pointer}#heads tbody tr:hover{background:#f3f6fb}
th.sortable{cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
.v-sparse{color:#1a7f37;font-weight:600}.v-not{color:#b42318}.v-few{color:#888}
.ok{color:#1a7f37}.fail{color:#b42318;font-weight:600}
.note{color:#666}.controls{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin:8px 0}
.metrics{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}.metrics dt{font-weight:600}.metrics dd{margin:0}
#head-page{border:2px solid #1f77b4;border-radius:6px;padding:8px 16px;margin-top:16px}
.tokens caption{text-align:left;font-weight:600;padding-top:6px}.toks{text-align:left}
.tok{display:inline-block;font:12px ui-monospace,monospace;background:#f2f2f2;border-radius:3px;padding:0 3px;margin:1px}
.downloads a{margin:0 4px}
</style></head><body>
<h1>headscope scan · <span id="model">${esc(report.model)}</span></h1>
<p class="note">QK: Ω = W_Q W_Kᵀ, OV: W_V W_O, singular values from the factored SVD (method §1–§3). Variant per chart: <span id="variants"></span>. Click any heatmap cell, point or table row to open that head; the address (#model/layer/head) can be shared.</p>
<table id="facts">${facts}</table>
<details><summary>What the numbers mean</summary>${metricsHtml()}</details>
<div class="controls"><label>Colour scale <select id="scale"><option value="auto">auto (log or quantile when one head would wash out the rest)</option><option value="linear">linear</option><option value="log">log</option><option value="quantile">quantile (rank)</option></select></label></div>
<h2>σ₁ per layer and head</h2><div class="grid"><div id="s1-qk" class="chart heat"></div><div id="s1-ov" class="chart heat"></div></div>
<h2>Effective rank per layer and head</h2><div class="grid"><div id="er-qk" class="chart heat"></div><div id="er-ov" class="chart heat"></div></div>
<section id="head-page" hidden aria-live="polite"></section>
<h2>Spectra of layer <select id="layer"></select></h2><div class="grid"><div id="spec-qk" class="chart"></div><div id="spec-ov" class="chart"></div></div>
<h2>QK against OV</h2><div class="grid"><div id="qk-ov" class="chart"></div></div>
${sadSection}
<h2>Every head</h2>
<div class="controls"><label>Filter <input id="heads-filter" type="search" size="40" placeholder="e.g. qk layer=5 σ₁>10 checks=failed"></label> <a id="heads-csv" href="#" download="${esc(report.model)}-heads.csv">CSV of the rows shown</a></div>
<table id="heads"><thead><tr><th data-key="layer">layer</th><th data-key="head">head</th><th data-key="circuit">circuit</th><th data-key="variant">variant</th><th data-key="σ₁">σ₁</th><th data-key="σ₂">σ₂</th><th data-key="eff_rank">eff. rank</th><th data-key="top_energy">σ₁²/Σσ²</th><th data-key="σ₂/σ₁">σ₂/σ₁</th>${withSad ? '<th data-key="sad_n_recon">SAD N_recon median</th><th data-key="sad_null">null (rotation)</th>' : ""}<th data-key="checks">checks</th></tr></thead><tbody>
${rows}
</tbody></table>
<script>${inlineScript(echarts)}</script>
<script type="application/json" id="report-data">${json(pageData)}</script>
<script>${inlineScript(opts.client ?? reportClientSource())}</script>
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
