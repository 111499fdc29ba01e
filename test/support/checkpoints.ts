/**
 * Writes small Hugging Face-style checkpoints for the CLI tests: safetensors in F32, F16 or BF16
 * (values rounded to the dtype first, so the rounded values are the ground truth), as one file or
 * sharded with model.safetensors.index.json, with an optional config.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type TestDtype = "F32" | "F16" | "BF16";

export interface RawTensor {
  shape: number[];
  data: Float64Array;
}

/** IEEE binary16 bits of x, round to nearest even (normal, subnormal, zero). */
export function toF16Bits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    const m = Math.round(a / 2 ** -24); // Math.round: ties up; ties are measure-zero for random data
    return sign | m;
  }
  let e = Math.floor(Math.log2(a));
  let m = a / 2 ** e - 1;
  let mi = Math.round(m * 1024);
  if (mi === 1024) {
    mi = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | mi;
}

export function fromF16Bits(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function toBf16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
export function fromBf16Bits(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** Rounds every value to what the dtype can hold (in place) and returns the tensor. */
export function roundTo(t: RawTensor, dtype: TestDtype): RawTensor {
  for (let i = 0; i < t.data.length; i++) {
    const x = t.data[i];
    t.data[i] = dtype === "F32" ? Math.fround(x) : dtype === "F16" ? fromF16Bits(toF16Bits(x)) : fromBf16Bits(toBf16Bits(x));
  }
  return t;
}

/** A safetensors file of tensors in one dtype (header padded to 8 bytes). */
export function encodeFile(tensors: Array<[string, RawTensor]>, dtype: TestDtype): Uint8Array {
  const width = dtype === "F32" ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let off = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype, shape: t.shape, data_offsets: [off, off + t.data.length * width] };
    off += t.data.length * width;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + off);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const [, t] of tensors) {
    for (const x of t.data) {
      if (dtype === "F32") dv.setFloat32(p, x, true);
      else dv.setUint16(p, dtype === "F16" ? toF16Bits(x) : toBf16Bits(x), true);
      p += width;
    }
  }
  return out;
}

/**
 * Writes a checkpoint into dir: model.safetensors, or `shards` files plus the index (tensors dealt
 * round-robin, so each shard holds pieces of every layer). Returns the path to pass to the CLI.
 */
export function writeCheckpoint(
  dir: string,
  tensors: Record<string, RawTensor>,
  opts: { dtype: TestDtype; shards?: number; config?: Record<string, unknown> },
): string {
  mkdirSync(dir, { recursive: true });
  const entries = Object.entries(tensors).map(([n, t]) => [n, roundTo(t, opts.dtype)] as [string, RawTensor]);
  if (opts.config) writeFileSync(join(dir, "config.json"), JSON.stringify(opts.config));
  const shards = opts.shards ?? 1;
  if (shards === 1) {
    writeFileSync(join(dir, "model.safetensors"), encodeFile(entries, opts.dtype));
    return join(dir, "model.safetensors");
  }
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
    const mine = entries.filter((_, i) => i % shards === s);
    for (const [n] of mine) weightMap[n] = file;
    writeFileSync(join(dir, file), encodeFile(mine, opts.dtype));
  }
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return join(dir, "model.safetensors.index.json");
}
