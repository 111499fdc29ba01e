/**
 * @module routes/toy
 * Published toy-model reports, for the demo page: POST /v1/toy/reports (bearer token; a toy.json),
 * GET /v1/toy/reports (the experiments published) and GET /v1/toy/reports/{experiment} (the latest
 * toy.json of one). Idempotent on identical content.
 */
import { Hono } from "hono";
import { requireToken } from "../auth";
import { InvalidRequest, ResultNotFound } from "../errors";
import type { AppEnv } from "../env";
import { publishToyReport } from "../services/toy-reports";
import { ResultStore } from "../storage/result-store";
import { EXPERIMENT_NAME, TOY_REPORT_LIMIT_BYTES, ToyReportSchema } from "../wire/toy-report";
import { limitBody } from "./body-limit";

export const toy = new Hono<AppEnv>()
  .post(
    "/v1/toy/reports",
    requireToken,
    limitBody(TOY_REPORT_LIMIT_BYTES, `a toy report may be at most ${TOY_REPORT_LIMIT_BYTES} bytes`),
    async (c) => {
      const body = await c.req.arrayBuffer();
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
      } catch (e) {
        throw new InvalidRequest(`body is not UTF-8 JSON: ${(e as Error).message}`);
      }
      const parsed = ToyReportSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InvalidRequest(`not a headscope.toy/v1 report: ${issue.path.join(".") || "body"}: ${issue.message}`);
      }
      const { pointer, computed } = await publishToyReport(new ResultStore(c.env), new Uint8Array(body), parsed.data);
      return c.json({ ...pointer, stored: computed, links: { self: `/v1/toy/reports/${pointer.experiment}` } }, computed ? 201 : 200);
    },
  )
  .get("/v1/toy/reports", async (c) => c.json({ reports: await new ResultStore(c.env).listToyReports() }))
  .get("/v1/toy/reports/:experiment", async (c) => {
    const experiment = c.req.param("experiment");
    if (!EXPERIMENT_NAME.test(experiment)) throw new InvalidRequest(`experiment must match ${EXPERIMENT_NAME}`, { parameter: "experiment" });
    const obj = await new ResultStore(c.env).getToyReport(experiment);
    if (!obj) throw new ResultNotFound(`no toy report published for ${experiment}`);
    return new Response(obj.body, { headers: { "content-type": "application/json", etag: `"${obj.customMetadata?.sha256 ?? ""}"` } });
  });
