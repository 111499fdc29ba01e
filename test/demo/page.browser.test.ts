/**
 * The demo page in real headless Chromium against the real local worker (wrangler dev, local R2/KV).
 * Screenshots of each view are written to artifacts/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { seedDemo } from "../../scripts/demo/seed";
import { collectErrors, launchBrowser } from "../support/browser";
import { buildCli } from "../support/cli";
import { SAD_REFERENCE_PATH, gpt2Head, headBody, spectraReference } from "../support/gpt2";
import { startLocalWorker, type LocalWorker } from "../support/local-worker";

const ARTIFACTS = join(process.cwd(), "artifacts");
let worker: LocalWorker;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  buildCli();
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
    await page.goto(worker.url);
    await page.waitForFunction('document.querySelector("#explore-status")?.textContent?.startsWith("gpt2-small: layer 0, head 0")');
    expect(await page.inputValue("#explore-model")).toBe("gpt2-small");
    // choose layer 5, head 3 with the keyboard-reachable inputs
    await page.fill("#explore-layer", "5");
    await page.fill("#explore-head", "3");
    await page.dispatchEvent("#explore-head", "change");
    await page.waitForFunction('document.querySelector("#explore-status")?.textContent?.startsWith("gpt2-small: layer 5, head 3")');
    const facts = await factsOf(page, "explore-facts");
    const ref = spectraReference().heads.find((h) => h.layer === 5 && h.head === 3)!;
    expect(Number(facts["σ₁ (QK)"])).toBeCloseTo(ref.qk.folded_augmented[0], 3);
    expect(Number(facts["σ₁ (OV)"])).toBeCloseTo(ref.ov.folded[0], 3);
    await page.screenshot({ path: join(ARTIFACTS, "demo-explore.png"), fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });

  test("the prediction: layer 0 N_recon against the rotation null equals the numpy reference", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = collectErrors(page);
    await page.goto(`${worker.url}/#prediction`);
    await page.waitForFunction('document.querySelector("#prediction-status")?.textContent?.startsWith("Head 0:")');
    const ref = JSON.parse(readFileSync(SAD_REFERENCE_PATH, "utf8")).heads as Array<{ head: number; n_recon_median: number; n_recon_p90: number; pairs_firing_positive: number }>;
    let facts = await factsOf(page, "prediction-facts");
    expect(Number(facts["median N_recon"])).toBe(ref[0].n_recon_median);
    await page.selectOption("#prediction-head", "7");
    await page.waitForFunction('document.querySelector("#prediction-status")?.textContent?.startsWith("Head 7:")');
    facts = await factsOf(page, "prediction-facts");
    expect(Number(facts["median N_recon"])).toBe(ref[7].n_recon_median);
    expect(Number(facts["p90 N_recon"])).toBe(ref[7].n_recon_p90);
    expect(Number(facts["firing pairs (positive)"])).toBe(ref[7].pairs_firing_positive);
    expect(Number(facts["null median N_recon (mean over seeds)"])).toBeGreaterThan(ref[7].n_recon_median);
    await page.screenshot({ path: join(ARTIFACTS, "demo-prediction.png"), fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });

  test("analyze your head: a real GPT-2 head's spectrum is shown, nothing stored, no console errors", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectErrors(page);
    await page.goto(`${worker.url}/#upload`);
    // L0H1 QK raw (no LayerNorm, no biases): 768×64×2 F32 = 393 KiB < 1 MiB
    const file = join(tmpdir(), "gpt2-l0h1-qk.safetensors");
    writeFileSync(file, headBody(gpt2Head(0, 1), "qk", { ln: false, bias: false }));
    await page.setInputFiles("#upload-file", file);
    await page.click("#upload-submit");
    await page.waitForFunction('document.querySelector("#upload-status")?.textContent?.startsWith("Done")');
    const facts = await page.$$eval("#upload-facts tr", (rows) => Object.fromEntries(rows.map((r) => [r.children[0].textContent, r.children[1].textContent])));
    const want = spectraReference().heads.find((h) => h.layer === 0 && h.head === 1)!.qk.raw[0];
    expect(facts.variant).toBe("raw");
    expect(Number(facts["σ₁"])).toBeCloseTo(want, 3);
    expect(await page.textContent("#upload-status")).toContain("Nothing was stored");
    await page.screenshot({ path: join(ARTIFACTS, "demo-upload.png"), fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });

  test("an oversized upload is refused with the limit in the message, before anything is sent", async () => {
    const page = await browser.newPage();
    const errors = collectErrors(page);
    const posts: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "POST") posts.push(r.url());
    });
    await page.goto(`${worker.url}/#upload`);
    const file = join(tmpdir(), "too-big.safetensors");
    writeFileSync(file, new Uint8Array(1024 * 1024 + 1));
    await page.setInputFiles("#upload-file", file);
    await page.click("#upload-submit");
    await page.waitForFunction('document.querySelector("#upload-status")?.classList.contains("error")');
    expect(await page.textContent("#upload-status")).toContain("up to 1048576 bytes");
    expect(posts).toEqual([]);
    expect(errors).toEqual([]);
    // the server enforces the same limit on its own (413 before the body is read): test/routes/demo.test.ts
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
