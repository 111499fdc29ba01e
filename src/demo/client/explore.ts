/**
 * @module demo/client/explore
 * "Explore a head": the layer × head heatmap of a scanned model (σ₁ or effective rank of QK, on a
 * colour scale one head cannot wash out), the table of every head (sortable, filterable, CSV), and
 * the page of the selected head (view/head-page.ts: both spectra over the Gaussian null band, checks,
 * token readouts, SAD, downloads). The selection lives in the URL: #model/layer/head.
 */
import type { ScaleKind } from "../../view/color-scale";
import { fmt } from "../../view/format";
import { headHash, type HeadRef } from "../../view/head-hash";
import { renderHeadPage, type CircuitView } from "../../view/head-page";
import { enhanceTable, type TableControls } from "../../view/table";
import { headResult, listModels, modelSummary, preferredModel, preferredVariant, type HeadResult, type ModelSummary } from "./api";
import { chart, chartOn, disposeWithin, draw, heatmapOption } from "./charts";
import { $, setFacts, setStatus } from "./dom";
import { nullBand } from "./null-bands";

let summary: ModelSummary | undefined;
let table: TableControls | undefined;

function metricGrid(s: ModelSummary, variant: string, metric: string): number[][] {
  const grid = Array.from({ length: s.n_layers }, () => new Array<number>(s.n_heads).fill(NaN));
  for (const e of s.entries) {
    if (e.circuit !== "qk" || e.variant !== variant) continue;
    grid[e.layer][e.head] = metric === "effective_rank" ? e.effective_rank : e.top_singular_values[0];
  }
  return grid;
}

const circuitView = (r: HeadResult | undefined, circuit: "qk" | "ov"): CircuitView | undefined =>
  r && {
    circuit, variant: r.variant.name, singular_values: r.singular_values, effective_rank: r.effective_rank,
    frobenius_norm: r.frobenius_norm, top_energy: r.top_energy, numerical_rank: r.numerical_rank,
    d_head: r.d_head, factor_rows: r.variant.factor_rows, checks: r.checks, factor_norms: r.factor_norms,
    readouts: "readouts" in r ? r.readouts : undefined, vectorsUrl: r.links.vectors ?? null, json: r,
  };

async function showHead(layer: number, head: number, push = true) {
  if (!summary) return;
  const s = summary;
  if (!(Number.isInteger(layer) && layer >= 0 && layer < s.n_layers && Number.isInteger(head) && head >= 0 && head < s.n_heads)) {
    setStatus("explore-status", `${s.model} has layers 0–${s.n_layers - 1} and heads 0–${s.n_heads - 1}; there is no layer ${layer}, head ${head}.`, true);
    return;
  }
  const qkVariant = preferredVariant(s.variants.qk);
  const ovVariant = preferredVariant(s.variants.ov);
  $<HTMLInputElement>("explore-layer").value = String(layer);
  $<HTMLInputElement>("explore-head").value = String(head);
  const hash = headHash({ model: s.model, layer, head });
  if (push && location.hash !== hash) history.replaceState(null, "", hash);
  setStatus("explore-status", `Loading layer ${layer} head ${head}…`);
  try {
    const [qk, ov] = await Promise.all([
      qkVariant ? headResult(s.model, layer, head, "qk", qkVariant) : undefined,
      ovVariant ? headResult(s.model, layer, head, "ov", ovVariant) : undefined,
    ]);
    const sad = s.entries.find((e) => e.layer === layer && e.head === head && e.circuit === "qk" && e.sad?.length)?.sad?.[0];
    setFacts("explore-facts", [
      ["head", `layer ${layer}, head ${head}`],
      ...(qk ? ([["σ₁ (QK)", qk.singular_values[0]], ["effective rank (QK)", qk.effective_rank], ["d_model × d_head", `${qk.d_model} × ${qk.d_head}`]] as Array<[string, number | string]>) : []),
      ...(ov ? ([["σ₁ (OV)", ov.singular_values[0]], ["effective rank (OV)", ov.effective_rank]] as Array<[string, number | string]>) : []),
      ...(sad && sad.n_recon_median !== null ? ([["median N_recon (SAD)", sad.n_recon_median], ["null median N_recon", sad.null_n_recon_median_mean ?? NaN]] as Array<[string, number | string]>) : []),
    ]);
    const root = $("explore-head-page");
    disposeWithin(root);
    await renderHeadPage(root, {
      model: s.model, layer, head, qk: circuitView(qk, "qk"), ov: circuitView(ov, "ov"),
      sad: sad ? { n_recon_median: sad.n_recon_median, null_n_recon_median_mean: sad.null_n_recon_median_mean, firing_positive: sad.firing_positive, tau: sad.tau } : s.entries.some((e) => e.sad?.length) ? null : undefined,
    }, { chart: chartOn, nullBand });
    setStatus("explore-status", `${s.model}: layer ${layer}, head ${head}. Click a cell of the heatmap or a row of the table to choose another head; the address is a link to it.`);
  } catch (e) {
    setStatus("explore-status", (e as Error).message, true);
  }
}

