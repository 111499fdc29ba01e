/**
 * @module bench/toy
 * Times the full single-pair toy run (method §6: 3,000 steps, batch 1024, m 8; target < 60 s) with the
 * WebAssembly passes and with the TypeScript reference, plus a short many-pairs run, and reports steps
 * per second (training only, measurements excluded) and wall time. Bundled by `npm run bench:toy` into
 * build/toy.bench.mjs, next to the .wasm kernels. Prints one JSON line per case, then a table.
 */
import { fileURLToPath } from "node:url";
import { loadKernels } from "../src/kernels/load-node";
import { MANY_PAIRS, SINGLE_PAIR, type ToyConfig } from "../src/toy/config";
import { trainToy } from "../src/toy/train";

const wasmPath = fileURLToPath(new URL("./kernels.release.wasm", import.meta.url));
const kernels = loadKernels("release", wasmPath);
const passes = loadKernels("release", wasmPath);

interface Case {
  name: string;
  cfg: ToyConfig;
  backend: "wasm" | "ts";
}

const cases: Case[] = [
  { name: "single-pair full (3000 steps)", cfg: SINGLE_PAIR, backend: "wasm" },
  { name: "single-pair full (3000 steps)", cfg: SINGLE_PAIR, backend: "ts" },
  { name: "many-pairs 300 steps", cfg: { ...MANY_PAIRS, steps: 300 }, backend: "wasm" },
  { name: "many-pairs 300 steps", cfg: { ...MANY_PAIRS, steps: 300 }, backend: "ts" },
];

const rows: string[] = [];
for (const c of cases) {
  const t0 = performance.now();
  const run = trainToy(c.cfg, 0, kernels, undefined, c.backend === "wasm" ? passes : undefined);
  const wall = (performance.now() - t0) / 1000;
  const result = {
    case: c.name,
    backend: run.backend,
    steps: c.cfg.steps,
    wallSeconds: +wall.toFixed(2),
    stepsPerSecond: +run.timing.stepsPerSecond.toFixed(1),
    measureSeconds: +run.timing.measureSeconds.toFixed(2),
    alignment: +run.final.matchedMean.toFixed(4),
  };
  console.log(JSON.stringify(result));
  rows.push(`${c.name} | ${run.backend} | ${result.wallSeconds} s | ${result.stepsPerSecond} steps/s | alignment ${result.alignment}`);
}
console.log(["case | passes | wall | training speed | final alignment", ...rows].join("\n"));
