/**
 * @module model/architectures/common
 * Shared by the forward adapters: the checkpoint prefix the scan's pattern found, embedding
 * lookups that read only the rows of the tokens used, tensor shape checks and small conversions.
 */
import { CheckpointError, type Checkpoint } from "../../cli/checkpoint";
import { linearWeights, type LinearWeights, type NormParams, type WeightLayout } from "../../kernels/forward";
import type { Allocate } from "./types";

/** The prefix (group 1) of the first tensor name matching the adapter's signature pattern. */
export function findPrefix(ckpt: Checkpoint, pattern: RegExp): string {
  for (const n of ckpt.names()) {
    const m = pattern.exec(n);
    if (m) return m[1];
  }
  throw new CheckpointError(`no tensor matches ${pattern.source}`);
}

export function requireShape(ckpt: Checkpoint, name: string, shape: number[]): void {
  const got = ckpt.info(name).shape;
  if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
    throw new CheckpointError(`tensor ${name} has shape ${JSON.stringify(got)}, expected ${JSON.stringify(shape)}`);
  }
}

export const f32 = (v: ArrayLike<number>): Float32Array => (v instanceof Float32Array ? v : Float32Array.from(v));

export function norm(ckpt: Checkpoint, weight: string, bias?: string): NormParams {
  return { weight: f32(ckpt.read(weight)), bias: bias ? f32(ckpt.read(bias)) : undefined };
}

/**
 * Every tensor the pass will read must be there before anything runs: `names(-1)` the embeddings,
 * `names(l)` block l's.
 */
export function requireAll(ckpt: Checkpoint, nLayers: number, names: (layer: number) => string[]): void {
  const missing = [-1, ...Array.from({ length: nLayers }, (_, l) => l)].flatMap(names).filter((n) => !ckpt.has(n));
  if (missing.length) {
    throw new CheckpointError(
      `the forward pass needs the whole model (embeddings, and every block's norms, attention and MLP); missing ${missing.slice(0, 6).join(", ")}` +
        `${missing.length > 6 ? ` and ${missing.length - 6} more` : ""}`,
    );
  }
}

/** Rows [from, from + count) of a 2-D checkpoint tensor. */
export interface RowSegment {
  name: string;
  from?: number;
  count?: number;
}

/**
 * The matrix whose rows are the given segments, in order (rows are input dimensions for "in_out",
 * output columns for "out_in"), read straight into one `alloc`ated array in the checkpoint's layout
 * (the matmul packs it; F32 tensors are read into it without a copy).
 */
export function readLinear(
  ckpt: Checkpoint, alloc: Allocate, segments: RowSegment[], k: number, m: number, layout: WeightLayout, bias?: ArrayLike<number>,
): LinearWeights {
  const width = layout === "in_out" ? m : k;
  const rowsWanted = layout === "in_out" ? k : m;
  const parts = segments.map((s) => {
    const [rows, cols] = ckpt.info(s.name).shape;
    if (cols !== width) throw new CheckpointError(`tensor ${s.name} has ${cols} columns, expected ${width}`);
    return { name: s.name, from: s.from ?? 0, count: s.count ?? rows };
  });
  const total = parts.reduce((n, s) => n + s.count, 0);
  if (total !== rowsWanted) throw new CheckpointError(`${segments.map((s) => s.name).join(" + ")}: ${total} rows, expected ${rowsWanted}`);
  const weights = alloc(k * m);
  let row = 0;
  for (const s of parts) {
    ckpt.readRowsInto(s.name, s.from, s.from + s.count, weights, row * width);
    row += s.count;
  }
  return linearWeights(k, m, layout, weights, bias);
}

/** Rows of `name` [vocab, d] for every token of every prompt, stacked; plus `positions` rows 0… added when given. */
export function embedRows(ckpt: Checkpoint, name: string, prompts: number[][], positions?: string): Float32Array {
  const [vocab, d] = ckpt.info(name).shape;
  const total = prompts.reduce((s, p) => s + p.length, 0);
  const out = new Float32Array(total * d);
  const cache = new Map<number, Float32Array | Float64Array>();
  let tMax = 0;
  let row = 0;
  for (const p of prompts) {
    tMax = Math.max(tMax, p.length);
    for (const id of p) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new CheckpointError(`token id ${id} is outside the vocabulary [0, ${vocab})`);
      let e = cache.get(id);
      if (!e) {
        e = ckpt.readRows(name, id, id + 1);
        cache.set(id, e);
      }
      out.set(e, row * d);
      row++;
    }
  }
  if (positions) {
    const pos = ckpt.readRows(positions, 0, tMax);
    row = 0;
    for (const p of prompts) {
      for (let t = 0; t < p.length; t++, row++) {
        for (let i = 0; i < d; i++) out[row * d + i] += pos[t * d + i];
      }
    }
  }
  return out;
}

/** Concatenates row-major blocks (rows of an [out, in] matrix, or [n] biases). */
export function concat(parts: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** config.json's rope_scaling, refused unless it is absent, null, default, or linear (positions ÷ factor). */
export function ropePositionScale(config: Record<string, unknown> | undefined, arch: string): number {
  const rs = config?.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs === undefined || rs === null) return 1;
  const kind = rs.rope_type ?? rs.type;
  if (kind === "default") return 1;
  if (kind === "linear" && typeof rs.factor === "number" && rs.factor > 0) return rs.factor;
  throw new CheckpointError(
    `${arch}: config.json's rope_scaling ${JSON.stringify(rs)} is not implemented by the forward pass (only none, default and linear are); ` +
      "its attention inputs would be wrong, so nothing is computed",
  );
}
