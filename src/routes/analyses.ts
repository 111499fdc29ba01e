/**
 * @module routes/analyses
 * POST …/heads/{head}/qk/sad and POST …/heads/{head}/{qk|ov}/alignment, and GET of their stored
 * results. Handlers parse, find the head's SVD (fresh from weights in the body, else the stored one),
 * call the service, store (detail to R2 first, summary to KV last) and respond. An analysis is
 * addressed by an id hashed from the body, the parsed options and the SVD it used, so identical
 * requests return the stored result (200, "computed": false); nothing is stored when a request fails.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { requireToken } from "../auth";
import { InvalidRequest, MissingTensor, PayloadTooLarge, ResultNotFound } from "../errors";
import type { AppEnv } from "../env";
import { getKernels } from "../kernels/instance";
import { alignHead, readFeatures } from "../services/align-head";
import { resolveVariant } from "../services/head-factors";
import { readHeadWeights } from "../services/head-weights";
import { basisFromStored, basisFromWeights, decomposeAttention, readTokens, type HeadBasis } from "../services/sad-head";
import { analysisSummaryKey } from "../storage/keys";
import { ResultStore } from "../storage/result-store";
import {
  ALIGNMENT_TENSORS, ANALYSIS_LIMITS, AlignmentOptionsSchema, AlignmentSummarySchema, SAD_TENSORS, SadOptionsSchema,
  SadSummarySchema,
} from "../wire/analysis-request";
import { HEAD_TENSORS, HeadPathSchema, type Circuit, type HeadPath, type VariantName } from "../wire/head-request";
import { isNpy, parseNpy } from "../wire/npy";
import { parseSafetensors, type ParsedSafetensors } from "../wire/safetensors";
import type { SvdSummary } from "../wire/svd-result";
import { parseParams } from "./validate";
import { sha256Hex } from "../services/sha256";

const HEAD = "/v1/models/:model/layers/:layer/heads/:head";
export const IdParam = z.object({ id: z.string().regex(/^[0-9a-f]{64}$/, "id must be 64 hex digits") });


/** JSON with sorted keys, so the id does not depend on the order options were written in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v as object).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

const limit = bodyLimit({
  maxSize: ANALYSIS_LIMITS.maxBodyBytes,
  onError: () => {
    throw new PayloadTooLarge(`body exceeds ${ANALYSIS_LIMITS.maxBodyBytes} bytes`, ANALYSIS_LIMITS.maxBodyBytes);
  },
});

const headPath = (c: Context<AppEnv>, circuit: Circuit): HeadPath =>
  parseParams(HeadPathSchema, { ...c.req.param(), circuit }, "path");

/** Where the SVD will come from, decided before anything heavy runs (so the id can be checked first). */
type BasisPlan =
  | { kind: "weights"; tensors: ParsedSafetensors; variant: VariantName }
  | { kind: "stored"; summary: SvdSummary };

async function planBasis(
  store: ResultStore,
  path: HeadPath,
  parsed: ParsedSafetensors | undefined,
  extra: readonly string[],
  opts: { fold_ln?: boolean; bias?: "augmented" | "none"; variant?: VariantName },
): Promise<BasisPlan> {
  const { required, optional } = HEAD_TENSORS[path.circuit];
  const headNames = new Set([...required, ...optional]);
  if (parsed) {
    for (const name of parsed.tensors.keys()) {
      if (!headNames.has(name) && !extra.includes(name)) {
        throw new InvalidRequest(`unexpected tensor ${name}; expected ${[...extra, ...headNames].join(", ")}`, { tensor: name });
      }
    }
  }
  const weightNames = parsed ? [...parsed.tensors.keys()].filter((n) => headNames.has(n)) : [];
  if (weightNames.length > 0) {
    if (opts.variant) throw new InvalidRequest("variant= selects a stored SVD; with weights in the body use fold_ln= and bias=", { parameter: "variant" });
    const tensors: ParsedSafetensors = { tensors: new Map(weightNames.map((n) => [n, parsed!.tensors.get(n)!])), metadata: {} };
    const variant = resolveVariant(path.circuit, new Set(weightNames), opts).name;
    return { kind: "weights", tensors, variant };
  }
  if (opts.fold_ln !== undefined || opts.bias !== undefined) {
    throw new InvalidRequest("fold_ln= and bias= apply to weights sent in the body; to use a stored SVD choose variant=", { parameter: "fold_ln" });
  }
  let variant = opts.variant;
  if (!variant) {
    const stored = await store.listVariants(path);
    if (stored.length > 1) throw new InvalidRequest(`several variants are stored (${stored.join(", ")}); choose one with ?variant=`, { variants: stored });
    variant = stored[0];
  }
  const summary = variant ? await store.getSummary(path, variant) : undefined;
  if (!summary) {
    throw new MissingTensor(
      `no ${variant ?? ""} SVD is stored for ${path.model} layer ${path.layer} head ${path.head} ${path.circuit}, and the body holds no weights: ` +
        `send ${required.join(", ")} (and optionally ${optional.join(", ")}) with the request, or POST …/${path.circuit} first`,
      { tensor: required[0] },
    );
  }
  return { kind: "stored", summary };
}

