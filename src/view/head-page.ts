/**
 * @module view/head-page
 * The page of one head, shared by report.html and the demo page: both spectra (QK and OV) against
 * the Gaussian null band (analysis/null-band.ts), the kernel's checks, the token readouts of the
 * singular vectors (when the result has them, else why not), the SAD digest when stored, and
 * downloads (the vectors' safetensors from the API, the head's JSON, the spectra as CSV). It draws
 * into a container with whatever ECharts build the page has (`chart`), and asks the page for the
 * null band of a shape (`nullBand`: the report embeds them, the demo computes them in a Web Worker).
 */
import { scaleNullBand, type NullBand } from "../analysis/null-band";
import { downloadLink } from "./download";
import { fmt, sci, toCsv, visibleToken } from "./format";

export interface ReadoutItem {
  index: number;
  top: Array<{ id: number; token: string | null; score: number }>;
  bottom: Array<{ id: number; token: string | null; score: number }>;
}
export interface Readouts {
  k: number;
  vectors: number;
  definition: string;
  sides: { u: { basis: string; items: ReadoutItem[] }; v: { basis: string; items: ReadoutItem[] } };
}

export interface CircuitView {
  circuit: "qk" | "ov";
  variant: string;
  singular_values: number[];
  effective_rank: number;
  frobenius_norm: number;
  top_energy: number;
  numerical_rank?: number;
  d_head: number;
  factor_rows: number;
  checks?: Array<{ name: string; value: number; limit: number; passed: boolean }>;
  factor_norms?: { a: number; b: number };
  /** absent: not computed for this result; null: the checkpoint has no embedding */
  readouts?: Readouts | null;
  /** why there are no readouts when `readouts` is absent (the page knows best: e.g. a report scanned without a basis) */
  readoutsAbsent?: string;
  /** the API's vectors file (safetensors), when stored */
  vectorsUrl?: string | null;
  /** what the head's JSON download holds for this circuit */
  json: unknown;
}

export interface SadView {
  n_recon_median: number | null;
  null_n_recon_median_mean: number | null;
  verdict?: string;
  firing_positive?: number;
  tau?: number;
}

export interface HeadView {
  model: string;
  layer: number;
  head: number;
  qk?: CircuitView;
  ov?: CircuitView;
  sad?: SadView | null;
  /** a note under the downloads (e.g. where the vectors link is served) */
  vectorsNote?: string;
}

export interface ChartLike {
  setOption(option: Record<string, unknown>, notMerge?: boolean): void;
  resize(): void;
}

export interface HeadPageEnv {
  chart(el: HTMLElement): ChartLike;
  nullBand(rows: number, dHead: number): Promise<NullBand | undefined>;
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: Array<Node | string>) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
};

/** The spectrum with the null band: band as a shaded area between its 5 % and 95 % quantiles. */
function spectrumOption(view: HeadView, c: CircuitView, band: { q05: number[]; median: number[]; q95: number[] } | undefined) {
  const pos = (x: number) => (x > 0 ? x : null);
  const ks = c.singular_values.map((_, i) => i + 1);
  const series: Array<Record<string, unknown>> = [];
  if (band) {
    series.push(
      { name: "null 5 %", type: "line", data: ks.map((k) => [k, pos(band.q05[k - 1])]), stack: "band", symbol: "none", lineStyle: { opacity: 0 }, tooltip: { show: false } },
      {
        name: "null band (5–95 %)", type: "line", stack: "band", symbol: "none", lineStyle: { opacity: 0 }, areaStyle: { color: "rgba(120,120,120,0.35)" }, itemStyle: { color: "rgba(120,120,120,0.6)" },
        data: ks.map((k) => [k, pos(band.q95[k - 1] - band.q05[k - 1])]),
      },
      { name: "null median", type: "line", symbol: "none", data: ks.map((k) => [k, pos(band.median[k - 1])]), lineStyle: { type: "dashed", color: "#777", width: 1 }, itemStyle: { color: "#777" } },
    );
  }
  series.push({ name: `σ_k (${c.circuit.toUpperCase()})`, type: "line", symbolSize: 4, data: ks.map((k) => [k, pos(c.singular_values[k - 1])]), itemStyle: { color: c.circuit === "qk" ? "#1f77b4" : "#d62728" }, z: 3 });
  return {
    animation: false,
    title: { text: `L${view.layer}H${view.head} ${c.circuit.toUpperCase()} (${c.variant})`, left: "center", textStyle: { fontSize: 13 } },
    tooltip: { trigger: "axis", valueFormatter: (v: number) => (v === null || v === undefined ? "–" : fmt(v)) },
    legend: { bottom: 0, data: [`σ_k (${c.circuit.toUpperCase()})`, ...(band ? ["null band (5–95 %)", "null median"] : [])] },
    grid: { left: 64, right: 20, top: 36, bottom: 56 },
    xAxis: { type: "value", name: "k", min: 1, max: ks.length, minInterval: 1 },
    yAxis: { type: "log", name: "σ_k", axisLabel: { formatter: sci } },
    series,
  };
}

