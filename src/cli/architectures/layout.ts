/**
 * @module cli/architectures/layout
 * Matrix slicing shared by the adapters (row-major): a head's block of rows or columns of a stored
 * matrix, transposed or not, read straight from the tensor's raw bytes in the checkpoint's own
 * dtype — F32 and F64 as floats, BF16 and F16 as their bits (HalfBits), which the scan sends on
 * unconverted — so a layer's fused or output matrix is kept in its file dtype and only the block a
 * head needs is ever copied, once. Also the rotary rotation of key weights (re-exported from
 * analysis/rotary.ts), and a per-layer cache that the scan empties as soon as a layer's heads are done.
 */
import { DTYPE_BYTES, decodeFloat, viewFloat, type TensorView } from "../../wire/safetensors";
import type { TensorSource } from "../tensor-source";
import type { HalfBits, Vec, Weights } from "./types";

/** A stored matrix's values: floats for F32/F64, bits for BF16/F16. */
type Stored = Float32Array | Float64Array | Uint16Array;

const fresh = <T extends Stored>(v: T, n: number): T =>
  (v instanceof Float64Array ? new Float64Array(n) : v instanceof Float32Array ? new Float32Array(n) : new Uint16Array(n)) as T;

/** The outputs of the block copies made inside reuseOutputs, in the order they were made (reused by the next call). */
const outputs: Stored[] = [];
/** The next of `outputs` to hand out, while inside reuseOutputs; undefined outside it. */
let nextOutput: number | undefined;

/** An array like v of n values: fresh, or inside reuseOutputs the one made at the same step of the previous call. */
function like<T extends Stored>(v: T, n: number): T {
  if (nextOutput === undefined) return fresh(v, n);
  const i = nextOutput++;
  const old = outputs[i];
  if (old && old.length === n && old.constructor === v.constructor) return old as T;
  return (outputs[i] = fresh(v, n));
}

/**
 * Runs fn with the row and column blocks it reads (readRowsT, rawColsT, rawCols) written into
 * arrays reused from the previous call instead of fresh ones: valid only until fn returns, so fn
 * must be done with them (the scan copies a head's weights into its request body). Fresh memory
 * costs its first touch, ~3.5 ms per MiB for the CLI here, two MiB per head at d_model 4096.
 */
export function reuseOutputs<T>(fn: () => T): T {
  if (nextOutput !== undefined) return fn(); // nested: the outer call's arrays stay valid until it returns
  nextOutput = 0;
  try {
    return fn();
  } finally {
    nextOutput = undefined;
  }
}

/** A raw tensor's values as stored (wire/safetensors.ts viewFloat: a view when aligned): floats, or half-precision bits. */
function stored(t: TensorView): Stored {
  const v = viewFloat(t);
  return "bits" in v ? v.bits : v;
}

/** Stored values as a head's weights: half-precision bits keep the tensor's dtype. */
const weights = (v: Stored, dtype: TensorView["dtype"]): Weights =>
  v instanceof Uint16Array ? { dtype: dtype as HalfBits["dtype"], bits: v } : v;

/** A head's weights as floats: half-precision bits decoded exactly (to float32), floats as they are. */
export function floatsOf(w: Weights): Vec {
  if (!("bits" in w)) return w;
  const b = w.bits;
  return decodeFloat({ name: "weights", dtype: w.dtype, shape: [b.length], bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) });
}

/**
 * Block [r0, r1) × [c0, c1) of m (row-major, ncols wide), transposed → [c1 − c0, r1 − r0], in 16 × 16
 * tiles: a head's slice of an 8B projection ([128, 4096] or [4096, 128]) is read and written a cache
 * line at a time instead of one strided element per line (measured 5–10× faster than the plain
 * double loop at those shapes).
 */
export function transposeBlock<T extends Stored>(m: T, ncols: number, r0: number, r1: number, c0: number, c1: number): T {
  const rows = r1 - r0;
  const out = like(m, rows * (c1 - c0));
  const B = 16;
  for (let i0 = r0; i0 < r1; i0 += B) {
    const i1 = Math.min(i0 + B, r1);
    for (let j0 = c0; j0 < c1; j0 += B) {
      const j1 = Math.min(j0 + B, c1);
      for (let j = j0; j < j1; j++) {
        const o = (j - c0) * rows - r0;
        for (let i = i0; i < i1; i++) out[o + i] = m[i * ncols + j];
      }
    }
  }
  return out;
}

/** Transpose of m [rows, cols] → [cols, rows]. */
export const transpose = <T extends Stored>(m: T, rows: number, ncols: number): T => transposeBlock(m, ncols, 0, rows, 0, ncols);

/** Columns [c0, c1) of a raw 2-D tensor [rows, cols] → [rows, c1 − c0]; only those values are copied. */
export function rawCols(t: TensorView, c0: number, c1: number): Weights {
  const [rows, ncols] = t.shape;
  const m = stored(t);
  const w = c1 - c0;
  const out = like(m, rows * w);
  for (let i = 0; i < rows; i++) out.set(m.subarray(i * ncols + c0, i * ncols + c1), i * w);
  return weights(out, t.dtype);
}

/** Columns [c0, c1) of a raw 2-D tensor [rows, cols], transposed → [c1 − c0, rows]. */
export function rawColsT(t: TensorView, c0: number, c1: number): Weights {
  return weights(transposeBlock(stored(t), t.shape[1], 0, t.shape[0], c0, c1), t.dtype);
}

/** Rows [r0, r1) of a 2-D tensor [rows, cols] as stored (only those bytes are read). */
export function readRows(src: TensorSource, name: string, r0: number, r1: number): Weights {
  const t = src.readRowsRaw(name, r0, r1);
  return weights(stored(t), t.dtype);
}

/**
 * Where readRowsT reads rows before transposing them (reused: the rows are done with before the
 * next read, and fresh memory costs its first touch, ~3.5 ms per MiB for the CLI here).
 */
let rowScratch = new Uint8Array(0);

/** Rows [r0, r1) of a 2-D tensor [rows, cols], transposed → [cols, r1 − r0] (only those bytes are read). */
export function readRowsT(src: TensorSource, name: string, r0: number, r1: number): Weights {
  const info = src.info(name);
  const length = (r1 - r0) * (info.shape[1] ?? 0) * DTYPE_BYTES[info.dtype];
  if (rowScratch.byteLength < length) rowScratch = new Uint8Array(length);
  const t = src.readRowsRaw(name, r0, r1, rowScratch);
  return weights(transpose(stored(t), r1 - r0, t.shape[1]), t.dtype);
}

/** The rotary convention lives in analysis/rotary.ts (the worker's rotary SAD uses it too). */
export { rotateKeyRows } from "../../analysis/rotary";

/**
 * A layer's shared tensors, loaded on first use. The fan-out works on about one layer at a time; the
 * scan calls `release(l)` when every request of layer l is built, and at most `size` layers are ever
 * kept (the oldest is dropped first).
 */
export class LayerCache<T> {
  private readonly m = new Map<number, T>();
  constructor(private readonly load: (layer: number) => T, private readonly size = 2) {}
  get(layer: number): T {
    let v = this.m.get(layer);
    if (v === undefined) {
      v = this.load(layer);
      this.m.set(layer, v);
      while (this.m.size > this.size) this.m.delete(this.m.keys().next().value as number);
    }
    return v;
  }
  release(layer: number): void {
    this.m.delete(layer);
  }
}

export const configNumber = (config: Record<string, unknown> | undefined, ...keys: string[]): number | undefined => {
  for (const k of keys) {
    const v = config?.[k];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return undefined;
};
