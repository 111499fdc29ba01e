/**
 * fast-check arbitraries for hostile request bodies: random bytes, truncated files, safetensors
 * headers that lie (offsets past the end, overlapping ranges, overflowing or billion-element shapes,
 * non-UTF-8 or oversized JSON), wrong dtypes, NaN/Inf, empty tensors and mismatched shapes. Each
 * case carries the problem types that are acceptable answers.
 */
import fc from "fast-check";

export interface HostileCase {
  kind: string;
  body: Uint8Array;
  /** acceptable problem type slugs */
  expect: string[];
}

const enc = new TextEncoder();

/** A safetensors file from a header object and raw data bytes (header length may be forced). */
export function rawSafetensors(header: unknown, data: Uint8Array, headerLenOverride?: bigint): Uint8Array {
  const json = typeof header === "string" ? enc.encode(header) : enc.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLenOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** A valid qk head [d, h] with random values (used as the base for truncation and tampering). */
function validHead(d: number, h: number, fill: (i: number) => number) {
  const n = d * h;
  const q = Array.from({ length: n }, (_, i) => fill(i));
  const k = Array.from({ length: n }, (_, i) => fill(i + n));
  const header = {
    W_Q: { dtype: "F32", shape: [d, h], data_offsets: [0, 4 * n] },
    W_K: { dtype: "F32", shape: [d, h], data_offsets: [4 * n, 8 * n] },
  };
  return { header, data: f32Bytes([...q, ...k]), n };
}

const STRUCTURE = ["malformed-safetensors"];
/** a head's shape: never wider than the model (d_head > d_model reads as a transposed factor: shape-mismatch) */
const dims = fc.record({ d: fc.integer({ min: 1, max: 12 }), h: fc.integer({ min: 1, max: 4 }) }).map(({ d, h }) => ({ d, h: Math.min(d, h) }));

export const hostileBody: fc.Arbitrary<HostileCase> = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }).map((body) => ({ kind: "random bytes", body, expect: STRUCTURE })),
  fc.tuple(dims, fc.double({ min: 0, max: 1, noNaN: true })).map(([{ d, h }, frac]) => {
    const { header, data } = validHead(d, h, (i) => Math.sin(i));
    const full = rawSafetensors(header, data);
    const cut = Math.floor(frac * (full.length - 1));
    return { kind: "truncated", body: full.subarray(0, cut), expect: STRUCTURE };
  }),
  fc.tuple(dims, fc.integer({ min: 1, max: 1 << 20 })).map(([{ d, h }, extra]) => {
    const { header, data, n } = validHead(d, h, (i) => i);
    header.W_K.data_offsets = [4 * n, 8 * n + extra];
    return { kind: "offsets past the end", body: rawSafetensors(header, data), expect: STRUCTURE };
  }),
  fc.tuple(dims, fc.integer({ min: 1, max: 64 })).map(([{ d, h }, back]) => {
    const { header, data, n } = validHead(d, h, (i) => i);
    const start = Math.max(0, 4 * n - 4 * Math.min(back, n));
    header.W_K.data_offsets = [start, start + 4 * n];
    return { kind: "overlapping ranges", body: rawSafetensors(header, new Uint8Array(Math.max(data.length, start + 4 * n))), expect: STRUCTURE };
  }),
  fc.constantFrom([2 ** 40, 2 ** 40], [1e9, 1e9, 1e9], [2 ** 53, 2], [1_000_000_000], [65536, 65536, 65536]).map((shape) => ({
    kind: "billions of elements",
    body: rawSafetensors({ W_Q: { dtype: "F32", shape, data_offsets: [0, 16] }, W_K: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } }, new Uint8Array(16)),
    expect: STRUCTURE,
  })),
  fc.bigInt({ min: 1n << 20n, max: (1n << 64n) - 1n }).map((len) => ({
    kind: "header length lies",
    body: rawSafetensors({ W_Q: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4), len),
    expect: STRUCTURE,
  })),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((junk) => {
    const bytes = new Uint8Array([0x7b, 0x22, ...junk.map((b) => b | 0x80), 0x22, 0x3a, 0x31, 0x7d]);
    const out = new Uint8Array(8 + bytes.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(bytes.length), true);
    out.set(bytes, 8);
    return { kind: "non-UTF-8 header", body: out, expect: STRUCTURE };
  }),
  fc.integer({ min: (1 << 20) + 1, max: (1 << 20) + 4096 }).map((len) => ({
    kind: "huge JSON header",
    body: rawSafetensors(`{"W_Q":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}${" ".repeat(len)}}`, new Uint8Array(4)),
    expect: STRUCTURE,
  })),
  fc.tuple(dims, fc.constantFrom("I8", "I32", "U16", "BOOL", "F8_E4M3", "I64", "U8")).map(([{ d, h }, dtype]) => {
    const width = { I8: 1, I32: 4, U16: 2, BOOL: 1, F8_E4M3: 1, I64: 8, U8: 1 }[dtype]!;
    const header = {
      W_Q: { dtype: "F32", shape: [d, h], data_offsets: [0, 4 * d * h] },
      W_K: { dtype, shape: [d, h], data_offsets: [4 * d * h, 4 * d * h + width * d * h] },
    };
    return { kind: "wrong dtype", body: rawSafetensors(header, new Uint8Array(4 * d * h + width * d * h)), expect: ["unsupported-dtype"] };
  }),
  fc.tuple(dims, fc.constantFrom(NaN, Infinity, -Infinity), fc.nat()).map(([{ d, h }, bad, at]) => {
    const { header, data, n } = validHead(d, h, (i) => Math.cos(i));
    new DataView(data.buffer).setFloat32(4 * (at % (2 * n)), bad, true);
    return { kind: "NaN/Inf", body: rawSafetensors(header, data), expect: ["non-finite"] };
  }),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.boolean()).map(([h, zeroRows]) => {
    const shape = zeroRows ? [0, h] : [h, 0];
    const header = { W_Q: { dtype: "F32", shape, data_offsets: [0, 0] }, W_K: { dtype: "F32", shape, data_offsets: [0, 0] } };
    return { kind: "empty tensors", body: rawSafetensors(header, new Uint8Array(0)), expect: ["shape-mismatch"] };
  }),
  fc.tuple(dims, dims).filter(([a, b]) => a.d !== b.d || a.h !== b.h).map(([a, b]) => {
    const header = {
      W_Q: { dtype: "F32", shape: [a.d, a.h], data_offsets: [0, 4 * a.d * a.h] },
      W_K: { dtype: "F32", shape: [b.d, b.h], data_offsets: [4 * a.d * a.h, 4 * (a.d * a.h + b.d * b.h)] },
    };
    return { kind: "mismatched shapes", body: rawSafetensors(header, new Uint8Array(4 * (a.d * a.h + b.d * b.h)).fill(0x3f)), expect: ["shape-mismatch"] };
  }),
  fc.tuple(dims, fc.constantFrom("longer", "matrix", "scalar")).map(([{ d, h }, how]) => {
    const shape = how === "longer" ? [h + 1] : how === "matrix" ? [1, h] : [];
    const n = shape.reduce((x, y) => x * y, 1);
    const header = {
      W_Q: { dtype: "F32", shape: [d, h], data_offsets: [0, 4 * d * h] },
      W_K: { dtype: "F32", shape: [d, h], data_offsets: [4 * d * h, 8 * d * h] },
      b_Q: { dtype: "F32", shape, data_offsets: [8 * d * h, 8 * d * h + 4 * n] },
      b_K: { dtype: "F32", shape: [h], data_offsets: [8 * d * h + 4 * n, 8 * d * h + 4 * n + 4 * h] },
    };
    return { kind: "bias of the wrong shape", body: rawSafetensors(header, new Uint8Array(8 * d * h + 4 * n + 4 * h).fill(0x3c)), expect: ["shape-mismatch"] };
  }),
);

