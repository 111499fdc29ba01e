/**
 * @module routes/heads
 * POST/GET /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov} and GET …/vectors.
 * Handlers parse, call the service, store and respond; the work is in services/ and storage/.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { requireToken } from "../auth";
import { Conflict, InvalidRequest, PayloadTooLarge, ResultNotFound } from "../errors";
import type { AppEnv } from "../env";
import { getKernels } from "../kernels/instance";
import { decomposeHead } from "../services/decompose-head";
import { summaryMetadata } from "../services/summarize-model";
import { resolveVariantName } from "../services/head-factors";
import { readHeadWeights } from "../services/head-weights";
import { ResultStore } from "../storage/result-store";
import { HeadOptionsSchema, HeadPathSchema, LIMITS, VARIANTS, type HeadPath, type VariantName } from "../wire/head-request";
import { parseSafetensors } from "../wire/safetensors";
import type { SvdAnswer, SvdSummary } from "../wire/svd-result";
import { parseParams } from "./validate";
import { sha256Hex } from "../services/sha256";

const HEAD_PATH = "/v1/models/:model/layers/:layer/heads/:head/:circuit";

/** Links addressed by variant and input hash: what they point to never changes (http/cache.ts). */
export const headLinks = (p: HeadPath, variant: VariantName, sha256: string) => {
  const base = `/v1/models/${p.model}/layers/${p.layer}/heads/${p.head}/${p.circuit}`;
  const q = `?variant=${variant}&sha256=${sha256}`;
  return { self: `${base}${q}`, vectors: `${base}/vectors${q}` };
};

const answer = (p: HeadPath, s: SvdSummary, computed?: boolean): SvdAnswer => ({
  ...s,
  ...(computed === undefined ? {} : { computed }),
  links: headLinks(p, s.variant.name, s.input.sha256),
});


/** GET …/{circuit}[/vectors]: the variant (optional when only one is stored) and the input hash (optional). */
export const HeadResultQuery = z.object({
  variant: z.enum(VARIANTS).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "sha256 must be 64 lowercase hex digits").optional(),
});

/**
 * The stored summary a GET addresses (its variant: the one asked for, or the only one stored). With
 * sha256 it must come from that input, so the answer at such a URL never changes.
 */
async function storedSummary(store: ResultStore, path: HeadPath, q: z.infer<typeof HeadResultQuery>): Promise<SvdSummary> {
  const v = await pickVariant(store, path, q.variant);
  const summary = await store.getSummary(path, v);
  const what = `${path.model} layer ${path.layer} head ${path.head} ${path.circuit}`;
  if (!summary) throw new ResultNotFound(`no ${v} result stored for ${what}`);
  if (q.sha256 && summary.input.sha256 !== q.sha256) throw new ResultNotFound(`no ${v} result of input ${q.sha256} stored for ${what}`);
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
      const body = await c.req.arrayBuffer();
      const parsed = parseSafetensors(new Uint8Array(body));
      const variant = resolveVariantName(path.circuit, new Set(parsed.tensors.keys()), options);
      const sha256 = await sha256Hex(body);
      const store = new ResultStore(c.env);
      const previous = await store.getSummary(path, variant);
      if (previous && previous.input.sha256 === sha256) return c.json(answer(path, previous, false), 200);
      if (previous && !options.overwrite) {
        throw new Conflict(
          `a result from a different input (sha256 ${previous.input.sha256}) is stored for this head and variant; ` +
            "POST with ?overwrite=true to replace it",
          { stored_sha256: previous.input.sha256, sha256 },
        );
      }
      const weights = readHeadWeights(path.circuit, parsed);
      const { summary, vectors } = decomposeHead(getKernels(), path, weights, options, { sha256, bytes: body.byteLength });
      await store.put(path, summary, vectors, previous, summaryMetadata(summary));
      return c.json(answer(path, summary, true), 201);
    },
  )
  .get(HEAD_PATH, async (c) => {
    const path = parseParams(HeadPathSchema, c.req.param(), "path");
    const query = parseParams(HeadResultQuery, c.req.query(), "query");
    return c.json(answer(path, await storedSummary(new ResultStore(c.env), path, query)));
  })
  .get(`${HEAD_PATH}/vectors`, async (c) => {
    const path = parseParams(HeadPathSchema, c.req.param(), "path");
    const query = parseParams(HeadResultQuery, c.req.query(), "query");
    const store = new ResultStore(c.env);
    const summary = await storedSummary(store, path, query);
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
