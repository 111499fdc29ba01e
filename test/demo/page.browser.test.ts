/**
 * The demo page in real headless Chromium against the real local worker (wrangler dev, local R2/KV).
 * Screenshots of each view are written to artifacts/ (the toy view also at a phone's 390-px width).
 * The page's Content-Security-Policy is in force and every test asserts it saw no violation; waits
 * are functions, since the policy (rightly) refuses the eval Playwright needs for string predicates.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { seedDemo } from "../../scripts/demo/seed";
import { collectErrors, launchBrowser, watchCsp } from "../support/browser";
import { SAD_REFERENCE_PATH, gpt2Head, headBody, spectraReference } from "../support/gpt2";
import { startLocalWorker, type LocalWorker } from "../support/local-worker";

/** the page's document, inside the callbacks Playwright runs in the browser (tsc here has no DOM lib) */
declare const document: any;

const ARTIFACTS = join(process.cwd(), "artifacts");
let worker: LocalWorker;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [worker, browser] = await Promise.all([startLocalWorker(), launchBrowser()]);
  // what the page shows comes from the worker's storage, filled the way a user would: the scan CLI
  await seedDemo({ endpoint: worker.url, token: worker.token, progress: "quiet" });
}, 300_000);

const factsOf = (page: import("playwright-core").Page, id: string) =>
  page.$$eval(`#${id} tr`, (rows) => Object.fromEntries(rows.map((r) => [r.children[0].textContent, r.children[1].textContent])));

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
});

