/**
 * @module routes/activations
 * POST /v1/activations (auth): store a safetensors file of token vectors (`layer.{l}` tensors or one
 * `X`, optionally `lengths`) under the SHA-256 of its bytes — validated whole first, written in one R2
 * put, idempotent (201 when stored now, 200 when it already was). GET /v1/activations/{id}: the file
 * back, byte for byte. SAD requests name a stored file with `?activations=ID`. Handlers parse, call
 * one service (services/activation-files.ts) and respond.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { requireToken } from "../auth";
import type { AppEnv } from "../env";
import { storeActivations, storedActivations } from "../services/activation-files";
import { ResultStore } from "../storage/result-store";
import { ACTIVATION_LIMITS, ActivationIdSchema } from "../wire/activations";
import { limitBody } from "./body-limit";
import { parseParams } from "./validate";

export const IdParam = z.object({ id: ActivationIdSchema });

export const activations = new Hono<AppEnv>()
  .post("/v1/activations", requireToken, limitBody(ACTIVATION_LIMITS.maxBodyBytes), async (c) => {
    const answer = await storeActivations(new ResultStore(c.env), new Uint8Array(await c.req.arrayBuffer()));
    return c.json(answer, answer.stored ? 201 : 200);
  })
  .get("/v1/activations/:id", async (c) => {
    const { id } = parseParams(IdParam, { id: c.req.param("id") }, "path");
    const obj = await storedActivations(new ResultStore(c.env), id);
    return new Response(obj.body, {
      headers: { "content-type": "application/octet-stream", "content-length": String(obj.size), etag: `"${id}"` },
    });
  });
