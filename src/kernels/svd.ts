/**
 * @module kernels/svd
 * The SVD part of the WebAssembly boundary (assembly/svd/*): f32/f64 row-major in, f64 column-major
 * inside, row-major out, kernel statuses mapped to the errors callers see.
 */
import { KernelFault, NonFiniteInput, NotConverged, ShapeMismatch } from "../errors";
import type { KernelInstance } from "./instance";
import * as st from "./status";
import type { FactorPlan, FoldedFactors, FoldedSvd, Matrix, Svd, SvdDiagnostics } from "./types";

/**
 * Copies row-major `src` [rows, cols] into f64 column-major at byte offset `at`: a typed-array `set`
 * into `stage` (rows·cols·8 bytes; native, widening float32), then the kernel's tiled transpose
 * (assembly/shared/layout.ts). A JavaScript loop doing the transpose was the worker's largest cost
 * outside the SVD on the Llama-3-8B shape (see that file's header).
 */
function copyInColumnMajor(k: KernelInstance, at: number, src: Matrix, stage: number): void {
  const { rows, cols, data } = src;
  const n = rows * cols;
  const buf = k.exports.memory.buffer;
  if (data instanceof Float32Array) {
    new Float32Array(buf, stage, n).set(data.subarray(0, n));
    k.exports.transposeF32ToF64(rows, cols, stage, at);
  } else {
    new Float64Array(buf, stage, n).set(data.subarray(0, n));
    k.exports.transposeF64(rows, cols, stage, at);
  }
}

/** Copies f64 column-major [rows, cols] at byte offset `at` out as row-major, through `stage` (rows·cols·8 bytes). */
function copyOutRowMajor(k: KernelInstance, at: number, rows: number, cols: number, stage: number): Float64Array {
  k.exports.transposeF64(cols, rows, at, stage); // column-major [rows, cols] is row-major [cols, rows]
  return new Float64Array(k.exports.memory.buffer, stage, rows * cols).slice();
}

/** float64 values foldFactor reports: ‖factor‖²_F, and 1 when some entry is non-zero. */
const FOLD_INFO_LENGTH = 2;
/** Bytes foldPair needs beside the staged factor: γ and β [d], the bias [h], foldFactor's 2·h of scratch, its info. */
const scratchBytes = (d: number, h: number) => 8 * (2 * d + 3 * h + FOLD_INFO_LENGTH);

/** Both factors' shape once folded, checking the plans agree. */
function planShape(a: FactorPlan, b: FactorPlan): { rows: number; h: number } {
  if (a.d !== b.d || a.h !== b.h || a.augment !== b.augment) {
    throw new ShapeMismatch(`factors must have the same shape: [${a.d}, ${a.h}] and [${b.d}, ${b.h}]${a.augment !== b.augment ? ", both augmented or neither" : ""}`);
  }
  return { rows: a.d + (a.augment ? 1 : 0), h: a.h };
}

