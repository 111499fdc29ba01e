/**
 * @module env
 * The worker's bindings: R2 for vectors, KV for summaries, and the write token (a secret; in local
 * development it comes from HEADSCOPE_TOKEN through .dev.vars or --var).
 */
import type { StorageBindings } from "./storage/result-store";

export interface Bindings extends StorageBindings {
  HEADSCOPE_TOKEN?: string;
  /** rate limit of the anonymous demo endpoints */
  DEMO_LIMITER: RateLimit;
  /** server-side scans: one message per head (jobs/consumer.ts) */
  SCAN_QUEUE: Queue<import("./wire/scan-job").ScanMessage>;
  /** one ScanJob Durable Object per job */
  SCAN_JOBS: DurableObjectNamespace<import("./jobs/scan-job").ScanJob>;
  /** messages in flight per job (wrangler.toml [vars]) */
  SCAN_WINDOW?: string;
  /** resend a job's in-flight heads when none has landed for this long (default 900) */
  SCAN_STALL_SECONDS?: string;
  /** MiB of readout-basis chunks kept in the isolate after a first read (storage/blob-cache.ts; unset or 0: none, as on a deployment) */
  READOUT_CACHE_MB?: string;
  /** multiplies the queue consumer's deadline per head (jobs/head-deadline.ts; default 1; the CLI's --deadline-scale locally) */
  SCAN_DEADLINE_SCALE?: string;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: { requestId: string };
}
