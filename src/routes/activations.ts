/**
 * @module routes/activations
 * POST /v1/activations (auth): store a safetensors file of token vectors (`layer.{l}` tensors or one
 * `X`) under the SHA-256 of its bytes — validated whole first, written in one R2 put, idempotent
 * (201 when stored now, 200 when it already was). GET /v1/activations/{id}: the file back, byte for
 * byte. SAD requests name a stored file with `?activations=ID` (routes/analyses.ts).
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { requireToken } from "../auth";
import { PayloadTooLarge, ResultNotFound } from "../errors";
import type { AppEnv } from "../env";
import { validateActivationFile } from "../services/activation-files";
import { sha256Hex } from "../services/sha256";
import { ResultStore } from "../storage/result-store";
import { ACTIVATION_LIMITS, ActivationIdSchema, type ActivationAnswer } from "../wire/activations";
import { parseParams } from "./validate";

const limit = bodyLimit({
  maxSize: ACTIVATION_LIMITS.maxBodyBytes,
  onError: () => {
    throw new PayloadTooLarge(`body exceeds ${ACTIVATION_LIMITS.maxBodyBytes} bytes`, ACTIVATION_LIMITS.maxBodyBytes);
  },
});

const IdParam = z.object({ id: ActivationIdSchema });

export const activations = new Hono<AppEnv>()
  .post("/v1/activations", requireToken, limit, async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const { index } = validateActivationFile(body);
    const id = await sha256Hex(body);
    const stored = await new ResultStore(c.env).putActivations(id, body);
    const answer: ActivationAnswer = {
      schema: "headscope.activations/v1", id, bytes: body.byteLength, tensors: index.tensors, stored, links: { self: `/v1/activations/${id}` },
    };
    return c.json(answer, stored ? 201 : 200);
  })
  .get("/v1/activations/:id", async (c) => {
    const { id } = parseParams(IdParam, { id: c.req.param("id") }, "path");
    const obj = await new ResultStore(c.env).getActivations(id);
    if (!obj) throw new ResultNotFound(`no activation file ${id} is stored (POST /v1/activations first)`);
    return new Response(obj.body, {
      headers: { "content-type": "application/octet-stream", "content-length": String(obj.size), etag: `"${id}"` },
    });
  });
