/**
 * @module routes/api-index
 * GET /v1: every route of the worker, generated from the OpenAPI operations (openapi/operations.ts,
 * which test/routes/openapi.test.ts holds to the app's real routes), so the index cannot drift from
 * what the worker serves: method, path, summary, whether the write token is needed, query options.
 */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { openApiPath } from "../openapi/document";
import { OPERATIONS } from "../openapi/operations";
import { queryOptionNames } from "./validate";

let index: string | undefined;

/** The index as JSON text, built once per isolate. */
export function apiIndexText(): string {
  return (index ??= JSON.stringify({
    name: "headscope",
    api: "v1",
    docs: "/docs",
    openapi: "/openapi.json",
    problems: "/problems/{slug}",
    routes: OPERATIONS.map((op) => ({
      method: op.method.toUpperCase(),
      path: openApiPath(op.path),
      summary: op.summary,
      auth: op.auth ?? false,
      ...(op.query ? { query: queryOptionNames(op.query) } : {}),
    })),
  }));
}

export const apiIndex = new Hono<AppEnv>().get("/v1", (c) => c.body(apiIndexText(), 200, { "content-type": "application/json" }));
