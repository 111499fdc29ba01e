/**
 * @module routes/heads
 * POST/GET /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov} and GET …/vectors.
 * Handlers parse, call one service (services/head-results.ts) and respond.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { requireToken } from "../auth";
import type { AppEnv } from "../env";
import { getKernels } from "../kernels/worker";
import { postHead, storedHead, storedVectors } from "../services/head-results";
import { ReadoutBasisStore } from "../storage/readout-basis-store";
import { ResultStore } from "../storage/result-store";
import { HeadOptionsSchema, HeadPathSchema, LIMITS, VARIANTS, type HeadPath, type VariantName } from "../wire/head-request";
import type { SvdAnswer, SvdSummary } from "../wire/svd-result";
import { limitBody } from "./body-limit";
import { parseParams } from "./validate";

const HEAD_PATH = "/v1/models/:model/layers/:layer/heads/:head/:circuit";

/** Links addressed by variant and input hash: what they point to never changes (http/cache.ts). */
export const headLinks = (p: HeadPath, variant: VariantName, sha256: string, withVectors = true) => {
  const base = `/v1/models/${p.model}/layers/${p.layer}/heads/${p.head}/${p.circuit}`;
  const q = `?variant=${variant}&sha256=${sha256}`;
  return { self: `${base}${q}`, ...(withVectors ? { vectors: `${base}/vectors${q}` } : {}) };
};

const answer = (p: HeadPath, s: SvdSummary, computed?: boolean): SvdAnswer => ({
  ...s,
  ...(computed === undefined ? {} : { computed }),
  links: headLinks(p, s.variant.name, s.input.sha256, s.vectors !== null),
});

/** GET …/{circuit}[/vectors]: the variant (optional when only one is stored) and the input hash (optional). */
export const HeadResultQuery = z.object({
  variant: z.optional(z.enum(VARIANTS)),
  sha256: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/, "sha256 must be 64 lowercase hex digits"))),
});

export const heads = new Hono<AppEnv>()
  .post(HEAD_PATH, requireToken, limitBody(LIMITS.maxHeadBodyBytes), async (c) => {
    const path = parseParams(HeadPathSchema, c.req.param(), "path");
    const options = parseParams(HeadOptionsSchema, c.req.query(), "query");
    const body = new Uint8Array(await c.req.arrayBuffer());
    const { summary, computed } = await postHead(new ResultStore(c.env), getKernels(), path, body, options, new ReadoutBasisStore(c.env));
    return c.json(answer(path, summary, computed), computed ? 201 : 200);
  })
  .get(HEAD_PATH, async (c) => {
    const path = parseParams(HeadPathSchema, c.req.param(), "path");
    const { variant, sha256 } = parseParams(HeadResultQuery, c.req.query(), "query");
    return c.json(answer(path, await storedHead(new ResultStore(c.env), path, variant, sha256)));
  })
  .get(`${HEAD_PATH}/vectors`, async (c) => {
    const path = parseParams(HeadPathSchema, c.req.param(), "path");
    const { variant, sha256 } = parseParams(HeadResultQuery, c.req.query(), "query");
    const { summary, body } = await storedVectors(new ResultStore(c.env), path, variant, sha256);
    return new Response(body, {
      headers: {
        "content-type": "application/octet-stream",
        "content-disposition": `attachment; filename="${path.model}-L${path.layer}H${path.head}-${path.circuit}-${summary.variant.name}.safetensors"`,
        etag: `"${summary.input.sha256}"`,
      },
    });
  });
