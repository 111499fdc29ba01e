/**
 * `npm run soak` (not in CI): repeats large-head scans until something stalls, as a user scanning a
 * big model would. Each round scans a synthetic Llama-3-8B-shaped checkpoint (2 layers, BF16, two
 * shards with an index, GQA: 128 head-circuits of 4.2 MB at d_model 4096; scripts/soak/) with the
 * real CLI and its embedded local worker (`--progress quiet`, default concurrency, a fresh state
 * directory), while a second client posts more 4.2 MB heads to the same worker (loopback only).
 *
 * A round counts as a hang when nothing new is stored in its state directory for SOAK_STALL_S
 * (default 300; a loaded machine is slow, not stuck) or the CLI does not end within
 * SOAK_SCAN_LIMIT_S (default 3600): then native backtraces of its workerd (gdb, three samples, when
 * gdb is installed) are saved and the soak stops. A stall the CLI recovered from shows in run.json (timeouts, worker restarts) and is
 * reported per round. Bounded in count and time: SOAK_SCANS rounds (default 20), at most
 * SOAK_MINUTES (default 60) in all. Prints the wall-time spread at the end; exits 1 on a hang or a
 * failed scan.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { detectArchitecture } from "../src/cli/architectures";
import { Checkpoint } from "../src/cli/checkpoint";
import { httpRequest } from "../src/cli/http";
import { planTasks, taskRequest } from "../src/cli/plan";
import { DEFAULT_WORKERD_V8_FLAGS, guardedCommand } from "./runtime/guard.mjs";
import { writeLlama8bCheckpoint } from "./soak/llama8b-checkpoint";
import { handleUsage } from "./usage.mjs";

handleUsage(`npm run soak

(not in CI) Repeated scans of a synthetic Llama-3-8B-shaped checkpoint through the embedded local
worker while a second client posts more heads; stops at the first hang (backtraces kept) or failure.

Environment: SOAK_SCANS (rounds, default 20), SOAK_MINUTES (budget, default 60), SOAK_STALL_S
(seconds without progress that count as a hang, default 300), SOAK_SCAN_LIMIT_S (default 3600),
SOAK_WRITERS, SOAK_LAYERS.`, { flags: {}, positionals: 0 });

const root = fileURLToPath(new URL("..", import.meta.url));
const scans = Number(process.env.SOAK_SCANS ?? 20);
const budgetMs = Number(process.env.SOAK_MINUTES ?? 60) * 60_000;
const scanLimitMs = Number(process.env.SOAK_SCAN_LIMIT_S ?? 3600) * 1000;
const stallMs = Number(process.env.SOAK_STALL_S ?? 300) * 1000;

/** Files stored so far under a state directory (results land in R2 and KV as files). */
function storedFiles(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true }).length;
  } catch {
    return 0;
  }
}
const writers = Number(process.env.SOAK_WRITERS ?? 1);
const layers = Number(process.env.SOAK_LAYERS ?? 2);

const cli = join(root, "build/cli/headscope.mjs");
execFileSync(process.execPath, [join(root, "scripts/build-cli.mjs")], { stdio: "inherit" });
const ckptDir = join(root, `build/soak/llama8b-${layers}l`);
const index = join(ckptDir, "model.safetensors.index.json");
if (!existsSync(index)) {
  console.log(`writing the synthetic Llama-3-8B-shaped checkpoint (${layers} layers, BF16, 2 shards) to ${ckptDir}`);
  writeLlama8bCheckpoint(ckptDir, { layers });
}
const ckpt = Checkpoint.open(index);
const arch = detectArchitecture(ckpt, undefined, {});
const tmp = mkdtempSync(join(tmpdir(), "headscope-soak-"));
const token = `soak-${process.pid}`;

/** Posts 4.2 MB heads (stored under their own model name) to url until stopped; returns the count. */
async function writeLoop(url: string, round: number, w: number, stop: AbortSignal): Promise<{ ok: number; failed: number; reasons: Map<string, number> }> {
  const tasks = planTasks(arch, { model: `soak-writes-${round}-${w}`, circuits: ["qk", "ov"], layers: [0], heads: [...Array(arch.facts.n_heads).keys()], variants: ["default"], offsets: [0] });
  let ok = 0;
  let failed = 0;
  /** why writes failed: HTTP status and problem type, or the network error's code */
  const reasons = new Map<string, number>();
  const count = (why: string) => reasons.set(why, (reasons.get(why) ?? 0) + 1);
  for (let i = 0; !stop.aborted; i++) {
    const r = taskRequest(url, arch, tasks[i % tasks.length]);
    try {
      // one connection per request, as the CLI's own requests to its local worker (http.ts freshAgents)
      const a = await httpRequest("POST", r.url, r.body, { authorization: `Bearer ${token}` }, stop, 300_000, !process.env.HEADSCOPE_LOCAL_KEEPALIVE);
      if (a.status < 300) ok++;
      else {
        failed++;
        count(`${a.status} ${/"type"\s*:\s*"([^"]*)"/.exec(a.text)?.[1] ?? ""}`.trim());
      }
    } catch (e) {
      if (stop.aborted) break;
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).name;
      // the scan stopped its worker (it ends with the scan): nothing more to write to, and not a lost write
      if (code === "ECONNREFUSED") break;
      failed++;
      count(code);
    }
  }
  return { ok, failed, reasons };
}

function backtraces(pid: number, dir: string): string[] {
  const files: string[] = [];
  for (let k = 1; k <= 3; k++) {
    try {
      const bt = execFileSync("gdb", ["-p", String(pid), "-batch", "-ex", "thread apply all bt 40"], { encoding: "utf8", timeout: 60_000 });
      const f = join(dir, `workerd-${pid}-bt${k}.txt`);
      writeFileSync(f, bt);
      files.push(f);
    } catch (e) {
      console.log(`  gdb: ${(e as Error).message.split("\n")[0]}`);
      break;
    }
    execFileSync("sleep", ["2"]);
  }
  return files;
}

