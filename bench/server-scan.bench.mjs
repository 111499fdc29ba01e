#!/usr/bin/env node
/**
 * `npm run bench:server-scan`: GPT-2 small (144 heads × QK and OV, default variants) scanned
 * server-side on the local default (upload to local R2, one queue message per head, the ScanJob
 * Durable Object, report from R2) against the client-coordinated scan in the same run, each on fresh
 * storage, from command start to report written; then the server-side scan once more on the same
 * storage (upload skipped, every head already stored). Checks the two reports agree entry for entry.
 * Expects `node scripts/build-cli.mjs` to have run (the npm script does it).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { handleUsage } from "../scripts/usage.mjs";

handleUsage(`npm run bench:server-scan [-- CHECKPOINT]

GPT-2 small scanned server-side on the local default against the client-coordinated scan in the same
run, then server-side again on the same storage; checks the reports agree.

  CHECKPOINT   default ../shared/models/gpt2-small-attn.safetensors`, { flags: {}, positionals: 1 });

const root = fileURLToPath(new URL("..", import.meta.url));
const model = process.argv[2] ?? join(root, "../shared/models/gpt2-small-attn.safetensors");
const tmp = mkdtempSync(join(tmpdir(), "headscope-bench-server-"));

function scan(out, state, extra) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(root, "build/cli/headscope.mjs"), "scan", model, "--out", out, "--state", state, "--progress", "quiet", ...extra], {
      stdio: ["ignore", "inherit", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (c) => (err += c));
    child.on("close", (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`scan exited ${code}:\n${err}`));
      resolve({ wall, err, run: JSON.parse(readFileSync(join(out, "run.json"), "utf8")), report: JSON.parse(readFileSync(join(out, "report.json"), "utf8")) });
    });
  });
}

try {
  console.log(`load average before: ${loadavg().map((x) => x.toFixed(1)).join(" ")} (${process.env.HOSTNAME ?? "this machine"})`);
  const client = await scan(join(tmp, "client"), join(tmp, "state-client"), []);
  const server = await scan(join(tmp, "server"), join(tmp, "state-server"), ["--server-side"]);
  const again = await scan(join(tmp, "again"), join(tmp, "state-server"), ["--server-side"]);
  const job = (r) => (Date.parse(r.run.server_side.finished) - Date.parse(r.run.server_side.started)) / 1000;
  const same = JSON.stringify(client.report.entries) === JSON.stringify(server.report.entries);
  const rows = [
    ["client-coordinated (fresh)", client.wall, client.run.computed, "—"],
    ["server-side (fresh: upload + job)", server.wall, server.run.computed, job(server)],
    ["server-side (all stored, upload skipped)", again.wall, again.run.computed, job(again)],
  ];
  console.log("\nGPT-2 small, 288 tasks, local default (Miniflare/workerd), wall time from command start to report.json:");
  for (const [name, wall, computed, j] of rows) {
    console.log(`  ${name.padEnd(42)} ${wall.toFixed(1).padStart(6)} s   computed ${String(computed).padStart(3)}   job ${typeof j === "number" ? j.toFixed(1) + " s" : j}`);
  }
  console.log(`\nratio server-side / client-coordinated (fresh): ${(server.wall / client.wall).toFixed(2)}×; job alone / client: ${(job(server) / client.wall).toFixed(2)}×`);
  console.log(`reports agree entry for entry: ${same}`);
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  if (!same) process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
