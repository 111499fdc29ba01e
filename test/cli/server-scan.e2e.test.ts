/**
 * `headscope scan --server-side` through the real CLI against the local default (Miniflare running
 * workerd with local R2, KV, Queues and SQLite Durable Objects): the example model scanned server-side
 * gives the same report.json as the client-coordinated scan (only `scan.endpoint` says how it ran);
 * run again, nothing is uploaded or computed twice; `--job ID` follows a job to its report;
 * `headscope upload` prints the checkpoint id and sends a stored shard no second time.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { runCli } from "../support/cli";

const tmp = mkdtempSync(join(tmpdir(), "headscope-server-scan-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const report = (dir: string) => JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
const run = (dir: string) => JSON.parse(readFileSync(join(dir, "run.json"), "utf8"));

test("server-side report = client-coordinated report; a second run computes and uploads nothing; --job follows", async () => {
  const client = await runCli(["scan", "--out", join(tmp, "client"), "--state", join(tmp, "state-client"), "--progress", "plain"]);
  expect(client.code, client.stderr).toBe(0);
  const state = join(tmp, "state-server");
  const server = await runCli(["scan", "--server-side", "--out", join(tmp, "server"), "--state", state, "--progress", "plain"]);
  expect(server.code, server.stderr).toBe(0);
  expect(server.stderr).toMatch(/1 sent/);

  const a = report(join(tmp, "client"));
  const b = report(join(tmp, "server"));
  expect(a.scan.endpoint).toBe("local");
  expect(b.scan.endpoint).toBe("server-side");
  expect(b.entries).toHaveLength(32);
  expect({ ...b, scan: { ...b.scan, endpoint: "local" } }).toEqual(a);
  expect(run(join(tmp, "server"))).toMatchObject({ tasks: 32, computed: 32, stored: 0, failed: 0 });

  const again = await runCli(["scan", "--server-side", "--out", join(tmp, "again"), "--state", state, "--progress", "plain"]);
  expect(again.code, again.stderr).toBe(0);
  expect(again.stderr).toMatch(/0 sent \(0\.0 MiB\), 1 already stored/);
  expect(run(join(tmp, "again"))).toMatchObject({ computed: 0, stored: 32 });
  expect(readFileSync(join(tmp, "again", "report.json"), "utf8")).toBe(readFileSync(join(tmp, "server", "report.json"), "utf8"));

  const job = run(join(tmp, "server")).server_side.job as string;
  const followed = await runCli(["scan", "--job", job, "--out", join(tmp, "followed"), "--state", state, "--progress", "quiet"]);
  expect(followed.code, followed.stderr).toBe(0);
  expect(readFileSync(join(tmp, "followed", "report.json"), "utf8")).toBe(readFileSync(join(tmp, "server", "report.json"), "utf8"));

  const up = await runCli(["upload", join(tmp, "..", "does-not-exist.safetensors"), "--state", state]);
  expect(up.code).toBe(2);
}, 600_000);
