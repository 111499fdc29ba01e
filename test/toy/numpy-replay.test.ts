/**
 * The project's toy trainer against the independent numpy port (bench/toy_numpy.py) on the same data:
 * the port replays the project's initial weights and batches (bench/toy-replay.ts), so in float64 both
 * trajectories must agree to rounding step by step (any difference in loss, gradients, schedule or AdamW
 * would show within a few steps), and in float32 to float32's rounding. Skipped without python3, numpy
 * and scipy.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { replayInNumpy } from "../../bench/toy-replay";
import { loadKernels } from "../../src/kernels/load-node";
import { SINGLE_PAIR } from "../../src/toy/config";

const numpy = spawnSync("python3", ["-c", "import numpy, scipy"]).status === 0;

describe.skipIf(!numpy)("toy trainer against the numpy port, same initial weights and batches", () => {
  it("float64 follows the project to rounding for 40 steps (with token-side anisotropy); float32 to float32's rounding", async () => {
    const kernels = loadKernels();
    const cfg = { ...SINGLE_PAIR, steps: 40, measureEvery: 10, anisotropy: 0.3, sadSamples: 0 };
    const r = await replayInNumpy(cfg, 5, { portConfig: "single-pair", every: 10, dtypes: ["float64", "float32"], dir: mkdtempSync(join(tmpdir(), "toy-replay-")), kernels, passes: kernels });
    const f64 = r.rows.filter((x) => x.dtype === "float64");
    const f32 = r.rows.filter((x) => x.dtype === "float32");
    expect(f64.map((x) => x.step)).toEqual([0, 10, 20, 30, 40]);
    expect(f64.at(-1)?.final).toBe(true);
    for (const x of f64) {
      expect(x.relW).toBeLessThan(1e-12);
      expect(x.relOmega).toBeLessThan(1e-12);
    }
    // training moved the parameters, so agreement is not trivial
    expect(r.run.curves.alignment.at(-1)).not.toBeCloseTo(r.run.curves.alignment[0], 2);
    expect(f64.at(-1)?.matchedMean).toBeCloseTo(r.run.final.matchedMean, 9);
    for (const x of f32) {
      expect(x.relW).toBeLessThan(1e-4);
      expect(x.relOmega).toBeLessThan(1e-4);
    }
    expect(Math.max(...f32.map((x) => x.relW))).toBeGreaterThan(1e-9); // it really ran in float32
  }, 120_000);
});
