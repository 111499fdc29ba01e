/**
 * @module http/cache
 * HTTP caching of GET answers, in one place so routes stay thin:
 *
 * - a Cache-Control per route (the table below): results addressed by their content hash never
 *   change, so the edge and browsers may keep them for a year (`immutable`); answers that change as
 *   results are stored (the model summary, listings, a head addressed by variant alone, which
 *   `overwrite=true` can replace) are cached briefly and then revalidated; what changes only with a
 *   deployment (the OpenAPI document, problem pages, the page's scripts) is cached for minutes; the
 *   pages themselves are always revalidated. Writes and errors are `no-store`.
 * - a strong ETag on every 200 GET: stored objects carry their content hash (set by the route: the
 *   input SHA-256 of vectors, the id of an analysis, the SHA-256 of a toy report), and small JSON or
 *   text answers without one get the SHA-256 of their bytes.
 * - `If-None-Match` (RFC 9110 §13.1.2, weak comparison, `*`) answered with 304 and no body.
 */
import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import type { Context } from "hono";
import type { AppEnv } from "../env";

export const CACHE_CONTROL = {
  /** addressed by content: never changes */
  immutable: "public, max-age=31536000, immutable",
  /** changes when results are stored: short, then revalidated with the ETag */
  changing: "public, max-age=30, must-revalidate",
  /** changes only with a deployment */
  deployment: "public, max-age=300, must-revalidate",
  /** HTML pages: always revalidated (a 304 is cheap) */
  page: "no-cache",
  /** writes and errors */
  none: "no-store",
} as const;
export type CachePolicy = keyof typeof CACHE_CONTROL;

const HEAD = "/v1/models/:model/layers/:layer/heads/:head";
/** A head addressed by variant alone can be replaced (overwrite=true); with ?sha256= it cannot. */
const byInputHash = (c: Context<AppEnv>): CachePolicy => (c.req.query("sha256") ? "immutable" : "changing");

/** The cache policy of every GET route (Hono path patterns); routes not listed are `no-store`. */
export const GET_CACHE_POLICY: Record<string, CachePolicy | ((c: Context<AppEnv>) => CachePolicy)> = {
  "/": "page",
  "/docs": "page",
  "/assets/demo.js": "deployment",
  "/assets/demo.css": "deployment",
  "/assets/toy-worker.js": "deployment",
  "/assets/docs.js": "deployment",
  "/assets/docs.css": "deployment",
  "/openapi.json": "deployment",
  "/problems/:slug": "deployment",
  "/v1": "deployment",
  "/v1/models": "changing",
  "/v1/models/:model/summary": "changing",
  "/v1/models/:model/readout-basis": "changing",
  "/v1/toy/reports": "changing",
  "/v1/toy/reports/:experiment": "changing",
  [`${HEAD}/:circuit`]: byInputHash,
  [`${HEAD}/:circuit/vectors`]: byInputHash,
  [`${HEAD}/qk/sad/:id`]: "immutable",
  [`${HEAD}/qk/sad/:id/pairs`]: "immutable",
  [`${HEAD}/:circuit/alignment/:id`]: "immutable",
  [`${HEAD}/:circuit/alignment/:id/cosines`]: "immutable",
  // addressed by the SHA-256 of their bytes (an activation file; a checkpoint's canonical manifest)
  "/v1/activations/:id": "immutable",
  "/v1/checkpoints/:id": "immutable",
  "/v1/checkpoints": "changing",
  // a running job's progress changes every few seconds: never cached; its report (a 404, never
  // cached, until the job finishes) is cached briefly and revalidated (a cheap 304)
  "/v1/scans/:id": "none",
  "/v1/scans/:id/report": "changing",
};

/** The policy of the route that answered this request. */
export function cachePolicyOf(c: Context<AppEnv>): CachePolicy {
  if (c.req.method !== "GET" && c.req.method !== "HEAD") return "none";
  if (c.res.status !== 200) return "none";
  const p = GET_CACHE_POLICY[routePath(c, -1)];
  if (p === undefined) return "none";
  return typeof p === "function" ? p(c) : p;
}

const TEXTUAL = /^(application\/(json|problem\+json|javascript)|text\/)/;

async function sha256Tag(res: Response): Promise<string> {
  const bytes = await res.clone().arrayBuffer();
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `"${Array.from(d.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

/** RFC 9110 weak comparison of an If-None-Match list with the current ETag. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  const opaque = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => opaque(t) === opaque(etag));
}

export const cache = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const policy = cachePolicyOf(c);
  // a route's own Cache-Control wins; everything else gets the table's
  if (!c.res.headers.has("cache-control") || policy === "none") c.res.headers.set("cache-control", CACHE_CONTROL[policy]);
  if (policy === "none") return;
  let etag = c.res.headers.get("etag");
  if (!etag && c.res.body && TEXTUAL.test(c.res.headers.get("content-type") ?? "")) {
    etag = await sha256Tag(c.res);
    c.res.headers.set("etag", etag);
  }
  if (etag && noneMatch(c.req.header("if-none-match"), etag)) {
    await c.res.body?.cancel();
    const headers = new Headers(c.res.headers);
    for (const h of ["content-type", "content-length", "content-disposition", "content-encoding"]) headers.delete(h);
    c.res = undefined as unknown as Response; // drop the 200 without merging its headers twice
    c.res = new Response(null, { status: 304, headers });
  }
});
