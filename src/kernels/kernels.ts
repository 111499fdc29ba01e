/**
 * @module kernels/kernels
 * The WebAssembly boundary: the only module that sees the kernels' `exports` or `memory`. It
 * instantiates a compiled module synchronously (Workers forbid compiling bytes at run time, so the
 * worker passes the imported module; Node passes one it compiled from the file), and follows the same
 * sequence for every call: reset, allocate everything, create views, copy in (f32/f64 row-major →
 * f64 column-major), call, map the status, copy out, reset.
 */
import { KernelFault, NonFiniteInput, NotConverged, ShapeMismatch } from "../errors";
import * as st from "./status";
import type { Kernels, Matrix, PairTerms, SadInput, SadKernels, SadRaw, Svd, SvdDiagnostics } from "./types";

interface KernelExports {
  memory: WebAssembly.Memory;
  reset(): void;
  alloc(bytes: number): number;
  simdEnabled(): number;
  svdJacobi(m: number, n: number, a: number, lda: number, s: number, v: number, ldv: number, work: number, diag: number): number;
  svdFactored(m: number, n: number, a: number, b: number, u: number, s: number, v: number, work: number, diag: number): number;
  svdFactoredWorkspace(m: number, n: number): number;
  sadWorkspace(t: number, r: number): number;
  sadRun(
    nb: number, b0: number, t: number, m: number, r: number, x: number, u: number, s: number, v: number, nrot: number,
    q: number, scale: number, tau: number, flags: number, work: number, cap: number, counts: number, pairs: number,
    nrec: number, rt: number, score: number, relTotal: number, usage: number, selected: number, nullHist: number,
    nullRt: number,
  ): number;
  sadPairTerms(
    t: number, m: number, r: number, x: number, u: number, s: number, v: number, q: number, d: number, src: number,
    terms: number, rel: number, work: number,
  ): number;
  svdFactoredBatch(count: number, m: number, n: number, a: number, b: number, u: number, s: number, v: number, work: number, diag: number, status: number): number;
}

/**
 * Copies row-major `src` [rows, cols] into f64 column-major at element offset `at`. Column by column:
 * the writes into WebAssembly memory are then sequential and the strided reads come from the
 * smaller (often f32) source; ≈35% faster than row by row for a 768×64 factor.
 */
function copyInColumnMajor(mem: Float64Array, at: number, src: Matrix): void {
  const { rows, cols, data } = src;
  for (let j = 0; j < cols; j++) {
    const col = at + j * rows;
    for (let i = 0; i < rows; i++) mem[col + i] = data[i * cols + j];
  }
}

/** Copies f64 column-major [rows, cols] at element offset `at` out as row-major. */
function copyOutRowMajor(mem: Float64Array, at: number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) {
    const col = at + j * rows;
    for (let i = 0; i < rows; i++) out[i * cols + j] = mem[col + i];
  }
  return out;
}

function readDiagnostics(mem: Float64Array, at: number): SvdDiagnostics {
  return {
    sweeps: mem[at + st.DIAG_SWEEPS],
    offOrthogonality: mem[at + st.DIAG_OFF_ORTHOGONALITY],
    coreResidual: mem[at + st.DIAG_CORE_RESIDUAL],
    orthogonalityU: mem[at + st.DIAG_ORTHOGONALITY_U],
    orthogonalityV: mem[at + st.DIAG_ORTHOGONALITY_V],
    rank: mem[at + st.DIAG_RANK],
  };
}

/** Maps a kernel status to the error the caller sees; returns only for STATUS_OK. */
function checkStatus(status: number, kernel: string, diagnostics: SvdDiagnostics): void {
  switch (status) {
    case st.STATUS_OK:
      return;
    case st.STATUS_NOT_CONVERGED:
      throw new NotConverged(`${kernel}: Jacobi did not converge in ${diagnostics.sweeps} sweeps`, diagnostics);
    case st.STATUS_CHECK_FAILED:
      throw new NotConverged(
        `${kernel}: result failed its checks (core residual ${diagnostics.coreResidual.toExponential(2)}, ` +
          `orthogonality U ${diagnostics.orthogonalityU.toExponential(2)}, V ${diagnostics.orthogonalityV.toExponential(2)})`,
        diagnostics,
      );
    case st.STATUS_NON_FINITE:
      throw new NonFiniteInput(`${kernel}: input contains NaN or Inf, or the singular values overflow float64`);
    case st.STATUS_OUT_OF_MEMORY:
      throw new KernelFault(`${kernel}: WebAssembly memory could not grow`);
    default:
      throw new KernelFault(`${kernel}: invalid argument ${-status} (status ${status})`);
  }
}

