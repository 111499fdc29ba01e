/**
 * @module demo/client/explore
 * "Explore a head": the layer × head heatmap of a scanned model (σ₁ or effective rank of QK), and
 * the selected head's QK and OV spectra with its facts.
 */
import { headResult, listModels, modelSummary, preferredModel, preferredVariant, type ModelSummary } from "./api";
import { chart, draw, heatmapOption, spectrumOption } from "./charts";
import { $, setFacts, setStatus } from "./dom";
import { outOfRange } from "./range";

let summary: ModelSummary | undefined;

function metricGrid(s: ModelSummary, variant: string, metric: string): number[][] {
  const grid = Array.from({ length: s.n_layers }, () => new Array<number>(s.n_heads).fill(NaN));
  for (const e of s.entries) {
    if (e.circuit !== "qk" || e.variant !== variant) continue;
    grid[e.layer][e.head] = metric === "effective_rank" ? e.effective_rank : e.top_singular_values[0];
  }
  return grid;
}

/** the latest head asked for: an earlier request that answers later must not overwrite what it shows */
let asked = 0;

async function showHead(layer: number, head: number) {
  if (!summary) return;
  const s = summary;
  const mine = ++asked;
  const wrong = outOfRange("Layer", layer, s.n_layers, s.model) ?? outOfRange("Head", head, s.n_heads, s.model);
  if (wrong) return setStatus("explore-status", wrong, true);
  const qkVariant = preferredVariant(s.variants.qk);
  const ovVariant = preferredVariant(s.variants.ov);
  $<HTMLInputElement>("explore-layer").value = String(layer);
  $<HTMLInputElement>("explore-head").value = String(head);
  setStatus("explore-status", `Loading layer ${layer} head ${head}…`);
  try {
    const [qk, ov] = await Promise.all([
      qkVariant ? headResult(s.model, layer, head, "qk", qkVariant) : undefined,
      ovVariant ? headResult(s.model, layer, head, "ov", ovVariant) : undefined,
    ]);
    if (mine !== asked) return;
    if (qk) draw("explore-qk", spectrumOption(`L${layer}H${head} QK (${qk.variant.name})`, [{ name: "σ (QK)", values: qk.singular_values }]));
    if (ov) draw("explore-ov", spectrumOption(`L${layer}H${head} OV (${ov.variant.name})`, [{ name: "σ (OV)", values: ov.singular_values }]));
    const sad = s.entries.find((e) => e.layer === layer && e.head === head && e.circuit === "qk" && e.sad?.length)?.sad?.[0];
    setFacts("explore-facts", [
      ["head", `layer ${layer}, head ${head}`],
      ...(qk ? ([["σ₁ (QK)", qk.singular_values[0]], ["effective rank (QK)", qk.effective_rank], ["d_model × d_head", `${qk.d_model} × ${qk.d_head}`]] as Array<[string, number | string]>) : []),
      ...(ov ? ([["σ₁ (OV)", ov.singular_values[0]], ["effective rank (OV)", ov.effective_rank]] as Array<[string, number | string]>) : []),
      ...(sad && sad.n_recon_median !== null ? ([["median N_recon (SAD)", sad.n_recon_median], ["null median N_recon", sad.null_n_recon_median_mean ?? NaN]] as Array<[string, number | string]>) : []),
    ]);
    setStatus("explore-status", `${s.model}: layer ${layer}, head ${head}. Click a cell of the heatmap to choose another head.`);
  } catch (e) {
    if (mine === asked) setStatus("explore-status", (e as Error).message, true);
  }
}

function drawHeatmap() {
  if (!summary) return;
  const variant = preferredVariant(summary.variants.qk);
  if (!variant) return;
  const metric = $<HTMLSelectElement>("explore-metric").value;
  const label = metric === "effective_rank" ? "effective rank" : "σ₁";
  draw("explore-heatmap", heatmapOption(`${summary.model}: ${label} of QK (${variant})`, "head", "layer", metricGrid(summary, variant, metric)));
}

async function loadModel(model: string) {
  setStatus("explore-status", `Loading ${model}…`);
  try {
    summary = await modelSummary(model);
    $<HTMLInputElement>("explore-layer").max = String(summary.n_layers - 1);
    $<HTMLInputElement>("explore-head").max = String(summary.n_heads - 1);
    drawHeatmap();
    await showHead(Math.min(Number($<HTMLInputElement>("explore-layer").value) || 0, summary.n_layers - 1), Math.min(Number($<HTMLInputElement>("explore-head").value) || 0, summary.n_heads - 1));
  } catch (e) {
    setStatus("explore-status", (e as Error).message, true);
  }
}

export async function initExplore() {
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
  const onPick = () => showHead(Number($<HTMLInputElement>("explore-layer").value), Number($<HTMLInputElement>("explore-head").value));
  $("explore-layer").addEventListener("change", onPick);
  $("explore-head").addEventListener("change", onPick);
  chart("explore-heatmap").on("click", (p) => {
    const [head, layer] = p.data as unknown as [number, number, number];
    void showHead(layer, head);
  });
  await loadModel(select.value);
}