function workerdChild(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    return children.find((c) => readFileSync(`/proc/${c}/comm`, "utf8").trim() === "workerd");
  } catch {
    return undefined;
  }
}

const t0 = Date.now();
const times: number[] = [];
let hangs = 0;
let failedScans = 0;
let recovered = 0;
console.log(
  `soak: up to ${scans} scans of ${index} (${arch.facts.n_layers} layers × ${arch.facts.n_heads} heads × qk, ov), ${writers} concurrent 4.2 MB writer(s), ` +
    `workerd V8 flags "${process.env.HEADSCOPE_WORKERD_V8_FLAGS ?? DEFAULT_WORKERD_V8_FLAGS}"`,
);
const loads: number[] = [];
for (let round = 1; round <= scans; round++) {
  if (Date.now() - t0 > budgetMs) {
    console.log(`time budget of ${budgetMs / 60_000} min used: stopping after ${round - 1} scans`);
    break;
  }
  const out = join(tmp, `out-${round}`);
  const state = join(tmp, `state-${round}`);
  const started = Date.now();
  // guarded: the CLI (and its workerd) never outlives the soak
  const child = spawn(...guardedCommand(root, process.execPath, [cli, "scan", index, "--out", out, "--state", state, "--progress", "quiet"]), {
    // a worker restarted for its CPU limit leaves gdb backtraces here (local-worker.ts)
    cwd: root, env: { ...process.env, HEADSCOPE_TOKEN: token, HEADSCOPE_CPU_LIMIT_BACKTRACES: join(tmp, `cpu-limit-${round}`) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const stopWriters = new AbortController();
  const writes: Array<ReturnType<typeof writeLoop>> = [];
  child.stderr.on("data", (c) => {
    stderr += c;
    const m = /local worker on (http:\/\/\S+)/.exec(stderr);
    if (m && writes.length === 0) for (let w = 0; w < writers; w++) writes.push(writeLoop(m[1], round, w, stopWriters.signal));
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let why = "";
  const limit = new Promise<"hang">((r) => {
    let seen = -1;
    let since = Date.now();
    const poll = setInterval(() => {
      const n = storedFiles(state);
      if (n !== seen) {
        seen = n;
        since = Date.now();
      }
      if (Date.now() - since > stallMs) why = `nothing new stored for ${stallMs / 1000} s`;
      else if (Date.now() - started > scanLimitMs) why = `no end after ${scanLimitMs / 1000} s`;
      else return;
      clearInterval(poll);
      r("hang");
    }, 5000);
    poll.unref();
    void exited.then(() => clearInterval(poll));
  });
  const result = await Promise.race([exited, limit]);
  if (result === "hang") {
    hangs++;
    const wd = workerdChild(child.pid!);
    console.log(`scan ${round}: HANG — ${why}; workerd ${wd ?? "not found"}`);
    if (wd) for (const f of backtraces(wd, tmp)) console.log(`  backtrace: ${f}`);
    child.kill("SIGKILL");
    stopWriters.abort();
    await exited;
    break;
  }
  stopWriters.abort();
  const w = await Promise.all(writes);
  const secs = (Date.now() - started) / 1000;
  times.push(secs);
  loads.push(loadavg()[0]);
  let run: Record<string, unknown> = {};
  try {
    run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
  } catch {
    /* no run.json: the scan failed before writing it */
  }
  const restarts = Array.isArray(run.worker_restarts) ? run.worker_restarts.length : 0;
  if ((run.timeouts as number) > 0 || restarts > 0) recovered++;
  if (result !== 0) failedScans++;
  console.log(
    `scan ${round}: exit ${result}, ${secs.toFixed(1)} s, ${run.computed ?? "?"} computed, ${run.failed ?? "?"} failed, ${run.retries ?? "?"} retries, ` +
      `${run.timeouts ?? "?"} timeouts, ${restarts} worker restarts; concurrent writes ${w.reduce((a, x) => a + x.ok, 0)} ok, ${w.reduce((a, x) => a + x.failed, 0)} failed; ` +
      `load average ${loadavg()[0].toFixed(1)}`,
  );
  const reasons = new Map<string, number>();
  for (const x of w) for (const [k, n] of x.reasons) reasons.set(k, (reasons.get(k) ?? 0) + n);
  if (reasons.size) console.log(`  failed writes: ${[...reasons].map(([k, n]) => `${n} × ${k}`).join(", ")}`);
  if (result !== 0) console.log(stderr.split("\n").slice(-12).join("\n"));
  if (restarts > 0) console.log(`  backtraces of the restarted workerd: ${join(tmp, `cpu-limit-${round}`)} (kept)`);
  rmSync(state, { recursive: true, force: true });
}
ckpt.close();
const sorted = [...times].sort((a, b) => a - b);
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
console.log(
  `soak: ${times.length} scans, ${hangs} hangs, ${failedScans} failed, ${recovered} recovered from a stall (timeouts or restarts); ` +
    (sorted.length
      ? `wall time min ${sorted[0].toFixed(1)} s, median ${q(0.5).toFixed(1)} s, max ${sorted[sorted.length - 1].toFixed(1)} s; ` +
        `1-min load average at the scans' ends ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (2 cores)`
      : "no scan finished"),
);
if (hangs === 0 && recovered === 0) rmSync(tmp, { recursive: true, force: true });
else console.log(`kept ${tmp} (outputs and backtraces)`);
mkdirSync(join(root, "build/soak"), { recursive: true });
process.exit(hangs || failedScans ? 1 : 0);