/**
 * Instantiates the kernels from a compiled module.
 * @example const kernels = createKernels(wasmModule); kernels.factoredSvd(wQ, wK).S
 */
/** The WebAssembly kernels: the common interface plus the layer batch and sparse attention decomposition. */
export interface WasmKernels extends Kernels, SadKernels {
  readonly simd: boolean;
  /**
   * factoredSvd for all heads of one layer in one call (one copy in, one kernel call, one copy out).
   * All pairs must share one shape. Every head is computed; the first failing head's status is thrown
   * with its index in the message.
   */
  factoredSvdBatch(pairs: Array<[Matrix, Matrix]>): Svd[];
}

export function createKernels(module: WebAssembly.Module, name = "wasm"): WasmKernels {
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort(_msg: number, _file: number, line: number, column: number): never {
        throw new KernelFault(`WebAssembly abort at ${line}:${column}`);
      },
    },
  });
  const ex = instance.exports as unknown as KernelExports;

  const alloc = (count: number): number => {
    const ptr = ex.alloc(count * 8);
    if (ptr === 0) throw new KernelFault(`WebAssembly memory could not grow to ${count * 8} more bytes`);
    return ptr;
  };

  /** SVD of A [m, n] with m ≥ n by one-sided Jacobi. */
  const jacobiTall = (a: Matrix): Svd => {
    const { rows: m, cols: n } = a;
    ex.reset();
    try {
      const pa = alloc(m * n);
      const ps = alloc(n);
      const pv = alloc(n * n);
      const pw = alloc(n);
      const pd = alloc(st.DIAG_LENGTH);
      const mem = new Float64Array(ex.memory.buffer);
      copyInColumnMajor(mem, pa / 8, a);
      const status = ex.svdJacobi(m, n, pa, Math.max(1, m), ps, pv, Math.max(1, n), pw, pd);
      const diagnostics = readDiagnostics(mem, pd / 8);
      checkStatus(status, "svdJacobi", diagnostics);
      return canonicalize({
        U: copyOutRowMajor(mem, pa / 8, m, n),
        S: mem.slice(ps / 8, ps / 8 + n),
        V: copyOutRowMajor(mem, pv / 8, n, n),
        m,
        n,
        k: n,
        diagnostics,
      });
    } finally {
      ex.reset();
    }
  };

  return {
    name,
    simd: ex.simdEnabled() === 1,

    svd(a: Matrix): Svd {
      if (a.rows >= a.cols) return jacobiTall(a);
      // A = (Aᵀ)ᵀ: the SVD of the transpose with U and V swapped
      const t = new Float64Array(a.rows * a.cols);
      for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) t[j * a.rows + i] = a.data[i * a.cols + j];
      const r = jacobiTall({ rows: a.cols, cols: a.rows, data: t });
      return canonicalize({ ...r, U: r.V, V: r.U, m: a.rows, n: a.cols });
    },

    factoredSvd(a: Matrix, b: Matrix): Svd {
      if (a.rows !== b.rows || a.cols !== b.cols) {
        throw new ShapeMismatch(`factors must have the same shape: [${a.rows}, ${a.cols}] and [${b.rows}, ${b.cols}]`);
      }
      const { rows: m, cols: n } = a;
      const k = Math.min(m, n);
      ex.reset();
      try {
        const pa = alloc(m * n);
        const pb = alloc(m * n);
        const pu = alloc(m * k);
        const ps = alloc(k);
        const pv = alloc(m * k);
        const pw = alloc(ex.svdFactoredWorkspace(m, n));
        const pd = alloc(st.DIAG_LENGTH);
        const mem = new Float64Array(ex.memory.buffer);
        copyInColumnMajor(mem, pa / 8, a);
        copyInColumnMajor(mem, pb / 8, b);
        const status = ex.svdFactored(m, n, pa, pb, pu, ps, pv, pw, pd);
        const diagnostics = readDiagnostics(mem, pd / 8);
        checkStatus(status, "svdFactored", diagnostics);
        return {
          U: copyOutRowMajor(mem, pu / 8, m, k),
          S: mem.slice(ps / 8, ps / 8 + k),
          V: copyOutRowMajor(mem, pv / 8, m, k),
          m,
          n: m,
          k,
          diagnostics,
        };
      } finally {
        ex.reset();
      }
    },

    factoredSvdBatch(pairs: Array<[Matrix, Matrix]>): Svd[] {
      if (pairs.length === 0) return [];
      const { rows: m, cols: n } = pairs[0][0];
      for (const [i, [a, b]] of pairs.entries()) {
        if (a.rows !== m || a.cols !== n || b.rows !== m || b.cols !== n) {
          throw new ShapeMismatch(`batch entry ${i}: factors [${a.rows}, ${a.cols}] and [${b.rows}, ${b.cols}], expected [${m}, ${n}]`);
        }
      }
      const count = pairs.length;
      const k = Math.min(m, n);
      ex.reset();
      try {
        const pa = alloc(count * m * n);
        const pb = alloc(count * m * n);
        const pu = alloc(count * m * k);
        const ps = alloc(count * k);
        const pv = alloc(count * m * k);
        const pw = alloc(ex.svdFactoredWorkspace(m, n));
        const pd = alloc(count * st.DIAG_LENGTH);
        const pst = alloc(Math.ceil(count / 2)); // i32 statuses
        const mem = new Float64Array(ex.memory.buffer);
        pairs.forEach(([a, b], h) => {
          copyInColumnMajor(mem, pa / 8 + h * m * n, a);
          copyInColumnMajor(mem, pb / 8 + h * m * n, b);
        });
        ex.svdFactoredBatch(count, m, n, pa, pb, pu, ps, pv, pw, pd, pst);
        const statuses = new Int32Array(ex.memory.buffer, pst, count);
        return pairs.map((_, h) => {
          const diagnostics = readDiagnostics(mem, pd / 8 + h * st.DIAG_LENGTH);
          checkStatus(statuses[h], `svdFactoredBatch[${h}]`, diagnostics);
          return {
            U: copyOutRowMajor(mem, pu / 8 + h * m * k, m, k),
            S: mem.slice(ps / 8 + h * k, ps / 8 + (h + 1) * k),
            V: copyOutRowMajor(mem, pv / 8 + h * m * k, m, k),
            m,
            n: m,
            k,
            diagnostics,
          };
        });
      } finally {
        ex.reset();
      }
    },

    sad: (input: SadInput) => runSad(ex, alloc, input),
    pairTerms: (svd, x, tokens, dest, src, rotation) => runPairTerms(ex, alloc, svd, x, tokens, dest, src, rotation),
  };
}

