/**
 * @module cli/local-worker
 * The embedded local default: the headscope worker in local workerd through Miniflare's API, with
 * local R2 and KV persisted under .wrangler/state (the same place `wrangler dev` and `npm start`
 * keep them, so results are shared), on a free loopback port, with a generated write token, fully
 * offline. Runs the bundle that scripts/build-cli.mjs writes to build/worker/.
 *
 * Several cores: workerd runs a worker's requests on one thread, so the local worker can run on
 * several workerd processes (`processes`; see defaultLocalProcesses). The first, the
 * primary, owns the local R2 bucket and KV namespace (Miniflare keeps them in a SQLite-backed Durable
 * Object, which one process must own: two processes on one state lose writes) and serves them to the
 * others through a storage proxy (scripts/runtime/storage-proxy.worker.mjs) that their bindings reach
 * with Miniflare's remote-binding client; it alone runs the queues and Durable Objects of server-side
 * scans. The CLI sends head requests to the other processes (worker-pool.ts); `url` is the primary's.
 *
 * Lifecycle: workerd runs under scripts/runtime/no-orphans.sh, so it dies with this process even
 * when the process is killed with SIGKILL or crashes; a CPU-limit supervisor (cpu-limit.ts) per
 * process restarts it on the same port and state when a request breaks `[limits] cpu_ms`.
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer, type AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { workerdGuardEnv } from "../../scripts/runtime/guard.mjs";
import { CpuLimitSupervisor, readCpuLimitMs, type Restart } from "./cpu-limit";
import type { WorkerSupervision } from "./fan-out";
import { WorkerPool } from "./worker-pool";
import { readWranglerToml } from "./wrangler-config";

export interface LocalWorker {
  url: string;
  token: string;
  /** the primary workerd's process id, when found; it changes when the worker is restarted */
  readonly pid?: number;
  /** every workerd process's id (for memory and CPU figures) */
  readonly pids: number[];
  /** workerd processes (the first owns the storage) */
  readonly processes: number;
  /** head requests each process was given, when there are several */
  served(): number[] | undefined;
  /** the primary's storage proxy (without its key), when there are several processes */
  readonly storageProxy?: string;
  /** the CPU-limit supervisor, for the fan-out (counts requests in flight, explains restarts) */
  supervision: WorkerSupervision;
  /** restarts for breaking the CPU limit so far */
  restarts(): Restart[];
  stop(): Promise<void>;
}

/** Child processes of this process named workerd (Linux /proc). */
function workerdPids(): number[] {
  if (!existsSync("/proc")) return [];
  const pids: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const m = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
      if (m && m[1].startsWith("workerd") && Number(m[2]) === process.pid) pids.push(Number(d));
    } catch {
      /* the process ended while we looked */
    }
  }
  return pids;
}

/** Whether process pid has a socket listening on a loopback TCP port (Linux /proc). */
function listensOn(pid: number, port: number): boolean {
  try {
    const hex = port.toString(16).toUpperCase().padStart(4, "0");
    const inodes = new Set<string>();
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      if (!existsSync(table)) continue;
      for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        // local_address is ADDR:PORT in hex, st 0A is LISTEN, inode is the tenth field
        if (f.length > 9 && f[1].endsWith(`:${hex}`) && f[3] === "0A") inodes.add(f[9]);
      }
    }
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m !== null && inodes.has(m[1]);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** A loopback port free at this moment (the kernel's choice). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
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
  /** workerd processes (default: defaultLocalProcesses()) */
  processes?: number;
}

/**
 * Each head's work is large from these many values (defaultLocalProcesses): of a factor (d_model ×
 * d_head), of the readout basis its vectors are read against (vocab × d_model), of the activations
 * its SAD reads (prompts × tokens × d_model). Chosen between the sizes measured on either side, not
 * measured crossovers: GPT-2's factor (49,152) and a Llama-3.2-1B shape's (131,072) below, a
 * Llama-3.2-3B shape's (393,216) above; GPT-2's basis (38.6 M) and `ioi:128`'s activations (2 M) above.
 */
