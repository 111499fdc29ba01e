/**
 * @module routes/docs
 * GET /openapi.json (the OpenAPI 3.1 document, generated from the routes' schemas: openapi/) and
 * GET /docs (the same document rendered, with its stylesheet at /assets/docs.css).
 */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { buildDocument, documentText } from "../openapi/document";
import { DOCS_CSS, renderDocsPage } from "../openapi/docs-page";

export const docs = new Hono<AppEnv>()
  .get("/openapi.json", (c) => c.body(documentText(), 200, { "content-type": "application/json" }))
  .get("/docs", (c) => c.html(renderDocsPage(buildDocument())))
  .get("/assets/docs.css", (c) => c.body(DOCS_CSS, 200, { "content-type": "text/css; charset=utf-8" }));