// ---------------------------------------------------------------------------------------------
// Sparse attention decomposition (assembly/sparse/*). Same sequence as above; the one difference is
// that the token vectors go in by chunks of prompts (SAD_CONTINUE), so that a large batch never sits
// in linear memory as f64 all at once, while outputs and counts stay allocated across the chunks.
// ---------------------------------------------------------------------------------------------

/** f64 elements of token vectors per chunk: 1 Mi elements (8 MiB) keeps linear memory small. */
const SAD_CHUNK_ELEMENTS = 1 << 20;

/** Candidate (d, s) pairs per prompt: queries d ≥ 1, sources s ≤ d (s ≥ 1 when source 0 is excluded). */
export function sadCandidatesPerPrompt(tokens: number, excludeFirstSource: boolean): number {
  return (tokens * (tokens - 1)) / 2 + (excludeFirstSource ? 0 : tokens - 1);
}

function sadStatus(status: number, kernel: string): void {
  if (status === st.STATUS_OK) return;
  if (status === st.STATUS_NON_FINITE) throw new NonFiniteInput(`${kernel}: an attention score is not finite`);
  throw new KernelFault(`${kernel}: invalid argument ${-status} (status ${status})`);
}

function runSad(ex: KernelExports, alloc: (count: number) => number, input: SadInput): SadRaw {
  const { rows: m, k: r, batch: nb, tokens: t, rotationCount: nrot } = input;
  if (input.X.length !== nb * t * m) throw new ShapeMismatch(`X has ${input.X.length} values, expected [${nb}, ${t}, ${m}]`);
  if (input.U.length !== m * r || input.V.length !== m * r || input.S.length !== r) {
    throw new ShapeMismatch(`U, V must be [${m}, ${r}] and S [${r}]`);
  }
  if (input.rotations.length !== nrot * r * r) throw new ShapeMismatch(`rotations must be [${nrot}, ${r}, ${r}]`);
  const cap = nb * sadCandidatesPerPrompt(t, input.excludeFirstSource);
  const chunk = Math.max(1, Math.min(nb, Math.floor(SAD_CHUNK_ELEMENTS / (t * m))));
  const flags = (input.excludeFirstSource ? st.SAD_EXCLUDE_FIRST : 0) | (input.recordSelected ? st.SAD_RECORD_SELECTED : 0);
  const nc = st.SAD_COUNTS_LENGTH + 2 * nrot;
  ex.reset();
  try {
    // every allocation first (memory.grow detaches views); byte counts rounded to whole f64 slots
    const px = alloc(chunk * t * m);
    const pu = alloc(m * r);
    const ps = alloc(r);
    const pv = alloc(m * r);
    const pq = alloc(Math.max(1, nrot * r * r));
    const pw = alloc(ex.sadWorkspace(t, r));
    const pCounts = alloc(Math.ceil(nc / 2));
    const pPairs = alloc(Math.ceil((3 * cap) / 2));
    const pNrec = alloc(Math.ceil(cap / 2));
    const pRt = alloc(cap);
    const pScore = alloc(cap);
    const pTotal = alloc(cap);
    const pUsage = alloc(Math.ceil(r / 2));
    const pSel = input.recordSelected ? alloc(Math.ceil((cap * r) / 4)) : 0;
    const pHist = alloc(Math.max(1, Math.ceil((nrot * (r + 1)) / 2)));
    const pNullRt = alloc(Math.max(1, Math.ceil((nrot * cap) / 2)));
    const mem = new Float64Array(ex.memory.buffer);
    mem.set(input.U, pu / 8);
    mem.set(input.S, ps / 8);
    mem.set(input.V, pv / 8);
    mem.set(input.rotations, pq / 8);
    for (let b0 = 0; b0 < nb; b0 += chunk) {
      const n = Math.min(chunk, nb - b0);
      mem.set(input.X.subarray(b0 * t * m, (b0 + n) * t * m), px / 8);
      const status = ex.sadRun(
        n, b0, t, m, r, px, pu, ps, pv, nrot, pq, input.scale, input.tau, flags | (b0 > 0 ? st.SAD_CONTINUE : 0), pw, cap,
        pCounts, pPairs, pNrec, pRt, pScore, pTotal, pUsage, pSel, pHist, pNullRt,
      );
      sadStatus(status, "sadRun");
    }
    const buf = ex.memory.buffer;
    const counts = new Int32Array(buf, pCounts, nc).slice();
    const p = counts[st.SAD_POSITIVE];
    const nsel = counts[st.SAD_SELECTED];
    const hist = new Int32Array(buf, pHist, nrot * (r + 1));
    return {
      positive: p,
      nonpositive: counts[st.SAD_NONPOSITIVE],
      unreached: counts[st.SAD_UNREACHED],
      candidates: counts[st.SAD_CANDIDATES],
      pairs: new Int32Array(buf, pPairs, 3 * p).slice(),
      nRecon: new Int32Array(buf, pNrec, p).slice(),
      sparseness: new Float64Array(buf, pRt, p).slice(),
      score: new Float64Array(buf, pScore, p).slice(),
      relativeTotal: new Float64Array(buf, pTotal, p).slice(),
      usage: new Int32Array(buf, pUsage, r).slice(),
      ...(input.recordSelected ? { selected: new Uint16Array(buf, pSel, nsel).slice() } : {}),
      null: Array.from({ length: nrot }, (_, i) => {
        const positive = counts[st.SAD_COUNTS_LENGTH + 2 * i];
        return {
          positive,
          unreached: counts[st.SAD_COUNTS_LENGTH + 2 * i + 1],
          histogram: hist.slice(i * (r + 1), (i + 1) * (r + 1)),
          sparseness: new Float32Array(buf, pNullRt + 4 * i * cap, positive).slice(),
        };
      }),
    };
  } finally {
    ex.reset();
  }
}