export const LARGE_WORK = { factor: 2 ** 18, readoutBasis: 2 ** 23, sadActivations: 2 ** 20 } as const;

/** What a scan asks of each head, as far as the number of local processes goes (values, 0 for none). */
export interface ScanWork {
  dModel: number;
  dHead: number;
  /** vocab × d_model of the readout basis, when readouts run */
  readoutBasis: number;
  /** prompts × tokens × d_model of the activations, when SAD runs */
  sadActivations: number;
}

/**
 * The default number of workerd processes: HEADSCOPE_LOCAL_PROCESSES when set; else, on a machine
 * with several cores, one storage owner plus one computing process per core (at most 4) when each
 * head's work is large (LARGE_WORK: a large factor, or readouts or SAD over large data); else (or
 * without `work`) 1.
 *
 * Each storage call of the computing processes is an HTTP round trip through the storage owner
 * (+3 ms of latency per KV or small R2 call, +13 ms per 4 MiB put), which costs the owner as much CPU
 * as the call itself; it pays off only when the per-head compute it spreads is large. Measured on 2
 * cores, 1 process against 3, fresh scans (alternating): spectra only, GPT-2 small (768 × 64) 7.1–7.3 s
 * against 9.3–10.2 s, a Llama-3.2-1B shape (2048 × 64) 10.5–13.5 s against 12.4–16.5 s, a
 * Llama-3.2-3B shape (3072 × 128) 21.6–24.2 s against 17.2–19.8 s, the Llama-3-8B shape (4096 × 128)
 * 20.5–21.8 s against 17.5–18.4 s; a GPT-2-sized model with its embedding, readouts on, 35.0 s against
 * 28.5 s, and with `--prompts ioi:128` (SAD) 72.6 s against 53.5 s. Two processes (one computing)
 * never helped, four were slower than three.
 */
export function defaultLocalProcesses(work?: ScanWork, cores = availableParallelism()): number {
  const n = Number(process.env.HEADSCOPE_LOCAL_PROCESSES);
  if (Number.isInteger(n) && n >= 1) return n;
  const large =
    work !== undefined &&
    (work.dModel * work.dHead >= LARGE_WORK.factor || work.readoutBasis >= LARGE_WORK.readoutBasis || work.sadActivations >= LARGE_WORK.sadActivations);
  return large && cores >= 2 ? 1 + Math.min(cores, 4) : 1;
}

/** MiB of readout-basis chunks the embedded worker keeps after a first read (GPT-2's basis: 148 MiB). */
export const DEFAULT_READOUT_CACHE_MB = "512";

