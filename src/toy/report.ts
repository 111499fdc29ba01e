/**
 * @module toy/report
 * The toy experiment's outputs: `toy.json` (a stable, versioned shape a demo page can load) and
 * `toy.html`, a self-contained page (echarts inlined by the caller, data embedded) with the curves and
 * the final |cos| heatmaps. Pure functions from runs to strings; the CLI writes the files.
 *
 * toy.json, schema "headscope.toy/v1":
 * {
 *   schema, experiment, generatedAt, kernels: { name, simd },
 *   runs: [{ config: ToyConfig, seed, timing, curves: ToyCurves (columnar, one entry per measured step),
 *            final: ToyFinal (including cosU/cosV [N][k]), acceptance: RunAcceptance }],
 *   summary: { seeds, passed, checks: [{ name, threshold, values: (number|null)[], passes }],
 *              anisotropy: AnisotropyRow[] | null, degradesMonotonically: boolean | null }
 * }
 */
import { anisotropyTable, checkRun, degradesMonotonically, type AnisotropyRow, type RunAcceptance } from "./acceptance";
import { acceptanceTableHtml } from "./acceptance-html";
import type { ToyRun } from "./train";

export const TOY_SCHEMA = "headscope.toy/v1";

export interface ToyReport {
  schema: typeof TOY_SCHEMA;
  experiment: string;
  generatedAt: string;
  kernels: { name: string; simd: boolean };
  runs: (ToyRun & { acceptance: RunAcceptance })[];
  summary: {
    seeds: number[];
    passed: number;
    checks: { name: string; threshold: string; values: (number | null)[]; passes: number }[];
    anisotropy: AnisotropyRow[] | null;
    degradesMonotonically: boolean | null;
  };
}

export function buildReport(experiment: string, runs: ToyRun[], kernels: { name: string; simd: boolean }, now = new Date()): ToyReport {
  const withAcceptance = runs.map((r) => ({ ...r, acceptance: checkRun(r) }));
  const names = withAcceptance[0]?.acceptance.checks.map((c) => ({ name: c.name, threshold: c.threshold })) ?? [];
  const aniso = experiment === "anisotropy" ? anisotropyTable(runs) : null;
  return {
    schema: TOY_SCHEMA,
    experiment,
    generatedAt: now.toISOString(),
    kernels,
    runs: withAcceptance,
    summary: {
      seeds: [...new Set(runs.map((r) => r.seed))],
      passed: withAcceptance.filter((r) => r.acceptance.pass).length,
      checks: names.map(({ name, threshold }, i) => ({
        name,
        threshold,
        values: withAcceptance.map((r) => r.acceptance.checks[i]?.value ?? null),
        passes: withAcceptance.filter((r) => r.acceptance.checks[i]?.pass).length,
      })),
      anisotropy: aniso,
      degradesMonotonically: aniso ? degradesMonotonically(aniso) : null,
    },
  };
}

/**
 * The runs of several reports merged into one report of `experiment` (`--rerender`). A many-pairs run
 * joins the anisotropy sweep as its run at its c: the sweep is the many-pairs configuration with c set,
 * and the name does not enter training, so many-pairs seed s is the sweep's c = 0 run of seed s.
 */
export function runsOf(experiment: string, reports: Pick<ToyReport, "runs">[]): ToyRun[] {
  return reports
    .flatMap((r) => r.runs)
    .map((r) => (experiment === "anisotropy" && r.config.name === "many-pairs" ? { ...r, config: { ...r.config, name: "anisotropy" } } : r));
}

const fmt = (x: number | null, digits = 3) => (x === null ? "—" : Number.isFinite(x) ? x.toFixed(digits) : String(x));

