/**
 * @module bench/toy
 * Training speed of the toy model (method §6), steps per second of training (measurements excluded):
 * the full single-pair run (3,000 steps) with the WebAssembly step and with the TypeScript reference,
 * then many-pairs (N = 100, D = H = 50, batch 1,024) with the WebAssembly step against the numpy port
 * bench/toy_numpy.py, both run here, interleaved, in the same process tree, so machine load hits both
 * alike, numpy with one BLAS thread as the project's run has one thread. Prints one JSON line per
 * case, then a table with the ratio wasm / numpy.
 * Bundled by `npm run bench:toy` into build/toy.bench.mjs, next to the .wasm kernels.
 * Options (environment): TOY_BENCH_STEPS (many-pairs steps, default 300), TOY_BENCH_ROUNDS (default 2).
 */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadKernels } from "../src/kernels/load-node";
import { MANY_PAIRS, SINGLE_PAIR, type ToyConfig } from "../src/toy/config";
import { trainToy } from "../src/toy/train";
import { handleUsage } from "../scripts/usage.mjs";

handleUsage(`npm run bench:toy

Training speed of the toy model (many-pairs) in WebAssembly against the numpy port (bench/toy_numpy.py).

Environment: TOY_BENCH_STEPS, TOY_BENCH_ROUNDS.`, { flags: {}, positionals: 0 });

const here = dirname(fileURLToPath(import.meta.url));
const kernels = loadKernels("release", join(here, "kernels.release.wasm"));
const steps = Number(process.env.TOY_BENCH_STEPS ?? 300);
const rounds = Number(process.env.TOY_BENCH_ROUNDS ?? 2);

const rows: string[] = [];
function project(name: string, cfg: ToyConfig, backend: "wasm" | "ts"): number {
  const t0 = performance.now();
  const run = trainToy({ ...cfg, measureEvery: cfg.steps }, 0, kernels, undefined, backend === "wasm" ? kernels : undefined);
  const result = {
    case: name, backend: run.backend, steps: cfg.steps, wallSeconds: +((performance.now() - t0) / 1000).toFixed(2),
    stepsPerSecond: +run.timing.stepsPerSecond.toFixed(1), alignment: +run.final.matchedMean.toFixed(4),
  };
  console.log(JSON.stringify(result));
  rows.push(`${name} | ${run.backend} | ${result.stepsPerSecond} steps/s`);
  return run.timing.stepsPerSecond;
}

function numpy(name: string, cfgName: string, n: number): number | null {
  try {
    const out = execFileSync("python3", [join(here, "../bench/toy_numpy.py"), "--config", cfgName, "--steps", String(n), "--seeds", "0"], {
      encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
      // one BLAS thread: a project run is one thread too (seeds go to worker threads in both cases)
      env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
    });
    const r = JSON.parse(out.trim().split("\n").pop() as string) as { stepsPerSecond: number; dtype: string; numpy: string };
    console.log(JSON.stringify({ case: name, backend: `numpy ${r.numpy} ${r.dtype}`, steps: n, stepsPerSecond: +r.stepsPerSecond.toFixed(1) }));
    rows.push(`${name} | numpy ${r.numpy} ${r.dtype} | ${r.stepsPerSecond.toFixed(1)} steps/s`);
    return r.stepsPerSecond;
  } catch (e) {
    console.log(`numpy: not run (${(e as Error).message.split("\n")[0]})`);
    return null;
  }
}

project("single-pair full (3000 steps)", SINGLE_PAIR, "wasm");
project("single-pair full (3000 steps)", SINGLE_PAIR, "ts");
const wasm: number[] = [];
const np: number[] = [];
for (let r = 0; r < rounds; r++) {
  wasm.push(project(`many-pairs ${steps} steps`, { ...MANY_PAIRS, steps }, "wasm"));
  const x = numpy(`many-pairs ${steps} steps`, "many-pairs", steps);
  if (x !== null) np.push(x);
}
const best = (v: number[]) => Math.max(...v);
console.log(["case | backend | training speed", ...rows].join("\n"));
if (np.length) {
  const ratio = best(wasm) / best(np);
  console.log(`many-pairs: wasm ${best(wasm).toFixed(1)} steps/s vs numpy ${best(np).toFixed(1)} steps/s (best of ${rounds}, same run): ratio wasm / numpy = ${ratio.toFixed(2)}×`);
}
