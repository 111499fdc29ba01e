/**
 * The worker seen from another site, in real headless Chromium against the real local worker
 * (wrangler dev, local R2/KV): a "notebook" page on another origin (a plain Node server on another
 * loopback port) reads results and writes with the bearer token through a real CORS preflight, is
 * refused a credentialed read, cannot use the anonymous demo endpoint, and cannot frame the page.
 */
import { createServer, type Server } from "node:http";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { launchBrowser, watchCsp } from "../support/browser";
import { gpt2Head, headBody } from "../support/gpt2";
import { startLocalWorker, type LocalWorker } from "../support/local-worker";

let worker: LocalWorker;
let browser: Browser;
let notebook: Server;
let notebookUrl: string;
/** what the worker saw: method and path of every request the notebook page caused */
const seen: string[] = [];

beforeAll(async () => {
  [worker, browser] = await Promise.all([startLocalWorker(), launchBrowser()]);
  notebook = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(req.url === "/frame" ? `<!doctype html><iframe id="demo" src="${worker.url}/"></iframe>` : "<!doctype html><title>notebook</title>");
  });
  await new Promise<void>((r) => notebook.listen(0, "127.0.0.1", r));
  notebookUrl = `http://127.0.0.1:${(notebook.address() as { port: number }).port}`;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await new Promise((r) => notebook?.close(r));
});

async function notebookPage(): Promise<Page> {
  const page = await browser.newPage();
  page.on("request", (r) => {
    if (r.url().startsWith(worker.url)) seen.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  await page.goto(notebookUrl);
  return page;
}

describe("another origin", () => {
  test("posts a head with the bearer token through a real preflight, then reads it back", async () => {
    const page = await notebookPage();
    const body = Array.from(headBody(gpt2Head(0, 1), "qk"));
    seen.length = 0;
    const result = await page.evaluate(
      async ({ url, token, body }) => {
        const post = await fetch(`${url}/v1/models/gpt2-small/layers/0/heads/1/qk`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
          body: new Uint8Array(body),
        });
        const answer = (await post.json()) as any;
        const get = await fetch(url + answer.links.self);
        const again = await fetch(url + answer.links.self, { headers: { "if-none-match": get.headers.get("etag")! } });
        const vectors = await fetch(url + answer.links.vectors);
        // a header the preflight does not allow: the browser refuses before sending the request
        const notAllowed = await fetch(url + answer.links.self, { headers: { "x-not-allowed": "1" } }).then(() => "sent", (e) => `refused: ${e}`);
        return {
          notAllowed,
          postStatus: post.status, sigma1: answer.singular_values[0], getStatus: get.status, etag: get.headers.get("etag"),
          requestId: get.headers.get("x-request-id"), againStatus: again.status, vectorsBytes: (await vectors.arrayBuffer()).byteLength,
        };
      },
      { url: worker.url, token: worker.token, body },
    );
    expect(result.postStatus).toBe(201);
    expect(result.sigma1).toBeGreaterThan(1);
    expect(result.getStatus).toBe(200);
    expect(result.etag).toMatch(/^"[0-9a-f]+"$/); // exposed to the script
    expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.againStatus).toBe(304); // the browser's conditional GET
    expect(result.vectorsBytes).toBeGreaterThan(769 * 64 * 4);
    // a request with Authorization (and one with If-None-Match, which is not safelisted) is sent only
    // after a preflight the worker answered; a header it does not allow is refused by that preflight
    expect(result.notAllowed).toMatch(/^refused: TypeError/);
    expect(seen).toContain("POST /v1/models/gpt2-small/layers/0/heads/1/qk");
    await page.close();
  });

  test("without the token a cross-origin write is refused with a readable problem; credentials are never allowed", async () => {
    const page = await notebookPage();
    const result = await page.evaluate(async (url) => {
      const res = await fetch(`${url}/v1/models/gpt2-small/layers/0/heads/2/qk`, { method: "POST", body: new Uint8Array(8) });
      const credentialed = await fetch(`${url}/v1/models`, { credentials: "include" } as RequestInit).then(() => "read", (e) => `refused: ${e}`);
      return { status: res.status, type: ((await res.json()) as any).type, credentialed };
    }, worker.url);
    expect(result.status).toBe(401);
    expect(result.type).toBe("/problems/unauthorized");
    expect(result.credentialed).toMatch(/^refused: TypeError/);
    await page.close();
  });

  test("the anonymous demo endpoint is not usable from another origin", async () => {
    const page = await notebookPage();
    const outcome = await page.evaluate(async (url) => {
      try {
        await fetch(`${url}/v1/demo/analyze`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array(8) });
        return "read";
      } catch (e) {
        return `refused: ${e}`;
      }
    }, worker.url);
    expect(outcome).toMatch(/^refused: TypeError/);
    await page.close();
  });

  test("cannot frame the demo page", async () => {
    const page = await browser.newPage();
    const csp = await watchCsp(page);
    await page.goto(`${notebookUrl}/frame`);
    await page.waitForTimeout(1000);
    const framed = page.frames().find((f) => f !== page.mainFrame())!;
    expect(framed.url()).not.toContain(worker.url);
    expect(csp.some((v) => v.includes("frame-ancestors 'none'")), csp.join("\n")).toBe(true);
    await page.close();
  });
});