async function loadBasis(store: ResultStore, path: HeadPath, plan: BasisPlan, opts: { fold_ln?: boolean; bias?: "augmented" | "none"; scale?: number }): Promise<HeadBasis> {
  if (plan.kind === "weights") return basisFromWeights(getKernels(), readHeadWeights(path.circuit, plan.tensors), opts);
  const obj = await store.getVectors(plan.summary.vectors.key);
  if (!obj) throw new ResultNotFound(`the stored SVD's vectors ${plan.summary.vectors.key} are missing`);
  const basis = basisFromStored(plan.summary, parseSafetensors(new Uint8Array(await obj.arrayBuffer())));
  return opts.scale === undefined ? basis : { ...basis, variant: { ...basis.variant, scale: opts.scale } };
}

const planIdentity = (plan: BasisPlan) =>
  plan.kind === "weights" ? { source: "weights", variant: plan.variant } : { source: "stored", variant: plan.summary.variant.name, sha256: plan.summary.input.sha256 };

const analysisLinks = (path: HeadPath, kind: "sad" | "alignment", id: string, detail: boolean) => {
  const base = `/v1/models/${path.model}/layers/${path.layer}/heads/${path.head}/${path.circuit}/${kind}/${id}`;
  return { self: base, ...(detail ? { detail: `${base}/${kind === "sad" ? "pairs" : "cosines"}` } : {}) };
};

async function getStored(c: Context<AppEnv>, path: HeadPath, kind: "sad" | "alignment") {
  const { id } = parseParams(IdParam, { id: c.req.param("id") }, "path");
  const raw = await new ResultStore(c.env).getAnalysis(analysisSummaryKey(path, kind, id));
  if (raw === undefined) throw new ResultNotFound(`no ${kind} result ${id} for ${path.model} layer ${path.layer} head ${path.head} ${path.circuit}`);
  return (kind === "sad" ? SadSummarySchema : AlignmentSummarySchema).parse(raw) as Record<string, any>;
}

