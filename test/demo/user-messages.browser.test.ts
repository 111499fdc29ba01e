/**
 * The demo page's messages in the user's terms, in real headless Chromium against the real local
 * worker (wrangler dev, local R2 and KV) filled by the scan CLI with the small example model
 * (4 layers × 4 heads): out-of-range layers and heads say which ones exist; the upload view's example
 * head downloads as a safetensors file and analyzes to the spectrum it was built with.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { decodeFloat, parseSafetensors } from "../../src/wire/safetensors";
import { CHROMIUM, collectErrors, launchBrowser, watchCsp } from "../support/browser";
import { runCli } from "../support/cli";
import { startLocalWorker, type LocalWorker } from "../support/local-worker";
import { existsSync } from "node:fs";

/** the page's document, inside the callbacks Playwright runs in the browser (tsc here has no DOM lib) */
declare const document: any;

const tmp = mkdtempSync(join(tmpdir(), "headscope-messages-"));
let worker: LocalWorker;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  [worker, browser] = await Promise.all([startLocalWorker(), launchBrowser()]);
  const scan = await runCli(["scan", "--endpoint", worker.url, "--out", join(tmp, "out"), "--progress", "quiet", "--no-html"], {
    env: { HEADSCOPE_TOKEN: worker.token },
  });
  expect(scan.code, scan.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const statusOf = (page: Page, id: string) =>
  page.$eval(`#${id}`, (el) => ({ text: el.textContent as string, error: el.classList.contains("error") as boolean }));

describe.skipIf(!existsSync(CHROMIUM))("demo messages", () => {
  test("explore: a layer or head the model does not have is named, with the valid range", async () => {
    const page = await browser.newPage();
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    await page.goto(worker.url);
    await page.waitForFunction(() => document.querySelector("#explore-status")?.textContent?.startsWith("example-tiny-gpt2: layer 0, head 0"));
    await page.fill("#explore-layer", "9");
    await page.dispatchEvent("#explore-layer", "change");
    await page.waitForFunction(() => document.querySelector("#explore-status")?.textContent?.startsWith("Layer 9"));
    expect(await statusOf(page, "explore-status")).toEqual({ text: "Layer 9 is out of range: example-tiny-gpt2 has layers 0–3.", error: true });
    // leaving the layer input fires its change (layer 2, head 0 is loaded); the head typed next wins
    await page.fill("#explore-layer", "2");
    await page.fill("#explore-head", "4");
    await page.dispatchEvent("#explore-head", "change");
    await page.waitForFunction(() => document.querySelector("#explore-status")?.textContent?.startsWith("Head 4"));
    expect(await statusOf(page, "explore-status")).toEqual({ text: "Head 4 is out of range: example-tiny-gpt2 has heads 0–3.", error: true });
    await page.fill("#explore-head", "-1");
    await page.dispatchEvent("#explore-head", "change");
    await page.waitForFunction(() => document.querySelector("#explore-status")?.textContent?.startsWith("Head -1"));
    // a head that exists is shown again
    await page.fill("#explore-head", "3");
    await page.dispatchEvent("#explore-head", "change");
    await page.waitForFunction(() => document.querySelector("#explore-status")?.textContent?.startsWith("example-tiny-gpt2: layer 2, head 3"));
    expect((await statusOf(page, "explore-status")).error).toBe(false);
    expect(errors, errors.join("\n")).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    await page.close();
  });

  test("upload: the example head downloads as safetensors and analyzes to σ = 8, 4, 2, …", async () => {
    const page = await browser.newPage();
    const errors = collectErrors(page);
    const csp = await watchCsp(page);
    await page.goto(`${worker.url}/#upload`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#upload-example-download")]);
    expect(download.suggestedFilename()).toBe("example-head.safetensors");
    const file = join(tmp, "example-head.safetensors");
    await download.saveAs(file);
    const st = parseSafetensors(new Uint8Array(readFileSync(file)));
    expect([...st.tensors.keys()]).toEqual(["W_Q", "W_K"]);
    expect(st.tensors.get("W_Q")!.shape).toEqual([64, 8]);
    expect(decodeFloat(st.tensors.get("W_K")!).some((x) => x !== 0)).toBe(true);

    await page.click("#upload-example");
    await page.waitForFunction(() => document.querySelector("#upload-status")?.textContent?.startsWith("Done"));
    const facts = await page.$$eval("#upload-facts tr", (rows) => Object.fromEntries(rows.map((r) => [r.children[0].textContent, r.children[1].textContent])));
    expect(facts.circuit).toBe("qk");
    expect(facts["d_model × d_head"]).toBe("64 × 8");
    expect(Number(facts["σ₁"])).toBeCloseTo(8, 4);
    expect(Number(facts["numerical rank"])).toBe(8);
    expect(errors, errors.join("\n")).toEqual([]);
    expect(csp, csp.join("\n")).toEqual([]);
    await page.close();
  });
});
