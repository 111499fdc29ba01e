/**
 * @module bench/svd.bench
 * Factored SVD of real GPT-2 heads, timed per head in one run for every implementation the project
 * compares against: the WebAssembly kernels (SIMD and scalar builds, through the public
 * `factoredSvd`, so f32→f64 marshalling and copy-out are included), ml-matrix on the same factored
 * algorithm (QR of each factor, SVD of the 64×64 core, two products), ml-matrix on the dense 768×768
 * product (one run: it takes seconds), and numpy/LAPACK's factored algorithm in a python3
 * subprocess. Prints ms/head, ratios, the worst relative σ error against the LAPACK reference file,
 * and the targets as pass/fail lines. A benchmark, not a test: it never fails the build.
 *
 * Run: `npm run bench` (builds the kernels, bundles this file into build/ with esbuild, runs it).
 * The machine may be shared: figures are medians of repeated runs, the load average is printed, and
 * every implementation is timed head by head in turn so that background load hits all of them alike.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { Matrix as MlMatrix, QrDecomposition, SingularValueDecomposition } from "ml-matrix";
import { createRng, normals } from "../src/analysis/random";
import { loadKernels } from "../src/kernels/load-node";
import type { Matrix } from "../src/kernels/types";
import { D_HEAD, GPT2_PATH, headFactors, maxRelativeError, readSafetensors, referenceSpectrum } from "./gpt2-weights";
import { handleUsage } from "../scripts/usage.mjs";

handleUsage(`npm run bench:svd

The factored SVD of every GPT-2 small head (SIMD and scalar WebAssembly) against ml-matrix and
numpy/LAPACK (when python3 and numpy are present), as ratios measured in this run; then the same
at the head shapes of Llama-3-8B and -70B (d_model 4096 and 8192, d_head 128; Gaussian factors,
U and V formed) against numpy with one BLAS thread.

  --large-only        only the large-model shapes`, { flags: { "--large-only": false }, positionals: 0 });

const LAYER = 0;
const HEADS = Array.from({ length: 12 }, (_, h) => h);
const CIRCUIT = "qk" as const;
/** [warm-up runs, timed runs] per head. */
const RUNS = { wasm: [5, 31], scalar: [2, 11], mlFactored: [1, 5], numpy: [5, 31] } as const;
const DENSE_RUNS = 1;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

/** Median and best time of `fn` over `timed` runs after `warm` untimed ones, and its last result. */
function time<T>(fn: () => T, [warm, timed]: readonly [number, number]): { ms: number; best: number; result: T } {
  let result = fn();
  for (let i = 1; i < warm; i++) result = fn();
  const ts: number[] = [];
  for (let i = 0; i < timed; i++) {
    const t0 = performance.now();
    result = fn();
    ts.push(performance.now() - t0);
  }
  return { ms: median(ts), best: Math.min(...ts), result };
}

const toMl = (x: Matrix): MlMatrix => {
  const m = new MlMatrix(x.rows, x.cols);
  for (let i = 0; i < x.rows; i++) for (let j = 0; j < x.cols; j++) m.set(i, j, x.data[i * x.cols + j]);
  return m;
};

/** The factored algorithm (method §2) on ml-matrix: QR, QR, SVD of R_A R_Bᵀ, Q_A U_c, Q_B V_c. */
function mlFactored(a: MlMatrix, b: MlMatrix): number[] {
  const qa = new QrDecomposition(a);
  const qb = new QrDecomposition(b);
  const core = qa.upperTriangularMatrix.mmul(qb.upperTriangularMatrix.transpose());
  const svd = new SingularValueDecomposition(core);
  qa.orthogonalMatrix.mmul(svd.leftSingularVectors);
  qb.orthogonalMatrix.mmul(svd.rightSingularVectors);
  return svd.diagonal;
}

/**
 * numpy's factored algorithm, timed inside python (no process start-up in the figures). It prints its
 * configuration, then times each head index it reads on stdin, so that numpy runs between the other
 * implementations head by head.
 */
