/**
 * The HTTP conventions of src/http/ inside workerd with real local R2 and KV and real GPT-2 heads:
 * CORS (public reads from any origin, cross-origin writes only with the bearer token, the preflight,
 * never credentials, the demo endpoint same-origin only), caching (strong ETags, immutable results by
 * input hash, short revalidating caching of what changes, If-None-Match → 304) and the security
 * headers of the page (strict CSP, nosniff, no referrer, no framing).
 */
import { reset } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, test } from "vitest";
import { CACHE_CONTROL } from "../../src/http/cache";
import { expectProblem, storedKeys } from "../support/worker-assertions";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const ORIGIN = "https://notebook.example";
const gpt2 = inject("gpt2L0H1");
const sad = inject("gpt2SadL0");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const PATH = "/v1/models/gpt2-small/layers/0/heads/1";

const fetchApp = (path: string, init: RequestInit = {}) => exports.default.fetch(new Request(`${BASE}${path}`, init));
const post = (path: string, body: Uint8Array, headers: Record<string, string> = {}) =>
  fetchApp(path, { method: "POST", body, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/octet-stream", ...headers } });
const get = (path: string, headers: Record<string, string> = {}) => fetchApp(path, { headers });

beforeEach(async () => {
  await reset();
});

describe("CORS", () => {
  test("a real preflight for a cross-origin write: POST, Authorization allowed, no credentials", async () => {
    const res = await fetchApp(`${PATH}/qk`, {
      method: "OPTIONS",
      headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")?.split(",")).toEqual(expect.arrayContaining(["GET", "HEAD", "POST"]));
    const allowed = res.headers.get("access-control-allow-headers")!.toLowerCase().split(",");
    expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "if-none-match"]));
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("access-control-max-age")).toBe("86400");
    expect(await res.text()).toBe("");
  });

  test("a cross-origin write needs the bearer token; a cookie is no credential; answers are readable", async () => {
    // without the token (a cookie does not count): 401, readable cross-origin, nothing stored
    const refused = await fetchApp(`${PATH}/qk`, { method: "POST", body: bytes(gpt2.qk), headers: { origin: ORIGIN, cookie: `token=${TOKEN}` } });
    expect(refused.headers.get("access-control-allow-origin")).toBe("*");
    await expectProblem(refused, 401, "unauthorized");
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
    // with it: stored, the answer and its ETag readable cross-origin
    const ok = await post(`${PATH}/qk`, bytes(gpt2.qk), { origin: ORIGIN });
    expect(ok.status).toBe(201);
    expect(ok.headers.get("access-control-allow-origin")).toBe("*");
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
    expect(ok.headers.get("access-control-expose-headers")!.toLowerCase().split(",")).toEqual(
      expect.arrayContaining(["etag", "x-request-id", "retry-after"]),
    );
  });

  test("public reads from any origin: results, vectors, summary, listings, problems", async () => {
    const a = (await (await post(`${PATH}/qk`, bytes(gpt2.qk))).json()) as any;
    for (const path of [a.links.self, a.links.vectors, "/v1/models/gpt2-small/summary", "/v1/models", "/problems/not-found", "/v1"]) {
      const res = await get(path, { origin: ORIGIN });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("access-control-allow-origin"), path).toBe("*");
      await res.arrayBuffer();
    }
    // a 404 is readable too (a script can tell "not stored" from a network error)
    const missing = await get(`${PATH}/ov`, { origin: ORIGIN });
    expect(missing.headers.get("access-control-allow-origin")).toBe("*");
    await expectProblem(missing, 404, "not-found");
  });

  test("the anonymous demo endpoint answers its own origin only", async () => {
    const pre = await fetchApp("/v1/demo/analyze", {
      method: "OPTIONS",
      headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    expect(pre.headers.get("access-control-allow-methods")).toBeNull();
    await pre.arrayBuffer();
    const res = await fetchApp("/v1/demo/analyze", { method: "POST", body: bytes(gpt2.qk), headers: { origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    await res.arrayBuffer();
  });
});

describe("caching", () => {
  test("a head addressed by variant and input hash is immutable: strong ETag, If-None-Match → 304", async () => {
    const posted = await post(`${PATH}/qk`, bytes(gpt2.qk));
    expect(posted.headers.get("cache-control")).toBe("no-store");
    const a = (await posted.json()) as any;
    expect(a.links.self).toBe(`${PATH}/qk?variant=folded_augmented&sha256=${a.input.sha256}`);

    for (const link of [a.links.self, a.links.vectors]) {
      const res = await get(link);
      expect(res.status, link).toBe(200);
      expect(res.headers.get("cache-control"), link).toBe(CACHE_CONTROL.immutable);
      const etag = res.headers.get("etag")!;
      expect(etag, link).toMatch(/^"[0-9a-f]+"$/); // strong
      const body = await res.arrayBuffer();
      expect(body.byteLength).toBeGreaterThan(0);

      for (const inm of [etag, `W/${etag}`, `"something-else", ${etag}`, "*"]) {
        const again = await get(link, { "if-none-match": inm });
        expect(again.status, `${link} ${inm}`).toBe(304);
        expect(again.headers.get("etag")).toBe(etag);
        expect(again.headers.get("cache-control")).toBe(CACHE_CONTROL.immutable);
        expect((await again.arrayBuffer()).byteLength).toBe(0);
      }
      const other = await get(link, { "if-none-match": '"0000"' });
      expect(other.status).toBe(200);
      expect((await other.arrayBuffer()).byteLength).toBe(body.byteLength);
      // HEAD answers the same conditional
      const head = await fetchApp(link, { method: "HEAD", headers: { "if-none-match": etag } });
      expect(head.status).toBe(304);
    }
    // the vectors' ETag is the input's content hash
    expect((await get(a.links.vectors)).headers.get("etag")).toBe(`"${a.input.sha256}"`);
  });

  test("by variant alone the head can be replaced: short revalidating caching; a replaced input's URL is gone", async () => {
    const first = (await (await post(`${PATH}/qk?fold_ln=false&bias=none`, bytes(gpt2.qk))).json()) as any;
    const byVariant = await get(`${PATH}/qk?variant=raw`);
    expect(byVariant.headers.get("cache-control")).toBe(CACHE_CONTROL.changing);
    const etag = byVariant.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    expect((await get(`${PATH}/qk?variant=raw`, { "if-none-match": etag })).status).toBe(304);

    // another input for the same variant replaces it (overwrite=true)
    const second = (await (await post(`${PATH}/qk?overwrite=true`, bytes(gpt2.qkNoLn))).json()) as any;
    expect(second.variant.name).toBe("raw");
    expect(second.input.sha256).not.toBe(first.input.sha256);
    const changed = await get(`${PATH}/qk?variant=raw`, { "if-none-match": etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    expect(((await changed.json()) as any).input.sha256).toBe(second.input.sha256);
    // the old content-addressed URL no longer answers (and a 404 is never cached)
    const gone = await get(first.links.self);
    expect(gone.headers.get("cache-control")).toBe("no-store");
    await expectProblem(gone, 404, "not-found");
    await expectProblem(await get(`${PATH}/qk?variant=raw&sha256=xyz`), 400, "invalid-request");
  });

  test("the model summary changes as heads are stored: short caching, revalidated with its ETag", async () => {
    await post(`${PATH}/qk`, bytes(gpt2.qk));
    const s1 = await get("/v1/models/gpt2-small/summary");
    expect(s1.headers.get("cache-control")).toBe(CACHE_CONTROL.changing);
    const e1 = s1.headers.get("etag")!;
    const text1 = await s1.text();
    const sameAgain = await get("/v1/models/gpt2-small/summary", { "if-none-match": e1 });
    expect(sameAgain.status).toBe(304);
    expect(await sameAgain.text()).toBe("");

    await post(`${PATH}/ov`, bytes(gpt2.ov));
    const s2 = await get("/v1/models/gpt2-small/summary", { "if-none-match": e1 });
    expect(s2.status).toBe(200);
    const e2 = s2.headers.get("etag")!;
    expect(e2).not.toBe(e1);
    expect(await s2.text()).not.toBe(text1);
    expect((await get("/v1/models", { "if-none-match": (await get("/v1/models")).headers.get("etag")! })).status).toBe(304);
  });

  test("an analysis addressed by its id is immutable", async () => {
    const res = await post(`/v1/models/gpt2-small/layers/0/heads/${sad.head}/qk/sad?null_seeds=1`, bytes(sad.withWeights));
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const a = (await res.json()) as any;
    const g = await get(a.links.self);
    expect(g.status).toBe(200);
    expect(g.headers.get("cache-control")).toBe(CACHE_CONTROL.immutable);
    const etag = g.headers.get("etag")!;
    await g.arrayBuffer();
    expect((await get(a.links.self, { "if-none-match": etag })).status).toBe(304);
  });

  test("errors and writes are never stored by a cache; documents cached per deployment", async () => {
    const bad = await get("/v1/models/-bad/summary");
    expect(bad.headers.get("cache-control")).toBe("no-store");
    await expectProblem(bad, 400, "invalid-request");
    const problem = await get("/problems/conflict");
    expect(problem.headers.get("cache-control")).toBe(CACHE_CONTROL.deployment);
    expect(problem.headers.get("etag")).toMatch(/^"[0-9a-f]+"$/);
    await problem.arrayBuffer();
    const page = await get("/");
    expect(page.headers.get("cache-control")).toBe(CACHE_CONTROL.page);
    expect((await get("/", { "if-none-match": page.headers.get("etag")! })).status).toBe(304);
    await page.arrayBuffer();
  });
});

describe("the page locked down", () => {
  test("strict CSP: scripts only from this worker, no inline script, the Web Worker allowed, no framing", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    const csp = Object.fromEntries(
      res.headers.get("content-security-policy")!.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]),
    );
    expect(csp["script-src"]).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(csp["worker-src"]).toEqual(["'self'"]);
    expect(csp["default-src"]).toEqual(["'self'"]);
    expect(csp["style-src"]).toEqual(["'self'"]);
    expect(csp["object-src"]).toEqual(["'none'"]);
    expect(csp["frame-ancestors"]).toEqual(["'none'"]);
    expect(csp["connect-src"]).toEqual(["'self'"]);
    for (const directive of ["script-src", "default-src", "worker-src"]) {
      expect(csp[directive].join(" ")).not.toMatch(/'unsafe-inline'|'unsafe-eval'|\*|data:|https?:/);
    }
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-frame-options")).toBe("DENY");

    // the HTML itself holds no inline script, style element or event handler attribute
    const page = await res.text();
    expect(page.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/assets/demo.js">']);
    expect(page).not.toMatch(/<style\b/);
    expect(page).not.toMatch(/\son[a-z]+\s*=/i);
    expect(page).toContain('<link rel="stylesheet" href="/assets/demo.css">');
    const css = await get("/assets/demo.css");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(await css.text()).toContain("--accent");
  });

  test("every answer is nosniff with the same policy, the Web Worker's script included", async () => {
    for (const path of ["/assets/toy-worker.js", "/assets/demo.js", "/v1/models", "/nowhere"]) {
      const res = await get(path);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("content-security-policy"), path).toContain("frame-ancestors 'none'");
      await res.arrayBuffer();
    }
  });
});
