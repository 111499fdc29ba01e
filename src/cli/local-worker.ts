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
import { readWranglerToml } from "./wrangler-config";

export interface LocalWorker {
  url: string;
  token: string;
  /** workerd's process id, when found (for memory figures) */
  pid?: number;
  stop(): Promise<void>;
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
    bindings: { HEADSCOPE_TOKEN: token },
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