const NUMPY_SCRIPT = String.raw`
import json, os, struct, sys, time
import numpy as np
path, layer, warm, timed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]; hdr = json.loads(f.read(n)); base = 8 + n
    m = hdr[f"h.{layer}.attn.c_attn.weight"]; a, b = m["data_offsets"]; f.seek(base + a)
    W = np.frombuffer(f.read(b - a), "<f4").reshape(m["shape"]).astype(np.float64)
def fac(A, B):
    qa, ra = np.linalg.qr(A); qb, rb = np.linalg.qr(B)
    u, s, vt = np.linalg.svd(ra @ rb.T)
    return qa @ u, s, qb @ vt.T
try:
    from threadpoolctl import threadpool_info
    threads = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info())
except ImportError:
    threads = f"threadpoolctl not installed; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs"
cfg = np.show_config(mode="dicts") if "mode" in np.show_config.__code__.co_varnames else {}
blas = cfg.get("Build Dependencies", {}).get("blas", {})
out = {"numpy": np.__version__, "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(), "threads": threads}
print(json.dumps(out), flush=True)
for line in sys.stdin:
    h = int(line)
    A = np.ascontiguousarray(W[:, h*64:(h+1)*64]); B = np.ascontiguousarray(W[:, 768 + h*64:768 + (h+1)*64])
    for _ in range(warm): r = fac(A, B)
    ts = []
    for _ in range(timed):
        t0 = time.perf_counter(); r = fac(A, B); ts.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"head": h, "ms": float(np.median(ts)), "best": min(ts), "s": r[1].tolist()}), flush=True)
`;

interface NumpyInfo {
  numpy: string;
  blas: string;
  threads: string;
}

interface NumpyHead {
  head: number;
  ms: number;
  best: number;
  s: number[];
}

/** A python3 process serving NUMPY_SCRIPT. */
interface NumpyWorker {
  info: NumpyInfo;
  time(head: number): Promise<NumpyHead>;
  close(): void;
}

/**
 * Starts NUMPY_SCRIPT with `env` changes (undefined removes a variable); resolves to a reason string
 * when python3 or numpy is missing.
 */
