/**
 * @module toy/cli
 * `npm run toy -- --config single-pair --out DIR [--seeds 5] [--jobs 2] [--publish URL --token T]`: trains the named toy
 * experiment for each seed (in worker threads when --jobs > 1; each run is single-threaded and
 * seeded, so the result does not depend on --jobs), prints progress and the acceptance table, and
 * writes DIR/toy.json and DIR/toy.html; with --publish, POSTs toy.json to the worker's
 * /v1/toy/reports (token from --token or HEADSCOPE_TOKEN) for the demo page. Bundled by esbuild into build/toy.mjs, next to the .wasm
 * kernels it loads. Argument parsing and file writing live here; everything else in the modules it calls.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Command, InvalidArgumentError } from "commander";
import { kernelPath, loadKernels } from "../kernels/load-node";
import { EXPERIMENTS, experimentConfigs, type ExperimentName, type ToyConfig } from "./config";
import { publishToyReport } from "./publish";
import { buildReport, formatAcceptance, renderHtml, runsOf, type ToyReport } from "./report";
import { trainToy, type ProgressEvent, type ToyRun } from "./train";

interface Job {
  cfg: ToyConfig;
  seed: number;
  wasm: string;
  printEvery: number;
  backend: "wasm" | "ts";
}

type WorkerMessage = { kind: "progress"; line: string } | { kind: "done"; run: ToyRun } | { kind: "error"; message: string };

function defaultWasm(): string {
  const beside = fileURLToPath(new URL("./kernels.release.wasm", import.meta.url));
  return existsSync(beside) ? beside : kernelPath("release");
}

function progressLine(job: Job, e: ProgressEvent): string {
  const s = e.snapshot;
  const tag = `[seed ${job.seed}${job.cfg.anisotropy ? ` c=${job.cfg.anisotropy}` : ""}]`;
  return (
    `${tag} step ${e.step}/${job.cfg.steps} recon ${e.losses.recon.toFixed(4)} ce ${e.losses.ce.toFixed(4)} ` +
    `align ${s.matchedMean.toFixed(3)} matched ${s.matchedCount}/${job.cfg.template.length} ` +
    `cos(u1) ${s.top1CosU.toFixed(3)} cos(v1) ${s.top1CosV.toFixed(3)} maxcos-others ${s.attendedMaxCosToOthers.toFixed(3)} ` +
    `σ1/σ2 ${s.sigmaRatio.toFixed(1)}`
  );
}

function runJob(job: Job, print: (line: string) => void): ToyRun {
  const kernels = loadKernels("release", job.wasm);
  const passes = job.backend === "wasm" ? kernels : undefined;
  return trainToy(
    job.cfg,
    job.seed,
    kernels,
    (e) => {
      if (e.step % job.printEvery === 0) print(progressLine(job, e));
    },
    passes,
  );
}

function runInWorker(job: Job): Promise<ToyRun> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { toyJob: job } });
    worker.on("message", (m: WorkerMessage) => {
      if (m.kind === "progress") console.log(m.line);
      else if (m.kind === "done") resolve(m.run);
      else reject(new Error(m.message));
    });
    worker.on("error", reject);
    worker.on("exit", (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

async function runAll(jobs: Job[], parallel: number): Promise<ToyRun[]> {
  if (parallel <= 1) return jobs.map((j) => runJob(j, (l) => console.log(l)));
  const results = new Array<ToyRun>(jobs.length);
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await runInWorker(jobs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, lane));
  return results;
}

/** Writes toy.json and toy.html; returns toy.json's text. */
function writeOutputs(out: string, report: ToyReport): string {
  mkdirSync(out, { recursive: true });
  const json = JSON.stringify(report);
  writeFileSync(join(out, "toy.json"), json);
  const echarts = readFileSync(createRequire(import.meta.url).resolve("echarts/dist/echarts.min.js"), "utf8");
  writeFileSync(join(out, "toy.html"), renderHtml(report, echarts));
  return json;
}

async function publish(endpoint: string, token: string | undefined, json: string): Promise<void> {
  if (!token) throw new Error("--publish needs the worker's write token: --token T or HEADSCOPE_TOKEN");
  const r = await publishToyReport(endpoint, token, json);
  console.log(`published to ${endpoint.replace(/\/+$/, "")}${r.self} (${r.stored ? "stored" : "identical report already stored"})`);
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
};
const nonNegativeInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
};

