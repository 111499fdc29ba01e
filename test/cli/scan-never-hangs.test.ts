/**
 * A scan never hangs (issue 17), through the real CLI and its embedded local worker (workerd):
 * - SIGKILL of the CLI in the middle of a scan leaves no workerd behind (within 5 s);
 * - a request that never finishes (test hook `stall`) passes its deadline, is retried, and ends as a
 *   failed head (`timeout`) while every other head finishes; run.json counts its timeouts;
 * - when nothing answers at all, the scan stops with a clear message instead of waiting for ever;
 * - a runaway request that burns CPU without yielding (test hook `spin`) breaks the local CPU
 *   limit: workerd is restarted, the head fails with `cpu-limit-exceeded`, the others finish.
 * The hooks exist only when HEADSCOPE_TEST_HOOKS is set (src/test-hooks.ts). The example model (4
 * layers × 4 heads, 32 requests) is scanned into a fresh state directory each time.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { CLI, ROOT, runCli } from "../support/cli";

const tmp = mkdtempSync(join(tmpdir(), "headscope-hang-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const scanArgs = (name: string, ...more: string[]) => [
  "scan", "--out", join(tmp, name), "--state", join(tmp, `${name}-state`), "--progress", "plain", "--retry-base-ms", "20", ...more,
];
const read = (name: string, f: string) => JSON.parse(readFileSync(join(tmp, name, f), "utf8"));

/** Live (not zombie) child processes of pid, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[1]) === pid && f[0] !== "Z") out.push(Number(d));
    } catch {
      /* gone while we looked */
    }
  }
  return out;
}

/** true while pid exists and is not a zombie */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

test.runIf(existsSync("/proc"))("SIGKILL of the CLI mid-scan leaves no workerd behind within 5 s", async () => {
  // one head never finishes, so the scan is certainly still running when it is killed
  const child = spawn(process.execPath, [CLI, ...scanArgs("killed")], {
    cwd: ROOT, env: { ...process.env, CI: "true", HEADSCOPE_TEST_HOOKS: "stall:/layers/3/heads/3/ov" }, stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (c) => {
      stderr += c;
      if (/^scan \d+\//m.test(stderr)) resolve();
    });
    child.on("exit", () => reject(new Error(`the CLI ended before it was killed:\n${stderr}`)));
  });
  const workerd = childrenOf(child.pid!);
  expect(workerd.length, stderr).toBeGreaterThan(0);
  expect(readFileSync(`/proc/${workerd[0]}/comm`, "utf8").trim()).toBe("workerd");
  child.kill("SIGKILL");
  const t0 = Date.now();
  while (workerd.some(alive) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 100));
  expect(workerd.filter(alive)).toEqual([]);
}, 120_000);

test("a request that never finishes is retried, the others finish, and the scan exits 1 listing it", async () => {
  const res = await runCli([...scanArgs("stall", "--retries", "1", "--deadline-scale", "0.5")], {
    env: { HEADSCOPE_TEST_HOOKS: "stall:/layers/0/heads/1/qk" },
  });
  expect(res.code, res.stderr).toBe(1);
  expect(res.stderr).toMatch(/retry 1\/1 L0H1 qk folded_augmented: timeout: no answer within the request's deadline/);
  expect(res.stderr).toMatch(/L0H1 qk folded_augmented: timeout: /);
  const report = read("stall", "report.json");
  expect(report.entries).toHaveLength(31);
  expect(report.failures).toEqual([expect.objectContaining({ layer: 0, head: 1, circuit: "qk", type: "timeout" })]);
  const run = read("stall", "run.json");
  // a loaded machine may push another head past its deadline once: it is then retried and answered "already stored"
  expect(run.computed + run.stored).toBe(31);
  expect(run.failed).toBe(1);
  expect(run.timeouts_per_head["L0H1 qk folded_augmented"]).toBe(2);
  expect(run.timeouts).toBeGreaterThanOrEqual(2);
}, 180_000);

test("a worker that answers nothing stops the scan with a clear message", async () => {
  const res = await runCli([...scanArgs("silent", "--deadline-scale", "0.2")], { env: { HEADSCOPE_TEST_HOOKS: "stall:/qk;stall:/ov" } });
  expect(res.code, res.stderr).toBe(1);
  expect(res.stderr).toMatch(/no answer from the worker for \d+ s .* it is not making progress, so the scan stops/);
  const run = read("silent", "run.json");
  expect(run.stalled).toMatch(/not making progress/);
  expect(run).toMatchObject({ computed: 0, failed: 32 });
  expect(run.timeouts).toBeGreaterThan(0);
}, 180_000);

test.runIf(existsSync("/proc"))("a runaway request breaks the local CPU limit: restarted, that head fails, the others finish", async () => {
  const res = await runCli([...scanArgs("spin", "--retries", "1", "--concurrency", "2", "--deadline-scale", "5")], {
    env: { HEADSCOPE_TEST_HOOKS: "spin:/layers/2/heads/0/ov", HEADSCOPE_CPU_MS: "1000" },
  });
  expect(res.code, res.stderr).toBe(1);
  const report = read("spin", "report.json");
  expect(report.entries).toHaveLength(31);
  expect(report.failures).toEqual([expect.objectContaining({ layer: 2, head: 0, circuit: "ov", type: "cpu-limit-exceeded", status: 503 })]);
  const run = read("spin", "run.json");
  expect(run.worker_restarts.length).toBeGreaterThanOrEqual(2);
  for (const r of run.worker_restarts) expect(r).toMatchObject({ reason: "cpu-limit-exceeded" });
  expect(run.worker_restarts[0].cpu_ms).toBeGreaterThan(1000);
}, 240_000);

// ── server-side scans (the worker's own queue consumer, and the CLI's calls to the job endpoints) ──

test("server-side: a head that never finishes passes the consumer's deadline, is retried with backoff, then recorded failed; the others land", async () => {
  const res = await runCli([...scanArgs("server-stall", "--server-side", "--layers", "0", "--deadline-scale", "0.2")], {
    env: { HEADSCOPE_TEST_HOOKS: "stall:/layers/0/heads/1/qk" },
  });
  expect(res.code, res.stderr).toBe(1);
  const report = read("server-stall", "report.json");
  expect(report.entries).toHaveLength(7);
  expect(report.failures).toEqual([
    expect.objectContaining({ layer: 0, head: 1, circuit: "qk", type: "dead-lettered", detail: expect.stringMatching(/last error timeout: head L0H1 qk did not finish within its deadline of 2\.\d s/) }),
  ]);
  const run = read("server-stall", "run.json");
  expect(run).toMatchObject({ tasks: 8, failed: 1, server_side: expect.objectContaining({ dead_lettered: 1 }) });
  expect(run.computed + run.stored).toBe(7);
  // the queue's max_retries (wrangler.toml) retries it 4 times after the first attempt
  expect(run.retries).toBeGreaterThanOrEqual(4);
}, 240_000);

test("server-side: a job-endpoint call that never answers passes its deadline, is retried, and the scan stops with the problem", async () => {
  const res = await runCli([...scanArgs("server-silent", "--server-side", "--layers", "0", "--retries", "2", "--deadline-scale", "0.2")], {
    env: { HEADSCOPE_TEST_HOOKS: "stall:/v1/scans" },
  });
  expect(res.code, res.stderr).toBe(2);
  expect(res.stderr).toMatch(/timeout: POST \/v1\/scans: no answer within the request's deadline of 2\.\d s, 3 attempt\(s\)/);
}, 120_000);