function startNumpy(envChanges: Record<string, string | undefined>): Promise<NumpyWorker | string> {
  const env = { ...process.env };
  for (const [k, v] of Object.entries(envChanges)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const [warm, timed] = RUNS.numpy;
  const child = spawn("python3", ["-c", NUMPY_SCRIPT, GPT2_PATH, String(LAYER), String(warm), String(timed)], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string | undefined> => (await lines.next()).value as string | undefined;
  return new Promise((resolveWorker) => {
    child.on("error", (e) => resolveWorker(`python3 not runnable (${e.message})`));
    next().then((first) => {
      if (first === undefined) {
        resolveWorker(`python3/numpy failed: ${stderr.trim().split("\n").pop()}`);
        return;
      }
      resolveWorker({
        info: JSON.parse(first) as NumpyInfo,
        async time(head) {
          child.stdin.write(`${head}\n`);
          const line = await next();
          if (line === undefined) throw new Error(`numpy worker died: ${stderr.trim().split("\n").pop()}`);
          return JSON.parse(line) as NumpyHead;
        },
        close: () => child.stdin.end(),
      });
    });
  });
}

interface Row {
  name: string;
  /** median over heads of each head's median */
  ms: number;
  /** median over heads of each head's fastest run: what an unloaded machine would show */
  best: number;
  err: number;
  note?: string;
}

async function main(): Promise<void> {
  if (!existsSync(GPT2_PATH)) {
    console.log(`GPT-2 weights not found at ${GPT2_PATH}: nothing to benchmark.`);
    return;
  }
  const load0 = loadavg()[0];
  const st = readSafetensors();
  const heads = HEADS.map((h) => ({ h, ...headFactors(st, LAYER, h, CIRCUIT), ref: referenceSpectrum(LAYER, h, CIRCUIT) }));
  const wasm = loadKernels("release", resolve("build/kernels.release.wasm"));
  const scalar = loadKernels("scalar", resolve("build/kernels.scalar.wasm"));
  if (!wasm.simd || scalar.simd) throw new Error("build/kernels.release.wasm must use SIMD and kernels.scalar.wasm must not");

  // numpy: the environment as given (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE set here), without them, and
  // single-threaded (the WebAssembly kernels run on one thread)
  const numpyConfigs: [string, Record<string, string | undefined>][] = [
    ["numpy, factored (env as set)", {}],
    ["numpy, factored (-u OPENBLAS_CORETYPE/L2_SIZE)", { OPENBLAS_CORETYPE: undefined, OPENBLAS_L2_SIZE: undefined }],
    ["numpy, factored (same, 1 thread)", { OPENBLAS_CORETYPE: undefined, OPENBLAS_L2_SIZE: undefined, OPENBLAS_NUM_THREADS: "1" }],
  ];
  const numpyInfo: string[] = [];
  const workers: { name: string; worker: NumpyWorker }[] = [];
  for (const [name, env] of numpyConfigs) {
    const w = await startNumpy(env);
    if (typeof w === "string") numpyInfo.push(`${name}: skipped, ${w}`);
    else {
      workers.push({ name, worker: w });
      numpyInfo.push(`${name}: numpy ${w.info.numpy}, ${w.info.blas}; ${w.info.threads}`);
    }
  }

  // every implementation head by head in turn, so that background load hits all of them alike
  type Acc = { ms: number[]; best: number[]; err: number };
  const acc = (): Acc => ({ ms: [], best: [], err: 0 });
  const results = new Map<string, Acc>();
  const record = (name: string, ms: number, best: number, s: ArrayLike<number>, ref: number[]) => {
    const r = results.get(name) ?? acc();
    r.ms.push(ms);
    r.best.push(best);
    r.err = Math.max(r.err, maxRelativeError(s, ref));
    results.set(name, r);
  };
  for (const { h, a, b, ref } of heads) {
    const w = time(() => wasm.factoredSvd(a, b), RUNS.wasm);
    record("wasm SIMD, factored", w.ms, w.best, w.result.S, ref);
    const s = time(() => scalar.factoredSvd(a, b), RUNS.scalar);
    record("wasm scalar, factored", s.ms, s.best, s.result.S, ref);
    const am = toMl(a), bm = toMl(b);
    const m = time(() => mlFactored(am, bm), RUNS.mlFactored);
    record("ml-matrix, factored", m.ms, m.best, m.result, ref);
    for (const { name, worker } of workers) {
      const r = await worker.time(h);
      record(name, r.ms, r.best, r.s, ref);
    }
  }
  for (const { worker } of workers) worker.close();

  // ml-matrix on the dense d_model × d_model product, head 0 only
  const { a, b, ref } = heads[0];
  const dense = toMl(a).mmul(toMl(b).transpose());
  const d = time(() => new SingularValueDecomposition(dense).diagonal.slice(0, D_HEAD), [0, DENSE_RUNS]);

  const rows: Row[] = [...results].map(([name, r]) => ({ name, ms: median(r.ms), best: median(r.best), err: r.err }));
  rows.splice(3, 0, { name: "ml-matrix, dense 768×768", ms: d.ms, best: d.best, err: maxRelativeError(d.result, ref), note: `head 0, ${DENSE_RUNS} run` });
  const numpyRows = rows.filter((r) => r.name.startsWith("numpy"));
  const byName = (name: string) => rows.find((r) => r.name === name)!;
  const wasmRow = byName("wasm SIMD, factored");
  const mlRow = byName("ml-matrix, factored");

  const numpyBest = numpyRows.length ? Math.min(...numpyRows.map((r) => r.ms)) : NaN;
  const pad = (x: string, n: number) => x.padEnd(n);
  const num = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
  const msText = (x: number) => num(x, x < 100 ? 3 : 0);
  console.log(`\nFactored SVD of GPT-2 small layer ${LAYER}, ${CIRCUIT.toUpperCase()} raw (W_Q, W_K: 768×64 each), heads ${HEADS[0]}–${HEADS.at(-1)}`);
  console.log(`ms/head: median over heads of each head's median (${RUNS.wasm[1]} runs wasm SIMD, ${RUNS.scalar[1]} scalar, ${RUNS.mlFactored[1]} ml-matrix, ${RUNS.numpy[1]} numpy);`);
  console.log(`best: the same with each head's fastest run (less sensitive to other load on a shared machine)`);
  console.log(`σ error: max over heads and σ_k ≥ 1e-6·σ_1 of |σ_k − σ_k^ref| / σ_k^ref (reference: 7 significant digits, so ≈5e-7 is its floor)\n`);
  console.log(`${pad("implementation", 48)}${pad("ms/head", 10)}${pad("best", 10)}${pad("× best numpy", 14)}${pad("speed-up vs ml-matrix factored", 32)}σ error`);
  for (const r of rows) {
    console.log(
      `${pad(r.name, 48)}${pad(msText(r.ms), 10)}${pad(msText(r.best), 10)}${pad(num(r.ms / numpyBest), 14)}` +
        `${pad(num(mlRow.ms / r.ms, mlRow.ms / r.ms < 1 ? 4 : 1) + "×", 32)}${r.err.toExponential(1)}${r.note ? `  (${r.note})` : ""}`,
    );
  }
  for (const line of numpyInfo) console.log(`  ${line}`);
  console.log(`\nload average ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end (${availableParallelism()} CPUs)`);

  const line = (ok: boolean, text: string) => console.log(`${ok ? "PASS" : "FAIL"}  ${text}`);
  console.log("");
  if (numpyRows.length) {
    for (const r of numpyRows) {
      line(wasmRow.ms <= r.ms, `wasm SIMD ≤ 1.0× ${r.name}: ${num(wasmRow.ms / r.ms)}× (best runs: ${num(wasmRow.best / r.best)}×)`);
    }
  } else {
    console.log("SKIP  wasm SIMD ≤ 1.0× numpy: numpy not available");
  }
  line(mlRow.ms / wasmRow.ms >= 15, `wasm SIMD ≥ 15× faster than ml-matrix factored: ${num(mlRow.ms / wasmRow.ms, 1)}× (best runs: ${num(mlRow.best / wasmRow.best, 1)}×)`);
  const wasmErr = Math.max(wasmRow.err, byName("wasm scalar, factored").err);
  line(wasmErr <= 1e-5, `wasm σ within 1e-5 relative of the reference: ${wasmErr.toExponential(1)}`);
}

/** numpy's factored SVD with U and V at one shape, on the very factors given (F64 files), one BLAS thread. */
const NUMPY_LARGE = String.raw`
import json, sys, time
import numpy as np
d, h, warm, timed = (int(x) for x in sys.argv[1:5])
A = np.fromfile(sys.argv[5], "<f8").reshape(d, h); B = np.fromfile(sys.argv[6], "<f8").reshape(d, h)
def fac(A, B):
    qa, ra = np.linalg.qr(A); qb, rb = np.linalg.qr(B)
    u, s, vt = np.linalg.svd(ra @ rb.T)
    return qa @ u, s, qb @ vt.T
for _ in range(warm): r = fac(A, B)
ts = []
for _ in range(timed):
    t0 = time.perf_counter(); r = fac(A, B); ts.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"ms": float(np.median(ts)), "best": min(ts), "s": r[1].tolist()}))
`;

/**
 * The large-model head shapes (issue 12: the WebAssembly SVD at parity with LAPACK at d_model
 * 4096–8192): the same Gaussian factors through the SIMD kernel (f64 in, U, S, V out, as the worker
 * calls it) and numpy (QR, QR, SVD of the core, both products), alternating shape by shape.
 */
async function largeShapes(): Promise<void> {
  const wasm = loadKernels("release", resolve("build/kernels.release.wasm"));
  const dir = mkdtempSync(join(tmpdir(), "headscope-svd-bench-"));
  const h = 128;
  console.log(`\nFactored SVD at large-model head shapes (Gaussian factors d_model × ${h}, U and V formed; numpy with OPENBLAS_NUM_THREADS=1)`);
  console.log(`${"shape".padEnd(24)}${"wasm SIMD ms".padEnd(16)}${"numpy ms".padEnd(12)}${"ratio".padEnd(10)}${"best-run ratio".padEnd(18)}max rel. σ difference`);
  try {
    for (const [name, d] of [["Llama-3-8B", 4096], ["Llama-3-70B", 8192]] as const) {
      const rng = createRng(d);
      const a: Matrix = { rows: d, cols: h, data: normals(rng, d * h) };
      const b: Matrix = { rows: d, cols: h, data: normals(rng, d * h) };
      const fa = join(dir, "a.f64"), fb = join(dir, "b.f64");
      writeFileSync(fa, a.data as Float64Array);
      writeFileSync(fb, b.data as Float64Array);
      const runs = d > 4096 ? [3, 7] : [3, 11];
      // the first ~8 calls at these sizes run ~60% slower, until V8 has optimised the code (measured:
      // after 20 calls on 256×128 factors a new instance is at full speed from its second call): warm
      // up past that, as a worker does after a few of a scan's hundreds of heads (numpy has no JIT)
      const w = time(() => wasm.factoredSvd(a, b), [12, runs[1]]);
      const py = spawn("python3", ["-c", NUMPY_LARGE, String(d), String(h), String(runs[0]), String(runs[1]), fa, fb], {
        env: { ...process.env, OPENBLAS_NUM_THREADS: "1" }, stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "", err = "";
      py.stdout.on("data", (c) => (out += c));
      py.stderr.on("data", (c) => (err += c));
      const code = await new Promise<number | null>((r) => py.on("close", r));
      if (code !== 0) {
        console.log(`${`${name} ${d}×${h}`.padEnd(24)}${w.ms.toFixed(1).padEnd(16)}numpy skipped: ${err.trim().split("\n").pop() ?? "python3 failed"}`);
        continue;
      }
      const n = JSON.parse(out) as { ms: number; best: number; s: number[] };
      const diff = maxRelativeError(w.result.S, n.s);
      console.log(`${`${name} ${d}×${h}`.padEnd(24)}${w.ms.toFixed(1).padEnd(16)}${n.ms.toFixed(1).padEnd(12)}${(w.ms / n.ms).toFixed(2).padEnd(10)}${(w.best / n.best).toFixed(2).padEnd(18)}${diff.toExponential(1)}`);
      console.log(`${w.ms <= n.ms ? "PASS" : "FAIL"}  wasm SIMD ≤ 1.0× numpy (one BLAS thread) at ${d}×${h}: ${(w.ms / n.ms).toFixed(2)}×`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!process.argv.includes("--large-only")) await main();
await largeShapes();