function checksTable(c: CircuitView): HTMLElement {
  if (!c.checks) return el("p", { class: "note" }, "Checks: not in this report (older report.json); all passed when stored.");
  const t = el("table", { class: "facts checks", "data-circuit": c.circuit });
  t.append(el("tr", {}, el("th", {}, "check"), el("th", {}, "value"), el("th", {}, "limit"), el("th", {}, "")));
  for (const k of c.checks) t.append(el("tr", {}, el("td", {}, k.name), el("td", {}, fmt(k.value)), el("td", {}, fmt(k.limit)), el("td", { class: k.passed ? "ok" : "fail" }, k.passed ? "passed" : "FAILED")));
  return t;
}

const tokenList = (xs: ReadoutItem["top"]) =>
  xs.map((t) => el("span", { class: "tok", title: `id ${t.id}, score ${fmt(t.score)}` }, visibleToken(t.token, t.id)));

const SIDE_NAMES: Record<string, { u: string; v: string }> = {
  qk: { u: "u: query side", v: "v: key side" },
  ov: { u: "u: input (source) side", v: "v: output side" },
};

function readoutsBlock(c: CircuitView): HTMLElement {
  const box = el("div", { class: "readouts", "data-circuit": c.circuit });
  box.append(el("h4", {}, `Token readouts · ${c.circuit.toUpperCase()}`));
  if (c.readouts === undefined) {
    box.append(el("p", { class: "note readouts-missing" }, c.readoutsAbsent ?? "Not computed for this result (stored without token readouts)."));
    return box;
  }
  if (c.readouts === null) {
    box.append(el("p", { class: "note readouts-missing" }, "None: no embedding in the checkpoint, so the singular vectors cannot be read as tokens."));
    return box;
  }
  const r = c.readouts;
  box.append(el("p", { class: "note" }, r.definition));
  for (const side of ["u", "v"] as const) {
    const s = r.sides[side];
    const t = el("table", { class: "facts tokens", "data-side": side });
    t.append(el("caption", {}, `${SIDE_NAMES[c.circuit][side]} against the ${s.basis}`));
    t.append(el("tr", {}, el("th", {}, "k"), el("th", {}, `top ${r.k}`), el("th", {}, `bottom ${r.k}`)));
    for (const it of s.items) t.append(el("tr", {}, el("td", {}, String(it.index)), el("td", { class: "toks" }, ...tokenList(it.top)), el("td", { class: "toks" }, ...tokenList(it.bottom))));
    box.append(t);
  }
  return box;
}

function spectraCsv(view: HeadView, bands: Record<string, ReturnType<typeof scaleNullBand> | undefined>): string {
  const cs = [view.qk, view.ov].filter((c): c is CircuitView => !!c);
  const n = Math.max(0, ...cs.map((c) => c.singular_values.length));
  const header = ["k", ...cs.flatMap((c) => [`${c.circuit}_sigma`, `${c.circuit}_null_q05`, `${c.circuit}_null_median`, `${c.circuit}_null_q95`])];
  const rows = Array.from({ length: n }, (_, i) => [
    i + 1,
    ...cs.flatMap((c) => {
      const b = bands[c.circuit];
      return [c.singular_values[i], b?.q05[i], b?.median[i], b?.q95[i]];
    }),
  ]);
  return toCsv([header, ...rows]);
}

