/**
 * @module bench/toy-compare
 * Seed-for-seed comparison of the project's toy trainer with the numpy port (bench/toy_numpy.py): the
 * project trains one seed as `npm run toy` does (WebAssembly step, float64) and streams its initial
 * weights, e and every step's batches to `toy_numpy.py --replay` (bench/toy-replay.ts), which trains one
 * numpy model per dtype (float32 and float64) on exactly that data from exactly that start. Printed: per
 * compared step the relative Frobenius difference of W and of Ω = W_Q W_Kᵀ between each numpy model and
 * the project, and the mean matched |cos| of all three; at the end the final measurements side by side.
 * So a difference in the result is either an implementation difference (visible from the first steps)
 * or the arithmetic's rounding amplified by training (differences growing from rounding level).
 *
 * `npm run bench:toy-compare -- --seed 1 [--steps 5000] [--every 50] [--config many-pairs]
 *  [--anisotropy 0] [--dtypes float32,float64] [--out out/toy-compare]`
 * writes OUT/seed-S/numpy.jsonl (the port's lines), OUT/seed-S/toy.json (the project's run, mergeable with
 * `npm run toy -- --rerender`) and OUT/seed-S/compare.json (the table).
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadKernels } from "../src/kernels/load-node";
import { EXPERIMENTS, experimentConfigs, type ExperimentName } from "../src/toy/config";
import { buildReport } from "../src/toy/report";
import { replayInNumpy } from "./toy-replay";

const here = dirname(fileURLToPath(import.meta.url));
const { values: a } = parseArgs({
  options: {
    seed: { type: "string", default: "0" },
    steps: { type: "string" },
    every: { type: "string", default: "50" },
    config: { type: "string", default: "many-pairs" },
    anisotropy: { type: "string", default: "0" },
    dtypes: { type: "string", default: "float32,float64" },
    out: { type: "string", default: "out/toy-compare" },
  },
});
if (!(EXPERIMENTS as readonly string[]).includes(a.config as string)) {
  throw new Error(`--config: expected one of ${EXPERIMENTS.join(", ")}`);
}
const seed = Number(a.seed);
const every = Number(a.every);
const base = experimentConfigs(a.config as ExperimentName)[0];
const cfg = { ...base, anisotropy: Number(a.anisotropy), measureEvery: every, ...(a.steps ? { steps: Number(a.steps) } : {}) };
const dir = join(a.out as string, `seed-${seed}${cfg.anisotropy ? `-c${cfg.anisotropy}` : ""}`);
const dtypes = (a.dtypes as string).split(",");
const kernels = loadKernels("release", join(here, "kernels.release.wasm"));

const { run, rows, projectSeconds, numpySeconds } = await replayInNumpy(cfg, seed, {
  portConfig: cfg.name === "anisotropy" ? "many-pairs" : cfg.name,
  every,
  dtypes,
  dir,
  kernels,
  passes: kernels,
  onMeasure: (e) => {
    if (e.step % (every * 10) === 0) console.log(`project seed ${seed} step ${e.step}: align ${e.snapshot.matchedMean.toFixed(4)} matched ${e.snapshot.matchedCount}`);
  },
});
writeFileSync(join(dir, "toy.json"), JSON.stringify(buildReport(cfg.name, [run], { name: kernels.name, simd: kernels.simd })));

const table = run.curves.step.map((step, i) => {
  const entry: Record<string, unknown> = { step, project: { matchedMean: run.curves.alignment[i], matched08: run.curves.matchedCount[i] } };
  for (const d of dtypes) {
    const r = rows.find((x) => x.dtype === d && x.step === step && (x.final || step < cfg.steps));
    if (r) entry[d] = { relW: r.relW, relOmega: r.relOmega, matchedMean: r.matchedMean, matched08: r.matched08 };
  }
  return entry;
});
const final = {
  seed,
  anisotropy: cfg.anisotropy,
  steps: cfg.steps,
  project: {
    matchedMean: run.final.matchedMean,
    matched09: run.final.matchedCounts.find((m) => m.threshold === 0.9)?.count,
    matched08: run.final.matchedCounts.find((m) => m.threshold === 0.8)?.count,
    spearman: run.final.spearman,
  },
  ...Object.fromEntries(
    dtypes.map((d) => {
      const r = rows.find((x) => x.dtype === d && x.final);
      return [d, r && { matchedMean: r.matchedMean, matched09: r.matched09, matched08: r.matched08, spearman: r.spearman, relW: r.relW, relOmega: r.relOmega }];
    }),
  ),
  projectSeconds,
  numpySeconds,
};
writeFileSync(join(dir, "compare.json"), JSON.stringify({ final, table }, null, 1));
const fmt = (x: number) => (x === 0 ? "0" : x.toExponential(1));
console.log(["step", "project align", ...dtypes.flatMap((d) => [`${d} align`, `${d} ΔW`, `${d} ΔΩ`])].join(" | "));
for (const e of table) {
  const step = e.step as number;
  if (!(step <= 10 * every ? step % every === 0 : step % (every * 10) === 0) && step !== cfg.steps) continue;
  const p = e.project as { matchedMean: number };
  console.log(
    [
      step,
      p.matchedMean.toFixed(4),
      ...dtypes.flatMap((d) => {
        const r = e[d] as { matchedMean: number; relW: number; relOmega: number } | undefined;
        return r ? [r.matchedMean.toFixed(4), fmt(r.relW), fmt(r.relOmega)] : ["—", "—", "—"];
      }),
    ].join(" | "),
  );
}
console.log(JSON.stringify(final));