export async function startLocalWorker(opts: LocalWorkerOptions): Promise<LocalWorker> {
  const script = join(opts.root, "build/worker/worker.mjs");
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build:cli\``);
  const cfg = readWranglerToml(opts.root);
  const token = opts.token ?? randomBytes(24).toString("base64url");
  const cpuMs = opts.cpuMs ?? (Number(process.env.HEADSCOPE_CPU_MS) || readCpuLimitMs(opts.root));
  const processes = Math.max(1, Math.floor(opts.processes ?? defaultLocalProcesses()));
  // workerd never outlives this process, even after SIGKILL (scripts/runtime/no-orphans.sh): Miniflare
  // reads MINIFLARE_WORKERD_PATH each time it spawns workerd
  Object.assign(process.env, workerdGuardEnv(opts.root));
  // test-only hooks (src/test-hooks.ts): a binding only a test sets, never present in a deployment
  const hooks = process.env.HEADSCOPE_TEST_HOOKS ? { HEADSCOPE_TEST_HOOKS: process.env.HEADSCOPE_TEST_HOOKS } : {};
  const sigintBefore = new Set(process.listeners("SIGINT"));
  // loaded here, not at the top: Miniflare costs ~85 MB of RSS, which --endpoint runs never need;
  // required, not imported: it is CommonJS, and import() first scans its 3 MB for named exports
  // (Node's CommonJS lexer: 0.38–0.49 s against 0.61–0.81 s, measured)
  const { Miniflare } = createRequire(import.meta.url)("miniflare") as typeof import("miniflare");
  type Mf = InstanceType<typeof Miniflare>;

  /** the headscope worker, as every process runs it (storage and the rest differ by role) */
  const worker = {
    // the bundle's modules listed, as build/worker holds them: given only the entry script, Miniflare
    // parses its 0.5 MB with acorn to find the imports, ~0.4 s of this thread before workerd starts
    modules: [
      { type: "ESModule" as const, path: script },
      { type: "CompiledWasm" as const, path: join(dirname(script), "kernels.release.wasm") },
      { type: "Text" as const, path: join(dirname(script), "demo-client.js") },
      { type: "Text" as const, path: join(dirname(script), "toy-worker.js") },
    ],
    // module names are relative to this root; the default (the working directory) breaks when the CLI runs elsewhere
    modulesRoot: dirname(script),
    compatibilityDate: cfg.compatibilityDate,
    ratelimits: cfg.ratelimits,
    // the local queue lives in memory: a job started by an earlier command lost its messages, so
    // its heads in flight are sent again after 30 s without progress (wrangler.toml's default: 900 s);
    // readout-basis chunks and activation files are kept in the worker after their first read, up to
    // READOUT_CACHE_MB (HEADSCOPE_READOUT_CACHE_MB, default 512; a deployment keeps none)
    bindings: {
      ...cfg.vars, SCAN_STALL_SECONDS: "30", HEADSCOPE_TOKEN: token, ...hooks,
      READOUT_CACHE_MB: process.env.HEADSCOPE_READOUT_CACHE_MB ?? DEFAULT_READOUT_CACHE_MB,
      ...(opts.deadlineScale !== undefined ? { SCAN_DEADLINE_SCALE: String(opts.deadlineScale) } : {}),
    },
  };
  // the storage proxy answers only the other processes: they carry this key in its URL
  const proxyKey = randomBytes(24).toString("base64url");
  const plugin = { package: join(opts.root, "scripts/runtime/miniflare-raw-bindings.mjs"), name: "headscope-raw-service" };
  const primaryOptions = (port: number, proxyPort: number) => ({
    workers: [
      {
        ...worker,
        kvNamespaces: { JOBS: cfg.kvId },
        r2Buckets: { RESULTS: cfg.bucket },
        // server-side scans run here too: Miniflare's local queues and SQLite-backed Durable Objects
        queueProducers: cfg.queueProducers,
        queueConsumers: cfg.queueConsumers,
        durableObjects: cfg.durableObjects,
      },
      ...(processes > 1
        ? [{
            name: "storage-proxy",
            modules: true,
            scriptPath: join(opts.root, "scripts/runtime/storage-proxy.worker.mjs"),
            // module names are relative to this root (by default the working directory, which workerd
            // refuses to leave with "..": a scan started outside the project failed to start)
            modulesRoot: join(opts.root, "scripts/runtime"),
            compatibilityDate: cfg.compatibilityDate,
            bindings: { PROXY_KEY: proxyKey },
            unsafeDirectSockets: [{ host: "127.0.0.1", port: proxyPort }],
            unsafeBindings: [
              { name: "RAW_RESULTS", type: "service", plugin, options: { service: `r2:bucket:${cfg.bucket}` } },
              { name: "RAW_JOBS", type: "service", plugin, options: { service: `kv:ns:${cfg.kvId}` } },
            ],
          }]
        : []),
    ],
    kvPersist: join(opts.stateDir, "v3/kv"),
    r2Persist: join(opts.stateDir, "v3/r2"),
    durableObjectsPersist: join(opts.stateDir, "v3/do"),
    host: "127.0.0.1",
    port,
    log: undefined,
  });
  const secondaryOptions = (port: number, proxy: URL) => ({
    ...worker,
    kvNamespaces: { JOBS: { id: cfg.kvId, remoteProxyConnectionString: proxy } },
    r2Buckets: { RESULTS: { id: cfg.bucket, remoteProxyConnectionString: proxy } },
    host: "127.0.0.1",
    port,
    log: undefined,
  });

  interface Member { mf: Mf; url: string; pid?: number }
  /** the workerd processes already owned by a member, so a new one is told apart when several start at once */
  const known = new Set<number>();
  /** starts one process; its pid is the workerd child listening on its port */
  const launch = async (options: ConstructorParameters<typeof Miniflare>[0]): Promise<Member> => {
    const mf = new Miniflare(options);
    try {
      const url = (await mf.ready).toString().replace(/\/$/, "");
      // the one workerd child listening on this member's port (several may have started meanwhile)
      const pid = workerdPids().find((p) => !known.has(p) && listensOn(p, Number(new URL(url).port)));
      if (pid) known.add(pid);
      return { mf, url, pid };
    } catch (e) {
      await mf.dispose().catch(() => undefined); // otherwise workerd's handles keep the CLI alive
      throw e;
    }
  };
  // Miniflare exits the process on SIGINT (exit-hook); the scan handles Ctrl-C itself — it stops
  // scheduling, writes run.json and stops this worker — so Miniflare's own handler is removed.
  const dropSigint = () => {
    for (const l of process.listeners("SIGINT")) if (!sigintBefore.has(l)) process.off("SIGINT", l);
  };

  // the proxy's port is chosen first, so the other processes can start alongside the primary
  const proxyPort = processes > 1 ? await freePort() : 0;
  const proxy = new URL(`http://127.0.0.1:${proxyPort}/?key=${proxyKey}`);
  const launchMember = (i: number, port: number) =>
    i === 0 ? launch(primaryOptions(port, proxyPort)) : launch(secondaryOptions(port, proxy));
  const starting = Array.from({ length: processes }, (_, i) => launchMember(i, i === 0 ? (opts.port ?? 0) : 0));
  const started = await Promise.allSettled(starting);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await Promise.all(started.map((r) => (r.status === "fulfilled" ? r.value.mf.dispose().catch(() => undefined) : undefined)));
    throw failed.reason;
  }
  const members = started.map((r) => (r as PromiseFulfilledResult<Member>).value);
  const primaryPort = Number(new URL(members[0].url).port);
  dropSigint();
  let stopped = false;
  const supervisors = members.map((_, i) => new CpuLimitSupervisor({
    cpuMs,
    pid: () => members[i].pid,
    // the platform resets an isolate that broke its limit: here workerd is killed and started
    // again on the same port and state (a request never half-writes: results are content-addressed)
    restart: async () => {
      const pid = members[i].pid;
      if (pid) known.delete(pid);
      if (pid && process.env.HEADSCOPE_CPU_LIMIT_BACKTRACES) saveBacktraces(pid, process.env.HEADSCOPE_CPU_LIMIT_BACKTRACES);
      if (pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      await members[i].mf.dispose().catch(() => undefined);
      if (stopped) return;
      members[i] = await launchMember(i, i === 0 ? primaryPort : Number(new URL(members[i].url).port));
      dropSigint();
    },
  }));
  const supervision = processes > 1
    ? new WorkerPool(members.map((m, i) => ({ origin: m.url, supervisor: supervisors[i] })))
    : supervisors[0];
  return {
    url: members[0].url,
    token,
    get pid() {
      return members[0].pid;
    },
    get pids() {
      return members.map((m) => m.pid).filter((p): p is number => p !== undefined);
    },
    supervision,
    processes,
    ...(processes > 1 ? { storageProxy: `http://127.0.0.1:${proxyPort}/` } : {}),
    served: () => (supervision instanceof WorkerPool ? supervision.served : undefined),
    restarts: () => supervisors.flatMap((s) => s.restarts),
    stop: async () => {
      stopped = true;
      for (const s of supervisors) s.stop();
      await Promise.all(supervisors.map((s) => s.ready().catch(() => undefined)));
      await Promise.all(members.map((m) => m.mf.dispose()));
    },
  };
}
