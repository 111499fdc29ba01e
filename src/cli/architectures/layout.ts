/**
 * @module cli/architectures/layout
 * Matrix slicing shared by the adapters (row-major, float32 or float64 in, float32 out — checkpoint
 * values are at most float32-precise except F64, which keeps its own type), the rotary rotation
 * of key weights (re-exported from analysis/rotary.ts), and a small per-layer cache so a layer's fused tensors are read once.
 */
import type { Vec } from "./types";

const like = (v: Vec, n: number): Vec => (v instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));

/** Columns [c0, c1) of m [rows, cols] → [rows, c1 − c0]. */
export function cols(m: Vec, rows: number, ncols: number, c0: number, c1: number): Vec {
  const w = c1 - c0;
  const out = like(m, rows * w);
  for (let i = 0; i < rows; i++) out.set(m.subarray(i * ncols + c0, i * ncols + c1), i * w);
  return out;
}

/** Transpose of m [rows, cols] → [cols, rows]. */
export function transpose(m: Vec, rows: number, ncols: number): Vec {
  const out = like(m, rows * ncols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < ncols; j++) out[j * rows + i] = m[i * ncols + j];
  return out;
}

/** The rotary convention lives in analysis/rotary.ts (the worker's rotary SAD uses it too). */
export { rotateKeyRows } from "../../analysis/rotary";

/** Keeps the most recent `size` layers' tensors (the fan-out works on about one layer at a time). */
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
}

export const configNumber = (config: Record<string, unknown> | undefined, ...keys: string[]): number | undefined => {
  for (const k of keys) {
    const v = config?.[k];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return undefined;
};
