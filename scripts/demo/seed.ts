/**
 * Fills a headscope worker with what the demo page shows, using the scan CLI as a user would:
 * every GPT-2 small head (QK and OV, default variants) and, for the prediction view, SAD of layer 0's
 * QK heads on position-only inputs (x_p = ln_1(wpe[p]), p < 128, raw augmented variant: the setting
 * of shared/reference/gpt2-small-sad-L0-positions.json).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeSafetensors } from "../../src/wire/safetensors";
import { GPT2_PATH, normalisedPositions } from "../../test/support/gpt2";
import { PROJECT_ROOT } from "../../test/support/paths";

export const DEMO_MODEL = "gpt2-small";
export const DEMO_POSITIONS = 128;

function cli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, "build/cli/headscope.mjs"), ...args], {
      cwd: PROJECT_ROOT,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`headscope ${args[0]} exited with ${code}`))));
  });
}

export async function seedDemo(o: { endpoint: string; token: string; checkpoint?: string; progress?: string }) {
  const tmp = mkdtempSync(join(tmpdir(), "headscope-seed-"));
  try {
    const checkpoint = o.checkpoint ?? GPT2_PATH;
    const common = ["--endpoint", o.endpoint, "--token", o.token, "--model-name", DEMO_MODEL, "--progress", o.progress ?? "plain"];
    await cli(["scan", checkpoint, "--out", join(tmp, "all"), ...common]);
    const acts = join(tmp, "positions.safetensors");
    writeFileSync(acts, encodeSafetensors({ "layer.0": { dtype: "F32", shape: [DEMO_POSITIONS, 768], data: normalisedPositions(DEMO_POSITIONS) } }));
    await cli(["scan", checkpoint, "--out", join(tmp, "sad"), ...common, "--layers", "0", "--circuits", "qk", "--variants", "raw_augmented", "--activations", acts]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
