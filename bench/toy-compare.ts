/**
 * @module bench/toy-compare
 * Seed-for-seed comparison of the project's toy trainer with the numpy port (bench/toy_numpy.py): the
 * project trains one seed as `npm run toy` does (WebAssembly step, float64) and streams its initial
 * weights, its shared direction e, every step's two batches and, every `--every` steps, its parameters
 * through a named pipe to `toy_numpy.py --replay`, which trains one numpy model per dtype (float32 and
 * float64) on exactly that data from exactly that start. Printed: per compared step the relative
 * Frobenius difference of W and of Ω = W_Q W_Kᵀ between each numpy model and the project, and the mean
 * matched |cos| and matched counts of all three; at the end the final measurements side by side. So a
 * difference in the result is either an implementation difference (visible from step 1) or the
 * arithmetic's precision amplified by training (the differences grow from rounding level).
 *
 * `npm run bench:toy-compare -- --seed 1 [--steps 5000] [--every 50] [--config many-pairs]
 *  [--anisotropy 0] [--dtypes float32,float64] [--out out/toy-compare]`
 * writes OUT/seed-S/numpy.jsonl (the port's lines), OUT/seed-S/toy.json (the project's run, mergeable with
 * `npm run toy -- --rerender`) and OUT/seed-S/compare.json (the table).
 */
import { spawn, execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadKernels } from "../src/kernels/load-node";
import { experimentConfigs, type ExperimentName } from "../src/toy/config";
import type { ToyParams } from "../src/toy/model";
import { buildReport } from "../src/toy/report";
import type { SparseTokens } from "../src/toy/sampling";
import { trainToy } from "../src/toy/train";

const MAGIC = 0x544f5931;
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
const seed = Number(a.seed);
const every = Number(a.every);
const base = experimentConfigs(a.config as ExperimentName)[0];
if (!base) throw new Error(`unknown --config ${a.config}`);
const cfg = { ...base, anisotropy: Number(a.anisotropy), ...(a.steps ? { steps: Number(a.steps) } : {}) };
const dir = join(a.out as string, `seed-${seed}${cfg.anisotropy ? `-c${cfg.anisotropy}` : ""}`);
mkdirSync(dir, { recursive: true });
const fifo = join(dir, "stream.fifo");
if (existsSync(fifo)) rmSync(fifo);
execFileSync("mkfifo", [fifo]);

const py = spawn("python3", [join(here, "../bench/toy_numpy.py"), "--config", cfg.name === "anisotropy" ? "many-pairs" : cfg.name, "--replay", fifo, "--dtypes", a.dtypes as string, "--out", join(dir, "numpy.jsonl")], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
});
const pyDone = new Promise<number>((resolve) => py.on("exit", (code) => resolve(code ?? 1)));
const fd = openSync(fifo, "w"); // blocks until the port opens the pipe

function put(bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}
const ints = (...xs: number[]) => put(new Uint8Array(Int32Array.from(xs).buffer));
const floats = (x: Float64Array) => put(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
const params = (p: ToyParams) => [p.w, p.b, p.wQ, p.wK].forEach(floats);
function tokens(t: SparseTokens): void {
  const nnz = t.ptr[t.tokens];
  put(new Uint8Array(t.ptr.buffer, t.ptr.byteOffset, 4 * (t.tokens + 1)));
  put(new Uint8Array(t.idx.buffer, t.idx.byteOffset, 4 * nnz));
  floats(t.val.subarray(0, nnz));
}

const kernels = loadKernels("release", join(here, "kernels.release.wasm"));
const t0 = performance.now();
const run = trainToy(
  { ...cfg, measureEvery: every },
  seed,
  kernels,
  (e) => {
    if (e.step % (every * 10) === 0) console.log(`project seed ${seed} step ${e.step}: align ${e.snapshot.matchedMean.toFixed(4)} matched ${e.snapshot.matchedCount}`);
  },
  kernels,
  (step, p, recon, attn, e) => {
    if (step === 0) {
      ints(MAGIC, cfg.nFeatures, cfg.dModel, cfg.dHead, cfg.keysPerQuery, cfg.steps);
      floats(Float64Array.of(cfg.anisotropy));
      params(p);
      floats(e);
    }
    const send = step % every === 0;
    ints(step, send ? 1 : 0, recon.tokens, recon.ptr[recon.tokens], attn.tokens, attn.ptr[attn.tokens]);
    if (send) params(p);
    tokens(recon);
    tokens(attn);
  },
);
const projectSeconds = (performance.now() - t0) / 1000;
ints(-1, 0, 0, 0, 0, 0);
const w = Float64Array.from(run.final.params.w.flat());
const wQ = Float64Array.from(run.final.params.wQ.flat());
const wK = Float64Array.from(run.final.params.wK.flat());
params({ w, b: Float64Array.from(run.final.params.b), wQ, wK });
closeSync(fd);
writeFileSync(join(dir, "toy.json"), JSON.stringify(buildReport(cfg.name, [run], { name: kernels.name, simd: kernels.simd })));
const code = await pyDone;
rmSync(fifo);
if (code !== 0) throw new Error(`toy_numpy.py --replay exited with ${code}`);

interface Row { step: number; dtype: string; final: boolean; relW: number; relOmega: number; matchedMean: number; matched09: number; matched08: number; spearman: number | null }
const lines = readFileSync(join(dir, "numpy.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Row & { replaySeconds?: number });
const rows = lines.filter((l) => l.replaySeconds === undefined);
const dtypes = (a.dtypes as string).split(",");
const at = (step: number) => run.curves.step.indexOf(step);
const table = run.curves.step.map((step) => {
  const i = at(step);
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
  ...Object.fromEntries(dtypes.map((d) => {
    const r = rows.find((x) => x.dtype === d && x.final) as Row;
    return [d, { matchedMean: r.matchedMean, matched09: r.matched09, matched08: r.matched08, spearman: r.spearman, relW: r.relW, relOmega: r.relOmega }];
  })),
  projectSeconds,
  numpySeconds: lines.find((l) => l.replaySeconds !== undefined)?.replaySeconds,
};
writeFileSync(join(dir, "compare.json"), JSON.stringify({ final, table }, null, 1));
const fmt = (x: number) => (x === 0 ? "0" : x.toExponential(1));
console.log(["step", "project align", ...dtypes.flatMap((d) => [`${d} align`, `${d} ΔW`, `${d} ΔΩ`])].join(" | "));
for (const e of table) {
  const step = e.step as number;
  if (!(step <= 10 * every ? step % every === 0 : step % (every * 10) === 0) && step !== cfg.steps) continue;
  const p = e.project as { matchedMean: number };
  console.log([step, p.matchedMean.toFixed(4), ...dtypes.flatMap((d) => {
    const r = e[d] as { matchedMean: number; relW: number; relOmega: number } | undefined;
    return r ? [r.matchedMean.toFixed(4), fmt(r.relW), fmt(r.relOmega)] : ["—", "—", "—"];
  })].join(" | "));
}
console.log(JSON.stringify(final));
