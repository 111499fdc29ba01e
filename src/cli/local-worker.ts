/**
 * @module cli/local-worker
 * The embedded local default: the headscope worker in local workerd through Miniflare's API, with
 * local R2 and KV persisted under .wrangler/state (the same place `wrangler dev` and `npm start`
 * keep them, so results are shared), on a free loopback port, with a generated write token, fully
 * offline. Runs the bundle that scripts/build-cli.mjs writes to build/worker/.
 *
 * Lifecycle: workerd runs under scripts/runtime/no-orphans.sh, so it dies with this process even
 * when the process is killed with SIGKILL or crashes; a CPU-limit supervisor (cpu-limit.ts)
 * restarts it on the same port and state when a request breaks `[limits] cpu_ms`.
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { workerdGuardEnv } from "../../scripts/runtime/guard.mjs";
import { CpuLimitSupervisor, readCpuLimitMs, type Restart } from "./cpu-limit";
import type { WorkerSupervision } from "./fan-out";
import { readWranglerToml } from "./wrangler-config";

export interface LocalWorker {
  url: string;
  token: string;
  /** workerd's process id, when found (for memory figures); it changes when the worker is restarted */
  readonly pid?: number;
  /** the CPU-limit supervisor, for the fan-out (counts requests in flight, explains restarts) */
  supervision: WorkerSupervision;
  /** restarts for breaking the CPU limit so far */
  restarts(): Restart[];
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

/**
 * Native backtraces of a workerd about to be killed for its CPU limit (gdb, three samples), into
 * dir: the soak run sets HEADSCOPE_CPU_LIMIT_BACKTRACES to learn where a stuck isolate spins.
 */
function saveBacktraces(pid: number, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (let k = 1; k <= 3; k++) {
    try {
      const bt = execFileSync("gdb", ["-p", String(pid), "-batch", "-ex", "thread apply all bt 40"], { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "ignore"] });
      writeFileSync(join(dir, `workerd-${pid}-${Date.now()}-bt${k}.txt`), bt);
    } catch {
      return; // no gdb, or not allowed to attach
    }
  }
}

export interface LocalWorkerOptions {
  root: string;
  stateDir: string;
  token?: string;
  port?: number;
  /** CPU limit per request (default: wrangler.toml [limits] cpu_ms, or HEADSCOPE_CPU_MS) */
  cpuMs?: number;
  /** multiplies the queue consumer's deadline per head (SCAN_DEADLINE_SCALE; --deadline-scale) */
  deadlineScale?: number;
}

export async function startLocalWorker(opts: LocalWorkerOptions): Promise<LocalWorker> {
  const script = join(opts.root, "build/worker/worker.mjs");
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build:cli\``);
  const cfg = readWranglerToml(opts.root);
  const token = opts.token ?? randomBytes(24).toString("base64url");
  const cpuMs = opts.cpuMs ?? (Number(process.env.HEADSCOPE_CPU_MS) || readCpuLimitMs(opts.root));
  // workerd never outlives this process, even after SIGKILL (scripts/runtime/no-orphans.sh): Miniflare
  // reads MINIFLARE_WORKERD_PATH each time it spawns workerd
  Object.assign(process.env, workerdGuardEnv(opts.root));
  // test-only hooks (src/test-hooks.ts): a binding only a test sets, never present in a deployment
  const hooks = process.env.HEADSCOPE_TEST_HOOKS ? { HEADSCOPE_TEST_HOOKS: process.env.HEADSCOPE_TEST_HOOKS } : {};
  const sigintBefore = new Set(process.listeners("SIGINT"));
  // imported here, not at the top: Miniflare costs ~85 MB of RSS, which --endpoint runs never need
  const { Miniflare } = await import("miniflare");
  const options = (port: number) => ({
    modules: true,
    scriptPath: script,
    // module names are relative to this root; the default (the working directory) breaks when the CLI runs elsewhere
    modulesRoot: dirname(script),
    modulesRules: [
      { type: "CompiledWasm" as const, include: ["**/*.wasm"], fallthrough: false },
      { type: "Text" as const, include: ["**/demo-client.js", "**/toy-worker.js"], fallthrough: false },
    ],
    compatibilityDate: cfg.compatibilityDate,
    kvNamespaces: { JOBS: cfg.kvId },
    r2Buckets: { RESULTS: cfg.bucket },
    ratelimits: cfg.ratelimits,
    kvPersist: join(opts.stateDir, "v3/kv"),
    r2Persist: join(opts.stateDir, "v3/r2"),
    // server-side scans run here too: Miniflare's local queues and SQLite-backed Durable Objects
    queueProducers: cfg.queueProducers,
    queueConsumers: cfg.queueConsumers,
    durableObjects: cfg.durableObjects,
    durableObjectsPersist: join(opts.stateDir, "v3/do"),
    // the local queue lives in memory: a job started by an earlier command lost its messages, so
    // its heads in flight are sent again after 30 s without progress (wrangler.toml's default: 900 s)
    bindings: {
      ...cfg.vars, SCAN_STALL_SECONDS: "30", HEADSCOPE_TOKEN: token, ...hooks,
      ...(opts.deadlineScale !== undefined ? { SCAN_DEADLINE_SCALE: String(opts.deadlineScale) } : {}),
    },
    host: "127.0.0.1",
    port,
    log: undefined,
  });
  const launch = async (port: number) => {
    const mf = new Miniflare(options(port));
    try {
      const url = (await mf.ready).toString().replace(/\/$/, "");
      return { mf, url };
    } catch (e) {
      await mf.dispose().catch(() => undefined); // otherwise workerd's handles keep the CLI alive
      throw e;
    }
  };
  let current = await launch(opts.port ?? 0);
  const url = current.url;
  let pid = findWorkerdPid();
  // Miniflare exits the process on SIGINT (exit-hook); the scan handles Ctrl-C itself — it stops
  // scheduling, writes run.json and stops this worker — so Miniflare's own handler is removed.
  const dropSigint = () => {
    for (const l of process.listeners("SIGINT")) if (!sigintBefore.has(l)) process.off("SIGINT", l);
  };
  dropSigint();
  let stopped = false;
  const supervisor = new CpuLimitSupervisor({
    cpuMs,
    pid: () => pid,
    // the platform resets an isolate that broke its limit: here workerd is killed and started
    // again on the same port and state (a request never half-writes: results are content-addressed)
    restart: async () => {
      if (pid && process.env.HEADSCOPE_CPU_LIMIT_BACKTRACES) saveBacktraces(pid, process.env.HEADSCOPE_CPU_LIMIT_BACKTRACES);
      if (pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      await current.mf.dispose().catch(() => undefined);
      if (stopped) return;
      current = await launch(Number(new URL(url).port));
      pid = findWorkerdPid();
      dropSigint();
    },
  });
  return {
    url,
    token,
    get pid() {
      return pid;
    },
    supervision: supervisor,
    restarts: () => supervisor.restarts,
    stop: async () => {
      stopped = true;
      supervisor.stop();
      await supervisor.ready().catch(() => undefined);
      await current.mf.dispose();
    },
  };
}