async function main(argv: string[]): Promise<void> {
  const program = new Command("toy")
    .description("Train the toy model of method §6 and measure singular-vector alignment with its features")
    .option("--config <name>", `experiment: ${EXPERIMENTS.join(", ")}`, "single-pair")
    .option("--out <dir>", "output directory for toy.json and toy.html", "out/toy")
    .option("--seeds <n>", "number of seeds", positiveInt, 1)
    .option("--seed <n>", "first seed (seeds are consecutive)", nonNegativeInt, 0)
    .option("--steps <n>", "override the number of steps", positiveInt)
    .option("--anisotropy <list>", "comma-separated c values (overrides the experiment's)")
    .option("--set <key=value...>", "override numeric config fields, e.g. --set lambda=0 featureProbability=0.1")
    .option("--jobs <n>", "runs in parallel (worker threads)", positiveInt, Math.max(1, Math.min(2, cpus().length)))
    .option("--print-every <n>", "progress line every n steps (default 10 measurements)", positiveInt)
    .option("--wasm <path>", "kernels .wasm file", defaultWasm())
    .option("--backend <name>", "per-sample passes: wasm, or ts (the TypeScript reference)", "wasm")
    .option("--rerender <toy.json,...>", "only re-render toy.html and the table from existing toy.json files (several: their runs merged into one report of --config's experiment)")
    .option("--publish <url>", "POST toy.json to this headscope worker (/v1/toy/reports) for the demo page")
    .option("--token <token>", "the worker's write token (default: HEADSCOPE_TOKEN)")
    .parse(argv);
  const o = program.opts<{
    config: string;
    out: string;
    seeds: number;
    seed: number;
    steps?: number;
    anisotropy?: string;
    set?: string[];
    jobs: number;
    printEvery?: number;
    wasm: string;
    backend: string;
    rerender?: string;
    publish?: string;
    token?: string;
  }>();
  const token = o.token ?? process.env.HEADSCOPE_TOKEN;
  if (o.publish !== undefined && !token) program.error("--publish needs the worker's write token: --token T or HEADSCOPE_TOKEN");
  if (o.rerender) {
    const files = o.rerender.split(",");
    const reports = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as ToyReport);
    // the report (acceptance, tables) is rebuilt from the stored runs with this version's rules
    const experiment = reports.length === 1 ? reports[0].experiment : o.config;
    const report = buildReport(experiment, runsOf(experiment, reports), reports[0].kernels);
    const json = writeOutputs(o.out, report);
    console.log(formatAcceptance(report));
    if (o.publish !== undefined) await publish(o.publish, token, json);
    return;
  }
  if (!(EXPERIMENTS as readonly string[]).includes(o.config)) program.error(`unknown --config ${o.config}; expected one of ${EXPERIMENTS.join(", ")}`);
  let configs = experimentConfigs(o.config as ExperimentName);
  if (o.anisotropy !== undefined) {
    const cs = o.anisotropy.split(",").map(Number);
    if (cs.some((c) => !Number.isFinite(c))) program.error(`--anisotropy: expected numbers, got ${o.anisotropy}`);
    configs = cs.map((c) => ({ ...configs[0], anisotropy: c }));
  }
  if (o.backend !== "wasm" && o.backend !== "ts") program.error(`--backend: expected wasm or ts, got ${o.backend}`);
  if (o.steps) configs = configs.map((c) => ({ ...c, steps: o.steps as number }));
  for (const kv of o.set ?? []) {
    const [key, value] = kv.split("=");
    const v = Number(value);
    if (!(key in configs[0]) || typeof configs[0][key as keyof ToyConfig] !== "number" || !Number.isFinite(v)) {
      program.error(`--set ${kv}: expected a numeric config field (${Object.keys(configs[0]).filter((k) => typeof configs[0][k as keyof ToyConfig] === "number").join(", ")})`);
    }
    configs = configs.map((c) => ({ ...c, [key]: v }));
  }
  const jobs: Job[] = configs.flatMap((cfg) =>
    Array.from({ length: o.seeds }, (_, i) => ({ cfg, seed: o.seed + i, wasm: o.wasm, printEvery: o.printEvery ?? cfg.measureEvery * 10, backend: o.backend as "wasm" | "ts" })),
  );
  const kernels = loadKernels("release", o.wasm);
  console.log(`toy ${o.config}: ${jobs.length} run(s), ${o.jobs} in parallel, kernels ${kernels.name} (simd ${kernels.simd}), passes ${o.backend}`);
  const t0 = performance.now();
  const runs = await runAll(jobs, o.jobs);
  const wall = (performance.now() - t0) / 1000;
  for (const r of runs) {
    console.log(`seed ${r.seed} c=${r.config.anisotropy}: ${r.config.steps} steps in ${r.timing.wallSeconds.toFixed(1)} s (${r.timing.stepsPerSecond.toFixed(1)} steps/s training, ${r.timing.measureSeconds.toFixed(1)} s measuring)`);
  }
  const report = buildReport(o.config, runs, { name: kernels.name, simd: kernels.simd });
  const json = writeOutputs(o.out, report);
  console.log(formatAcceptance(report));
  console.log(`wall time ${wall.toFixed(1)} s; wrote ${join(o.out, "toy.json")} and ${join(o.out, "toy.html")}`);
  if (o.publish !== undefined) await publish(o.publish, token, json);
}

if (!isMainThread && workerData?.toyJob) {
  const job = workerData.toyJob as Job;
  try {
    const run = runJob(job, (line) => parentPort?.postMessage({ kind: "progress", line } satisfies WorkerMessage));
    parentPort?.postMessage({ kind: "done", run } satisfies WorkerMessage);
  } catch (err) {
    parentPort?.postMessage({ kind: "error", message: err instanceof Error ? err.message : String(err) } satisfies WorkerMessage);
  }
} else {
  main(process.argv).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