function runPairTerms(
  ex: KernelExports,
  alloc: (count: number) => number,
  svd: Pick<SadInput, "U" | "S" | "V" | "rows" | "k">,
  x: Float32Array | Float64Array,
  t: number,
  dest: number,
  src: number,
  rotation?: Float64Array,
): PairTerms {
  const { rows: m, k: r } = svd;
  if (x.length !== t * m) throw new ShapeMismatch(`X has ${x.length} values, expected [${t}, ${m}]`);
  if (rotation && rotation.length !== r * r) throw new ShapeMismatch(`rotation must be [${r}, ${r}]`);
  ex.reset();
  try {
    const px = alloc(t * m);
    const pu = alloc(m * r);
    const ps = alloc(r);
    const pv = alloc(m * r);
    const pq = rotation ? alloc(r * r) : 0;
    const pt = alloc(r);
    const pr = alloc(r);
    const pw = alloc(ex.sadWorkspace(t, r));
    const mem = new Float64Array(ex.memory.buffer);
    mem.set(x, px / 8);
    mem.set(svd.U, pu / 8);
    mem.set(svd.S, ps / 8);
    mem.set(svd.V, pv / 8);
    if (rotation) mem.set(rotation, pq / 8);
    sadStatus(ex.sadPairTerms(t, m, r, px, pu, ps, pv, pq, dest, src, pt, pr, pw), "sadPairTerms");
    return { terms: mem.slice(pt / 8, pt / 8 + r), relative: mem.slice(pr / 8, pr / 8 + r) };
  } finally {
    ex.reset();
  }
}

