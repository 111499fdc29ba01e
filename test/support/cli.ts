/**
 * Runs the built CLI (build/cli/headscope.mjs) as a child process, as a user would. The node
 * project's global setup (build-once.ts) builds it once before any test file runs.
 */
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "./paths";

export const ROOT = PROJECT_ROOT;
export const CLI = join(ROOT, "build/cli/headscope.mjs");

export function buildCli(): void {
  execFileSync(process.execPath, [join(ROOT, "scripts/build-cli.mjs")], { cwd: ROOT, stdio: "inherit" });
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `headscope …args`; onStderr sees each chunk as it arrives (e.g. to interrupt mid-way). */
export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; onStderr?: (chunk: string, all: string) => void } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, CI: "true", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => {
      stderr += c;
      opts.onStderr?.(String(c), stderr);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
