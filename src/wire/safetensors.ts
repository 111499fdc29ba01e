/**
 * @module wire/safetensors
 * Reading and writing the safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__"?: {string: string}}`, then the tensor bytes. Offsets are relative to the byte after
 * the header.
 *
 * Every request body passes through `parseSafetensors` before anything is allocated for its
 * tensors, so it trusts nothing the header says: the header length, every offset and every shape is
 * checked against the bytes actually present (a header that claims billions of elements costs
 * nothing), offsets may not overlap, and all errors are `MalformedSafetensors` or `UnsupportedDtype`.
 * No npm package for this format is maintained (the few that exist are unmaintained 0.0.x), and the
 * format is small enough that validating it here is the safer choice.
 */
import { MalformedSafetensors, UnsupportedDtype } from "../errors";

export const DTYPE_BYTES = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
} as const;
export type Dtype = keyof typeof DTYPE_BYTES;
/** Dtypes decoded to floats. */
export const FLOAT_DTYPES = ["F32", "F16", "BF16", "F64"] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

export interface TensorView {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** the tensor's raw little-endian bytes (a view into the input, not a copy) */
  bytes: Uint8Array;
}

export interface ParsedSafetensors {
  tensors: Map<string, TensorView>;
  metadata: Record<string, string>;
}

/** Largest JSON header accepted (the format's own limit is 100 MB; ours is smaller). */
export const MAX_HEADER_BYTES = 1 << 20;

/**
 * Parses and validates a safetensors buffer without copying tensor data.
 * @throws MalformedSafetensors for any structural problem, naming what was expected and found
 */
export function parseSafetensors(buf: Uint8Array, maxHeaderBytes = MAX_HEADER_BYTES): ParsedSafetensors {
  if (buf.byteLength < 8) {
    throw new MalformedSafetensors(`body is ${buf.byteLength} bytes; a safetensors file has at least an 8-byte header length`);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = dv.getBigUint64(0, true);
  if (headerLen > BigInt(maxHeaderBytes)) {
    throw new MalformedSafetensors(`header length ${headerLen} exceeds the ${maxHeaderBytes}-byte limit`);
  }
  const n = Number(headerLen);
  if (8 + n > buf.byteLength) {
    throw new MalformedSafetensors(`header length ${n} runs past the end of the ${buf.byteLength}-byte body`);
  }
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(buf.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (e) {
    throw new MalformedSafetensors(`header is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new MalformedSafetensors("header must be a JSON object");
  }
  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  const tensors = new Map<string, TensorView>();
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number, string]> = [];

  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (entry === null || typeof entry !== "object" || Array.isArray(entry) ||
        !Object.values(entry).every((v) => typeof v === "string")) {
        throw new MalformedSafetensors("__metadata__ must map strings to strings");
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (entry === null || typeof entry !== "object") throw new MalformedSafetensors(`tensor ${name}: entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
      throw new MalformedSafetensors(`tensor ${name}: unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new MalformedSafetensors(`tensor ${name}: shape must be a list of at most 8 non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new MalformedSafetensors(`tensor ${name}: data_offsets must be [begin, end], got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLen) {
      throw new MalformedSafetensors(`tensor ${name}: data_offsets [${begin}, ${end}] outside the ${dataLen} data bytes`);
    }
    // element count × width must equal the span; checked incrementally so no product can overflow
    let bytes = DTYPE_BYTES[dtype as Dtype] as number;
    for (const d of shape as number[]) {
      bytes *= d;
      if (bytes > dataLen) break;
    }
    if (bytes !== end - begin) {
      throw new MalformedSafetensors(
        `tensor ${name}: shape ${JSON.stringify(shape)} of ${dtype} needs ${bytes > dataLen ? `more than ${dataLen}` : bytes} bytes, data_offsets give ${end - begin}`,
      );
    }
    spans.push([begin, end, name]);
    tensors.set(name, {
      name,
      dtype: dtype as Dtype,
      shape: shape as number[],
      bytes: buf.subarray(dataStart + begin, dataStart + end),
    });
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) {
      throw new MalformedSafetensors(`tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
    }
  }
  return { tensors, metadata };
}

const f16 = (h: number): number => {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
};

/**
 * Decodes a float tensor: F32, F16 and BF16 to Float32Array (exactly), F64 to Float64Array.
 * @throws UnsupportedDtype for integer and 8-bit float dtypes
 */
export function decodeFloat(t: TensorView): Float32Array | Float64Array {
  const count = t.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  switch (t.dtype) {
    case "F32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case "F64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case "BF16": {
      const out = new Float32Array(count);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case "F16": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = f16(dv.getUint16(2 * i, true));
      return out;
    }
    default:
      throw new UnsupportedDtype(`tensor ${t.name} has dtype ${t.dtype}; accepted: ${FLOAT_DTYPES.join(", ")}`, {
        tensor: t.name,
        dtype: t.dtype,
      });
  }
}

export interface TensorOut {
  /** integer dtypes carry indices and counts (SAD pair coordinates, selected singular indices) */
  dtype: "F32" | "F64" | "I32" | "U16";
  shape: number[];
  data: Float32Array | Float64Array | ArrayLike<number>;
}

/** Writes tensors (in the given order) as a safetensors file. Header padded to 8 bytes. */
export function encodeSafetensors(tensors: Record<string, TensorOut>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Array<[number, TensorOut]> = [];
  for (const [name, t] of Object.entries(tensors)) {
    const width = DTYPE_BYTES[t.dtype];
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`encodeSafetensors: ${name} has ${t.data.length} values for shape ${t.shape}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + count * width] };
    parts.push([offset, t]);
    offset += count * width;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(padded).fill(0x20);
  head.set(json);
  json = head;
  const out = new Uint8Array(8 + padded + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  const base = 8 + padded;
  for (const [off, t] of parts) {
    for (let i = 0; i < t.data.length; i++) {
      if (t.dtype === "F32") dv.setFloat32(base + off + 4 * i, t.data[i], true);
      else if (t.dtype === "F64") dv.setFloat64(base + off + 8 * i, t.data[i], true);
      else if (t.dtype === "I32") dv.setInt32(base + off + 4 * i, t.data[i], true);
      else dv.setUint16(base + off + 2 * i, t.data[i], true);
    }
  }
  return out;
}
