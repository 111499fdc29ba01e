/**
 * @module demo/client/prediction
 * "The prediction": every head with stored SAD results (from `scan --prompts`, `--activations` or
 * `npm run demo:seed`), layer by layer: N_recon in the singular basis against the random-rotation
 * null — the chosen head's histogram, its verdict, and how often each singular index is selected per
 * prompt (with the IOI END→IO and END→S2 pairs apart when they were asked for); and across all heads
 * the distribution of per-head median N_recon against the null's (the paper's Fig. 9a).
 */
import { sadVerdict, SAD_VERDICT_RULE } from "../../analysis/sad-report";
import { listModels, modelSummary, preferredModel, sadResult, type SadFiguresView, type SummaryEntry } from "./api";
import { draw } from "./charts";
import { $, setFacts, setStatus } from "./dom";

function share(h: number[]): number[] {
  const total = h.reduce((a, b) => a + b, 0) || 1;
  return h.map((x) => x / total);
}

const verdictOf = (f: SadFiguresView) => sadVerdict(f.pairs.firing_positive, f.n_recon.median ?? null, f.null?.n_recon_median_mean ?? null);
const nullP90 = (f: SadFiguresView) => {
  const xs = f.null?.per_seed.map((s) => s.n_recon_p90) ?? [];
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
};

function usageHeatmap(id: string, rows: number[][] | undefined, title: string) {
  const el = $(id);
  el.hidden = !rows;
  if (!rows) return;
  const data: Array<[number, number, number]> = [];
  let max = 1;
  rows.forEach((r, p) => r.forEach((c, k) => {
    if (c) data.push([p, k, c]);
    if (c > max) max = c;
  }));
  const R = rows[0]?.length ?? 0;
  draw(id, {
    title: { text: title, left: "center", textStyle: { fontSize: 14 } },
    tooltip: { formatter: (q: { value: number[] }) => `prompt ${q.value[0]}, index ${q.value[1] + 1}: selected ${q.value[2]}×` },
    grid: { left: 56, right: 16, top: 36, bottom: 70 },
    xAxis: { type: "category", name: "prompt", nameLocation: "middle", nameGap: 24, data: rows.map((_, p) => String(p)) },
    yAxis: { type: "category", name: "singular index", data: Array.from({ length: R }, (_, k) => String(k + 1)) },
    visualMap: { min: 0, max, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 160, text: [String(max), "0"], inRange: { color: ["#f7fbff", "#6baed6", "#08306b"] } },
    series: [{ type: "heatmap", data }],
  });
}

