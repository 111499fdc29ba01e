/**
 * Fills a headscope worker with what the demo page shows, using the scan CLI as a user would:
 * every GPT-2 small head (QK and OV, default variants) and, for the prediction view, SAD of layer 0's
 * QK heads on position-only inputs (x_p = ln_1(wpe[p]), p < 128, raw augmented variant: the setting
 * of shared/reference/gpt2-small-sad-L0-positions.json), and, for the toy view, one single-pair toy
 * run (seed 0, the default configuration of method §6: about 4 s here) published with the toy CLI's
 * --publish.
 */
import { spawn } from "node:child_process";
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeSafetensors } from "../../src/wire/safetensors";
import { GPT2_PATH, normalisedPositions } from "../../test/support/gpt2";
import { PROJECT_ROOT } from "../../test/support/paths";
import { guardedCommand } from "../runtime/guard.mjs";

export const DEMO_MODEL = "gpt2-small";
export const DEMO_POSITIONS = 128;

export const DEMO_TOY_EXPERIMENT = "single-pair";

/** Runs a project script; the write token goes in HEADSCOPE_TOKEN, never on a command line (ps shows those to everyone). */
function run(script: string, args: string[], token: string, quiet = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(...guardedCommand(PROJECT_ROOT, process.execPath, [join(PROJECT_ROOT, script), ...args]), {
      cwd: PROJECT_ROOT,
      env: { ...process.env, HEADSCOPE_TOKEN: token },
      stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${script} ${args[0]} exited with ${code}`))));
  });
}

const cli = (args: string[], token: string) => run("build/cli/headscope.mjs", args, token);

/** Bundles the toy CLI as `npm run toy:build` does (beside build/kernels.release.wasm, which build-cli.mjs builds). */
async function buildToyCli(): Promise<void> {
  await build({
    entryPoints: [join(PROJECT_ROOT, "src/toy/cli.ts")], outfile: join(PROJECT_ROOT, "build/toy.mjs"),
    bundle: true, platform: "node", format: "esm", packages: "external", logLevel: "warning",
  });
}

export async function seedDemo(o: { endpoint: string; token: string; checkpoint?: string; progress?: string }) {
  const tmp = mkdtempSync(join(tmpdir(), "headscope-seed-"));
  try {
    const checkpoint = o.checkpoint ?? GPT2_PATH;
    const common = ["--endpoint", o.endpoint, "--model-name", DEMO_MODEL, "--progress", o.progress ?? "plain"];
    await cli(["scan", checkpoint, "--out", join(tmp, "all"), ...common], o.token);
    const acts = join(tmp, "positions.safetensors");
    writeFileSync(acts, encodeSafetensors({ "layer.0": { dtype: "F32", shape: [DEMO_POSITIONS, 768], data: normalisedPositions(DEMO_POSITIONS) } }));
    await cli(["scan", checkpoint, "--out", join(tmp, "sad"), ...common, "--layers", "0", "--circuits", "qk", "--variants", "raw_augmented", "--activations", acts], o.token);
    await buildToyCli();
    await run(
      "build/toy.mjs",
      ["--config", DEMO_TOY_EXPERIMENT, "--seeds", "1", "--jobs", "1", "--out", join(tmp, "toy"), "--publish", o.endpoint],
      o.token,
      o.progress === "quiet",
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