/** The acceptance table as plain text (one row per run), for the terminal. */
export function formatAcceptance(report: ToyReport): string {
  const lines: string[] = [];
  if (report.summary.checks.length) {
    const figureNames = report.runs[0]?.acceptance.figures?.map((f) => f.name) ?? [];
    lines.push(["seed", "c", ...report.summary.checks.map((c) => `${c.name} ${c.threshold}`), ...figureNames, "pass"].join(" | "));
    for (const r of report.runs) {
      lines.push(
        [
          r.seed,
          r.config.anisotropy,
          ...r.acceptance.checks.map((c) => `${fmt(c.value)}${c.pass ? "" : " ✗"}`),
          ...(r.acceptance.figures ?? []).map((f) => (Number.isInteger(f.value) ? String(f.value) : fmt(f.value))),
          r.acceptance.pass ? "yes" : "NO",
        ].join(" | "),
      );
    }
    lines.push(`${report.summary.passed}/${report.runs.length} runs pass every check`);
  }
  if (report.experiment === "crowded") {
    for (const r of report.runs) {
      const f = r.final;
      lines.push(
        `seed ${r.seed}: ${r.config.template.length} pairs, H = ${r.config.dHead}; which pair owns a singular index (best pair score √(|cos_u|·|cos_v|) ≥ ${r.config.representedThreshold}, alone at that index), shares one, or has none:`,
      );
      lines.push("pair (query→key) | template value | status | best index | score | shares with");
      for (const o of f.occupancy ?? []) {
        lines.push(`${o.query}→${o.key} | ${fmt(o.value, 2)} | ${o.status} | ${o.bestIndex + 1} | ${fmt(o.bestScore)} | ${o.sharesWith.map((q) => `${r.config.template[q].query}→${r.config.template[q].key}`).join(", ") || "—"}`);
      }
    }
  }
  const sadRuns = report.runs.filter((r) => r.final.sad);
  if (sadRuns.length) {
    lines.push("SAD (method §4) on the final head, median N_recon singular vs rotation null (pairs):");
    for (const r of sadRuns) {
      for (const s of r.final.sad ?? []) {
        lines.push(
          `seed ${r.seed} τ=${s.tau}: targeted ${fmt(s.targeted.medianNRecon, 1)} vs ${fmt(s.targeted.nullMedianNRecon, 2)} (${s.targeted.pairs}); ` +
            `all positive query pairs ${fmt(s.all.medianNRecon, 1)} vs ${fmt(s.all.nullMedianNRecon, 2)} (${s.all.pairs})`,
        );
      }
    }
  }
  if (report.summary.anisotropy) {
    const th = report.summary.anisotropy[0]?.matchedCountsAvg ?? [];
    lines.push(`c | seeds | mean pairwise feature cos | mean token cos | mean matched |cos| (avg [min, max]) | ${th.map((t) => `matched at ≥ ${t.threshold} (avg)`).join(" | ")} | Spearman (avg)`);
    for (const a of report.summary.anisotropy) {
      lines.push(
        `${a.c} | ${a.seeds} | ${fmt(a.meanPairwiseCos)} | ${fmt(a.meanTokenCos)} | ${fmt(a.matchedMeanAvg)} [${fmt(a.matchedMeanMin)}, ${fmt(a.matchedMeanMax)}] | ${(a.matchedCountsAvg ?? []).map((m) => fmt(m.count, 1)).join(" | ")} | ${fmt(a.spearmanAvg)}`,
      );
    }
    lines.push(`degrades monotonically (0.02 slack): ${report.summary.degradesMonotonically ? "yes" : "no"}`);
  }
  return lines.join("\n");
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);

