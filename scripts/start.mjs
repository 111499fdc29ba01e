#!/usr/bin/env node
/**
 * `npm start`: serves the worker on 127.0.0.1:8787 through `wrangler dev` (local workerd, local R2
 * and KV persisted under .wrangler/state), fully offline. The write token comes from HEADSCOPE_TOKEN;
 * when unset, one is generated and printed. Expects the kernels to be built (npm start builds them).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { workerdGuardEnv, wranglerCommand } from "./runtime/guard.mjs";

const port = process.env.PORT ?? "8787";
const ip = process.env.HOST ?? "127.0.0.1";
if (!existsSync(new URL("../build/kernels.release.wasm", import.meta.url))) {
  console.error("build/kernels.release.wasm is missing: run `npm run asbuild` (npm start does this)");
  process.exit(1);
}
let token = process.env.HEADSCOPE_TOKEN;
if (!token) {
  token = randomBytes(24).toString("base64url");
  console.log(`HEADSCOPE_TOKEN was not set; this server's write token is:\n\n  ${token}\n`);
}
console.log(`headscope: serving on http://${ip}:${port} (local R2 and KV in .wrangler/state)`);

// the token reaches wrangler through a file only this user can read, never its command line (ps shows
// every process's arguments to every user); the file is removed when this script ends
const envDir = mkdtempSync(join(tmpdir(), "headscope-start-"));
const envFile = join(envDir, "token.env");
writeFileSync(envFile, `HEADSCOPE_TOKEN=${token}\n`, { mode: 0o600 });
process.on("exit", () => rmSync(envDir, { recursive: true, force: true }));

// guarded (scripts/runtime/guard.mjs): wrangler dies with this script and workerd with wrangler,
// even when this script is killed with SIGKILL
const root = fileURLToPath(new URL("..", import.meta.url));
const child = spawn(
  ...wranglerCommand(root, [
    "dev", "--ip", ip, "--port", port, "--env-file", envFile, "--show-interactive-dev-session=false",
    ...process.argv.slice(2),
  ]),
  {
    stdio: "inherit",
    env: {
      ...process.env,
      ...workerdGuardEnv(root),
      // no telemetry, update check or Request.cf fetch: the local runtime stays offline
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_HIDE_BANNER: "true",
    },
  },
);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
