/**
 * @module routes/demo
 * The public demo: the page at /, its bundled scripts (the page's, and the toy model's Web Worker), and the anonymous analysis endpoint
 * (POST /v1/demo/analyze: at most DEMO_MAX_BODY_BYTES, rate-limited per client, nothing stored).
 */
import { Hono } from "hono";
import { AppError } from "../errors";
import type { AppEnv } from "../env";
import { getKernels } from "../kernels/worker";
import { analyzeUpload, inferCircuit } from "../services/analyze-upload";
import * as z from "zod/mini";
import { HeadOptionsSchema } from "../wire/head-request";
import { parseSafetensors } from "../wire/safetensors";
import { DEMO_LIMITS } from "../wire/demo";
import { renderDemoPage } from "../demo/page";
import { DEMO_CSS } from "../demo/styles";
import demoScript from "../../build/demo-client.js";
import toyWorkerScript from "../../build/toy-worker.js";
import { limitBody } from "./body-limit";
import { parseParams } from "./validate";

class RateLimited extends AppError {
  override name = "RateLimited";
  constructor() {
    super("rate-limited", `at most ${DEMO_LIMITS.requestsPerMinute} anonymous analyses per minute per client; try again in a minute`, {
      limit: DEMO_LIMITS.requestsPerMinute,
      periodSeconds: 60,
    });
  }
  override getResponse(): Response {
    const r = super.getResponse();
    r.headers.set("retry-after", "60");
    return r;
  }
}

export const demo = new Hono<AppEnv>()
  .get("/", (c) => c.html(renderDemoPage()))
  .get("/assets/demo.js", (c) =>
    c.body(demoScript, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=300" }),
  )
  .get("/assets/demo.css", (c) => c.body(DEMO_CSS, 200, { "content-type": "text/css; charset=utf-8" }))
  .get("/assets/toy-worker.js", (c) =>
    c.body(toyWorkerScript, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=300" }),
  )
  .post(
    "/v1/demo/analyze",
    async (c, next) => {
      const client = c.req.header("cf-connecting-ip") ?? "local";
      const { success } = await c.env.DEMO_LIMITER.limit({ key: client });
      if (!success) throw new RateLimited();
      await next();
    },
    limitBody(
      DEMO_LIMITS.maxBodyBytes,
      `the demo accepts heads up to ${DEMO_LIMITS.maxBodyBytes} bytes (1 MiB); run a local server (npm start) for larger ones`,
    ),
    async (c) => {
      const options = parseParams(z.omit(HeadOptionsSchema, { overwrite: true, readouts: true, readout_k: true }), c.req.query(), "query");
      const parsed = parseSafetensors(new Uint8Array(await c.req.arrayBuffer()));
      const circuit = inferCircuit(parsed, c.req.query("circuit"));
      return c.json(analyzeUpload(getKernels(), parsed, circuit, options));
    },
  );