async function detailResponse(c: Context<AppEnv>, path: HeadPath, kind: "sad" | "alignment", name: string) {
  const summary = await getStored(c, path, kind);
  if (!summary.detail?.key) throw new ResultNotFound(`${kind} result ${summary.id} was computed without detail (POST with detail=pairs)`);
  const obj = await new ResultStore(c.env).getVectors(summary.detail.key);
  if (!obj) throw new ResultNotFound(`detail ${summary.detail.key} is missing`);
  return new Response(obj.body, {
    headers: {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="${path.model}-L${path.layer}H${path.head}-${path.circuit}-${kind}-${name}.safetensors"`,
      etag: `"${summary.id}"`,
    },
  });
}

export const analyses = new Hono<AppEnv>()
  .post(`${HEAD}/qk/sad`, requireToken, limit, async (c) => {
    const path = headPath(c, "qk");
    const options = parseParams(SadOptionsSchema, c.req.query(), "query");
    const body = new Uint8Array(await c.req.arrayBuffer());
    const parsed = parseSafetensors(body);
    if (!parsed.tensors.has(SAD_TENSORS.tokens)) {
      throw new MissingTensor(`the body needs tensor ${SAD_TENSORS.tokens} [T, d] or [B, T, d]`, { tensor: SAD_TENSORS.tokens });
    }
    const store = new ResultStore(c.env);
    const plan = await planBasis(store, path, parsed, [SAD_TENSORS.tokens], options);
    const sha256 = await sha256Hex(body);
    const id = await sha256Hex(new TextEncoder().encode(canonical({ kind: "sad/v1", body: sha256, options, basis: planIdentity(plan) })));
    const kvKey = analysisSummaryKey(path, "sad", id);
    const previous = await store.getAnalysis(kvKey);
    if (previous !== undefined) {
      const s = SadSummarySchema.parse(previous) as Record<string, any>;
      return c.json({ ...s, computed: false, links: analysisLinks(path, "sad", id, s.detail !== null) }, 200);
    }
    const basis = await loadBasis(store, path, plan, options);
    const tokens = readTokens(parsed, basis, options.exclude_first_source);
    const { summary, detail } = decomposeAttention(getKernels(), path, basis, tokens, options, { sha256, bytes: body.byteLength }, id);
    await store.putAnalysis(kvKey, summary, detail ? { key: (summary.detail as { key: string }).key, bytes: detail, sha256 } : undefined);
    return c.json({ ...summary, computed: true, links: analysisLinks(path, "sad", id, detail !== undefined) }, 201);
  })
  .get(`${HEAD}/qk/sad/:id`, async (c) => {
    const path = headPath(c, "qk");
    const s = await getStored(c, path, "sad");
    return c.json({ ...s, links: analysisLinks(path, "sad", s.id, s.detail !== null) });
  })
  .get(`${HEAD}/qk/sad/:id/pairs`, (c) => detailResponse(c, headPath(c, "qk"), "sad", "pairs"))
  .post(`${HEAD}/:circuit/alignment`, requireToken, limit, async (c) => {
    const path = parseParams(HeadPathSchema, c.req.param(), "path");
    const options = parseParams(AlignmentOptionsSchema, c.req.query(), "query");
    const body = new Uint8Array(await c.req.arrayBuffer());
    const npy = isNpy(body);
    const parsed = npy ? undefined : parseSafetensors(body);
    // required tensors first: a body without F fails before any storage read or SVD
    if (parsed && !parsed.tensors.has(ALIGNMENT_TENSORS.features)) {
      throw new MissingTensor(`the body needs tensor ${ALIGNMENT_TENSORS.features} [n_features, d_model] (or send an .npy file holding it)`, {
        tensor: ALIGNMENT_TENSORS.features,
      });
    }
    const store = new ResultStore(c.env);
    const plan = await planBasis(store, path, parsed, Object.values(ALIGNMENT_TENSORS), options);
    const sha256 = await sha256Hex(body);
    const id = await sha256Hex(new TextEncoder().encode(canonical({ kind: "alignment/v1", body: sha256, options, basis: planIdentity(plan) })));
    const kvKey = analysisSummaryKey(path, "alignment", id);
    const previous = await store.getAnalysis(kvKey);
    if (previous !== undefined) {
      const s = AlignmentSummarySchema.parse(previous) as Record<string, any>;
      return c.json({ ...s, computed: false, links: analysisLinks(path, "alignment", id, true) }, 200);
    }
    const basis = await loadBasis(store, path, plan, options);
    const tensor = (name: string) => (npy ? (name === ALIGNMENT_TENSORS.features ? parseNpy(body, name) : undefined) : parsed!.tensors.get(name));
    const features = readFeatures(tensor(ALIGNMENT_TENSORS.features), ALIGNMENT_TENSORS.features, basis.dModel, true)!;
    const querySide = readFeatures(tensor(ALIGNMENT_TENSORS.querySide), ALIGNMENT_TENSORS.querySide, basis.dModel, false);
    const keySide = readFeatures(tensor(ALIGNMENT_TENSORS.keySide), ALIGNMENT_TENSORS.keySide, basis.dModel, false);
    const { summary, detail } = alignHead(
      path, basis, { features, querySide, keySide, format: npy ? "npy" : "safetensors" }, options, { sha256, bytes: body.byteLength }, id,
    );
    await store.putAnalysis(kvKey, summary, { key: summary.detail.key, bytes: detail, sha256 });
    return c.json({ ...summary, computed: true, links: analysisLinks(path, "alignment", id, true) }, 201);
  })
  .get(`${HEAD}/:circuit/alignment/:id`, async (c) => {
    const path = parseParams(HeadPathSchema, c.req.param(), "path");
    const s = await getStored(c, path, "alignment");
    return c.json({ ...s, links: analysisLinks(path, "alignment", s.id, true) });
  })
  .get(`${HEAD}/:circuit/alignment/:id/cosines`, (c) =>
    detailResponse(c, parseParams(HeadPathSchema, c.req.param(), "path"), "alignment", "cosines"),
  );
