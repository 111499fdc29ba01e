/**
 * @module cli/wrangler-config
 * The values of wrangler.toml the embedded local worker needs, read with a TOML parser (smol-toml),
 * so the file stays the one source of truth whatever its formatting.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";

interface WranglerToml {
  compatibility_date?: string;
  r2_buckets?: Array<{ binding?: string; bucket_name?: string }>;
  kv_namespaces?: Array<{ binding?: string; id?: string }>;
  ratelimits?: Array<{ name?: string; simple?: { limit?: number; period?: number } }>;
  queues?: {
    producers?: Array<{ binding?: string; queue?: string }>;
    consumers?: Array<{ queue?: string; max_batch_size?: number; max_batch_timeout?: number; max_retries?: number; retry_delay?: number; dead_letter_queue?: string }>;
  };
  durable_objects?: { bindings?: Array<{ name?: string; class_name?: string }> };
  vars?: Record<string, string>;
}

export function readWranglerToml(root: string) {
  const file = join(root, "wrangler.toml");
  let toml: WranglerToml;
  try {
    toml = parse(readFileSync(file, "utf8")) as WranglerToml;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`wrangler.toml: ${what} not found`);
    return v;
  };
  return {
    compatibilityDate: need(toml.compatibility_date, "compatibility_date"),
    bucket: need(toml.r2_buckets?.[0]?.bucket_name, "r2 bucket_name"),
    kvId: need(toml.kv_namespaces?.[0]?.id, "kv namespace id"),
    /** server-side scans: the queue producer, its consumers (the scan queue and its dead-letter queue) and the job Durable Object */
    queueProducers: Object.fromEntries(
      (toml.queues?.producers ?? []).filter((p) => p.binding && p.queue).map((p) => [p.binding!, { queueName: p.queue! }]),
    ),
    queueConsumers: Object.fromEntries(
      (toml.queues?.consumers ?? []).filter((c) => c.queue).map((c) => [
        c.queue!,
        {
          ...(c.max_batch_size !== undefined ? { maxBatchSize: c.max_batch_size } : {}),
          ...(c.max_batch_timeout !== undefined ? { maxBatchTimeout: c.max_batch_timeout } : {}),
          ...(c.max_retries !== undefined ? { maxRetries: c.max_retries } : {}),
          ...(c.retry_delay !== undefined ? { retryDelay: c.retry_delay } : {}),
          ...(c.dead_letter_queue ? { deadLetterQueue: c.dead_letter_queue } : {}),
        },
      ]),
    ),
    durableObjects: Object.fromEntries(
      (toml.durable_objects?.bindings ?? []).filter((d) => d.name && d.class_name).map((d) => [d.name!, { className: d.class_name!, useSQLite: true }]),
    ),
    vars: toml.vars ?? {},
    /** [[ratelimits]] bindings: name → simple { limit, period } */
    ratelimits: Object.fromEntries(
      (toml.ratelimits ?? [])
        .filter((r) => r.name && r.simple?.limit !== undefined && r.simple.period !== undefined)
        .map((r) => [r.name!, { simple: { limit: Number(r.simple!.limit), period: Number(r.simple!.period) } }]),
    ),
  };
}
