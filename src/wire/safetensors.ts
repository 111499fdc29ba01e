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

/** One tensor's entry in a validated header: offsets relative to the first data byte. */
export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** [begin, end) relative to the byte after the header */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** 8 + header length: where the data section starts in the file or buffer */
  dataStart: number;
  /** tensors in header order */
  entries: TensorEntry[];
  metadata: Record<string, string>;
}

/**
 * What a buffer that is not safetensors looks like, from its first bytes: the formats researchers
 * most often send by mistake (a `torch.save` zip or pickle, a .npy, JSON, text), so the error can
 * say what was sent instead of quoting an impossible header length.
 */
export function sniffFormat(prefix: Uint8Array): string {
  const b = prefix;
  const starts = (...x: number[]) => x.every((v, i) => b[i] === v);
  if (starts(0x50, 0x4b, 0x03, 0x04)) return "a zip archive (PyTorch's torch.save .pt/.bin format?)";
  if (b[0] === 0x80 && b[1] >= 2 && b[1] <= 5) return "a Python pickle (an old torch.save file?)";
  if (starts(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)) return "a .npy array";
  if (starts(0x47, 0x47, 0x55, 0x46)) return "a GGUF file";
  if (starts(0x89, 0x48, 0x44, 0x46)) return "an HDF5 file";
  const text = b.subarray(0, 16);
  if (text.length > 0 && text.every((c) => c === 9 || c === 10 || c === 13 || (c >= 0x20 && c < 0x7f))) {
    const t = String.fromCharCode(...text).trim();
    return t.startsWith("{") || t.startsWith("[") ? `JSON text (${JSON.stringify(t)}…)` : `text (${JSON.stringify(t)}…)`;
  }
  return `bytes ${[...b.subarray(0, 8)].map((c) => c.toString(16).padStart(2, "0")).join(" ")}`;
}

const notSafetensors = (what: string, prefix: Uint8Array) =>
  new MalformedSafetensors(
    `not a safetensors file: the ${what} starts with ${sniffFormat(prefix)}; a safetensors file starts with an 8-byte ` +
      `little-endian header length and then a JSON header "{…" (save with safetensors' save_file, or see examples/export_head.py)`,
    { detected: "not-safetensors" },
  );

/**
 * Reads the 8-byte header length from the start of a file or buffer and checks it against the limit
 * and the total size. Returns the JSON header's byte length. Give at least 9 bytes of prefix when
 * there are: the ninth must open the JSON header (`{`), which tells a file that is not safetensors
 * at all ("not a safetensors file: … starts with a zip archive") from one whose header length lies.
 * @throws MalformedSafetensors when the prefix is short, the length is impossible, or the bytes are another format
 */
export function readHeaderLength(prefix: Uint8Array, totalBytes: number, maxHeaderBytes = MAX_HEADER_BYTES, what = "body"): number {
  if (prefix.byteLength < 8 || totalBytes < 8) {
    if (totalBytes > 0) throw notSafetensors(what, prefix);
    throw new MalformedSafetensors(`${what} is ${totalBytes} bytes; a safetensors file has at least an 8-byte header length`);
  }
  const headerLen = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (prefix.byteLength > 8 && prefix[8] !== 0x7b) throw notSafetensors(what, prefix);
  if (headerLen > BigInt(maxHeaderBytes)) {
    throw new MalformedSafetensors(`header length ${headerLen} exceeds the ${maxHeaderBytes}-byte limit`);
  }
  const n = Number(headerLen);
  if (8 + n > totalBytes) {
    throw new MalformedSafetensors(`header length ${n} runs past the end of the ${totalBytes}-byte ${what}`);
  }
  return n;
}

/**
 * Validates a safetensors JSON header against the number of data bytes that actually follow it,
 * without needing those bytes in memory (the CLI reads multi-gigabyte checkpoints this way; request
 * bodies go through the same function via parseSafetensors).
 * @param json - the header's bytes (after the 8-byte length)
 * @param dataLen - bytes present after the header
 * @throws MalformedSafetensors for any structural problem, naming what was expected and found
 */
export function parseSafetensorsHeader(json: Uint8Array, dataLen: number): SafetensorsHeader {
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(json);
    header = JSON.parse(text);
  } catch (e) {
    throw new MalformedSafetensors(`header is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new MalformedSafetensors("header must be a JSON object");
  }
  const entries: TensorEntry[] = [];
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
    let bytes = (shape as number[]).includes(0) ? 0 : (DTYPE_BYTES[dtype as Dtype] as number);
    for (const d of shape as number[]) {
      if (bytes > dataLen) break;
      bytes *= d;
    }
    if (bytes !== end - begin) {
      throw new MalformedSafetensors(
        `tensor ${name}: shape ${JSON.stringify(shape)} of ${dtype} needs ${bytes > dataLen ? `more than ${dataLen}` : bytes} bytes, data_offsets give ${end - begin}`,
      );
    }
    spans.push([begin, end, name]);
    entries.push({ name, dtype: dtype as Dtype, shape: shape as number[], begin, end });
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) {
      throw new MalformedSafetensors(`tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
    }
  }
  return { dataStart: 8 + json.byteLength, entries, metadata };
}

