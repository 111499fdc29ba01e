/**
 * @module routes/analyses
 * POST …/heads/{head}/qk/sad and POST …/heads/{head}/{qk|ov}/alignment, and GET of their stored
 * results and detail. Handlers parse, call one service (services/head-analyses.ts) and respond.
 */
import { Hono, type Context } from "hono";
import * as z from "zod/mini";
import { requireToken } from "../auth";
import type { AppEnv } from "../env";
import { getKernels } from "../kernels/worker";
import { postAlignment, postSad, storedAnalysis, storedAnalysisDetail, type AnalysisOutcome } from "../services/head-analyses";
import { ResultStore, type AnalysisKind } from "../storage/result-store";
import { ANALYSIS_LIMITS, AlignmentOptionsSchema, SadOptionsSchema } from "../wire/analysis-request";
import { HeadPathSchema, type Circuit, type HeadPath } from "../wire/head-request";
import { limitBody } from "./body-limit";
import { parseParams } from "./validate";

const HEAD = "/v1/models/:model/layers/:layer/heads/:head";
export const IdParam = z.object({ id: z.string().check(z.regex(/^[0-9a-f]{64}$/, "id must be 64 hex digits")) });
const limit = limitBody(ANALYSIS_LIMITS.maxBodyBytes);

/** The head path; the circuit is fixed by the route (SAD) or read from it (alignment). */
const headPath = (c: Context<AppEnv>, circuit?: Circuit): HeadPath =>
  parseParams(HeadPathSchema, circuit ? { ...c.req.param(), circuit } : c.req.param(), "path");
const idParam = (c: Context<AppEnv>) => parseParams(IdParam, { id: c.req.param("id") }, "path").id;

const DETAIL_NAME = { sad: "pairs", alignment: "cosines" } as const;

const analysisLinks = (path: HeadPath, kind: AnalysisKind, id: string, detail: boolean) => {
  const base = `/v1/models/${path.model}/layers/${path.layer}/heads/${path.head}/${path.circuit}/${kind}/${id}`;
  return { self: base, ...(detail ? { detail: `${base}/${DETAIL_NAME[kind]}` } : {}) };
};

const answer = (path: HeadPath, kind: AnalysisKind, s: AnalysisOutcome["summary"], computed?: boolean) => ({
  ...s,
  ...(computed === undefined ? {} : { computed }),
  links: analysisLinks(path, kind, s.id, kind === "alignment" || s.detail !== null),
});

async function detailResponse(c: Context<AppEnv>, path: HeadPath, kind: AnalysisKind) {
  const { summary, body } = await storedAnalysisDetail(new ResultStore(c.env), path, kind, idParam(c));
  return new Response(body, {
    headers: {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="${path.model}-L${path.layer}H${path.head}-${path.circuit}-${kind}-${DETAIL_NAME[kind]}.safetensors"`,
      etag: `"${summary.id}"`,
    },
  });
}

export const analyses = new Hono<AppEnv>()
  .post(`${HEAD}/qk/sad`, requireToken, limit, async (c) => {
    const path = headPath(c, "qk");
    const options = parseParams(SadOptionsSchema, c.req.query(), "query");
    const body = new Uint8Array(await c.req.arrayBuffer());
    const { summary, computed } = await postSad(new ResultStore(c.env), getKernels(), path, body, options);
    return c.json(answer(path, "sad", summary, computed), computed ? 201 : 200);
  })
  .get(`${HEAD}/qk/sad/:id`, async (c) => {
    const path = headPath(c, "qk");
    return c.json(answer(path, "sad", await storedAnalysis(new ResultStore(c.env), path, "sad", idParam(c))));
  })
  .get(`${HEAD}/qk/sad/:id/pairs`, (c) => detailResponse(c, headPath(c, "qk"), "sad"))
  .post(`${HEAD}/:circuit/alignment`, requireToken, limit, async (c) => {
    const path = headPath(c);
    const options = parseParams(AlignmentOptionsSchema, c.req.query(), "query");
    const body = new Uint8Array(await c.req.arrayBuffer());
    const { summary, computed } = await postAlignment(new ResultStore(c.env), getKernels(), path, body, options);
    return c.json(answer(path, "alignment", summary, computed), computed ? 201 : 200);
  })
  .get(`${HEAD}/:circuit/alignment/:id`, async (c) => {
    const path = headPath(c);
    return c.json(answer(path, "alignment", await storedAnalysis(new ResultStore(c.env), path, "alignment", idParam(c))));
  })
  .get(`${HEAD}/:circuit/alignment/:id/cosines`, (c) => detailResponse(c, headPath(c), "alignment"));