function readDiagnostics(mem: Float64Array, at: number): SvdDiagnostics {
  return {
    sweeps: mem[at + st.DIAG_SWEEPS],
    offOrthogonality: mem[at + st.DIAG_OFF_ORTHOGONALITY],
    coreResidual: mem[at + st.DIAG_CORE_RESIDUAL],
    orthogonalityU: mem[at + st.DIAG_ORTHOGONALITY_U],
    orthogonalityV: mem[at + st.DIAG_ORTHOGONALITY_V],
    rank: mem[at + st.DIAG_RANK],
    checkLimit: mem[at + st.DIAG_CHECK_LIMIT],
    offOrthogonalityLimit: mem[at + st.DIAG_OFF_ORTHOGONALITY_LIMIT],
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

/** svd and factoredSvd over one instance. */
export function svdKernels(k: KernelInstance) {
  const ex = k.exports;

  /** SVD of A [m, n] with m ≥ n by one-sided Jacobi. */
  const jacobiTall = (a: Matrix): Svd =>
    k.call(() => {
      const { rows: m, cols: n } = a;
      const pa = k.alloc(8 * m * n);
      const ps = k.alloc(8 * n);
      const pv = k.alloc(8 * n * n);
      const pw = k.alloc(8 * n);
      const pd = k.alloc(8 * st.DIAG_LENGTH);
      const stage = k.alloc(8 * m * n); // m ≥ n: holds A, U and V
      const mem = new Float64Array(ex.memory.buffer);
      mem.fill(0, pd / 8, pd / 8 + st.DIAG_LENGTH); // the arena is not cleared between calls
      copyInColumnMajor(k, pa, a, stage);
      const status = ex.svdJacobi(m, n, pa, Math.max(1, m), ps, pv, Math.max(1, n), pw, pd);
      const diagnostics = readDiagnostics(mem, pd / 8);
      checkStatus(status, "svdJacobi", diagnostics);
      return canonicalize({
        U: copyOutRowMajor(k, pa, m, n, stage),
        S: mem.slice(ps / 8, ps / 8 + n),
        V: copyOutRowMajor(k, pv, n, n, stage),
        m,
        n,
        k: n,
        diagnostics,
      });
    });

  /**
   * The factored SVD of A·Bᵀ [m, n] after `fill` has put A and B (column-major f64) at pa and pb,
   * using `stage` (8·m·n bytes) and `scratch` (`extra` bytes) as it likes; undefined when `fill`
   * says there is nothing to decompose.
   */
  const factored = (
    m: number, n: number, extra: number, fill: (pa: number, pb: number, stage: number, scratch: number) => boolean,
  ): Svd | undefined => {
    const kk = Math.min(m, n);
    return k.call(() => {
      const pa = k.alloc(8 * m * n);
      const pb = k.alloc(8 * m * n);
      const pu = k.alloc(8 * m * kk);
      const ps = k.alloc(8 * kk);
      const pv = k.alloc(8 * m * kk);
      const pw = k.alloc(8 * ex.svdFactoredWorkspace(m, n));
      const pd = k.alloc(8 * st.DIAG_LENGTH);
      const stage = k.alloc(8 * m * n); // holds A, B, U and V in turn (kk ≤ n)
      const scratch = k.alloc(Math.max(extra, 16));
      if (!fill(pa, pb, stage, scratch)) return undefined;
      const mem = new Float64Array(ex.memory.buffer);
      const status = ex.svdFactored(m, n, pa, pb, pu, ps, pv, pw, pd);
      const diagnostics = readDiagnostics(mem, pd / 8);
      checkStatus(status, "svdFactored", diagnostics);
      return {
        U: copyOutRowMajor(k, pu, m, kk, stage),
        S: mem.slice(ps / 8, ps / 8 + kk),
        V: copyOutRowMajor(k, pv, m, kk, stage),
        m,
        n: m,
        k: kk,
        diagnostics,
      };
    });
  };

  /**
   * Folds both factors into pa and pb (assembly/svd/fold.ts): each plan's values are set into
   * `stage` as float64 (a native widening; half-precision bits are widened by the kernel), its γ,
   * β and bias into `scratch` (scratchBytes).
   */
  const foldPair = (a: FactorPlan, b: FactorPlan, pa: number, pb: number, stage: number, scratch: number): FoldedFactors => {
    const one = (f: FactorPlan, out: number) => {
      const { d, h } = f;
      const [gamma, beta, bias, work, info] = [scratch, scratch + 8 * d, scratch + 16 * d, scratch + 16 * d + 8 * h, scratch + 16 * d + 24 * h];
      const buf = ex.memory.buffer;
      if ("bits" in f.w) {
        // the bits into the stage's last quarter, widened over the whole of it (front to back, exact)
        new Uint16Array(buf, stage + 6 * d * h, d * h).set(f.w.bits.subarray(0, d * h));
        ex.widenHalfToF64(d * h, stage + 6 * d * h, stage, f.w.dtype === "BF16" ? 1 : 0);
      } else new Float64Array(buf, stage, d * h).set(f.w.subarray(0, d * h));
      if (f.gamma) new Float64Array(buf, gamma, d).set(f.gamma.subarray(0, d));
      if (f.beta) new Float64Array(buf, beta, d).set(f.beta.subarray(0, d));
      if (f.bias) new Float64Array(buf, bias, h).set(f.bias.subarray(0, h));
      ex.foldFactor(
        d, h, stage, f.transposed ? 1 : 0, f.gamma ? gamma : 0, f.beta ? beta : 0, f.bias ? bias : 0, f.centre ? 1 : 0, f.augment ? 1 : 0,
        out, work, info,
      );
      const r = new Float64Array(buf, info, FOLD_INFO_LENGTH);
      return { norm: Math.sqrt(r[0]), zero: r[1] === 0 };
    };
    const fa = one(a, pa);
    const fb = one(b, pb);
    return { norms: { a: fa.norm, b: fb.norm }, zero: [fa.zero, fb.zero] };
  };

  return {
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
      return factored(a.rows, a.cols, 0, (pa, pb, stage) => {
        copyInColumnMajor(k, pa, a, stage);
        copyInColumnMajor(k, pb, b, stage);
        return true;
      })!;
    },

    foldedSvd(a: FactorPlan, b: FactorPlan): FoldedSvd {
      const { rows, h } = planShape(a, b);
      let folded: FoldedFactors | undefined;
      const svd = factored(rows, h, scratchBytes(a.d, h), (pa, pb, stage, scratch) => {
        folded = foldPair(a, b, pa, pb, stage, scratch);
        return !folded.zero[0] && !folded.zero[1];
      });
      return { ...folded!, svd };
    },

    foldFactors(a: FactorPlan, b: FactorPlan): FoldedFactors & { a: Matrix; b: Matrix } {
      const { rows, h } = planShape(a, b);
      return k.call(() => {
        const pa = k.alloc(8 * rows * h);
        const pb = k.alloc(8 * rows * h);
        const stage = k.alloc(8 * rows * h);
        const scratch = k.alloc(scratchBytes(a.d, h));
        const folded = foldPair(a, b, pa, pb, stage, scratch);
        return { ...folded, a: { rows, cols: h, data: copyOutRowMajor(k, pa, rows, h, stage) }, b: { rows, cols: h, data: copyOutRowMajor(k, pb, rows, h, stage) } };
      });
    },
  };
}
