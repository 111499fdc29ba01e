/**
 * @module routes/scans
 * Server-side scan jobs: `POST /v1/scans` plans a job (refusing a bad one before anything exists) and
 * hands it to its ScanJob Durable Object, which sends the heads to the queue; `GET /v1/scans/{id}`
 * is its progress, `DELETE` cancels it, `GET …/report` is the report.json it wrote when it finished.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { requireToken } from "../auth";
import { InvalidRequest, ResultNotFound } from "../errors";
import type { AppEnv, Bindings } from "../env";
import type { JobSpec } from "../jobs/scan-job";
import { planScan } from "../services/scan-plan";
import { CheckpointStore } from "../storage/checkpoint-store";
import { ScanStore } from "../storage/scan-store";
import { ScanJobRequestSchema } from "../wire/scan-job";
import { parseParams } from "./validate";

export const JobId = z.object({ id: z.string().check(z.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "a job id (UUID)")) });

const jobStub = (env: Bindings, id: string) => env.SCAN_JOBS.get(env.SCAN_JOBS.idFromName(id));

async function existingStatus(env: Bindings, id: string) {
  const status = await jobStub(env, id).status();
  if (!status) throw new ResultNotFound(`no scan job ${id}`);
  return status;
}

export const scans = new Hono<AppEnv>()
  .post("/v1/scans", requireToken, async (c) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch (e) {
      throw new InvalidRequest(`the body is not JSON: ${(e as Error).message}`);
    }
    const req = parseParams(ScanJobRequestSchema, raw, "body");
    const plan = await planScan(new CheckpointStore(c.env.RESULTS), req);
    const id = crypto.randomUUID();
    const f = plan.opened.arch.facts;
    const spec: JobSpec = {
      id, checkpoint: plan.manifest.id, model: plan.model, arch: plan.opened.archName, overrides: plan.overrides,
      files: plan.manifest.files.map((x) => x.name), dtypes: plan.opened.ck.dtypes(), facts: f,
      kvHeadOf: [...Array(f.n_heads).keys()].map((h) => plan.opened.arch.kvHead(h)), options: plan.options,
    };
    const status = await jobStub(c.env, id).create(spec, plan.tasks);
    return c.json(status, 201, { location: `/v1/scans/${id}` });
  })
  .get("/v1/scans/:id", async (c) => {
    const { id } = parseParams(JobId, c.req.param(), "path");
    return c.json(await existingStatus(c.env, id));
  })
  .delete("/v1/scans/:id", requireToken, async (c) => {
    const { id } = parseParams(JobId, c.req.param(), "path");
    await existingStatus(c.env, id);
    return c.json(await jobStub(c.env, id).cancel());
  })
  .get("/v1/scans/:id/report", async (c) => {
    const { id } = parseParams(JobId, c.req.param(), "path");
    const obj = await new ScanStore(c.env.RESULTS).getReport(id);
    if (!obj) {
      const s = await existingStatus(c.env, id);
      throw new ResultNotFound(`job ${id} has no report${s.state === "running" ? ` yet (${s.done + s.failed} of ${s.planned} heads)` : ` (${s.state})`}`);
    }
    return new Response(obj.body, { headers: { "content-type": "application/json" } });
  });