/** Fig. 9a: per-head median N_recon, singular basis against the null, over every head with SAD. */
function drawDistribution(model: string, all: SummaryEntry[]) {
  const own = all.map((e) => e.sad![0].n_recon_median).filter((x): x is number => x !== null);
  const nul = all.map((e) => e.sad![0].null_n_recon_median_mean).filter((x): x is number => x !== null);
  const top = Math.ceil(Math.max(1, ...own, ...nul));
  const hist = (xs: number[]) => {
    const h = new Array<number>(top + 1).fill(0);
    for (const x of xs) h[Math.round(x)]++;
    return h;
  };
  draw("prediction-medians", {
    title: { text: `${model}: median N_recon of ${all.length} heads (Fig. 9a)`, left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis" },
    legend: { bottom: 0 },
    grid: { left: 56, right: 16, top: 36, bottom: 56 },
    xAxis: { type: "category", name: "median N_recon", data: Array.from({ length: top + 1 }, (_, i) => String(i)) },
    yAxis: { type: "value", name: "heads" },
    series: [
      { name: "singular basis", type: "bar", data: hist(own) },
      { name: "random rotation", type: "bar", data: hist(nul) },
    ],
  });
}

async function showHead(model: string, entry: SummaryEntry) {
  const id = entry.sad![0].id;
  setStatus("prediction-status", `Loading layer ${entry.layer} head ${entry.head}…`);
  try {
    const r = await sadResult(model, entry.layer, entry.head, id);
    const nullHist = r.null?.n_recon_histogram ?? [];
    const bins = Math.max(r.n_recon.histogram.length, nullHist.length);
    const xs = Array.from({ length: bins - 1 }, (_, i) => i + 1); // N_recon ≥ 1
    const sing = share(r.n_recon.histogram);
    const nul = share(nullHist);
    draw("prediction-chart", {
      title: { text: `${model} L${entry.layer}H${entry.head}: N_recon (τ = ${r.choices.tau})`, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 56, right: 16, top: 36, bottom: 56 },
      xAxis: { type: "category", name: "N_recon", data: xs },
      yAxis: { type: "value", name: "share of firing pairs" },
      series: [
        { name: "singular basis", type: "bar", data: xs.map((k) => sing[k] ?? 0) },
        { name: `random rotation (${r.null?.seeds.length ?? 0} seeds)`, type: "bar", data: xs.map((k) => nul[k] ?? 0) },
      ],
    });
    const pos = r.choices.positional;
    const rows: Array<[string, string | number]> = [
      ["head", `layer ${entry.layer}, head ${entry.head}`],
      ["input", `${r.input.batch} × ${r.input.tokens} tokens${r.input.activations ? " (stored activations)" : ""}`],
      ["firing pairs (positive)", r.pairs.firing_positive],
      ["median N_recon", r.n_recon.median],
      ["p90 N_recon", r.n_recon.p90],
      ["null median N_recon (mean over seeds)", r.null?.n_recon_median_mean ?? "–"],
      ["null p90 N_recon (mean over seeds)", nullP90(r)],
      ["median sparseness", r.sparseness.median],
      ["null median sparseness", r.null?.sparseness_median_mean ?? "–"],
      ["verdict", verdictOf(r)],
    ];
    if (pos) rows.push(["position", `${pos.rotary_dim ? `rotary (${pos.rotary_dim} dims, ${pos.offsets.length} offsets Δ, each its own Ω_Δ)` : ""}${pos.window ? ` window ${pos.window}` : ""}`]);
    if (r.focus) {
      rows.push(
        ["END→IO/S2 firing (of listed)", `${r.focus.pairs.firing_positive} of ${r.focus.pairs_listed}`],
        ["END→IO/S2 median N_recon", r.focus.n_recon.median ?? "–"],
        ["END→IO/S2 null median", r.focus.null?.n_recon_median_mean ?? "–"],
        ["END→IO/S2 verdict", verdictOf(r.focus)],
      );
    }
    setFacts("prediction-facts", rows);
    usageHeatmap("prediction-usage", r.usage_by_prompt, `L${entry.layer}H${entry.head}: singular index × prompt, selections`);
    usageHeatmap("prediction-usage-focus", r.focus?.usage_by_prompt, `L${entry.layer}H${entry.head}: END→IO and END→S2 pairs only`);
    setStatus("prediction-status",
      `Head ${entry.head}: median N_recon ${r.n_recon.median} in the singular basis against ${r.null ? r.null.n_recon_median_mean.toFixed(2) : "–"} under rotation (${verdictOf(r)}).`);
  } catch (e) {
    setStatus("prediction-status", (e as Error).message, true);
  }
}

export async function initPrediction() {
  try {
    const { models } = await listModels();
    let found: { model: string; entries: SummaryEntry[] } | undefined;
    for (const m of [preferredModel(models), ...models.filter((x) => x !== preferredModel(models))].filter(Boolean)) {
      const s = await modelSummary(m);
      const entries = s.entries.filter((e) => e.circuit === "qk" && e.sad?.length);
      if (entries.length) {
        found = { model: m, entries };
        break;
      }
    }
    if (!found) {
      setStatus("prediction-status", "No SAD results are stored on this server yet: run `npm run demo:seed` (GPT-2 small layer 0 on position-only inputs) or `npm run scan -- CHECKPOINT --prompts ioi --endpoint …`.");
      return;
    }
    const { model, entries } = found;
    $("prediction-rule").textContent = `Verdict: ${SAD_VERDICT_RULE}.`;
    drawDistribution(model, entries);
    const layers = [...new Set(entries.map((e) => e.layer))].sort((a, b) => a - b);
    const layerSelect = $<HTMLSelectElement>("prediction-layer");
    const headSelect = $<HTMLSelectElement>("prediction-head");
    layerSelect.replaceChildren(...layers.map((l) => new Option(`layer ${l}`, String(l))));
    const inLayer = () => entries.filter((e) => String(e.layer) === layerSelect.value);
    const fillHeads = () => headSelect.replaceChildren(...inLayer().map((e) => new Option(`head ${e.head}`, String(e.head))));
    fillHeads();
    layerSelect.addEventListener("change", () => {
      fillHeads();
      void showHead(model, inLayer()[0]);
    });
    headSelect.addEventListener("change", () => showHead(model, inLayer().find((e) => String(e.head) === headSelect.value)!));
    await showHead(model, inLayer()[0]);
  } catch (e) {
    setStatus("prediction-status", (e as Error).message, true);
  }
}
