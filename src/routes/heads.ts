/**
 * @module routes/heads
 * POST/GET /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov} and GET …/vectors.
 * Handlers parse, call the service, store and respond; the work is in services/ and storage/.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { requireToken } from "../auth";
import { InvalidRequest, PayloadTooLarge, ResultNotFound } from "../errors";
import type { AppEnv } from "../env";
import { getKernels } from "../kernels/instance";
import { headResult } from "../services/head-result";
import { ResultStore } from "../storage/result-store";
import { HeadOptionsSchema, HeadPathSchema, LIMITS, VARIANTS, type HeadPath, type VariantName } from "../wire/head-request";
import type { SvdAnswer, SvdSummary } from "../wire/svd-result";
import { parseParams } from "./validate";

const HEAD_PATH = "/v1/models/:model/layers/:layer/heads/:head/:circuit";

export const headLinks = (p: HeadPath, variant: VariantName) => {
  const base = `/v1/models/${p.model}/layers/${p.layer}/heads/${p.head}/${p.circuit}`;
  return { self: `${base}?variant=${variant}`, vectors: `${base}/vectors?variant=${variant}` };
};

const answer = (p: HeadPath, s: SvdSummary, computed?: boolean): SvdAnswer => ({
  ...s,
  ...(computed === undefined ? {} : { computed }),
  links: headLinks(p, s.variant.name),
});


const VariantQuery = z.object({ variant: z.enum(VARIANTS).optional() });

/** The stored summary a GET addresses (its variant: the one asked for, or the only one stored). */
async function storedSummary(store: ResultStore, path: HeadPath, asked: VariantName | undefined): Promise<SvdSummary> {
  const v = await pickVariant(store, path, asked);
  const summary = await store.getSummary(path, v);
  if (!summary) throw new ResultNotFound(`no ${v} result stored for ${path.model} layer ${path.layer} head ${path.head} ${path.circuit}`);
  return summary;
}

/** The variant a GET addresses: the one asked for, or the only one stored. */
async function pickVariant(store: ResultStore, p: HeadPath, asked: VariantName | undefined): Promise<VariantName> {
  if (asked) return asked;
  const stored = await store.listVariants(p);
  if (stored.length === 1) return stored[0];
  if (stored.length === 0) throw new ResultNotFound(`no result stored for ${p.model} layer ${p.layer} head ${p.head} ${p.circuit}`);
  throw new InvalidRequest(`several variants are stored (${stored.join(", ")}); choose one with ?variant=`, { variants: stored });
}

export const heads = new Hono<AppEnv>()
  .post(
    HEAD_PATH,
    requireToken,
    bodyLimit({
      maxSize: LIMITS.maxHeadBodyBytes,
      onError: () => {
        throw new PayloadTooLarge(`body exceeds ${LIMITS.maxHeadBodyBytes} bytes`, LIMITS.maxHeadBodyBytes);
      },
    }),
    async (c) => {
      const path = parseParams(HeadPathSchema, c.req.param(), "path");
      const options = parseParams(HeadOptionsSchema, c.req.query(), "query");
      const body = new Uint8Array(await c.req.arrayBuffer());
      const { summary, computed } = await headResult(getKernels(), new ResultStore(c.env), path, options, body);
      return c.json(answer(path, summary, computed), computed ? 201 : 200);
    },
  )
  .get(HEAD_PATH, async (c) => {
    const path = parseParams(HeadPathSchema, c.req.param(), "path");
    const { variant } = parseParams(VariantQuery, c.req.query(), "query");
    return c.json(answer(path, await storedSummary(new ResultStore(c.env), path, variant)));
  })
  .get(`${HEAD_PATH}/vectors`, async (c) => {
    const path = parseParams(HeadPathSchema, c.req.param(), "path");
    const { variant } = parseParams(VariantQuery, c.req.query(), "query");
    const store = new ResultStore(c.env);
    const summary = await storedSummary(store, path, variant);
    const v = summary.variant.name;
    const obj = await store.getVectors(summary.vectors.key);
    if (!obj) throw new ResultNotFound(`vectors ${summary.vectors.key} are missing`);
    return new Response(obj.body, {
      headers: {
        "content-type": "application/octet-stream",
        "content-disposition": `attachment; filename="${path.model}-L${path.layer}H${path.head}-${path.circuit}-${v}.safetensors"`,
        etag: `"${summary.input.sha256}"`,
      },
    });
  });