describe("demo page", () => {
  test("explore a head: heatmap of GPT-2 small, the chosen head's QK and OV σ₁ equal LAPACK's", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    await page.goto(worker.url);
    await page.waitForFunction(() => document.querySelector("#explore-status")?.textContent?.startsWith("gpt2-small: layer 0, head 0"));
    expect(await page.inputValue("#explore-model")).toBe("gpt2-small");
    // choose layer 5, head 3 with the keyboard-reachable inputs
    await page.fill("#explore-layer", "5");
    await page.fill("#explore-head", "3");
    await page.dispatchEvent("#explore-head", "change");
    await page.waitForFunction(() => document.querySelector("#explore-status")?.textContent?.startsWith("gpt2-small: layer 5, head 3"));
    const facts = await factsOf(page, "explore-facts");
    const ref = spectraReference().heads.find((h) => h.layer === 5 && h.head === 3)!;
    expect(Number(facts["σ₁ (QK)"])).toBeCloseTo(ref.qk.folded_augmented[0], 3);
    expect(Number(facts["σ₁ (OV)"])).toBeCloseTo(ref.ov.folded[0], 3);
    await page.screenshot({ path: join(ARTIFACTS, "demo-explore.png"), fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    await page.close();
  });

  test("a page per head: open from the heatmap, the address reopens it, spectra over the null band, checks, readouts, downloads work", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 }, acceptDownloads: true });
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    await page.goto(worker.url);
    await page.waitForFunction(() => document.querySelector("#explore-head-page")?.dataset.ready === "true");
    // click the heatmap cell of layer 4, head 9: the plot is the chart's grid (charts.ts heatmapOption:
    // left 56, right 16, top 36, bottom 70), 12 × 12 cells, layer 0 at the bottom
    const box = (await page.locator("#explore-heatmap").boundingBox())!;
    const w = (box.width - 72) / 12;
    const h = (box.height - 106) / 12;
    await page.mouse.click(box.x + 56 + 9.5 * w, box.y + 36 + (11 - 4 + 0.5) * h);
    await page.waitForFunction(() => document.querySelector("#explore-head-page")?.dataset.head === "gpt2-small/4/9" && document.querySelector("#explore-head-page")?.dataset.ready === "true");
    expect(new URL(page.url()).hash).toBe("#gpt2-small/4/9");
    // the null band came from the kernels in the Web Worker: its note names the factor shape
    expect(await page.locator('#explore-head-page .head-circuit[data-circuit="qk"] .band-note').textContent()).toContain("[769, 64]");
    expect(await page.locator('#explore-head-page .head-circuit[data-circuit="ov"] .band-note').textContent()).toContain("[768, 64]");
    expect(await page.locator('#explore-head-page table.checks[data-circuit="qk"] td.ok').count()).toBe(4);
    // readouts: tokens when the result has them, else the reason
    const readouts = await page.locator('#explore-head-page .readouts[data-circuit="qk"]').textContent();
    expect(readouts).toMatch(/top \d+|Not computed|no embedding|no readout basis/);
    // downloads: the API's vectors (safetensors with U, S, V), the head's JSON, the spectra's CSV
    const href = (await page.getAttribute('#explore-head-page a.vectors[data-circuit="qk"]', "href"))!;
    const res = await fetch(new URL(href, worker.url));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/octet-stream/);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(Object.keys(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))))).toEqual(expect.arrayContaining(["U", "S", "V"]));
    const [jsonDl] = await Promise.all([page.waitForEvent("download"), page.click('#explore-head-page a[download$=".json"]')]);
    const head = JSON.parse(readFileSync((await jsonDl.path())!, "utf8"));
    const ref = spectraReference().heads.find((h) => h.layer === 4 && h.head === 9)!;
    expect(head.qk.singular_values[0]).toBeCloseTo(ref.qk.folded_augmented[0], 6);
    expect(head.qk.factor_norms.a).toBeGreaterThan(0);
    const [csvDl] = await Promise.all([page.waitForEvent("download"), page.click('#explore-head-page a[download$="-spectra.csv"]')]);
    const csv = readFileSync((await csvDl.path())!, "utf8").trim().split(/\r\n/);
    expect(csv).toHaveLength(65);
    const [, qkSigma1, q05, , q95] = csv[1].split(",").map(Number);
    expect(qkSigma1).toBeCloseTo(ref.qk.folded_augmented[0], 6);
    expect(q05).toBeLessThan(q95);
    // the table: sort by σ₁ descending, filter, CSV of the rows shown
    await page.click('#explore-table th[data-key="σ₁"]');
    await page.click('#explore-table th[data-key="σ₁"]');
    await page.fill("#explore-filter", "ov layer=11");
    expect(await page.locator("#explore-table tbody tr:not([hidden])").count()).toBe(12);
    const [tableDl] = await Promise.all([page.waitForEvent("download"), page.click("#explore-csv")]);
    const rows = readFileSync((await tableDl.path())!, "utf8").trim().split(/\r\n/).slice(1).map((l) => l.split(","));
    expect(rows).toHaveLength(12);
    const s1 = rows.map((r) => Number(r[4]));
    expect(s1).toEqual([...s1].sort((a, b) => b - a));
    await page.screenshot({ path: join(ARTIFACTS, "demo-head-page.png"), fullPage: true });
    // the address alone reopens a head
    const again = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors2 = collectErrors(again);
    await again.goto(`${worker.url}/#gpt2-small/7/2`);
    await again.waitForFunction(() => document.querySelector("#explore-head-page")?.dataset.head === "gpt2-small/7/2" && document.querySelector("#explore-head-page")?.dataset.ready === "true");
    expect(await again.locator("#explore-head-page h3").textContent()).toBe("gpt2-small · layer 7, head 2");
    expect(new URL(again.url()).hash).toBe("#gpt2-small/7/2");
    expect([...errors, ...errors2], [...errors, ...errors2].join("\n")).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    await page.close();
    await again.close();
  });

  test("the prediction: layer 0 N_recon against the rotation null equals the numpy reference", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    await page.goto(`${worker.url}/#prediction`);
    await page.waitForFunction(() => document.querySelector("#prediction-status")?.textContent?.startsWith("Head 0:"));
    const ref = JSON.parse(readFileSync(SAD_REFERENCE_PATH, "utf8")).heads as Array<{ head: number; n_recon_median: number; n_recon_p90: number; pairs_firing_positive: number }>;
    let facts = await factsOf(page, "prediction-facts");
    expect(Number(facts["median N_recon"])).toBe(ref[0].n_recon_median);
    await page.selectOption("#prediction-head", "7");
    await page.waitForFunction(() => document.querySelector("#prediction-status")?.textContent?.startsWith("Head 7:"));
    facts = await factsOf(page, "prediction-facts");
    expect(Number(facts["median N_recon"])).toBe(ref[7].n_recon_median);
    expect(Number(facts["p90 N_recon"])).toBe(ref[7].n_recon_p90);
    expect(Number(facts["firing pairs (positive)"])).toBe(ref[7].pairs_firing_positive);
    expect(Number(facts["null median N_recon (mean over seeds)"])).toBeGreaterThan(ref[7].n_recon_median);
    await page.screenshot({ path: join(ARTIFACTS, "demo-prediction.png"), fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    await page.close();
  });

  test("analyze your head: a real GPT-2 head's spectrum is shown, nothing stored, no console errors", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    await page.goto(`${worker.url}/#upload`);
    // L0H1 QK raw (no LayerNorm, no biases): 768×64×2 F32 = 393 KiB < 1 MiB
    const file = join(tmpdir(), "gpt2-l0h1-qk.safetensors");
    writeFileSync(file, headBody(gpt2Head(0, 1), "qk", { ln: false, bias: false }));
    await page.setInputFiles("#upload-file", file);
    await page.click("#upload-submit");
    await page.waitForFunction(() => document.querySelector("#upload-status")?.textContent?.startsWith("Done"));
    const facts = await page.$$eval("#upload-facts tr", (rows) => Object.fromEntries(rows.map((r) => [r.children[0].textContent, r.children[1].textContent])));
    const want = spectraReference().heads.find((h) => h.layer === 0 && h.head === 1)!.qk.raw[0];
    expect(facts.variant).toBe("raw");
    expect(Number(facts["σ₁"])).toBeCloseTo(want, 3);
    expect(await page.textContent("#upload-status")).toContain("Nothing was stored");
    await page.screenshot({ path: join(ARTIFACTS, "demo-upload.png"), fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    await page.close();
  });

  test("an oversized upload is refused with the limit in the message, before anything is sent", async () => {
    const page = await browser.newPage();
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    const posts: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "POST") posts.push(r.url());
    });
    await page.goto(`${worker.url}/#upload`);
    const file = join(tmpdir(), "too-big.safetensors");
    writeFileSync(file, new Uint8Array(1024 * 1024 + 1));
    await page.setInputFiles("#upload-file", file);
    await page.click("#upload-submit");
    await page.waitForFunction(() => document.querySelector("#upload-status")?.classList.contains("error"));
    expect(await page.textContent("#upload-status")).toContain("up to 1048576 bytes");
    expect(posts).toEqual([]);
    expect(errors).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    // the server enforces the same limit on its own (413 before the body is read): test/routes/demo.test.ts
    await page.close();
  });

  test("the toy model: the published single-pair run is shown with the stored toy.json's final numbers", async () => {
    const report = (await (await fetch(`${worker.url}/v1/toy/reports/single-pair`)).json()) as {
      runs: Array<{ seed: number; config: { steps: number }; final: { top1CosU: number; top1CosV: number; matchedMean: number; sigmaRatio: number; attendedMaxCosToOthers: number } }>;
    };
    const run = report.runs[0];
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    await page.goto(`${worker.url}/#toy`);
    await page.waitForFunction(() => document.querySelector("#toy-status")?.textContent?.startsWith("Published single-pair run"));
    const facts = await factsOf(page, "toy-facts");
    expect(Number(facts.seed)).toBe(run.seed);
    expect(Number(facts.steps)).toBe(run.config.steps);
    expect(Number(facts["|cos(w₀, u₁)|"])).toBeCloseTo(run.final.top1CosU, 4);
    expect(Number(facts["|cos(w₁, v₁)|"])).toBeCloseTo(run.final.top1CosV, 4);
    expect(Number(facts["mean matched |cos|"])).toBeCloseTo(run.final.matchedMean, 4);
    expect(Number(facts["max |cos| of w₀, w₁ to the others"])).toBeCloseTo(run.final.attendedMaxCosToOthers, 4);
    expect(Number(facts["σ₁/σ₂"])).toBeCloseTo(run.final.sigmaRatio, 3);
    // the default single-pair run aligns (method §6: |cos| ≥ 0.9999 on every seed)
    expect(run.final.top1CosU).toBeGreaterThan(0.99);
    for (const id of ["toy-curves", "toy-heatmap", "toy-heatmap-v"]) expect(await page.$$eval(`#${id} canvas`, (c) => c.length), id).toBeGreaterThan(0);
    expect(errors, errors.join("\n")).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    await page.close();
  });

  test("the toy model: with nothing published, the view says how to publish", async () => {
    const page = await browser.newPage();
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    // this server has a report; answer the listing as an empty server would
    await page.route("**/v1/toy/reports", (r) => r.fulfill({ json: { reports: [] } }));
    await page.goto(`${worker.url}/#toy`);
    await page.waitForFunction(() => document.querySelector("#toy-status")?.textContent?.startsWith("No toy run"));
    expect(await page.textContent("#toy-status")).toContain("--publish URL --token T");
    expect(await page.isEnabled("#toy-start")).toBe(true);
    expect(errors, errors.join("\n")).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    await page.close();
  });

  test("the toy model: a live run trains in a Web Worker with the WebAssembly kernels and aligns", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    await page.goto(`${worker.url}/#toy`);
    await page.waitForFunction(() => document.querySelector("#toy-status")?.textContent?.startsWith("Published"));
    // every status the live run shows, to see that progress arrives while it trains
    await page.evaluate(`(() => {
      const el = document.getElementById("toy-live-status");
      const seen = (window.toyStatuses = []);
      new MutationObserver(() => seen.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    })()`);
    // with the keyboard only: the seed slider to 3, then Tab over c and steps to Start
    await page.focus("#toy-seed");
    for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowRight");
    expect(await page.textContent("#toy-seed-value")).toBe("3");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.id")).toBe("toy-start");
    const t0 = Date.now();
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("#toy-live-status")?.textContent?.startsWith("Done"), undefined, { timeout: 90_000 });
    const seconds = (Date.now() - t0) / 1000;
    const facts = await factsOf(page, "toy-live-facts");
    const cosU = Number(facts["|cos(w₀, u₁)|"]);
    const cosV = Number(facts["|cos(w₁, v₁)|"]);
    console.log(`live toy run in Chromium: ${seconds.toFixed(1)} s (${facts["training time in this browser"]} training), |cos(w₀, u₁)| ${cosU}, |cos(w₁, v₁)| ${cosV}`);
    expect(Number(facts.seed)).toBe(3);
    expect(Number(facts.steps)).toBe(2000);
    expect(cosU).toBeGreaterThanOrEqual(0.9);
    expect(cosV).toBeGreaterThanOrEqual(0.9);
    const statuses = (await page.evaluate("window.toyStatuses")) as string[];
    expect(statuses.some((t) => t.startsWith("Step "))).toBe(true);
    expect(await page.isEnabled("#toy-start")).toBe(true);
    for (const id of ["toy-live-curves", "toy-live-heatmap"]) expect(await page.$$eval(`#${id} canvas`, (c) => c.length), id).toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, "demo-toy.png"), fullPage: true });
    // a phone's width: nothing wider than the screen
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, "demo-toy-390.png"), fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    await page.close();
  });

  test("the page runs under its Content-Security-Policy: zero violations, an inline script is refused", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    const res = await page.goto(worker.url);
    expect(res!.headers()["content-security-policy"]).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(res!.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    await page.waitForFunction(() => document.querySelector("#explore-status")?.textContent?.startsWith("gpt2-small: layer 0, head 0"));
    // the stylesheet applied (it is no longer inline)
    expect(await page.evaluate("getComputedStyle(document.body).fontSize")).toBe("16px");
    // ECharts' HTML tooltip (style attributes) under the policy
    const box = (await page.locator("#explore-heatmap canvas").first().boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.waitForTimeout(400);
    expect(csp, csp.join("\n")).toEqual([]);
    // the watcher does see a violation: a script inserted inline is refused and reported
    await page.evaluate(`(() => { const s = document.createElement("script"); s.textContent = "window.inlineRan = true"; document.body.append(s); })()`);
    await page.waitForTimeout(200);
    expect(await page.evaluate("window.inlineRan")).toBeUndefined();
    expect(csp.some((v) => v.includes("script-src")), csp.join("\n")).toBe(true);
    expect(errors.every((e) => /Content Security Policy/.test(e)), errors.join("\n")).toBe(true);
    await page.close();
  });

  test("tabs are keyboard-navigable", async () => {
    const page = await browser.newPage();
    await page.goto(worker.url);
    await page.focus("#tab-explore");
    await page.keyboard.press("ArrowRight");
    expect(await page.getAttribute("#tab-prediction", "aria-selected")).toBe("true");
    expect(await page.isVisible("#view-prediction")).toBe(true);
    await page.keyboard.press("End");
    expect(await page.getAttribute("#tab-upload", "aria-selected")).toBe("true");
    await page.close();
  });
});
