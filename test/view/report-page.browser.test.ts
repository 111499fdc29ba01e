/**
 * report.html's head page, colours, colour scales and table in real headless Chromium, on a report
 * built from real factored SVDs (the WebAssembly kernels) of seeded random heads: 14 layers × 4 heads
 * of d_model 48, d_head 8, with one head 100× larger than the rest (so a linear colour scale would
 * wash the others out), synthetic token readouts on QK (OV has `readouts: null`: no embedding), and
 * SAD on one head. Also toy.html's acceptance table. No worker: the page is a file.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createRng, normals } from "../../src/analysis/random";
import { gaussianNullBand, nullBandKey, scaleNullBand } from "../../src/analysis/null-band";
import { sadHeadReport } from "../../src/analysis/sad-report";
import { renderReportHtml } from "../../src/cli/report-html";
import type { Report, ReportEntry } from "../../src/cli/report";
import { kernelChecks, summarizeSpectrum } from "../../src/services/decompose-head";
import { loadKernels } from "../../src/kernels/load-node";
import { SINGLE_PAIR } from "../../src/toy/config";
import { buildReport, renderHtml } from "../../src/toy/report";
import { trainToy } from "../../src/toy/train";
import { collectErrors, launchBrowser } from "../support/browser";

declare const document: any;
declare const window: any;

const kernels = loadKernels("release");
const NL = 14, NH = 4, D = 48, DH = 8;
let dir: string;
let browser: Browser;
let report: Report;
let reportPath: string;

const tokens = (seed: number) => [" the", "\n", "cat", null, "\tx", " Paris"].map((t, i) => ({ id: seed * 10 + i, token: t, score: 1 - i / 10 }));

function entry(layer: number, head: number, circuit: "qk" | "ov"): ReportEntry {
  const rng = createRng(1000 * layer + 10 * head + (circuit === "qk" ? 0 : 1));
  const big = layer === 3 && head === 2 ? 10 : 1; // one head whose σ₁ is 100× the rest
  const a = normals(rng, D * DH).map((x) => x * big);
  const b = normals(rng, D * DH).map((x) => x * big);
  const svd = kernels.factoredSvd({ rows: D, cols: DH, data: a }, { rows: D, cols: DH, data: b });
  const s = Array.from(svd.S);
  const fro = (x: Float64Array) => Math.sqrt(x.reduce((t, v) => t + v * v, 0));
  const readouts = circuit === "ov" ? null : {
    k: 6, vectors: 2, definition: "synthetic readouts written by the test",
    sides: {
      u: { basis: "embedding", items: [1, 2].map((index) => ({ index, top: tokens(index), bottom: tokens(index + 5) })) },
      v: { basis: "embedding", items: [1, 2].map((index) => ({ index, top: tokens(index + 2), bottom: tokens(index + 7) })) },
    },
  };
  return {
    layer, head, circuit, variant: circuit === "qk" ? "raw" : "raw", kv_head: head, rotary_offset: 0,
    singular_values: s, ...summarizeSpectrum(s), numerical_rank: DH, sigma_ratio_2_1: s[1] / s[0],
    factor_rows: D, centred: false, scale: 1 / Math.sqrt(DH),
    checks_passed: true, checks: kernelChecks(svd.diagnostics), factor_norms: { a: fro(a), b: fro(b) },
    input_sha256: "0".repeat(64), vectors: `/v1/models/synthetic/layers/${layer}/heads/${head}/${circuit}/vectors?variant=raw`,
    ...(readouts !== undefined ? { readouts } : {}),
  } as ReportEntry;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "headscope-report-page-"));
  const entries: ReportEntry[] = [];
  for (let l = 0; l < NL; l++) for (let h = 0; h < NH; h++) entries.push(entry(l, h, "qk"), entry(l, h, "ov"));
  // SAD on one head; an older entry without factor norms, checks or readouts
  const sadOne = entries.find((e) => e.layer === 1 && e.head === 1 && e.circuit === "qk")!;
  sadOne.sad = sadHeadReport({
    id: "x", choices: { tau: 1 }, input: { batch: 1, tokens: 4 }, pairs: { candidates: 6, firing: 40, firing_positive: 40, firing_nonpositive: 0 },
    n_recon: { median: 2, p90: 3 }, sparseness: { median: 0.1 }, null: { n_recon_median_mean: 9.5, sparseness_median_mean: 0.4, per_seed: [{ n_recon_p90: 12 }] },
    usage: [3, 1], usage_by_prompt: [[3, 1]],
  });
  const old = entries.find((e) => e.layer === 2 && e.head === 0 && e.circuit === "qk")!;
  delete old.factor_norms; delete (old as any).readouts; delete (old as any).checks;
  report = {
    schema: "headscope.scan-report/v1", model: "synthetic", checkpoint: { files: ["x.safetensors"], dtypes: ["F32"] },
    facts: { architecture: "gpt2", n_layers: NL, n_heads: NH, n_kv_heads: NH, d_model: D, d_head: DH, attention_scale: 1 / Math.sqrt(DH), norm: "layernorm", rotary_dim: 0, n_heads_source: "flag", layout: "", kv_head_of: [0, 1, 2, 3] } as any,
    scan: {
      circuits: ["qk", "ov"], variants: ["raw"], layers: [], heads: [], rotary_offsets: [0], endpoint: "local", vectors: "f32",
      sad: { tau: 1, batch: 1, tokens: 4, prompt_lengths: "all 4", prompts: null, focus: null, activations: {}, verdict_rule: "synthetic" },
    },
    entries,
  };
  reportPath = join(dir, "report.html");
  writeFileSync(reportPath, renderReportHtml(report, undefined, { kernels }));
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(hash = ""): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 }, acceptDownloads: true });
  const errors = collectErrors(page);
  await page.goto(`file://${reportPath}${hash}`);
  await page.waitForFunction(() => window.HEADSCOPE_READY === true, null, { timeout: 30_000 });
  return { page, errors };
}

const download = async (page: Page, selector: string) => {
  const [d] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  return { name: d.suggestedFilename(), text: readFileSync((await d.path())!, "utf8") };
};

describe("report.html", () => {
  test("click a heatmap cell: the head page opens with both spectra over the null band, checks, readouts and downloads; the URL reopens it", async () => {
    const { page, errors } = await open();
    // the cell of layer 5, head 1 in the σ₁ QK heatmap: find its rect through ECharts' own coordinate mapping
    const box = (await page.locator("#s1-qk").boundingBox())!;
    const [x, y] = await page.evaluate(() => {
      const ch = (window as any).echarts.getInstanceByDom(document.getElementById("s1-qk"));
      return ch.convertToPixel({ seriesIndex: 0 }, [1, 5]);
    });
    await page.mouse.click(box.x + x, box.y + y);
    await page.waitForFunction(() => document.querySelector("#head-page")?.dataset.ready === "true");
    expect(new URL(page.url()).hash).toBe("#synthetic/5/1");
    expect(await page.locator("#head-page h3").textContent()).toBe("synthetic · layer 5, head 1");
    // both spectra drawn with the band: 4 series each (band low, band width, band median, σ)
    for (const c of ["qk", "ov"]) {
      const n = await page.evaluate((id: string) => (window as any).echarts.getInstanceByDom(document.getElementById(id)).getOption().series.length, `head-spectrum-${c}`);
      expect(n, c).toBe(4);
    }
    // the band equals the null band of this shape at the head's norms
    const e = report.entries.find((x) => x.layer === 5 && x.head === 1 && x.circuit === "qk")!;
    const band = scaleNullBand(gaussianNullBand(kernels, D, DH), e.factor_norms!);
    const drawnMedian = await page.evaluate(() => (window as any).echarts.getInstanceByDom(document.getElementById("head-spectrum-qk")).getOption().series[2].data.map((p: number[]) => p[1]));
    drawnMedian.forEach((v: number, i: number) => expect(v).toBeCloseTo(band.median[i], 10));
    // checks with values and limits, token readouts with visible whitespace (OV: no embedding)
    expect(await page.locator('#head-page table.checks[data-circuit="qk"] tr').count()).toBe(5);
    const toks = await page.locator('#head-page .readouts[data-circuit="qk"] table[data-side="u"] .tok').allTextContents();
    expect(toks.slice(0, 6)).toEqual(["␣the", "⏎", "cat", "#13", "⇥x", "␣Paris"]);
    expect(await page.locator('#head-page .readouts[data-circuit="ov"] .readouts-missing').textContent()).toContain("no embedding in the checkpoint");
    // downloads: the head's JSON, the spectra's CSV; the vectors link is the API's
    const j = await download(page, '#head-page a[download$=".json"]');
    expect(j.name).toBe("synthetic-L5H1.json");
    expect(JSON.parse(j.text).qk.singular_values).toEqual(e.singular_values);
    const csv = await download(page, '#head-page a[download$="-spectra.csv"]');
    const lines = csv.text.trim().split(/\r\n/);
    expect(lines[0]).toBe("k,qk_sigma,qk_null_q05,qk_null_median,qk_null_q95,ov_sigma,ov_null_q05,ov_null_median,ov_null_q95");
    expect(lines).toHaveLength(DH + 1);
    expect(Number(lines[1].split(",")[1])).toBe(e.singular_values[0]);
    expect(await page.getAttribute('#head-page a.vectors[data-circuit="qk"]', "href")).toBe(`http://127.0.0.1:8787${e.vectors}`);
    // reopen from the URL alone: a head without factor norms, checks or readouts says why
    const again = await open("#synthetic/2/0");
    await again.page.waitForFunction(() => document.querySelector("#head-page")?.dataset.ready === "true");
    expect(await again.page.locator("#head-page h3").textContent()).toBe("synthetic · layer 2, head 0");
    expect(await again.page.locator('#head-page .head-circuit[data-circuit="qk"] .band-note').textContent()).toContain("before factor norms");
    expect(await again.page.locator('#head-page .readouts[data-circuit="qk"] .readouts-missing').textContent()).toMatch(/no readout basis|Not computed/);
    // and a hash change opens another
    await again.page.evaluate(() => { (window as any).location.hash = "#synthetic/1/1"; });
    await again.page.waitForFunction(() => document.querySelector("#head-page")?.dataset.head === "synthetic/1/1" && document.querySelector("#head-page")?.dataset.ready === "true");
    expect(await again.page.locator("#head-page .sad-facts").textContent()).toContain("sparse");
    await page.screenshot({ path: join(process.cwd(), "artifacts/report-head-page.png"), fullPage: true });
    expect([...errors, ...again.errors]).toEqual([]);
    await page.close();
    await again.page.close();
  });

  test("honest charts: 14 distinct layer colours, a log colour scale for a dominated heatmap, unclipped colour-bar labels, 10ⁿ log ticks, metrics defined", async () => {
    const { page, errors } = await open();
    const colours = (await page.getAttribute("#qk-ov", "data-layer-colours"))!.split(",");
    expect(colours).toHaveLength(NL);
    expect(new Set(colours).size).toBe(NL);
    // the scatter really uses them: one series per layer, each with its own colour
    const seriesColours = await page.evaluate(() => (window as any).echarts.getInstanceByDom(document.getElementById("qk-ov")).getOption().series.map((s: any) => s.itemStyle.color));
    expect(seriesColours).toEqual(colours);
    // one head is 100× the rest: auto leaves linear (the rest would be one colour); the bar's end labels are in σ units
    expect(await page.locator("#s1-qk svg").textContent()).toMatch(/log scale|quantile scale/);
    expect(await page.locator("#er-qk svg").textContent()).toContain("linear scale");
    // every text of every heatmap lies inside its chart (nothing clipped)
    for (const id of ["s1-qk", "s1-ov", "er-qk", "er-ov"]) {
      const outside = await page.evaluate((cid: string) => {
        const host = document.getElementById(cid).getBoundingClientRect();
        return [...document.querySelectorAll(`#${cid} svg text`)].filter((t: any) => {
          const r = t.getBoundingClientRect();
          return r.width > 0 && (r.left < host.left - 0.5 || r.right > host.right + 0.5 || r.top < host.top - 0.5 || r.bottom > host.bottom + 0.5);
        }).map((t: any) => t.textContent);
      }, id);
      expect(outside, id).toEqual([]);
    }
    await page.selectOption("#scale", "log");
    expect(await page.locator("#s1-qk svg").textContent()).toContain("log scale");
    await page.selectOption("#scale", "quantile");
    expect(await page.locator("#s1-qk svg").textContent()).toContain("quantile scale");
    // log axes label in scientific notation
    const ticks = await page.locator("#qk-ov svg text").allTextContents();
    expect(ticks.some((t) => /^10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+$/.test(t) || /×10/.test(t) || /^\d/.test(t))).toBe(true);
    expect(await page.locator("#metrics dt").count()).toBeGreaterThanOrEqual(8);
    expect(errors).toEqual([]);
    await page.close();
  });

  test("the table sorts, filters and exports the rows shown as CSV; checks have a column", async () => {
    const { page, errors } = await open();
    expect(await page.locator("#heads tbody tr").count()).toBe(NL * NH * 2);
    expect(await page.locator("#heads thead th").last().textContent()).toBe("checks");
    await page.click('#heads th[data-key="σ₁"]');
    await page.click('#heads th[data-key="σ₁"]'); // descending
    expect(await page.getAttribute('#heads th[data-key="σ₁"]', "aria-sort")).toBe("descending");
    const first = await page.locator("#heads tbody tr").first();
    expect([await first.getAttribute("data-layer"), await first.getAttribute("data-head")]).toEqual(["3", "2"]);
    await page.fill("#heads-filter", "qk layer=4");
    expect(await page.locator("#heads tbody tr:not([hidden])").count()).toBe(NH);
    const csv = await download(page, "#heads-csv");
    const lines = csv.text.trim().split(/\r\n/);
    expect(lines[0].split(",").slice(0, 5)).toEqual(["layer", "head", "circuit", "variant", "σ₁"]);
    expect(lines).toHaveLength(NH + 1);
    for (const l of lines.slice(1)) expect(l.split(",").slice(0, 3).join(",")).toMatch(/^4,\d,qk$/);
    await page.fill("#heads-filter", "checks=failed");
    expect(await page.locator("#heads tbody tr:not([hidden])").count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  test("toy.html: the acceptance table is a table, σ over training on a log axis", async () => {
    const runs = [0, 1].map((seed) => trainToy({ ...SINGLE_PAIR, steps: 20, attentionBatch: 64, reconBatch: 64, sadSamples: 0 }, seed, kernels, undefined, kernels));
    const toy = buildReport("single-pair", runs, { name: kernels.name, simd: kernels.simd });
    const path = join(dir, "toy.html");
    writeFileSync(path, renderHtml(toy, readFileSync(join(process.cwd(), "node_modules/echarts/dist/echarts.min.js"), "utf8")));
    const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
    const errors = collectErrors(page);
    await page.goto(`file://${path}`);
    await page.waitForSelector("#acceptance tbody tr");
    expect(await page.locator("#acceptance tbody tr").count()).toBe(toy.runs.length);
    const head = await page.locator("#acceptance thead th").allTextContents();
    expect(head[0]).toBe("seed");
    expect(head.at(-1)).toBe("pass");
    const cells = await page.locator("#acceptance tbody tr").first().locator("td").allTextContents();
    expect(cells.at(-1)).toBe(toy.runs[0].acceptance.pass ? "yes" : "NO");
    const c0 = toy.runs[0].acceptance.checks[0];
    expect(cells[2]).toBe((c0.value === null ? "—" : c0.value.toFixed(3)) + (c0.pass ? "" : " ✗"));
    const yType = await page.evaluate(() => (window as any).echarts.getInstanceByDom(document.getElementById("sigma")).getOption().yAxis[0].type);
    expect(yType).toBe("log");
    expect(errors).toEqual([]);
    await page.close();
  });
});
