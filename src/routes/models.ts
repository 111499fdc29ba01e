/**
 * @module routes/models
 * GET /v1/models: the models with stored results. GET /v1/models/{model}/summary: the per-layer × per-head table of everything stored for a model
 * (services/summarize-model.ts). Reads are public.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { summarizeModel } from "../services/summarize-model";
import { ResultStore } from "../storage/result-store";
import { MODEL_NAME } from "../wire/head-request";
import { parseParams } from "./validate";

export const ModelPathSchema = z.object({ model: z.string().check(z.regex(MODEL_NAME, "model must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}")) });

export const models = new Hono<AppEnv>()
  .get("/v1/models", async (c) => c.json({ models: await new ResultStore(c.env).listModels() }))
  .get("/v1/models/:model/summary", async (c) => {
  const { model } = parseParams(ModelPathSchema, c.req.param(), "path");
  const summary = await summarizeModel(new ResultStore(c.env), model);
  return c.body(JSON.stringify(summary), 200, { "content-type": "application/json" });
});
