/**
 * @module demo/client/toy
 * "The toy model": the published single-pair report (GET /v1/toy/reports/{experiment}) — alignment and
 * orthogonality over training, the final feature × singular-vector |cos| heatmaps, its final numbers —
 * and a live run trained in this browser by a module Web Worker (toy-worker.ts) with the same
 * WebAssembly kernels, its alignment curve drawn as it trains.
 */
import { listToyReports, toyReport, type ToyRunView } from "./api";
import { draw } from "./charts";
import { $, setFacts, setStatus } from "./dom";
import { LIVE_LIMITS, liveConfig, type LiveMessage, type LiveRequest } from "./toy-protocol";

type Curves = ToyRunView["curves"];

const PREFERRED = "single-pair";

function curvesOption(title: string, c: Curves, totalSteps?: number) {
  const line = (name: string, ys: number[], dashed = false) => ({
    name,
    type: "line",
    showSymbol: false,
    data: c.step.map((s, i) => [s, ys[i]]),
    ...(dashed ? { lineStyle: { type: "dashed" } } : {}),
  });
  return {
    title: { text: title, left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis", valueFormatter: (v: number) => (typeof v === "number" ? v.toFixed(3) : String(v)) },
    legend: { bottom: 0, type: "scroll" },
    grid: { left: 48, right: 16, top: 36, bottom: 64 },
    xAxis: { type: "value", name: "step", min: 0, max: totalSteps },
    yAxis: { type: "value", name: "|cos|", min: 0, max: 1 },
    series: [
      line("|cos(w₀, u₁)|", c.top1CosU),
      line("|cos(w₁, v₁)|", c.top1CosV),
      line("mean matched |cos|", c.alignment),
      line("max |cos| of w₀, w₁ to the others", c.attendedMaxCosToOthers, true),
    ],
  };
}

/** |cos| of every feature (rows) with every singular vector (columns, k = 1…). */
function cosHeatmapOption(title: string, cos: number[][], vector: "u" | "v") {
  const data: Array<[number, number, number]> = [];
  cos.forEach((row, i) => row.forEach((v, j) => data.push([j, i, v])));
  return {
    title: { text: title, left: "center", textStyle: { fontSize: 14 } },
    tooltip: { position: "top", formatter: (p: { value: [number, number, number] }) => `feature ${p.value[1]}, ${vector}${p.value[0] + 1}: |cos| ${p.value[2].toFixed(3)}` },
    grid: { left: 48, right: 16, top: 36, bottom: 70 },
    xAxis: { type: "category", name: "k", nameLocation: "middle", nameGap: 24, data: (cos[0] ?? []).map((_, j) => j + 1) },
    yAxis: { type: "category", name: "feature", inverse: true, data: cos.map((_, i) => i) },
    visualMap: { min: 0, max: 1, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 160, text: ["1", "0"] },
    series: [{ type: "heatmap", data }],
  };
}

const stepOrNever = (s: number | null) => (s === null ? "not reached" : s);

/** When an attended feature ends up sharing its direction with another (method §6 warns of this). */
function collisionNote(r: ToyRunView): string {
  const w = r.final.attendedWorst;
  if (!w || Math.abs(w.cos) < 0.9) return "";
  const how = w.cos < 0 ? "antipodal to" : "along";
  return ` But feature ${w.attended} ended ${how} feature ${w.other} (cos ${w.cos.toFixed(3)}): |cos| with the singular vectors alone can pass while features collide.`;
}

function runFacts(r: ToyRunView): Array<[string, string | number]> {
  const c = r.config;
  return [
    ["seed", r.seed],
    ["steps", c.steps],
    ["N × D, H", `${c.nFeatures} × ${c.dModel}, ${c.dHead}`],
    ["batch (attention, reconstruction)", `${c.attentionBatch}, ${c.reconBatch}`],
    ["anisotropy c", c.anisotropy],
    ["σ₁/σ₂", r.final.sigmaRatio],
    ["|cos(w₀, u₁)|", r.final.top1CosU],
    ["|cos(w₁, v₁)|", r.final.top1CosV],
    ["mean matched |cos|", r.final.matchedMean],
    ["max |cos| of w₀, w₁ to the others", r.final.attendedMaxCosToOthers],
    ["alignment ≥ 0.95 at step", stepOrNever(r.final.alignStep)],
    ["orthogonal (≤ 0.1) at step", stepOrNever(r.final.orthogonalStep)],
  ];
}

async function showPublished() {
  setStatus("toy-status", "Loading the published toy run…");
  try {
    const { reports } = await listToyReports();
    const pick = reports.find((r) => r.experiment === PREFERRED) ?? reports[0];
    if (!pick) {
      setStatus(
        "toy-status",
        "No toy run has been published to this server yet: run `npm run toy -- --config single-pair --out out/toy --publish URL --token T` (or `npm run demo:seed`). You can still train one in your browser below.",
      );
      return;
    }
    const report = await toyReport(pick.experiment);
    const run = report.runs[0];
    draw("toy-curves", curvesOption(`${report.experiment}, seed ${run.seed}: alignment over training`, run.curves, run.config.steps));
    draw("toy-heatmap", cosHeatmapOption("final |cos(feature, u_k)| (query side)", run.final.cosU, "u"));
    draw("toy-heatmap-v", cosHeatmapOption("final |cos(feature, v_k)| (key side)", run.final.cosV, "v"));
    setFacts("toy-facts", [
      ["experiment", report.experiment],
      ...runFacts(run),
      ["acceptance checks", run.acceptance ? (run.acceptance.pass ? "all pass" : "some fail") : "—"],
      ["kernels", `${report.kernels.name}${report.kernels.simd ? " (SIMD)" : ""}`],
      ["generated", report.generatedAt],
    ]);
    const others = report.runs.length > 1 ? ` (first of ${report.runs.length} runs)` : "";
    setStatus(
      "toy-status",
      `Published ${report.experiment} run, seed ${run.seed}${others}: |cos(w₀, u₁)| = ${run.final.top1CosU.toFixed(4)}, |cos(w₁, v₁)| = ${run.final.top1CosV.toFixed(4)} after ${run.config.steps} steps.${collisionNote(run)}`,
    );
  } catch (e) {
    setStatus("toy-status", (e as Error).message, true);
  }
}

/** Reads a number input, clamped to its range. */
function numberInput(id: string, min: number, max: number, fallback: number, integer: boolean): number {
  const el = $<HTMLInputElement>(id);
  let v = Number(el.value);
  if (el.value.trim() === "" || !Number.isFinite(v)) v = fallback;
  v = Math.min(max, Math.max(min, integer ? Math.round(v) : v));
  el.value = String(v);
  return v;
}

function initLive() {
  const form = $<HTMLFormElement>("toy-form");
  const start = $<HTMLButtonElement>("toy-start");
  const stop = $<HTMLButtonElement>("toy-stop");
  const steps = $<HTMLInputElement>("toy-steps");
  steps.min = String(LIVE_LIMITS.steps.min);
  steps.max = String(LIVE_LIMITS.steps.max);
  // the sliders show their values beside them
  for (const id of ["toy-seed", "toy-c"]) {
    const input = $<HTMLInputElement>(id);
    const out = $(`${id}-value`);
    const show = () => (out.textContent = input.value);
    input.addEventListener("input", show);
    show();
  }
  let worker: Worker | undefined;
  const finish = () => {
    worker?.terminate();
    worker = undefined;
    start.disabled = false;
    stop.disabled = true;
  };
  stop.addEventListener("click", () => {
    if (!worker) return;
    finish();
    setStatus("toy-live-status", "Stopped.");
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (worker) return;
    const req: LiveRequest = {
      seed: numberInput("toy-seed", 0, 2 ** 31 - 1, 0, true),
      anisotropy: numberInput("toy-c", LIVE_LIMITS.anisotropy.min, LIVE_LIMITS.anisotropy.max, 0, false),
      steps: numberInput("toy-steps", LIVE_LIMITS.steps.min, LIVE_LIMITS.steps.max, LIVE_LIMITS.steps.default, true),
    };
    const cfg = liveConfig(req);
    const curves: Curves = { step: [], top1CosU: [], top1CosV: [], alignment: [], attendedMaxCosToOthers: [] };
    const title = `live run, seed ${req.seed}, c = ${req.anisotropy}`;
    let pending = false;
    const redraw = () => {
      pending = false;
      draw("toy-live-curves", curvesOption(title, curves, cfg.steps));
    };
    start.disabled = true;
    stop.disabled = false;
    setStatus("toy-live-status", "Starting the Web Worker and compiling the kernels…");
    const t0 = performance.now();
    worker = new Worker("/assets/toy-worker.js", { type: "module", name: "headscope-toy" });
    worker.addEventListener("error", (e) => {
      finish();
      setStatus("toy-live-status", `The Web Worker failed: ${e.message || "could not load /assets/toy-worker.js"}`, true);
    });
    worker.addEventListener("message", (ev: MessageEvent<LiveMessage>) => {
      const m = ev.data;
      if (m.kind === "started") {
        setStatus("toy-live-status", `Training in a Web Worker with ${m.kernels}${m.simd ? " (SIMD)" : ""}…`);
      } else if (m.kind === "progress") {
        curves.step.push(m.step);
        curves.top1CosU.push(m.top1CosU);
        curves.top1CosV.push(m.top1CosV);
        curves.alignment.push(m.alignment);
        curves.attendedMaxCosToOthers.push(m.attendedMaxCosToOthers);
        if (!pending) {
          pending = true;
          requestAnimationFrame(redraw);
        }
        setStatus("toy-live-status", `Step ${m.step} of ${cfg.steps}: |cos(w₀, u₁)| = ${m.top1CosU.toFixed(3)}, |cos(w₁, v₁)| = ${m.top1CosV.toFixed(3)}`);
      } else if (m.kind === "done") {
        finish();
        const run = m.run as unknown as ToyRunView;
        draw("toy-live-curves", curvesOption(title, run.curves, cfg.steps));
        draw("toy-live-heatmap", cosHeatmapOption("final |cos(feature, u_k)| (query side)", run.final.cosU, "u"));
        setFacts("toy-live-facts", [...runFacts(run), ["training time in this browser", `${m.seconds.toFixed(1)} s`]]);
        const total = (performance.now() - t0) / 1000;
        setStatus(
          "toy-live-status",
          `Done in ${total.toFixed(1)} s: |cos(w₀, u₁)| = ${run.final.top1CosU.toFixed(4)}, |cos(w₁, v₁)| = ${run.final.top1CosV.toFixed(4)}, σ₁/σ₂ = ${run.final.sigmaRatio.toFixed(1)}.${collisionNote(run)}`,
        );
      } else if (m.kind === "error") {
        finish();
        setStatus("toy-live-status", `The run failed: ${m.message}`, true);
      }
    });
    worker.postMessage(req);
  });
  $("toy-live-config").textContent =
    `Configuration: method §6 single pair (N = 20, D = H = 10, T₀₁ = 1, p = 0.05, λ = 1, β = 5, AdamW 3·10⁻³, 200 warm-up steps, cosine decay to 5 %) with ` +
    `batches of 512 instead of 1,024, ${LIVE_LIMITS.steps.default.toLocaleString("en")} steps by default instead of 3,000, and no SAD; ` +
    `c adds a shared direction to every feature on the token side only (the head reads it, the decoder does not).`;
}

export function initToy() {
  initLive();
  void showPublished();
}
