/**
 * @module bench/gpt2-weights
 * Reads the GPT-2 small attention weights (safetensors, float32 little-endian) for the benchmarks, and
 * cuts one head's factors out of them in TransformerLens orientation (method §1). Bench-only: it reads
 * the whole file synchronously and trusts the README's layout; it validates nothing beyond shapes.
 * see: /work/shared/models/README.md; safetensors format (8-byte header length, JSON header, data).
 */
import { readFileSync } from "node:fs";
import type { Matrix } from "../src/kernels/types";

export const GPT2_PATH = "/work/shared/models/gpt2-small-attn.safetensors";
export const GPT2_SPECTRA_PATH = "/work/shared/reference/gpt2-small-spectra.json";
export const D_MODEL = 768;
export const D_HEAD = 64;

interface TensorInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface Safetensors {
  tensor(name: string): { shape: number[]; data: Float32Array };
}

/** Opens a safetensors file; tensors are decoded lazily by name. */
export function readSafetensors(path: string = GPT2_PATH): Safetensors {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.toString("utf8", 8, 8 + headerLength)) as Record<string, TensorInfo>;
  const base = 8 + headerLength;
  return {
    tensor(name) {
      const info = header[name];
      if (!info) throw new Error(`${path}: no tensor ${name}`);
      if (info.dtype !== "F32") throw new Error(`${name}: dtype ${info.dtype}, expected F32`);
      const [from, to] = info.data_offsets;
      // copy: the Buffer's byte offset need not be 4-aligned
      const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + base + from, bytes.byteOffset + base + to));
      return { shape: info.shape, data };
    },
  };
}

/** Columns [c0, c0 + count) of a row-major [rows, cols] f32 matrix, as a row-major Matrix. */
function columns(data: Float32Array, rows: number, cols: number, c0: number, count: number): Matrix {
  const out = new Float32Array(rows * count);
  for (let i = 0; i < rows; i++) out.set(data.subarray(i * cols + c0, i * cols + c0 + count), i * count);
  return { rows, cols: count, data: out };
}

/**
 * Raw (unfolded, no bias) factors of one head's circuit: QK gives (W_Q, W_K), OV gives (W_V, W_Oᵀ),
 * each [d_model, d_head], so that the circuit is a·bᵀ.
 */
export function headFactors(st: Safetensors, layer: number, head: number, circuit: "qk" | "ov"): { a: Matrix; b: Matrix } {
  const cAttn = st.tensor(`h.${layer}.attn.c_attn.weight`).data; // [768, 2304] = [Q | K | V]
  const col = (part: number) => columns(cAttn, D_MODEL, 3 * D_MODEL, part * D_MODEL + head * D_HEAD, D_HEAD);
  if (circuit === "qk") return { a: col(0), b: col(1) };
  // W_O = c_proj rows head·64 … head·64+63 ([64, 768]); its transpose is [768, 64]
  const cProj = st.tensor(`h.${layer}.attn.c_proj.weight`).data;
  const wOt = new Float32Array(D_MODEL * D_HEAD);
  for (let r = 0; r < D_HEAD; r++) {
    for (let c = 0; c < D_MODEL; c++) wOt[c * D_HEAD + r] = cProj[(head * D_HEAD + r) * D_MODEL + c];
  }
  return { a: col(2), b: { rows: D_MODEL, cols: D_HEAD, data: wOt } };
}

/** The reference singular values (numpy/LAPACK, 7 significant digits) of one head's raw circuit. */
export function referenceSpectrum(layer: number, head: number, circuit: "qk" | "ov"): number[] {
  const ref = JSON.parse(readFileSync(GPT2_SPECTRA_PATH, "utf8")) as {
    heads: { layer: number; head: number; qk: { raw: number[] }; ov: { raw: number[] } }[];
  };
  const h = ref.heads.find((x) => x.layer === layer && x.head === head);
  if (!h) throw new Error(`no reference spectrum for layer ${layer} head ${head}`);
  return h[circuit].raw;
}

/**
 * max_k |σ_k − σ_k^ref| / σ_k^ref over σ_k^ref ≥ 1e-6·σ_1^ref (smaller values carry no relative
 * accuracy in a 7-digit reference).
 */
export function maxRelativeError(s: ArrayLike<number>, ref: number[]): number {
  let worst = 0;
  for (let k = 0; k < ref.length; k++) {
    if (ref[k] < 1e-6 * ref[0]) continue;
    const e = Math.abs(s[k] - ref[k]) / ref[k];
    if (!(e <= worst)) worst = e;
  }
  return worst;
}
