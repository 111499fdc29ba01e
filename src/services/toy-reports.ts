/**
 * @module services/toy-reports
 * Publishing a toy-model report (toy.json) for the demo page: content-addressed by the SHA-256 of the
 * body as sent, so re-publishing identical bytes stores nothing new. Never imports Hono.
 */
import type { ResultStore } from "../storage/result-store";
import type { ToyReport } from "../wire/toy-report";
import { sha256Hex } from "./sha256";

export async function publishToyReport(store: ResultStore, body: Uint8Array, report: ToyReport) {
  const sha256 = await sha256Hex(body);
  return store.putToyReport(report.experiment, sha256, body, {
    seeds: report.summary.seeds,
    passed: report.summary.passed,
    runs: report.runs.length,
  });
}
