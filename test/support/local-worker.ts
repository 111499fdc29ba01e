/**
 * Starts the real worker with `wrangler dev` (local workerd, local R2 and KV in a fresh temporary
 * directory) on a free loopback port, for tests that need a server a browser or the CLI can reach.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT as ROOT } from "./paths";

const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

export interface LocalWorker {
  url: string;
  token: string;
  /** the --persist-to directory (read it with stored-state.ts after stop({ keepState: true })) */
  persistDir: string;
  stop(opts?: { keepState?: boolean }): Promise<void>;
  /** SIGKILL wrangler and workerd at once (a crash): the state directory is kept */
  kill(): Promise<void>;
}

export interface LocalWorkerOptions {
  token?: string;
  /** reuse a state directory (a restart after kill()) instead of a fresh one */
  persistDir?: string;
}

export async function startLocalWorker(opts: LocalWorkerOptions = {}): Promise<LocalWorker> {
  const token = opts.token ?? "local-test-token";
  const state = opts.persistDir ?? mkdtempSync(join(tmpdir(), "headscope-state-"));
  const child: ChildProcess = spawn(
    process.execPath,
    [WRANGLER, "dev", "--ip", "127.0.0.1", "--port", "0", "--persist-to", state, "--var", `HEADSCOPE_TOKEN:${token}`, "--show-interactive-dev-session=false"],
    {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true", CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
      // its own process group, so a crash can take workerd down with wrangler
      detached: true,
    },
  );
  let log = "";
  // port 0: workerd binds a free port itself and wrangler prints it, so no other process can take it
  // between a probe and the bind
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev did not start in 60 s:\n${log}`)), 60_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      const ready = /Ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`wrangler dev exited with ${code}:\n${log}`));
    });
  });
  return {
    url,
    token,
    persistDir: state,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(-child.pid!, "SIGKILL");
      await exited;
    },
    async stop(opts = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
      }
      if (!opts.keepState) rmSync(state, { recursive: true, force: true });
    },
  };
}
