/**
 * The embedded workerd runs with V8's --single-threaded-gc (scripts/runtime/workerd.sh and
 * workerd-v8-flags.mjs put it into the config Miniflare writes; issue 17's livelock, README
 * "Worker"). These tests check that the flags really reach V8 — V8 itself refuses an unknown one,
 * after accepting the ones before it — that the default is the flag, and that with it a scan
 * finishes under V8's own --stress-concurrent-allocation (which keeps V8's worker pool allocating,
 * so a background allocation waits for a GC again and again): without --single-threaded-gc the
 * same scan livelocks within its first few dozen heads (main thread re-posting cppgc's
 * IncrementalSweepTask from IoContext::runImpl's pump loop, the worker thread parked in
 * CollectionBarrier::AwaitCollectionBackground) and stops as not making progress.
 */
import { expect, test } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_WORKERD_V8_FLAGS, workerdGuardEnv } from "../../scripts/runtime/guard.mjs";
import { readFileSync } from "node:fs";
import { ROOT, runCli } from "../support/cli";
import { GPT2_PATH } from "../support/gpt2";

test("the local workerd runs with --single-threaded-gc unless HEADSCOPE_WORKERD_V8_FLAGS says otherwise", () => {
  expect(DEFAULT_WORKERD_V8_FLAGS).toBe("--single-threaded-gc");
  const before = process.env.HEADSCOPE_WORKERD_V8_FLAGS;
  try {
    delete process.env.HEADSCOPE_WORKERD_V8_FLAGS;
    expect(workerdGuardEnv(ROOT)).toMatchObject({ HEADSCOPE_WORKERD_V8_FLAGS: "--single-threaded-gc", HEADSCOPE_NODE: process.execPath });
    process.env.HEADSCOPE_WORKERD_V8_FLAGS = "";
    expect(workerdGuardEnv(ROOT).HEADSCOPE_WORKERD_V8_FLAGS).toBe("");
  } finally {
    if (before === undefined) delete process.env.HEADSCOPE_WORKERD_V8_FLAGS;
    else process.env.HEADSCOPE_WORKERD_V8_FLAGS = before;
  }
});

test.runIf(process.platform !== "win32")("the flags reach workerd's V8: a good one is taken, an unknown one after it refused by V8", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "headscope-v8flags-"));
  try {
    const res = await runCli(["scan", "--out", join(tmp, "out"), "--state", join(tmp, "state"), "--progress", "plain"], {
      env: { HEADSCOPE_WORKERD_V8_FLAGS: "--single-threaded-gc --no-such-v8-flag-for-headscope" },
    });
    expect(res.code, res.stderr).not.toBe(0);
    // workerd's jsg/setup.c++ hands the flags to V8 and names the first it does not know
    expect(res.stderr).toMatch(/unrecognized V8 flag; argv\[1\] = --no-such-v8-flag-for-headscope/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}, 120_000);

test.runIf(process.platform === "linux")("with --single-threaded-gc a scan finishes under --stress-concurrent-allocation (without it, it livelocks)", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "headscope-v8stress-"));
  try {
    const out = join(tmp, "out");
    const res = await runCli(["scan", GPT2_PATH, "--layers", "0-3", "--out", out, "--state", join(tmp, "state"), "--progress", "quiet", "--no-html"], {
      env: { HEADSCOPE_WORKERD_V8_FLAGS: `${DEFAULT_WORKERD_V8_FLAGS} --stress-concurrent-allocation` },
    });
    expect(res.code, res.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(run).toMatchObject({ computed: 96, failed: 0 });
    expect(run.worker_restarts ?? []).toEqual([]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}, 300_000);
