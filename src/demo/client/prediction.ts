/**
 * @module demo/client/prediction
 * "The prediction": for the layer-0 heads with stored SAD results, N_recon in the singular basis
 * against the random-rotation null — per head as histograms, and the medians of all heads side by side.
 */
import { listModels, modelSummary, preferredModel, sadResult, type SummaryEntry } from "./api";
import { draw } from "./charts";
import { $, setFacts, setStatus } from "./dom";

const LAYER = 0;

function share(h: number[]): number[] {
  const total = h.reduce((a, b) => a + b, 0) || 1;
  return h.map((x) => x / total);
}

async function showHead(model: string, entry: SummaryEntry, all: SummaryEntry[]) {
  const id = entry.sad![0].id;
  setStatus("prediction-status", `Loading head ${entry.head}…`);
  try {
    const r = await sadResult(model, LAYER, entry.head, id);
    const bins = Math.max(r.n_recon.histogram.length, r.null.n_recon_histogram.length);
    const xs = Array.from({ length: bins - 1 }, (_, i) => i + 1); // N_recon ≥ 1
    const sing = share(r.n_recon.histogram);
    const nul = share(r.null.n_recon_histogram);
    draw("prediction-chart",
      {
        title: { text: `${model} L${LAYER}H${entry.head}: N_recon (τ = ${r.choices.tau})`, left: "center", textStyle: { fontSize: 14 } },
        tooltip: { trigger: "axis" },
        legend: { bottom: 0 },
        grid: { left: 56, right: 16, top: 36, bottom: 56 },
        xAxis: { type: "category", name: "N_recon", data: xs },
        yAxis: { type: "value", name: "share of firing pairs" },
        series: [
          { name: "singular basis", type: "bar", data: xs.map((k) => sing[k] ?? 0) },
          { name: `random rotation (${r.null.seeds.length} seeds)`, type: "bar", data: xs.map((k) => nul[k] ?? 0) },
        ],
      },
    );
    setFacts("prediction-facts", [
      ["head", `layer ${LAYER}, head ${entry.head}`],
      ["input", `${r.input.batch} × ${r.input.tokens} position-only tokens`],
      ["firing pairs (positive)", r.pairs.firing_positive],
      ["median N_recon", r.n_recon.median],
      ["p90 N_recon", r.n_recon.p90],
      ["null median N_recon (mean over seeds)", r.null.n_recon_median_mean],
      ["median sparseness", r.sparseness.median],
      ["null median sparseness", r.null.sparseness_median_mean],
    ]);
    const medians = all.map((e) => e.sad![0]);
    draw("prediction-medians",
      {
        title: { text: "median N_recon per head", left: "center", textStyle: { fontSize: 14 } },
        tooltip: { trigger: "axis" },
        legend: { bottom: 0 },
        grid: { left: 56, right: 16, top: 36, bottom: 56 },
        xAxis: { type: "category", name: "head", data: all.map((e) => e.head) },
        yAxis: { type: "value", name: "N_recon" },
        series: [
          { name: "singular basis", type: "bar", data: medians.map((d) => d.n_recon_median) },
          { name: "random rotation", type: "bar", data: medians.map((d) => d.null_n_recon_median_mean) },
        ],
      },
    );
    setStatus("prediction-status", `Head ${entry.head}: median N_recon ${r.n_recon.median} in the singular basis against ${r.null.n_recon_median_mean.toFixed(2)} under rotation.`);
  } catch (e) {
    setStatus("prediction-status", (e as Error).message, true);
  }
}

export async function initPrediction() {
  try {
    const { models } = await listModels();
    const withSad: Array<{ model: string; entries: SummaryEntry[] }> = [];
    for (const m of [preferredModel(models), ...models.filter((x) => x !== preferredModel(models))].filter(Boolean)) {
      const s = await modelSummary(m);
      const entries = s.entries.filter((e) => e.circuit === "qk" && e.layer === LAYER && e.sad?.length);
      if (entries.length) {
        withSad.push({ model: m, entries });
        break;
      }
    }
    if (withSad.length === 0) {
      setStatus("prediction-status", "No SAD results are stored on this server yet: run `npm run demo:seed` (GPT-2 small layer 0 on position-only inputs).");
      return;
    }
    const { model, entries } = withSad[0];
    const select = $<HTMLSelectElement>("prediction-head");
    select.replaceChildren(...entries.map((e) => new Option(`head ${e.head}`, String(e.head))));
    select.addEventListener("change", () => showHead(model, entries.find((e) => String(e.head) === select.value)!, entries));
    await showHead(model, entries[0], entries);
  } catch (e) {
    setStatus("prediction-status", (e as Error).message, true);
  }
}