function drawHeatmap() {
  if (!summary) return;
  const variant = preferredVariant(summary.variants.qk);
  if (!variant) return;
  const metric = $<HTMLSelectElement>("explore-metric").value;
  const label = metric === "effective_rank" ? "effective rank" : "σ₁";
  const scale = $<HTMLSelectElement>("explore-scale").value as ScaleKind;
  draw("explore-heatmap", heatmapOption(`${summary.model}: ${label} of QK (${variant})`, "head", "layer", metricGrid(summary, variant, metric), { scale }));
}

/** The table of every head of the model (the summary's entries). */
function fillTable(s: ModelSummary) {
  const body = $<HTMLTableElement>("explore-table").tBodies[0];
  const td = (text: string, value?: number) => {
    const c = document.createElement("td");
    c.textContent = text;
    if (value !== undefined) c.dataset.value = String(value);
    return c;
  };
  const rows = [...s.entries].sort((a, b) => a.layer - b.layer || a.head - b.head || (a.circuit < b.circuit ? -1 : 1)).map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.layer = String(e.layer);
    tr.dataset.head = String(e.head);
    const sv = e.top_singular_values;
    const checks = td(e.checks_passed ? "passed" : "FAILED");
    checks.className = e.checks_passed ? "ok" : "fail";
    tr.append(
      td(String(e.layer)), td(String(e.head)), td(e.circuit), td(e.variant),
      td(fmt(sv[0] ?? 0), sv[0] ?? 0), td(fmt(sv[1] ?? 0), sv[1] ?? 0), td(fmt(e.effective_rank), e.effective_rank),
      td(fmt(e.top_energy), e.top_energy), td(fmt(e.spectral_decay.sigma2_over_sigma1), e.spectral_decay.sigma2_over_sigma1), checks,
    );
    return tr;
  });
  body.replaceChildren(...rows);
  table ??= enhanceTable($<HTMLTableElement>("explore-table"), $<HTMLInputElement>("explore-filter"));
  table.applyFilter($<HTMLInputElement>("explore-filter").value);
}

async function loadModel(model: string, pick?: { layer: number; head: number }) {
  setStatus("explore-status", `Loading ${model}…`);
  try {
    summary = await modelSummary(model);
    $<HTMLInputElement>("explore-layer").max = String(summary.n_layers - 1);
    $<HTMLInputElement>("explore-head").max = String(summary.n_heads - 1);
    drawHeatmap();
    fillTable(summary);
    const layer = pick?.layer ?? Math.min(Number($<HTMLInputElement>("explore-layer").value) || 0, summary.n_layers - 1);
    const head = pick?.head ?? Math.min(Number($<HTMLInputElement>("explore-head").value) || 0, summary.n_heads - 1);
    await showHead(layer, head, !!pick);
  } catch (e) {
    setStatus("explore-status", (e as Error).message, true);
  }
}

/** Opens a head named by the URL (#model/layer/head). */
export async function openHeadRef(ref: HeadRef) {
  const select = $<HTMLSelectElement>("explore-model");
  if (![...select.options].some((o) => o.value === ref.model)) {
    setStatus("explore-status", `No model named ${ref.model} is stored on this server.`, true);
    return;
  }
  if (summary?.model === ref.model) return showHead(ref.layer, ref.head);
  select.value = ref.model;
  await loadModel(ref.model, ref);
}

export async function initExplore(initial?: HeadRef) {
  const select = $<HTMLSelectElement>("explore-model");
  const { models } = await listModels().catch((e) => {
    setStatus("explore-status", (e as Error).message, true);
    return { models: [] as string[] };
  });
  if (models.length === 0) {
    setStatus("explore-status", "No model has been scanned into this server yet: run `npm run scan -- MODEL --endpoint URL --token T`, or `npm run demo:seed`.");
    return;
  }
  select.replaceChildren(...models.map((m) => new Option(m, m)));
  select.value = preferredModel(models);
  select.addEventListener("change", () => loadModel(select.value));
  $("explore-metric").addEventListener("change", drawHeatmap);
  $("explore-scale").addEventListener("change", drawHeatmap);
  const onPick = () => showHead(Number($<HTMLInputElement>("explore-layer").value), Number($<HTMLInputElement>("explore-head").value));
  $("explore-layer").addEventListener("change", onPick);
  $("explore-head").addEventListener("change", onPick);
  chart("explore-heatmap").on("click", (p) => {
    const [head, layer] = p.data as unknown as [number, number, number];
    void showHead(layer, head);
  });
  $("explore-table").addEventListener("click", (ev) => {
    const tr = (ev.target as HTMLElement).closest("tr");
    if (tr?.dataset.layer) void showHead(Number(tr.dataset.layer), Number(tr.dataset.head));
  });
  $<HTMLAnchorElement>("explore-csv").addEventListener("click", (ev) => {
    if (!table || !summary) return;
    const a = ev.currentTarget as HTMLAnchorElement;
    a.download = `${summary.model}-heads.csv`;
    a.href = URL.createObjectURL(new Blob([table.csv()], { type: "text/csv" }));
  });
  if (initial && models.includes(initial.model)) {
    select.value = initial.model;
    await loadModel(initial.model, initial);
  } else {
    if (initial) setStatus("explore-status", `No model named ${initial.model} is stored on this server.`, true);
    await loadModel(select.value);
  }
}
