/**
 * toy.html in real headless Chromium: the self-contained page (echarts inlined) loads from a file with
 * no network request, draws every chart, and logs no error. A screenshot goes to artifacts/.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import { SINGLE_PAIR } from "../../src/toy/config";
import { buildReport, renderHtml } from "../../src/toy/report";
import { trainToy } from "../../src/toy/train";
import { collectErrors, launchBrowser } from "../support/browser";

const ARTIFACTS = join(process.cwd(), "artifacts");
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe("toy.html", () => {
  test("draws the curves and heatmaps offline with no console error", async () => {
    const kernels = loadKernels();
    const cfg = { ...SINGLE_PAIR, steps: 300, sadSamples: 0 };
    const runs = [0, 1].map((seed) => trainToy(cfg, seed, kernels, undefined, loadKernels()));
    const report = buildReport("single-pair", runs, { name: kernels.name, simd: kernels.simd });
    const echarts = readFileSync(createRequire(import.meta.url).resolve("echarts/dist/echarts.min.js"), "utf8");
    const dir = mkdtempSync(join(tmpdir(), "toy-html-"));
    const file = join(dir, "toy.html");
    writeFileSync(file, renderHtml(report, echarts));

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectErrors(page);
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction('document.querySelectorAll("#align canvas, #heatV canvas").length >= 2');
    for (const id of ["align", "loss", "sigma", "heatU", "heatV"]) {
      expect(await page.$$eval(`#${id} canvas`, (c) => c.length), id).toBeGreaterThan(0);
    }
    expect(await page.$$eval("#run option", (o) => o.length)).toBe(2);
    await page.selectOption("#run", "1");
    await page.screenshot({ path: join(ARTIFACTS, "toy-single-pair.png"), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith("file:"))).toEqual([]);
  }, 120_000);
});
