/**
 * Starts the real worker with `wrangler dev` (local workerd, local R2 and KV in a fresh temporary
 * directory) on a free loopback port, for tests that need a server a browser or the CLI can reach.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workerdGuardEnv, wranglerCommand } from "../../scripts/runtime/guard.mjs";
import { freePort } from "../../src/cli/local-worker";
import { PROJECT_ROOT as ROOT } from "./paths";

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

/** What wrangler prints when a port it was given is taken after all. */
const PORT_TAKEN = /address already in use|EADDRINUSE/i;

export async function startLocalWorker(opts: LocalWorkerOptions = {}): Promise<LocalWorker> {
  const token = opts.token ?? "local-test-token";
  const state = opts.persistDir ?? mkdtempSync(join(tmpdir(), "headscope-state-"));
  // A free port is only free until someone else binds it, and wrangler needs a fixed one (with
  // --port 0 it binds a new port on every reload, so the URL it printed goes stale): when the port
  // was taken in between, start again on new ports instead of failing the test.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // the inspector gets a free port too: wrangler's default, 9229, is shared by every wrangler dev on
    // the machine, and two starting at once race for it ("Address already in use" from workerd)
    const started = await launch(port, await freePort(), token, state);
    if (started.ok) return { ...started.worker, url: `http://127.0.0.1:${port}` };
    if (!PORT_TAKEN.test(started.log) || attempt >= 5) throw new Error(started.message);
  }
}

type Launch = { ok: true; worker: Omit<LocalWorker, "url"> } | { ok: false; log: string; message: string };

async function launch(port: number, inspectorPort: number, token: string, state: string): Promise<Launch> {
  // guarded: wrangler dies with this process, and its workerd with wrangler, even on SIGKILL
  const child: ChildProcess = spawn(
    ...wranglerCommand(ROOT,
      ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", state, "--var", `HEADSCOPE_TOKEN:${token}`, "--show-interactive-dev-session=false"]),
    {
      cwd: ROOT,
      env: {
        ...process.env, ...workerdGuardEnv(ROOT),
        WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true", CI: "true",
      },
      stdio: ["ignore", "pipe", "pipe"],
      // its own process group, so a crash can take workerd down with wrangler
      detached: true,
    },
  );
  let log = "";
  const killGroup = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
  };
  const ready = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => {
      killGroup();
      resolve(`wrangler dev did not start in 60 s:\n${log}`);
    }, 60_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      if (/Ready on http/.test(log)) {
        clearTimeout(timer);
        resolve(undefined);
      } else if (PORT_TAKEN.test(log)) {
        clearTimeout(timer);
        killGroup();
        resolve(`wrangler dev could not bind its port:\n${log}`);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(`wrangler dev exited with ${code}:\n${log}`);
    });
  });
  if (ready !== undefined) return { ok: false, log, message: ready };
  return {
    ok: true,
    worker: {
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
    },
  };
}