/**
 * Parses and validates a safetensors buffer without copying tensor data.
 * @throws MalformedSafetensors for any structural problem, naming what was expected and found
 */
export function parseSafetensors(buf: Uint8Array, maxHeaderBytes = MAX_HEADER_BYTES): ParsedSafetensors {
  const n = readHeaderLength(buf, buf.byteLength, maxHeaderBytes);
  const dataStart = 8 + n;
  const header = parseSafetensorsHeader(buf.subarray(8, dataStart), buf.byteLength - dataStart);
  const tensors = new Map<string, TensorView>();
  for (const e of header.entries) {
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, bytes: buf.subarray(dataStart + e.begin, dataStart + e.end) });
  }
  return { tensors, metadata: header.metadata };
}

const f16 = (h: number): number => {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
};

/** IEEE half precision bits of x, rounded to nearest even (overflow → ±Inf, underflow → subnormals or ±0). */
export function toF16(x: number): number {
  F32[0] = x;
  const b = U32[0];
  const a = b & 0x7fffffff;
  if (a >= 0x38800000 && a < 0x477ff000) {
    // a normal half (2^-14 ≤ |x| < 65520): rebias the exponent, and round the 13 dropped mantissa bits
    // to nearest even in one addition (a carry runs into the exponent, as it should) — no branch on
    // the dropped bits, which are random in real data (the readout basis: 77M values per GPT-2)
    const v = a - 0x38000000;
    return ((b >>> 16) & 0x8000) | ((v + 0xfff + ((v >>> 13) & 1)) >>> 13);
  }
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  let m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const h = e - 127 + 15;
  if (h >= 0x1f) return sign | 0x7c00;
  if (h <= 0) {
    if (h < -10) return sign;
    m |= 0x800000;
    const shift = 14 - h;
    let v = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && v & 1)) v++;
    return sign | v;
  }
  let v = (h << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && v & 1)) v++; // a carry into the exponent is still correct (up to Inf)
  return sign | v;
}
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Safetensors is little-endian; on a little-endian host (every one Workers and Node run on) arrays are copied whole. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16Values: Float32Array | undefined;
/** Every F16 bit pattern's value (256 KB, made once): a lookup instead of a decode per element. */
function f16Table(): Float32Array {
  if (!f16Values) {
    f16Values = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Values[h] = f16(h);
  }
  return f16Values;
}

/**
 * Decodes a float tensor: F32, F16 and BF16 to Float32Array (exactly), F64 to Float64Array.
 * With `view`, an aligned F32 or F64 tensor comes back as a view of its bytes, not a copy: only for
 * bytes nobody writes afterwards (a request's own body), since the result aliases them. Fresh memory
 * costs its first touch (about 0.8 ms per MiB here), so a body's 4 MiB of factors at d_model 4096
 * are not copied again.
 * @throws UnsupportedDtype for integer and 8-bit float dtypes
 */
export function decodeFloat(t: TensorView, view = false): Float32Array | Float64Array {
  const count = t.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  if (view && LITTLE_ENDIAN) {
    if (t.dtype === "F32" && t.bytes.byteOffset % 4 === 0) return new Float32Array(t.bytes.buffer, t.bytes.byteOffset, count);
    if (t.dtype === "F64" && t.bytes.byteOffset % 8 === 0) return new Float64Array(t.bytes.buffer, t.bytes.byteOffset, count);
  }
  switch (t.dtype) {
    case "F32": {
      const out = new Float32Array(count);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(t.bytes.subarray(0, 4 * count));
      else for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case "F64": {
      const out = new Float64Array(count);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(t.bytes.subarray(0, 8 * count));
      else for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case "BF16":
    case "F16": {
      const out = new Float32Array(count);
      decodeHalfInto(t.dtype, halfBits(t.bytes, count), out, 0);
      return out;
    }
    default:
      throw new UnsupportedDtype(`tensor ${t.name} has dtype ${t.dtype}; accepted: ${FLOAT_DTYPES.join(", ")}`, {
        tensor: t.name,
        dtype: t.dtype,
      });
  }
}

/**
 * Little-endian half-precision bytes as their Uint16 bits: a view when aligned on a little-endian
 * host, else an aligned copy (byte for byte, or value by value on a big-endian host).
 */
function halfBits(bytes: Uint8Array, count: number): Uint16Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  const h = new Uint16Array(count);
  if (LITTLE_ENDIAN) new Uint8Array(h.buffer).set(bytes.subarray(0, 2 * count));
  else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) h[i] = dv.getUint16(2 * i, true);
  }
  return h;
}

