/**
 * @module worker
 * The Cloudflare Workers entry point: the Hono app for HTTP, the queue consumer of server-side scans,
 * and the ScanJob Durable Object class.
 */
import { app } from "./app";
import type { Bindings } from "./env";
import { consumeScanBatch } from "./jobs/consumer";

export { ScanJob } from "./jobs/scan-job";

export default {
  fetch: app.fetch,
  queue: consumeScanBatch,
} satisfies ExportedHandler<Bindings>;