/** Renders toy.html; `echartsSource` is the text of echarts.min.js, inlined so the page needs no network. */
export function renderHtml(report: ToyReport, echartsSource: string): string {
  // "</script" inside the embedded JSON or library would end the tag early
  const data = JSON.stringify(report).replace(/</g, "\\u003c");
  const lib = echartsSource.replace(/<\/script/gi, "<\\/script");
  const table = escapeHtml(formatAcceptance(report));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>headscope toy model: ${escapeHtml(report.experiment)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
.chart { width: 100%; max-width: 1100px; height: 360px; margin-bottom: 1rem; }
.heat { height: 520px; }
pre { background: #f6f6f6; padding: .75rem; overflow-x: auto; }
#acceptance { border-collapse: collapse; font-variant-numeric: tabular-nums; margin-bottom: 1rem; }
#acceptance th, #acceptance td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
#acceptance th { background: #f6f6f6; text-align: left; } #acceptance .th { font-weight: normal; color: #666; }
#acceptance .fail { color: #b42318; font-weight: 600; } #acceptance .ok { color: #1a7f37; }
</style>
</head>
<body>
<h1>Toy model: ${escapeHtml(report.experiment)}</h1>
<p>Method §6. Features are the columns of W (plus c·e on the token side under anisotropy); u, v are the singular vectors of Ω = W_Q W_Kᵀ
(factored SVD in WebAssembly). Generated ${escapeHtml(report.generatedAt)}.</p>
<h2>Acceptance</h2>
${acceptanceTableHtml(report)}
<details${report.summary.checks.length ? "" : " open"}><summary>As text (also printed by the CLI)</summary><pre>${table}</pre></details>
<label>Run: <select id="run"></select></label>
<h2>Fig. 3: alignment and orthogonality over training</h2>
<div id="align" class="chart"></div>
<h2>Losses</h2>
<div id="loss" class="chart"></div>
<h2>Singular values of Ω over training (log scale)</h2>
<div id="sigma" class="chart"></div>
<h2>Fig. 2b: σ at each pair's matched singular index against its template value</h2>
<div id="sigmaTemplate" class="chart"></div>
<h2>Final |cos| between features and singular vectors</h2>
<div id="heatU" class="chart heat"></div>
<div id="heatV" class="chart heat"></div>
<h2 id="crowdTitle" style="display:none">Crowded case (Appendix E): which pairs own a singular vector, which share one</h2>
<div id="crowd" class="chart" style="display:none"></div>
<h2 id="anisoTitle" style="display:none">Fig. 4: anisotropy sweep</h2>
<div id="aniso" class="chart" style="display:none"></div>
<script>${lib}</script>
<script type="application/json" id="toy-data">${data}</script>
<script>
const report = JSON.parse(document.getElementById("toy-data").textContent);
const charts = {};
for (const id of ["align", "loss", "sigma", "sigmaTemplate", "heatU", "heatV", "crowd", "aniso"]) charts[id] = echarts.init(document.getElementById(id));
const select = document.getElementById("run");
report.runs.forEach((r, i) => {
  const o = document.createElement("option");
  o.value = i;
  o.textContent = "seed " + r.seed + (report.experiment === "anisotropy" ? ", c = " + r.config.anisotropy : "");
  select.appendChild(o);
});
const SUP = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
/** log-axis tick labels in scientific notation: 10⁻³, 2×10⁴ */
const sci = (v) => { if (!(v > 0)) return String(v); const e = Math.floor(Math.log10(v) + 1e-9); const m = v / Math.pow(10, e); const p = "10" + String(e).split("").map((ch) => SUP[ch]).join(""); return Math.abs(m - 1) < 1e-6 ? p : +m.toPrecision(2) + "×" + p; };
const line = (name, xs, ys, extra) => Object.assign({ name, type: "line", showSymbol: false, data: xs.map((x, i) => [x, ys[i]]) }, extra || {});
function heat(id, title, cos, k, featureLabel) {
  const top = Math.min(k, 25);
  const data = [];
  cos.forEach((row, i) => { for (let j = 0; j < top; j++) data.push([j, i, row[j]]); });
  charts[id].setOption({
    title: { text: title },
    tooltip: { formatter: (p) => featureLabel + " " + p.value[1] + ", singular index " + (p.value[0] + 1) + ": |cos| " + p.value[2].toFixed(3) },
    grid: { left: 60, right: 90, top: 40, bottom: 40 },
    xAxis: { type: "category", name: "k", data: Array.from({ length: top }, (_, j) => j + 1) },
    yAxis: { type: "category", name: "feature", inverse: true, data: cos.map((_, i) => i) },
    visualMap: { min: 0, max: 1, calculable: true, orient: "vertical", right: 0, top: "middle" },
    series: [{ type: "heatmap", data }],
  }, true);
}
const STATUS_COLOR = { own: "#2a7", shared: "#e90", none: "#aaa" };
function crowd(r) {
  const occ = r.final.occupancy || [];
  document.getElementById("crowdTitle").style.display = "block";
  document.getElementById("crowd").style.display = "block";
  charts.crowd.resize();
  charts.crowd.setOption({
    tooltip: { formatter: (p) => { const o = occ[p.dataIndex]; return "pair " + o.query + "→" + o.key + " (value " + o.value.toFixed(2) + "): " + o.status + ", best index " + (o.bestIndex + 1) + ", score " + o.bestScore.toFixed(3); } },
    grid: { left: 60, right: 20, top: 30, bottom: 60 },
    xAxis: { type: "category", name: "pair (template value)", data: occ.map((o) => o.query + "→" + o.key + " (" + o.value.toFixed(2) + ")"), axisLabel: { rotate: 60 } },
    yAxis: { type: "value", name: "best pair score", min: 0, max: 1 },
    series: [{ type: "bar", data: occ.map((o) => ({ value: o.bestScore, itemStyle: { color: STATUS_COLOR[o.status] } })),
      label: { show: true, position: "top", formatter: (p) => "k=" + (occ[p.dataIndex].bestIndex + 1) } }],
  }, true);
}
function show(i) {
  const r = report.runs[i];
  const c = r.curves;
  const s = c.step;
  charts.align.setOption({
    tooltip: { trigger: "axis" }, legend: {}, xAxis: { type: "value", name: "step" }, yAxis: { type: "value", min: 0, max: 1 },
    series: [
      line("mean matched |cos| (alignment)", s, c.alignment),
      line("|cos(w_q, u_1)| strongest pair", s, c.top1CosU),
      line("|cos(w_k, v_1)| strongest pair", s, c.top1CosV),
      line("max |cos| attended ↔ other features (orthogonality)", s, c.attendedMaxCosToOthers),
      line("RMS off-diagonal feature cos", s, c.gramOffDiagRms),
      line("whitened prediction |cos|", s, c.whitenedMean, { lineStyle: { type: "dashed" } }),
    ],
  }, true);
  charts.loss.setOption({
    tooltip: { trigger: "axis" }, legend: {}, xAxis: { type: "value", name: "step" }, yAxis: { type: "log", axisLabel: { formatter: sci } },
    series: [line("reconstruction", s, c.reconLoss), line("attention CE", s, c.ceLoss)],
  }, true);
  const nSigma = Math.min(c.sigma[0].length, r.config.template.length + 3);
  charts.sigma.setOption({
    tooltip: { trigger: "axis" }, legend: { type: "scroll", top: 0 }, xAxis: { type: "value", name: "step" },
    yAxis: { type: "log", name: "σ (log)", axisLabel: { formatter: sci } },
    series: Array.from({ length: nSigma }, (_, k) => line("σ_" + (k + 1), s, c.sigma.map((v) => (v[k] > 0 ? v[k] : null)))),
  }, true);
  const pts = r.final.pairs.map((p) => [p.value, p.index >= 0 ? r.final.sigma[p.index] : 0, p.query + "→" + p.key, p.index + 1]);
  charts.sigmaTemplate.setOption({
    tooltip: { formatter: (p) => "pair " + p.value[2] + ": template " + p.value[0].toFixed(2) + ", σ_" + p.value[3] + " = " + p.value[1].toFixed(3) },
    xAxis: { type: "value", name: "template value", min: 0 }, yAxis: { type: "value", name: "σ at matched index" },
    series: [{ type: "scatter", symbolSize: 9, data: pts }],
  }, true);
  const k = r.final.cosU[0].length;
  heat("heatU", "|cos(feature, u_k)| (query side)", r.final.cosU, k, "feature");
  heat("heatV", "|cos(feature, v_k)| (key side)", r.final.cosV, k, "feature");
  if (report.experiment === "crowded") crowd(r);
}
select.addEventListener("change", () => show(Number(select.value)));
show(0);
if (report.summary.anisotropy) {
  document.getElementById("anisoTitle").style.display = "block";
  const el = document.getElementById("aniso");
  el.style.display = "block";
  charts.aniso.resize();
  const a = report.summary.anisotropy;
  const pairs = report.runs[0].config.template.length;
  const cs = a.map((x) => x.c);
  charts.aniso.setOption({
    tooltip: { trigger: "axis" }, legend: { top: 0 },
    xAxis: { type: "value", name: "c" }, yAxis: { type: "value", min: -0.1, max: 1 },
    series: [
      line("mean matched |cos| (avg over seeds)", cs, a.map((x) => x.matchedMeanAvg), { showSymbol: true }),
      ...(a[0].matchedCountsAvg || []).map((m, i) => line("matched at ≥ " + m.threshold + " (fraction of " + pairs + ")", cs, a.map((x) => x.matchedCountsAvg[i].count / pairs), { showSymbol: true, lineStyle: { type: "dotted" } })),
      line("mean pairwise feature cos", cs, a.map((x) => x.meanPairwiseCos), { showSymbol: true }),
      line("mean token cos", cs, a.map((x) => x.meanTokenCos), { showSymbol: true }),
      line("1/√(1 + c²) (geometric bound)", cs, cs.map((c) => 1 / Math.sqrt(1 + c * c)), { lineStyle: { type: "dashed" } }),
    ],
  });
}
window.addEventListener("resize", () => Object.values(charts).forEach((ch) => ch.resize()));
</script>
</body>
</html>
`;
}
