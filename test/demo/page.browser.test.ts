/**
 * The demo page in real headless Chromium against the real local worker (wrangler dev, local R2/KV).
 * Screenshots of each view are written to artifacts/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { collectErrors, launchBrowser } from "../support/browser";
import { gpt2Head, headBody, spectraReference } from "../support/gpt2";
import { startLocalWorker, type LocalWorker } from "../support/local-worker";

const ARTIFACTS = join(process.cwd(), "artifacts");
let worker: LocalWorker;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [worker, browser] = await Promise.all([startLocalWorker(), launchBrowser()]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
});

describe("demo page", () => {
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

  test("an oversized upload is refused with the limit in the message", async () => {
    const page = await browser.newPage();
    const errors = collectErrors(page);
    await page.goto(`${worker.url}/#upload`);
    const file = join(tmpdir(), "too-big.safetensors");
    writeFileSync(file, new Uint8Array(1024 * 1024 + 1));
    await page.setInputFiles("#upload-file", file);
    await page.click("#upload-submit");
    await page.waitForFunction('document.querySelector("#upload-status")?.classList.contains("error")');
    expect(await page.textContent("#upload-status")).toContain("1048576 bytes");
    // the failed fetch is the only console error the browser reports
    expect(errors.every((e) => e.includes("413"))).toBe(true);
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