/**
 * Widens half-precision values (their bits) into `out` from index `at`, without allocating: the
 * forward pass decodes a block's BF16 or F16 weights straight into the buffer it reuses block after
 * block (fresh arrays cost more in page faults than the decoding).
 */
export function decodeHalfInto(dtype: "BF16" | "F16", h: Uint16Array, out: Float32Array, at: number): void {
  if (dtype === "BF16") {
    // Int32, not Uint32: `h << 16` is a signed 32-bit integer, which an Int32Array stores as it is
    // (into a Uint32Array each store converts it: measured 3× slower; a DataView loop 5–10× slower)
    const u = new Int32Array(out.buffer, out.byteOffset + 4 * at, h.length);
    for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
  } else {
    const table = f16Table();
    for (let i = 0; i < h.length; i++) out[at + i] = table[h[i]];
  }
}

/**
 * Half-precision values as their bits (BF16, or IEEE F16), for code that widens them itself: the
 * kernels widen a head's factors straight into their own memory (kernels/svd.ts), and the CLI sends
 * a checkpoint's half-precision weights unconverted.
 */
export interface HalfBits {
  dtype: "BF16" | "F16";
  bits: Uint16Array;
}

/**
 * A float tensor of a request body as its values: decodeFloat(t, true) for F32 and F64 (views when
 * aligned), BF16 and F16 as their bits (a view when aligned, else an aligned copy), so nothing is
 * widened into fresh memory here.
 */
export function viewFloat(t: TensorView): Float32Array | Float64Array | HalfBits {
  if (t.dtype !== "BF16" && t.dtype !== "F16") return decodeFloat(t, true);
  return { dtype: t.dtype, bits: halfBits(t.bytes, t.shape.reduce((a, b) => a * b, 1)) };
}

/** The float value of element i of half-precision bits (exact; BF16 through the module's float32 scratch, as toF16 reads it). */
export function halfValue(h: HalfBits, i: number): number {
  if (h.dtype === "F16") return f16Table()[h.bits[i]];
  U32[0] = h.bits[i] << 16;
  return F32[0];
}

/** Index of the first value that is not finite (NaN, ±∞) in a decoded tensor (or half-precision bits: an all-ones exponent), or −1. */
export function firstNonFinite(a: Float32Array | Float64Array | HalfBits): number {
  if ("bits" in a) {
    const mask = a.dtype === "BF16" ? 0x7f80 : 0x7c00;
    const b = a.bits;
    for (let i = 0; i < b.length; i++) if ((b[i] & mask) === mask) return i;
    return -1;
  }
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

export interface TensorOut {
  /** integer dtypes carry indices and counts (SAD pair coordinates, selected singular indices) */
  dtype: "F32" | "F64" | "F16" | "BF16" | "I32" | "U16";
  shape: number[];
  /**
   * The values; F16 values are rounded to half precision. A Uint16Array for F16 or BF16 holds the
   * values' bits, written as they are (a checkpoint's half-precision weights, never converted), and
   * BF16 takes only bits.
   */
  data: Float32Array | Float64Array | Uint16Array | ArrayLike<number>;
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
    if (t.dtype === "BF16" && !(t.data instanceof Uint16Array)) throw new Error(`encodeSafetensors: ${name} is BF16, which takes its bits (a Uint16Array)`);
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
    // whole-array copies where the host's byte order is the file's (little-endian)
    const at = base + off;
    if (LITTLE_ENDIAN && t.dtype === "F32" && t.data instanceof Float64Array && at % 4 === 0) {
      // rounded straight into the file (a native conversion), with no float32 copy in between
      new Float32Array(out.buffer, at, t.data.length).set(t.data);
      continue;
    }
    const raw =
      !LITTLE_ENDIAN ? undefined
      : t.dtype === "F32" ? (t.data instanceof Float32Array ? t.data : t.data instanceof Float64Array ? new Float32Array(t.data) : undefined)
      : t.dtype === "F64" && t.data instanceof Float64Array ? t.data
      : (t.dtype === "F16" || t.dtype === "BF16" || t.dtype === "U16") && t.data instanceof Uint16Array ? t.data
      : undefined;
    if (raw) {
      out.set(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), base + off);
      continue;
    }
    if (t.dtype === "F16" && !(t.data instanceof Uint16Array)) {
      for (let i = 0; i < t.data.length; i++) dv.setUint16(base + off + 2 * i, toF16(t.data[i]), true);
      continue;
    }
    for (let i = 0; i < t.data.length; i++) {
      if (t.dtype === "F32") dv.setFloat32(base + off + 4 * i, t.data[i], true);
      else if (t.dtype === "F64") dv.setFloat64(base + off + 8 * i, t.data[i], true);
      else if (t.dtype === "I32") dv.setInt32(base + off + 4 * i, t.data[i], true);
      else dv.setUint16(base + off + 2 * i, t.data[i], true);
    }
  }
  return out;
}
