/**
 * @module storage/scan-store
 * What a finished server-side scan job leaves in R2: its report.json (the CLI's format) and the model
 * summary of every model name it stored results under. Written once, when the last head lands.
 */
import { guard } from "./guard";
import { scanReportKey, scanSummaryKey } from "./keys";

export class ScanStore {
  constructor(private readonly bucket: R2Bucket) {}

  async putReport(job: string, json: string): Promise<void> {
    await guard("R2 write", () => this.bucket.put(scanReportKey(job), json, { httpMetadata: { contentType: "application/json" } }));
  }

  async putSummary(job: string, model: string, json: string): Promise<void> {
    await guard("R2 write", () => this.bucket.put(scanSummaryKey(job, model), json, { httpMetadata: { contentType: "application/json" } }));
  }

  async getReport(job: string): Promise<R2ObjectBody | null> {
    return guard("R2 read", () => this.bucket.get(scanReportKey(job)));
  }
}
