/**
 * The embedded local worker on several workerd processes (issue 12, every core; `--local-processes`),
 * through the real CLI and real workerd with local R2 and KV:
 * - a scan on two processes sends its head requests to the computing process, and everything lands
 *   in the one local state: a scan of the same model on one process finds all of it stored and
 *   writes the same report; the two-process scan runs outside the project directory (its storage
 *   proxy once failed to start there: workerd refused its module path, relative to the cwd);
 * - the primary's storage proxy answers only requests carrying its key;
 * - the flag is refused where it cannot apply;
 * - the default: several processes only for spectra of large heads on several cores.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, expect, test, vi } from "vitest";
import { defaultLocalProcesses, LARGE_WORK, startLocalWorker } from "../../src/cli/local-worker";
import { ROOT, runCli } from "../support/cli";

const tmp = mkdtempSync(join(tmpdir(), "headscope-processes-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

const json = (dir: string, f: string) => JSON.parse(readFileSync(join(tmp, dir, f), "utf8"));
const scan = (out: string, processes: number, cwd?: string) =>
  runCli(["scan", "--out", join(tmp, out), "--state", join(tmp, "state"), "--local-processes", String(processes), "--progress", "quiet", "--no-html"], { cwd });

test("two processes share the work and one state; one process then finds everything stored", async () => {
  const two = await scan("two", 2, tmp);
  expect(two.code, two.stderr).toBe(0);
  expect(two.stderr).toMatch(/local worker on http:\/\/127\.0\.0\.1:\d+ \(2 workerd processes, the first owning R2 and KV/);
  const run2 = json("two", "run.json");
  expect(run2).toMatchObject({ computed: 32, stored: 0, failed: 0, local_worker: { processes: 2 } });
  const [primary, secondary] = run2.local_worker.requests;
  expect(primary + secondary).toBe(32);
  // the secondary's writes went through the primary's storage proxy
  expect(secondary).toBeGreaterThan(0);
  expect(run2.profile.cpu_seconds.worker_processes).toHaveLength(2);

  const one = await scan("one", 1);
  expect(one.code, one.stderr).toBe(0);
  const run1 = json("one", "run.json");
  expect(run1).toMatchObject({ computed: 0, stored: 32, failed: 0, local_worker: { processes: 1 } });
  expect(run1.local_worker.requests).toBeUndefined();
  expect(readFileSync(join(tmp, "one/report.json"), "utf8")).toBe(readFileSync(join(tmp, "two/report.json"), "utf8"));
}, 240_000);

test("the storage proxy refuses requests without its key", async () => {
  const worker = await startLocalWorker({ root: ROOT, stateDir: join(tmp, "proxy-state"), processes: 2 });
  try {
    expect(worker.pids).toHaveLength(2);
    expect(worker.storageProxy).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const asked = { headers: { "MF-Binding": "RESULTS", "MF-URL": "http://x/anything" } };
    for (const url of [worker.storageProxy!, `${worker.storageProxy}?key=wrong`]) {
      const res = await fetch(url, asked);
      expect(res.status).toBe(403);
      await res.body?.cancel();
    }
    // the worker itself still answers on the primary
    const health = await fetch(`${worker.url}/v1`);
    expect(health.status).toBe(200);
    await health.body?.cancel();
  } finally {
    await worker.stop();
  }
}, 120_000);

test("--local-processes is refused where it cannot apply: with --endpoint and with --server-side", async () => {
  const remote = await runCli(["scan", "--out", join(tmp, "x"), "--endpoint", "http://127.0.0.1:9", "--token", "t", "--local-processes", "2", "--progress", "quiet"]);
  expect(remote.code).toBe(2);
  expect(remote.stderr).toMatch(/--local-processes sets the processes of the local worker; with --endpoint the deployment scales itself/);
  const server = await runCli(["scan", "--out", join(tmp, "y"), "--server-side", "--local-processes", "2", "--progress", "quiet"]);
  expect(server.code).toBe(2);
  expect(server.stderr).toMatch(/--local-processes applies to client-coordinated scans/);
}, 60_000);

test("the default: one storage owner plus a process per core (at most 4) when each head's work is large; the environment overrides it", () => {
  vi.stubEnv("HEADSCOPE_LOCAL_PROCESSES", "");
  const gpt2 = { dModel: 768, dHead: 64, readoutBasis: 0, sadActivations: 0 };
  const llama8b = { ...gpt2, dModel: 4096, dHead: 128 };
  expect(defaultLocalProcesses(gpt2, 2)).toBe(1); // spectra of the attention-only file
  expect(defaultLocalProcesses({ ...gpt2, readoutBasis: 50257 * 768 }, 2)).toBe(3); // with its embedding's readouts
  expect(defaultLocalProcesses({ ...gpt2, sadActivations: 128 * 20 * 768 }, 2)).toBe(3); // --prompts ioi:128
  expect(defaultLocalProcesses({ ...gpt2, dModel: 128, dHead: 32, readoutBasis: 1000 * 128, sadActivations: 8 * 12 * 128 }, 2)).toBe(1); // a tiny test model
  expect(defaultLocalProcesses({ ...gpt2, dModel: 2048 }, 2)).toBe(1);
  expect(defaultLocalProcesses({ ...gpt2, dModel: LARGE_WORK.factor / 128, dHead: 128 }, 2)).toBe(3);
  expect(defaultLocalProcesses({ ...gpt2, dModel: LARGE_WORK.factor / 128 - 1, dHead: 128 }, 2)).toBe(1);
  expect(defaultLocalProcesses(llama8b, 2)).toBe(3);
  expect(defaultLocalProcesses(llama8b, 1)).toBe(1);
  expect(defaultLocalProcesses(llama8b, 16)).toBe(5);
  expect(defaultLocalProcesses(undefined, 16)).toBe(1);
  vi.stubEnv("HEADSCOPE_LOCAL_PROCESSES", "2");
  expect(defaultLocalProcesses(gpt2, 2)).toBe(2);
  expect(defaultLocalProcesses(llama8b, 2)).toBe(2);
});
