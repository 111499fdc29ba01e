/**
 * @module cli/local-worker
 * The embedded local default: the headscope worker in local workerd through Miniflare's API, with
 * local R2 and KV persisted under .wrangler/state (the same place `wrangler dev` and `npm start`
 * keep them, so results are shared), on a free loopback port, with a generated write token, fully
 * offline. Runs the bundle that scripts/build-cli.mjs writes to build/worker/.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface LocalWorker {
  url: string;
  token: string;
  /** workerd's process id, when found (for memory figures) */
  pid?: number;
  stop(): Promise<void>;
}

/** The values of wrangler.toml the local runtime needs (the file stays the one source of truth). */
export function readWranglerToml(root: string) {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const get = (re: RegExp, what: string) => {
    const m = re.exec(toml);
    if (!m) throw new Error(`wrangler.toml: ${what} not found`);
    return m[1];
  };
  return {
    compatibilityDate: get(/^compatibility_date\s*=\s*"([^"]+)"/m, "compatibility_date"),
    bucket: get(/\[\[r2_buckets\]\][^[]*?bucket_name\s*=\s*"([^"]+)"/s, "r2 bucket_name"),
    kvId: get(/\[\[kv_namespaces\]\][^[]*?\bid\s*=\s*"([^"]+)"/s, "kv namespace id"),
    /** server-side scans: the queue, its consumer settings and dead-letter queue, the job Durable Object */
    scanQueue: get(/\[\[queues\.producers\]\][^[]*?queue\s*=\s*"([^"]+)"/s, "queue producer"),
    scanConsumer: (() => {
      const m = /\[\[queues\.consumers\]\]([^[]*)/s.exec(toml);
      if (!m) throw new Error("wrangler.toml: queue consumer not found");
      const num = (k: string) => {
        const v = new RegExp(`^${k}\\s*=\\s*(\\d+)`, "m").exec(m[1]);
        return v ? Number(v[1]) : undefined;
      };
      const dlq = /^dead_letter_queue\s*=\s*"([^"]+)"/m.exec(m[1])?.[1];
      return { maxBatchSize: num("max_batch_size"), maxBatchTimeout: num("max_batch_timeout"), maxRetries: num("max_retries"), retryDelay: num("retry_delay"), deadLetterQueue: dlq };
    })(),
    scanWindow: get(/^SCAN_WINDOW\s*=\s*"(\d+)"/m, "SCAN_WINDOW"),
    /** [[ratelimits]] bindings: name → simple { limit, period } */
    ratelimits: Object.fromEntries(
      [...toml.matchAll(/\[\[ratelimits\]\][^[]*?name\s*=\s*"([^"]+)"[^[]*?simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/gs)].map(
        (m) => [m[1], { simple: { limit: Number(m[2]), period: Number(m[3]) } }],
      ),
    ),
  };
}

/** Child processes of this process named workerd (Linux /proc). */
function findWorkerdPid(): number | undefined {
  if (!existsSync("/proc")) return undefined;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const m = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
      if (m && m[1].startsWith("workerd") && Number(m[2]) === process.pid) return Number(d);
    } catch {
      /* the process ended while we looked */
    }
  }
  return undefined;
}

export async function startLocalWorker(opts: { root: string; stateDir: string; token?: string; port?: number }): Promise<LocalWorker> {
  const script = join(opts.root, "build/worker/worker.mjs");
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build:cli\``);
  const cfg = readWranglerToml(opts.root);
  const token = opts.token ?? randomBytes(24).toString("base64url");
  const sigintBefore = new Set(process.listeners("SIGINT"));
  // imported here, not at the top: Miniflare costs ~85 MB of RSS, which --endpoint runs never need
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    // module names are relative to this root; the default (the working directory) breaks when the CLI runs elsewhere
    modulesRoot: dirname(script),
    modulesRules: [
      { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: false },
      { type: "Text", include: ["**/demo-client.js", "**/toy-worker.js"], fallthrough: false },
    ],
    compatibilityDate: cfg.compatibilityDate,
    kvNamespaces: { JOBS: cfg.kvId },
    r2Buckets: { RESULTS: cfg.bucket },
    ratelimits: cfg.ratelimits,
    kvPersist: join(opts.stateDir, "v3/kv"),
    r2Persist: join(opts.stateDir, "v3/r2"),
    // server-side scans run here too: Miniflare's local queues and SQLite-backed Durable Objects
    queueProducers: { SCAN_QUEUE: { queueName: cfg.scanQueue } },
    queueConsumers: {
      [cfg.scanQueue]: cfg.scanConsumer,
      ...(cfg.scanConsumer.deadLetterQueue ? { [cfg.scanConsumer.deadLetterQueue]: { maxBatchSize: 10, maxBatchTimeout: 1 } } : {}),
    },
    durableObjects: { SCAN_JOBS: { className: "ScanJob", useSQLite: true } },
    durableObjectsPersist: join(opts.stateDir, "v3/do"),
    bindings: { HEADSCOPE_TOKEN: token, SCAN_WINDOW: cfg.scanWindow },
    host: "127.0.0.1",
    port: opts.port ?? 0,
    log: undefined,
  });
  let url: string;
  try {
    url = (await mf.ready).toString().replace(/\/$/, "");
  } catch (e) {
    await mf.dispose().catch(() => undefined); // otherwise workerd's handles keep the CLI alive
    throw e;
  }
  // Miniflare exits the process on SIGINT (exit-hook); the scan handles Ctrl-C itself — it stops
  // scheduling, writes run.json and stops this worker — so Miniflare's own handler is removed.
  for (const l of process.listeners("SIGINT")) if (!sigintBefore.has(l)) process.off("SIGINT", l);
  return {
    url,
    token,
    pid: findWorkerdPid(),
    stop: () => mf.dispose(),
  };
}