/** The write endpoints and their body limits, as the fuzzers hit them. */
export const FUZZ_ENDPOINTS = [
  { name: "POST …/qk", path: "/v1/models/fuzz/layers/0/heads/0/qk?fold_ln=false&bias=none", auth: true, maxBytes: 24 * 1024 * 1024 },
  { name: "POST /v1/demo/analyze", path: "/v1/demo/analyze?fold_ln=false&bias=none", auth: false, maxBytes: 1024 * 1024 },
] as const;

/**
 * Why an answer to a hostile case is unacceptable, or undefined when it is fine: a 4xx (never a
 * 500), problem+json, and one of the case's specific problem types (or payload-too-large when the
 * body is over the endpoint's limit).
 */
export function judgeHostileAnswer(c: HostileCase, maxBytes: number, status: number, contentType: string | null, type: unknown): string | undefined {
  if (status < 400 || status >= 500) return `${c.kind}: status ${status}`;
  if (contentType !== "application/problem+json") return `${c.kind}: content-type ${contentType}`;
  const acceptable = c.body.length > maxBytes ? ["payload-too-large"] : c.expect;
  if (!acceptable.some((t) => type === `/problems/${t}`)) return `${c.kind}: type ${String(type)}, expected ${acceptable.join(" or ")}`;
  return undefined;
}
