/**
 * @module bench/toy-replay
 * Trains one toy run in the project while the numpy port (bench/toy_numpy.py --replay) trains on exactly
 * the same data: the project's initial weights, its shared direction e and every step's two batches go
 * through a named pipe, and every `every` steps (and at the end) the project's parameters too, against
 * which the port measures its own models (one per dtype). The stream's layout is documented in the
 * port's `Stream` class. Used by bench/toy-compare.ts and test/toy/numpy-replay.test.ts.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Kernels, ToyPasses } from "../src/kernels/types";
import type { ToyConfig } from "../src/toy/config";
import type { ToyParams } from "../src/toy/model";
import type { SparseTokens } from "../src/toy/sampling";
import { trainToy, type ProgressEvent, type ToyRun } from "../src/toy/train";

const MAGIC = 0x544f5931;
const PORT = join(dirname(fileURLToPath(import.meta.url)), "../bench/toy_numpy.py");

/** One line of the port's output: its model of `dtype` at `step` against the project's parameters there. */
export interface ReplayRow {
  step: number;
  dtype: string;
  final: boolean;
  /** ‖W_numpy − W_project‖ / ‖W_project‖ */
  relW: number;
  /** the same for Ω = W_Q W_Kᵀ */
  relOmega: number;
  matchedMean: number;
  matched09: number;
  matched08: number;
  spearman: number | null;
}

export interface Replay {
  run: ToyRun;
  rows: ReplayRow[];
  projectSeconds: number;
  numpySeconds: number;
}

/**
 * @param portConfig - the port's configuration name whose λ, β, p, learning rate and schedule match `cfg`'s
 * @param dir - where the pipe and the port's JSON lines (numpy.jsonl) go
 */
export async function replayInNumpy(
  cfg: ToyConfig,
  seed: number,
  opts: { portConfig: string; every: number; dtypes: string[]; dir: string; kernels: Pick<Kernels, "factoredSvd">; passes?: ToyPasses; onMeasure?: (e: ProgressEvent) => void },
): Promise<Replay> {
  const { every, dir } = opts;
  mkdirSync(dir, { recursive: true });
  const fifo = join(dir, "stream.fifo");
  const out = join(dir, "numpy.jsonl");
  if (existsSync(fifo)) rmSync(fifo);
  execFileSync("mkfifo", [fifo]);
  const py = spawn("python3", [PORT, "--config", opts.portConfig, "--replay", fifo, "--dtypes", opts.dtypes.join(","), "--out", out], {
    stdio: ["ignore", "inherit", "inherit"],
    // one BLAS thread, as the project's run has one thread
    env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
  });
  const exited = new Promise<number>((resolve) => {
    py.on("exit", (code) => resolve(code ?? 1));
    py.on("error", () => resolve(127));
  });
  const fd = openSync(fifo, "w"); // blocks until the port opens the pipe
  const put = (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  };
  const ints = (...xs: number[]) => put(new Uint8Array(Int32Array.from(xs).buffer));
  const floats = (x: Float64Array) => put(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  const params = (p: ToyParams) => [p.w, p.b, p.wQ, p.wK].forEach(floats);
  const tokens = (t: SparseTokens) => {
    const nnz = t.ptr[t.tokens];
    put(new Uint8Array(t.ptr.buffer, t.ptr.byteOffset, 4 * (t.tokens + 1)));
    put(new Uint8Array(t.idx.buffer, t.idx.byteOffset, 4 * nnz));
    floats(t.val.subarray(0, nnz));
  };
  const t0 = performance.now();
  let run: ToyRun;
  try {
    run = trainToy(cfg, seed, opts.kernels, opts.onMeasure, opts.passes, (step, p, recon, attn, e) => {
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
    });
    ints(-1, 0, 0, 0, 0, 0);
    const flat = (rows: number[][]) => Float64Array.from(rows.flat());
    params({ w: flat(run.final.params.w), b: Float64Array.from(run.final.params.b), wQ: flat(run.final.params.wQ), wK: flat(run.final.params.wK) });
  } finally {
    closeSync(fd);
  }
  const projectSeconds = (performance.now() - t0) / 1000;
  const code = await exited;
  rmSync(fifo);
  if (code !== 0) throw new Error(`toy_numpy.py --replay exited with ${code}`);
  const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as ReplayRow & { replaySeconds?: number });
  return {
    run,
    rows: lines.filter((l) => l.replaySeconds === undefined),
    projectSeconds,
    numpySeconds: lines.find((l) => l.replaySeconds !== undefined)?.replaySeconds ?? NaN,
  };
}
