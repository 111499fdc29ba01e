/**
 * Resume: a scan whose worker is killed mid-way (SIGKILL to workerd) fails for good after its
 * retries, with a non-zero exit; run again against a restarted worker on the same storage, it
 * computes only what is missing and writes the same report.json, byte for byte, as an uninterrupted
 * run. No head is computed twice across the two runs (each run lists what it computed).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { startLocalWorker, type LocalWorker } from "../../src/cli/local-worker";
import { ROOT, runCli } from "../support/cli";
import { GPT2_PATH } from "../support/gpt2";

const tmp = mkdtempSync(join(tmpdir(), "headscope-resume-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TASKS = 6 * 12 * 2; // layers 0–5, every head, qk and ov (default variants)
const scanArgs = (w: LocalWorker, out: string) => [
  "scan", GPT2_PATH, "--out", out, "--model-name", "gpt2-small", "--layers", "0-5", "--endpoint", w.url, "--token", w.token,
  "--progress", "plain", "--retries", "2", "--retry-base-ms", "20", "--concurrency", "2",
];
const read = (dir: string, f: string) => readFileSync(join(dir, f), "utf8");

test("kill the worker mid-way, run again: same report, nothing computed twice", async () => {
  // uninterrupted reference run
  const refWorker = await startLocalWorker({ root: ROOT, stateDir: join(tmp, "state-ref") });
  const ref = await runCli(scanArgs(refWorker, join(tmp, "ref")));
  await refWorker.stop();
  expect(ref.code, ref.stderr).toBe(0);

  // interrupted run: SIGKILL workerd once at least 30 heads are done
  const state = join(tmp, "state");
  const w1 = await startLocalWorker({ root: ROOT, stateDir: state });
  expect(w1.pid).toBeTypeOf("number");
  let killed = false;
  const first = await runCli(scanArgs(w1, join(tmp, "first")), {
    onStderr: (_chunk, all) => {
      const done = Math.max(0, ...[...all.matchAll(/^scan (\d+)\//gm)].map((m) => Number(m[1])));
      if (!killed && done >= 30) {
        killed = true;
        process.kill(w1.pid!, "SIGKILL");
      }
    },
  });
  await w1.stop().catch(() => undefined);
  expect(killed).toBe(true);
  expect(first.code).toBe(1);
  expect(first.stderr).toMatch(/request\(s\) failed for good/);
  expect(first.stderr).toMatch(/by type: network ×\d+/);
  const run1 = JSON.parse(read(join(tmp, "first"), "run.json"));
  expect(run1.computed).toBeGreaterThanOrEqual(30);
  expect(run1.failed).toBeGreaterThan(0);

  // resumed run on the same storage
  const w2 = await startLocalWorker({ root: ROOT, stateDir: state });
  const second = await runCli(scanArgs(w2, join(tmp, "second")));
  await w2.stop();
  expect(second.code, second.stderr).toBe(0);
  const run2 = JSON.parse(read(join(tmp, "second"), "run.json"));
  expect(run2.computed + run2.stored).toBe(TASKS);
  expect(run2.stored).toBeGreaterThanOrEqual(run1.computed);
  const twice = (run2.computed_tasks as string[]).filter((t) => (run1.computed_tasks as string[]).includes(t));
  expect(twice).toEqual([]);
  expect(run1.computed + run2.computed).toBeLessThanOrEqual(TASKS);

  expect(read(join(tmp, "second"), "report.json")).toBe(read(join(tmp, "ref"), "report.json"));
}, 240_000);
