/**
 * End to end on the real GPT-2 small weights through the real local worker (the CLI's embedded
 * Miniflare/workerd with R2 and KV on disk): all 144 heads, both circuits, every reference variant,
 * against LAPACK's spectra; the model summary endpoint gives the same bytes after a restart; and
 * report.html renders in headless Chromium with the numbers of report.json and no console errors.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startLocalWorker } from "../../src/cli/local-worker";
import { fmt } from "../../src/cli/report-html";
import type { Report } from "../../src/cli/report";
import { CHROMIUM, collectErrors, launchBrowser } from "../support/browser";
import { ROOT, runCli } from "../support/cli";
import { GPT2_PATH, spectraReference } from "../support/gpt2";

const tmp = mkdtempSync(join(tmpdir(), "headscope-e2e-"));
const state = join(tmp, "state");
const out = join(tmp, "out");
let report: Report;
let run: { computed: number; stored: number; failed: number; tasks: number; seconds: number };

beforeAll(async () => {
  const r = await runCli(["scan", GPT2_PATH, "--out", out, "--state", state, "--model-name", "gpt2-small",
    "--variants", "raw,folded,folded_augmented", "--progress", "plain"]);
  if (r.code !== 0) throw new Error(`scan failed (${r.code}):\n${r.stderr}`);
  report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
  run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
}, 300_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const relErr = (a: number[], b: number[]) => Math.max(...b.map((x, i) => (x < 1e-6 * b[0] ? 0 : Math.abs(a[i] - x) / x)));

describe("GPT-2 small, whole model", () => {
  test("144 heads × (qk raw, folded, folded_augmented + ov raw, folded), each computed once, σ within 1e-5 of LAPACK", () => {
    expect(run).toMatchObject({ tasks: 720, computed: 720, stored: 0, failed: 0 });
    expect(report.facts).toMatchObject({ architecture: "gpt2", n_layers: 12, n_heads: 12, d_model: 768, d_head: 64, n_heads_source: "inferred" });
    expect(report.entries).toHaveLength(720);
    const byKey = new Map(report.entries.map((e) => [`${e.layer}.${e.head}.${e.circuit}.${e.variant}`, e]));
    let worst = 0;
    for (const h of spectraReference().heads) {
      for (const [circuit, variants] of Object.entries({ qk: h.qk, ov: h.ov })) {
        for (const [variant, ref] of Object.entries(variants)) {
          const e = byKey.get(`${h.layer}.${h.head}.${circuit}.${variant}`)!;
          expect(e, `${h.layer}.${h.head}.${circuit}.${variant}`).toBeDefined();
          expect(e.checks_passed).toBe(true);
          worst = Math.max(worst, relErr(e.singular_values, ref as number[]));
        }
      }
    }
    expect(worst).toBeLessThan(1e-5);
    console.log(`GPT-2 e2e: 720 spectra, worst relative error ${worst.toExponential(2)}, scan ${run.seconds} s`);
  });

  test("GET /v1/models/{model}/summary is the same bytes after a worker restart", async () => {
    const fetchSummary = async () => {
      const w = await startLocalWorker({ root: ROOT, stateDir: state });
      try {
        const res = await fetch(`${w.url}/v1/models/gpt2-small/summary`);
        expect(res.status).toBe(200);
        return await res.text();
      } finally {
        await w.stop();
      }
    };
    const first = await fetchSummary();
    const second = await fetchSummary();
    expect(second).toBe(first);
    const s = JSON.parse(first);
    expect(s).toMatchObject({ n_layers: 12, n_heads: 12, count: 720 });
    const e = s.entries.find((x: any) => x.layer === 0 && x.head === 1 && x.circuit === "qk" && x.variant === "folded_augmented");
    const r = report.entries.find((x) => x.layer === 0 && x.head === 1 && x.circuit === "qk" && x.variant === "folded_augmented")!;
    expect(e.top_singular_values).toEqual(r.singular_values.slice(0, 8));
  });

  test.skipIf(!existsSync(CHROMIUM))("report.html renders offline in headless Chromium with the report's numbers", async () => {
    const browser = await launchBrowser(); // offline flags, a fresh temporary profile
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 2400 } });
      const errors = collectErrors(page);
      const requests: string[] = [];
      page.on("request", (r) => !r.url().startsWith("file:") && requests.push(r.url()));
      await page.goto(`file://${join(out, "report.html")}`);
      await page.waitForFunction(() => (globalThis as unknown as { HEADSCOPE_READY?: boolean }).HEADSCOPE_READY === true, null, { timeout: 30_000 });
      expect(errors).toEqual([]);
      expect(requests).toEqual([]); // self-contained: nothing fetched
      // the table shows report.json's numbers
      const e = report.entries.find((x) => x.layer === 5 && x.head === 1 && x.circuit === "ov" && x.variant === "folded")!;
      const cells = await page.locator('#heads tr[data-layer="5"][data-head="1"][data-circuit="ov"][data-variant="folded"] td').allTextContents();
      expect(cells[4]).toBe(fmt(e.singular_values[0]));
      expect(cells[6]).toBe(fmt(e.effective_rank));
      expect(await page.locator("#heads tbody tr").count()).toBe(720);
      // every chart drew into its SVG: heatmaps have a cell per head, spectra a line per head
      for (const id of ["s1-qk", "s1-ov", "er-qk", "er-ov", "spec-qk", "spec-ov", "qk-ov"]) {
        expect(await page.locator(`#${id} svg path`).count(), id).toBeGreaterThan(12);
      }
      expect(await page.locator("#variants").textContent()).toBe("qk folded_augmented, ov folded");
      await page.selectOption("#layer", "11");
      expect(await page.locator("#spec-qk svg").textContent()).toContain("layer 11");
      mkdirSync(join(ROOT, "artifacts"), { recursive: true });
      await page.screenshot({ path: join(ROOT, "artifacts/report-gpt2-small.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
