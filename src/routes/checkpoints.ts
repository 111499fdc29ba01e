/**
 * @module routes/checkpoints
 * Checkpoints for server-side scans. Shards go up with multipart uploads to their content-addressed
 * key (`POST …/blobs/{sha256}/uploads` says when a shard is already there, so it is not sent again);
 * `POST /v1/checkpoints` registers a manifest once every shard is stored; `GET /v1/checkpoints` lists.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { requireToken } from "../auth";
import { InvalidRequest, PayloadTooLarge, ResultNotFound } from "../errors";
import type { AppEnv } from "../env";
import { registerCheckpoint } from "../services/register-checkpoint";
import { CheckpointStore } from "../storage/checkpoint-store";
import { CheckpointManifestInputSchema, CompleteUploadSchema, SHA256_HEX, UPLOAD_PART_BYTES } from "../wire/checkpoint";
import { parseParams } from "./validate";
import { coercedInt } from "../wire/head-request";

const sha256 = z.string().check(z.regex(SHA256_HEX, "64 lowercase hex digits"));
const uploadId = z.string().check(z.minLength(1), z.maxLength(1024));
export const Sha = z.object({ sha256 });
export const Upload = z.object({ sha256, upload_id: uploadId });
export const Part = z.object({ sha256, upload_id: uploadId, part: coercedInt(1, 10000) });
export const Id = z.object({ id: z.string().check(z.regex(SHA256_HEX, "a checkpoint id (64 hex digits)")) });

const BLOB = "/v1/checkpoints/blobs/:sha256/uploads";

async function jsonBody<T extends z.ZodMiniType>(req: Request, schema: T, maxBytes: number): Promise<z.infer<T>> {
  const text = await req.text();
  if (text.length > maxBytes) throw new PayloadTooLarge(`body exceeds ${maxBytes} bytes`, maxBytes);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvalidRequest(`the body is not JSON: ${(e as Error).message}`);
  }
  return parseParams(schema, raw, "body");
}

export const checkpoints = new Hono<AppEnv>()
  .post(BLOB, requireToken, async (c) => {
    const { sha256 } = parseParams(Sha, c.req.param(), "path");
    const store = new CheckpointStore(c.env.RESULTS);
    const bytes = await store.blobBytes(sha256);
    if (bytes !== undefined) return c.json({ exists: true as const, sha256, bytes }, 200);
    return c.json({ exists: false as const, sha256, upload_id: await store.startUpload(sha256), part_bytes: UPLOAD_PART_BYTES }, 201);
  })
  .put(`${BLOB}/:upload_id/parts/:part`, requireToken, async (c) => {
    const p = parseParams(Part, c.req.param(), "path");
    const length = Number(c.req.header("content-length"));
    if (!Number.isSafeInteger(length) || length < 1) throw new InvalidRequest("a part needs a Content-Length header and a non-empty body");
    if (length > UPLOAD_PART_BYTES) throw new PayloadTooLarge(`a part is at most ${UPLOAD_PART_BYTES} bytes`, UPLOAD_PART_BYTES);
    const body = c.req.raw.body;
    if (!body) throw new InvalidRequest("the part has no body");
    const etag = await new CheckpointStore(c.env.RESULTS).uploadPart(p.sha256, p.upload_id, p.part, body);
    return c.json({ part_number: p.part, etag });
  })
  .post(`${BLOB}/:upload_id/complete`, requireToken, async (c) => {
    const p = parseParams(Upload, c.req.param(), "path");
    const { parts } = await jsonBody(c.req.raw, CompleteUploadSchema, 1 << 20);
    const bytes = await new CheckpointStore(c.env.RESULTS).completeUpload(p.sha256, p.upload_id, parts);
    return c.json({ exists: true as const, sha256: p.sha256, bytes }, 201);
  })
  .delete(`${BLOB}/:upload_id`, requireToken, async (c) => {
    const p = parseParams(Upload, c.req.param(), "path");
    await new CheckpointStore(c.env.RESULTS).abortUpload(p.sha256, p.upload_id);
    return c.body(null, 204);
  })
  .post("/v1/checkpoints", requireToken, async (c) => {
    const input = await jsonBody(c.req.raw, CheckpointManifestInputSchema, 4 << 20);
    const { manifest, created } = await registerCheckpoint(new CheckpointStore(c.env.RESULTS), input);
    return c.json({ ...manifest, links: { self: `/v1/checkpoints/${manifest.id}` } }, created ? 201 : 200);
  })
  .get("/v1/checkpoints", async (c) => c.json({ checkpoints: await new CheckpointStore(c.env.RESULTS).listManifests() }))
  .get("/v1/checkpoints/:id", async (c) => {
    const { id } = parseParams(Id, c.req.param(), "path");
    const m = await new CheckpointStore(c.env.RESULTS).getManifest(id);
    if (!m) throw new ResultNotFound(`no checkpoint ${id}`);
    return c.json(m);
  });