/** Flips (u_p, v_p) so the largest-magnitude entry of u_p (first on ties) is positive (method §1). */
export function canonicalize(r: Svd): Svd {
  for (let p = 0; p < r.k; p++) {
    let best = 0;
    let sign = 1;
    for (let i = 0; i < r.m; i++) {
      const x = r.U[i * r.k + p];
      if (Math.abs(x) > best) {
        best = Math.abs(x);
        sign = x;
      }
    }
    if (sign < 0) {
      for (let i = 0; i < r.m; i++) r.U[i * r.k + p] = -r.U[i * r.k + p];
      for (let i = 0; i < r.n; i++) r.V[i * r.k + p] = -r.V[i * r.k + p];
    }
  }
  return r;
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// Toy model passes (issue 5). Self-contained: its own instance, its own export interface. The toy
// trainer (src/toy/model.ts) calls this once per step with the batch as compressed sparse rows and
// the per-step feature-space products; see assembly/toy/passes.ts for the arithmetic.
// ─────────────────────────────────────────────────────────────────────────────────────────────────

interface ToyExports {
  memory: WebAssembly.Memory;
  reset(): void;
  alloc(bytes: number): number;
  toyReconPass(n: number, tokens: number, ptr: number, idx: number, val: number, gram: number, b: number, dGram: number, db: number, backward: number, work: number, out: number): number;
  toyAttentionPass(
    n: number, m: number, samples: number, ptr: number, idx: number, val: number, mOmega: number,
    tplPtr: number, tplKey: number, tplVal: number, beta: number, lambda: number, dM: number, backward: number, work: number, out: number,
  ): number;
}

/** Tokens as compressed sparse rows (the shape src/toy/sampling.ts produces). */
export interface ToySparseTokens {
  tokens: number;
  ptr: Int32Array;
  idx: Int32Array;
  val: Float64Array;
}

export interface ToyPassInput {
  /** features N */
  n: number;
  /** keys per query m */
  m: number;
  beta: number;
  lambda: number;
  /** G = W_effᵀ W_eff [N, N] */
  gram: Float64Array;
  b: Float64Array;
  /** M = W_effᵀ Ω W_eff [N, N] */
  mOmega: Float64Array;
  recon: ToySparseTokens;
  attn: ToySparseTokens;
  template: { ptr: Int32Array; key: Int32Array; value: Float64Array };
}

/** Where the passes' gradients go (overwritten): dG [N, N], db [N], dM [N, N]. */
export interface ToyPassGradients {
  dGram: Float64Array;
  db: Float64Array;
  dM: Float64Array;
}

export interface ToyKernels {
  readonly name: string;
  readonly simd: boolean;
  /** Both per-sample passes; returns the mean reconstruction loss and mean CE, gradients into `grads`. */
  toyPasses(input: ToyPassInput, grads?: ToyPassGradients): { recon: number; ce: number };
}

/**
 * Instantiates the toy passes from the kernels' module (a separate instance from createKernels').
 * @example const toy = createToyKernels(wasmModule); toy.toyPasses(input, grads).recon
 */
export function createToyKernels(module: WebAssembly.Module, name = "wasm"): ToyKernels {
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort(_msg: number, _file: number, line: number, column: number): never {
        throw new KernelFault(`WebAssembly abort at ${line}:${column}`);
      },
    },
  });
  const ex = instance.exports as unknown as ToyExports & { simdEnabled(): number };
  const alloc = (bytes: number): number => {
    const ptr = ex.alloc(bytes);
    if (ptr === 0) throw new KernelFault(`WebAssembly memory could not grow to ${bytes} more bytes`);
    return ptr;
  };
  const check = (status: number, kernel: string) => {
    if (status !== st.STATUS_OK) throw new KernelFault(`${kernel}: invalid argument ${-status} (status ${status})`);
  };

  return {
    name,
    simd: ex.simdEnabled() === 1,
    toyPasses(input: ToyPassInput, grads?: ToyPassGradients): { recon: number; ce: number } {
      const { n, m, recon, attn, template } = input;
      const reconNnz = recon.ptr[recon.tokens];
      const attnNnz = attn.ptr[attn.tokens];
      const samples = attn.tokens / (m + 1);
      if (!Number.isInteger(samples)) throw new ShapeMismatch(`attention tokens ${attn.tokens} are not a multiple of m + 1 = ${m + 1}`);
      if (input.gram.length !== n * n || input.mOmega.length !== n * n || input.b.length !== n) {
        throw new ShapeMismatch(`expected G, M [${n}, ${n}] and b [${n}]; got ${input.gram.length}, ${input.mOmega.length}, ${input.b.length} entries`);
      }
      ex.reset();
      try {
        const pRPtr = alloc(4 * (recon.tokens + 1));
        const pRIdx = alloc(4 * Math.max(1, reconNnz));
        const pRVal = alloc(8 * Math.max(1, reconNnz));
        const pAPtr = alloc(4 * (attn.tokens + 1));
        const pAIdx = alloc(4 * Math.max(1, attnNnz));
        const pAVal = alloc(8 * Math.max(1, attnNnz));
        const pTPtr = alloc(4 * (n + 1));
        const pTKey = alloc(4 * Math.max(1, template.key.length));
        const pTVal = alloc(8 * Math.max(1, template.value.length));
        const pG = alloc(8 * n * n);
        const pB = alloc(8 * n);
        const pM = alloc(8 * n * n);
        const pdG = alloc(8 * n * n);
        const pdb = alloc(8 * n);
        const pdM = alloc(8 * n * n);
        const pWork = alloc(8 * (3 * n + 2 * m));
        const pOut = alloc(16);
        const buf = ex.memory.buffer;
        new Int32Array(buf, pRPtr, recon.tokens + 1).set(recon.ptr.subarray(0, recon.tokens + 1));
        new Int32Array(buf, pRIdx, reconNnz).set(recon.idx.subarray(0, reconNnz));
        new Float64Array(buf, pRVal, reconNnz).set(recon.val.subarray(0, reconNnz));
        new Int32Array(buf, pAPtr, attn.tokens + 1).set(attn.ptr.subarray(0, attn.tokens + 1));
        new Int32Array(buf, pAIdx, attnNnz).set(attn.idx.subarray(0, attnNnz));
        new Float64Array(buf, pAVal, attnNnz).set(attn.val.subarray(0, attnNnz));
        new Int32Array(buf, pTPtr, n + 1).set(template.ptr);
        new Int32Array(buf, pTKey, template.key.length).set(template.key);
        new Float64Array(buf, pTVal, template.value.length).set(template.value);
        new Float64Array(buf, pG, n * n).set(input.gram);
        new Float64Array(buf, pB, n).set(input.b);
        new Float64Array(buf, pM, n * n).set(input.mOmega);
        const backward = grads ? 1 : 0;
        const out = new Float64Array(buf, pOut, 2);
        check(ex.toyReconPass(n, recon.tokens, pRPtr, pRIdx, pRVal, pG, pB, pdG, pdb, backward, pWork, pOut), "toyReconPass");
        check(
          ex.toyAttentionPass(n, m, samples, pAPtr, pAIdx, pAVal, pM, pTPtr, pTKey, pTVal, input.beta, input.lambda, pdM, backward, pWork, pOut + 8),
          "toyAttentionPass",
        );
        if (grads) {
          grads.dGram.set(new Float64Array(buf, pdG, n * n));
          grads.db.set(new Float64Array(buf, pdb, n));
          grads.dM.set(new Float64Array(buf, pdM, n * n));
        }
        return { recon: out[0], ce: out[1] };
      } finally {
        ex.reset();
      }
    },
  };
}
