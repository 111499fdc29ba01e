/**
 * The write token through the real CLI: it never appears on any process's command line while a scan
 * runs (read from /proc/PID/cmdline, as `ps` does), and a worker that refuses it stops `scan`,
 * `scan --server-side` and `upload` at the first 401 with one message about the token (a real
 * `wrangler dev` worker with another token).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCli, type CliRun } from "../support/cli";
import { writeCheckpoint, type RawTensor } from "../support/checkpoints";
import { startLocalWorker, type LocalWorker } from "../support/local-worker";

const tmp = mkdtempSync(join(tmpdir(), "headscope-token-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const t = (...shape: number[]): RawTensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(1 + i)) });
function tinyGpt2(dir: string, withEmbedding = false): string {
  const d = 8;
  const tensors: Record<string, RawTensor> = withEmbedding ? { "wte.weight": t(16, d), "ln_f.weight": t(d), "ln_f.bias": t(d) } : {};
  for (let l = 0; l < 2; l++) {
    Object.assign(tensors, {
      [`h.${l}.ln_1.weight`]: t(d), [`h.${l}.ln_1.bias`]: t(d), [`h.${l}.attn.c_attn.weight`]: t(d, 3 * d),
      [`h.${l}.attn.c_attn.bias`]: t(3 * d), [`h.${l}.attn.c_proj.weight`]: t(d, d),
    });
  }
  return writeCheckpoint(join(tmp, dir), tensors, { dtype: "F32", config: { model_type: "gpt2", n_head: 2 } });
}

/** Every process's command line that holds `secret`, sampled every 20 ms until `done` settles; and how many samples saw a workerd. */
async function watchCommandLines(secret: string, done: Promise<CliRun>, from: () => boolean) {
  let finished = false;
  void done.finally(() => (finished = true));
  const leaks = new Set<string>();
  let workerdSeen = 0;
  while (!finished) {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let cmd: string;
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      } catch {
        continue; // ended while we looked
      }
      if (/workerd/.test(cmd)) workerdSeen++;
      if (from() && cmd.includes(secret)) leaks.add(cmd.replace(/\0/g, " ").slice(0, 300));
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { leaks: [...leaks], workerdSeen, run: await done };
}

describe.skipIf(process.platform !== "linux")("the write token never appears on a command line", () => {
  test("HEADSCOPE_TOKEN: not in the CLI's, workerd's or any other process's arguments during a scan", async () => {
    const secret = `env-secret-${Math.random().toString(36).slice(2)}`;
    const done = runCli(["scan", tinyGpt2("env"), "--out", join(tmp, "env-out"), "--state", join(tmp, "env-state"), "--progress", "quiet"], {
      env: { HEADSCOPE_TOKEN: secret },
    });
    const { leaks, workerdSeen, run } = await watchCommandLines(secret, done, () => true);
    expect(run.code).toBe(0);
    expect(workerdSeen).toBeGreaterThan(0); // sampled while the worker ran
    expect(leaks).toEqual([]);
  });

  test("--token T: masked in the CLI's own command line once it has started", async () => {
    const secret = `arg-secret-${Math.random().toString(36).slice(2)}`;
    let started = false;
    const done = runCli(["scan", tinyGpt2("arg"), "--out", join(tmp, "arg-out"), "--state", join(tmp, "arg-state"), "--progress", "plain", "--token", secret], {
      onStderr: (_c, all) => (started ||= /local worker on/.test(all)),
    });
    const { leaks, workerdSeen, run } = await watchCommandLines(secret, done, () => started);
    expect(run.code).toBe(0);
    expect(workerdSeen).toBeGreaterThan(0);
    expect(leaks).toEqual([]);
  });
});

describe("a refused token stops the command at the first 401, with one message", () => {
  let worker: LocalWorker;
  beforeAll(async () => {
    worker = await startLocalWorker({ token: "the-right-token" });
  }, 120_000);
  afterAll(async () => {
    await worker?.stop();
  });

  const expectOneTokenMessage = (r: CliRun, wrong: string) => {
    expect(r.code).toBe(2);
    expect(r.stderr.match(/refused the write token/g)?.length).toBe(1);
    expect(r.stderr).toContain(`the worker at ${worker.url} refused the write token (401 unauthorized`);
    expect(r.stderr).toMatch(/set HEADSCOPE_TOKEN to the worker's token/);
    expect(r.stderr).not.toMatch(/failed for good|by type:/); // no per-head failure list
    expect(r.stderr).not.toContain(wrong); // the token is never printed
    expect(r.stderr).not.toMatch(/at .*\.mjs:\d+/); // a message, not a stack
  };

  test("scan --endpoint: 16 head-circuits, one message, nothing stored", async () => {
    const wrong = "not-the-token-1234";
    const r = await runCli(["scan", tinyGpt2("remote"), "--endpoint", worker.url, "--out", join(tmp, "remote-out"), "--progress", "plain", "--retries", "0"], {
      env: { HEADSCOPE_TOKEN: wrong },
    });
    expectOneTokenMessage(r, wrong);
    expect(r.stderr).toMatch(/The token came from HEADSCOPE_TOKEN/);
    const models = (await (await fetch(`${worker.url}/v1/models`)).json()) as { models: string[] };
    expect(models.models).toEqual([]);
  });

  test("scan --endpoint of a checkpoint with an embedding: the readout basis upload stops at the 401 too", async () => {
    const wrong = "not-the-token-9012";
    const r = await runCli(["scan", tinyGpt2("embedded", true), "--endpoint", worker.url, "--out", join(tmp, "embedded-out"), "--progress", "plain", "--retries", "0"], {
      env: { HEADSCOPE_TOKEN: wrong },
    });
    expectOneTokenMessage(r, wrong);
    expect(r.stderr).not.toMatch(/basis upload failed|readouts: none/); // stopped there, not carried on to the heads
  });

  test("scan --server-side and upload", async () => {
    const wrong = "not-the-token-5678";
    const ckpt = tinyGpt2("server");
    const s = await runCli(["scan", ckpt, "--server-side", "--endpoint", worker.url, "--out", join(tmp, "server-out"), "--state", join(tmp, "server-state")], {
      env: { HEADSCOPE_TOKEN: wrong },
    });
    expectOneTokenMessage(s, wrong);
    const u = await runCli(["upload", ckpt, "--endpoint", worker.url, "--state", join(tmp, "upload-state"), "--token", wrong], {
      env: { HEADSCOPE_TOKEN: "" },
    });
    expectOneTokenMessage(u, wrong);
    expect(u.stderr).toMatch(/The token came from --token/);
  });
});