/** Renders one head into `root` (replacing what was there). Resolves when its charts are drawn. */
export async function renderHeadPage(root: HTMLElement, view: HeadView, env: HeadPageEnv): Promise<void> {
  const name = `${view.model}-L${view.layer}H${view.head}`;
  root.replaceChildren();
  root.dataset.head = `${view.model}/${view.layer}/${view.head}`;
  root.append(el("h3", { class: "head-title" }, `${view.model} · layer ${view.layer}, head ${view.head}`));
  const circuits = [view.qk, view.ov].filter((c): c is CircuitView => !!c);
  const grid = el("div", { class: "head-grid" });
  root.append(grid);
  const bands: Record<string, ReturnType<typeof scaleNullBand> | undefined> = {};
  const boxes = circuits.map((c) => {
    const box = el("div", { class: "head-circuit", "data-circuit": c.circuit });
    const chartEl = el("div", { class: "chart head-spectrum", id: `head-spectrum-${c.circuit}`, role: "img", "aria-label": `${c.circuit.toUpperCase()} spectrum against the Gaussian null band` });
    const facts = el("table", { class: "facts" });
    const row = (k: string, v: string) => facts.append(el("tr", {}, el("th", {}, k), el("td", {}, v)));
    row("σ₁", fmt(c.singular_values[0] ?? 0));
    row("σ₂/σ₁", c.singular_values.length > 1 && c.singular_values[0] > 0 ? fmt(c.singular_values[1] / c.singular_values[0]) : "–");
    row("effective rank", fmt(c.effective_rank));
    row("σ₁²/Σσ²", fmt(c.top_energy));
    row("‖circuit‖_F", fmt(c.frobenius_norm));
    row("factors", `${c.factor_rows} × ${c.d_head}` + (c.factor_norms ? `, ‖A‖_F ${fmt(c.factor_norms.a)}, ‖B‖_F ${fmt(c.factor_norms.b)}` : ""));
    const bandNote = el("p", { class: "note band-note" });
    box.append(chartEl, bandNote, facts, el("h4", {}, `Checks · ${c.circuit.toUpperCase()}`), checksTable(c), readoutsBlock(c));
    grid.append(box);
    return { c, chartEl, bandNote };
  });
  if (view.sad !== undefined) {
    const s = view.sad;
    const box = el("div", { class: "head-sad" }, el("h4", {}, "Sparse attention decomposition (QK)"));
    if (!s) box.append(el("p", { class: "note" }, "No SAD stored for this head (scan with --prompts or --activations)."));
    else {
      const t = el("table", { class: "facts sad-facts" });
      const row = (k: string, v: string) => t.append(el("tr", {}, el("th", {}, k), el("td", {}, v)));
      row("median N_recon", s.n_recon_median === null ? "–" : fmt(s.n_recon_median));
      row("null median N_recon (rotation)", s.null_n_recon_median_mean === null ? "–" : fmt(s.null_n_recon_median_mean));
      if (s.firing_positive !== undefined) row("firing pairs", String(s.firing_positive));
      if (s.verdict) row("verdict", s.verdict);
      if (s.tau !== undefined) row("τ", String(s.tau));
      box.append(t);
    }
    root.append(box);
  }
  const dl = el("p", { class: "downloads" }, "Download: ");
  for (const c of circuits) {
    if (c.vectorsUrl) {
      const a = el("a", { href: c.vectorsUrl, download: `${name}-${c.circuit}.safetensors`, class: "download vectors", "data-circuit": c.circuit }, `${c.circuit.toUpperCase()} vectors (safetensors)`);
      dl.append(a, " · ");
    } else dl.append(el("span", { class: "note" }, `${c.circuit.toUpperCase()} vectors: not stored (--vectors none)`), " · ");
  }
  dl.append(
    downloadLink("head (JSON)", `${name}.json`, "application/json", () => JSON.stringify({ model: view.model, layer: view.layer, head: view.head, qk: view.qk?.json ?? null, ov: view.ov?.json ?? null, sad: view.sad ?? null }, null, 2)),
    " · ",
    downloadLink("spectra (CSV)", `${name}-spectra.csv`, "text/csv", () => spectraCsv(view, bands)),
  );
  root.append(dl);
  if (view.vectorsNote) root.append(el("p", { class: "note" }, view.vectorsNote));

  await Promise.all(
    boxes.map(async ({ c, chartEl, bandNote }) => {
      let band: ReturnType<typeof scaleNullBand> | undefined;
      if (c.factor_norms) {
        const unit = await env.nullBand(c.factor_rows, c.d_head).catch(() => undefined);
        if (unit) {
          band = scaleNullBand(unit, c.factor_norms);
          bandNote.textContent = `Grey: Gaussian null band, factors [${c.factor_rows}, ${c.d_head}] at this head's norms (5–95 % over ${unit.draws} draws).`;
        } else bandNote.textContent = "Null band unavailable here.";
      } else bandNote.textContent = "No null band: this result was stored before factor norms were recorded (re-post it to get them).";
      bands[c.circuit] = band;
      const ch = env.chart(chartEl);
      ch.setOption(spectrumOption(view, c, band), true);
    }),
  );
  root.dataset.ready = "true";
}
