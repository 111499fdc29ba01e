/**
 * @module app
 * The Hono application: request ids, the HTTP middleware (http/: security headers, CORS, caching
 * and conditional GETs), routes, and the one error handler that turns every failure into
 * `application/problem+json`. Unknown errors are logged with the request id and answered with a
 * generic 500 that leaks no stack or secret.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError } from "./errors";
import { cache } from "./http/cache";
import { cors } from "./http/cors";
import { security } from "./http/security";
import type { AppEnv } from "./env";
import { activations } from "./routes/activations";
import { readoutBasis } from "./routes/readout-basis";
import { analyses } from "./routes/analyses";
import { checkpoints } from "./routes/checkpoints";
import { scans } from "./routes/scans";
import { demo } from "./routes/demo";
import { docs } from "./routes/docs";
import { toy } from "./routes/toy";
import { heads } from "./routes/heads";
import { models } from "./routes/models";
import { problems } from "./routes/problems";
import { PROBLEM_TYPES, problemTypeUri, type ProblemType } from "./wire/problem";
import { testHooks } from "./test-hooks";

const problemResponse = (slug: ProblemType, status: number, detail: string, requestId: string) =>
  new Response(
    JSON.stringify({ type: problemTypeUri(slug), title: PROBLEM_TYPES[slug].title, status, detail, request_id: requestId }),
    { status, headers: { "content-type": "application/problem+json" } },
  );

export const app = new Hono<AppEnv>()
  .use(async (c, next) => {
    const id = crypto.randomUUID();
    c.set("requestId", id);
    await next();
    c.header("x-request-id", id);
  })
  .use(security)
  .use(cors)
  .use(cache)
  .use(testHooks)
  .get("/v1", (c) =>
    c.json({
      name: "headscope",
      api: "v1",
      endpoints: [
        "POST /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov}",
        "GET  /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov}[?variant=]",
        "GET  /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov}/vectors[?variant=]",
        "GET  /v1/models/{model}/summary",
        "POST /v1/activations",
        "GET  /v1/activations/{id}",
        "POST /v1/models/{model}/layers/{layer}/heads/{head}/qk/sad[?activations={id}&layer=]",
        "GET  /v1/models/{model}/layers/{layer}/heads/{head}/qk/sad/{id}[/pairs]",
        "POST /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov}/alignment",
        "GET  /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov}/alignment/{id}[/cosines]",
        "POST /v1/checkpoints/blobs/{sha256}/uploads[/{upload_id}/parts/{n}|/{upload_id}/complete]",
        "POST /v1/checkpoints",
        "GET  /v1/checkpoints[/{id}]",
        "POST /v1/scans",
        "GET  /v1/scans/{id}[/report]",
        "DELETE /v1/scans/{id}",
        "GET  /openapi.json (every route, OpenAPI 3.1), /docs (rendered)",
      ],
    }),
  )
  .route("/", activations)
  .route("/", readoutBasis)
  .route("/", analyses)
  .route("/", checkpoints)
  .route("/", scans)
  .route("/", demo)
  .route("/", docs)
  .route("/", toy)
  .route("/", heads)
  .route("/", models)
  .route("/", problems);

app.notFound((c) => problemResponse("not-found", 404, `no route for ${c.req.method} ${new URL(c.req.url).pathname}`, c.get("requestId")));

app.onError((err, c) => {
  const requestId = c.get("requestId") ?? "unknown";
  if (err instanceof AppError) {
    const r = err.getResponse();
    const body = { ...err.toProblem(), request_id: requestId };
    return new Response(JSON.stringify(body), { status: r.status, headers: r.headers });
  }
  if (err instanceof HTTPException) {
    const slug: ProblemType = err.status === 413 ? "payload-too-large" : err.status === 401 ? "unauthorized" : "invalid-request";
    return problemResponse(slug, err.status, err.message || PROBLEM_TYPES[slug].title, requestId);
  }
  console.error(`request ${requestId} failed:`, err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  return problemResponse("internal", 500, "internal error; quote the request id when reporting it", requestId);
});

export type App = typeof app;
