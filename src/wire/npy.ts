/**
 * @module wire/npy
 * A strict reader for NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 * magic "\x93NUMPY", version 1.0 / 2.0 / 3.0, a little-endian header length (u16 for 1.0, u32 after),
 * a Python dict literal {'descr': …, 'fortran_order': …, 'shape': (…)}, then the raw array bytes.
 *
 * Written here rather than taken from npm: npyjs (the maintained option) parses the header with loose
 * regular expressions, does not check the data length against the shape, and brings cross-fetch as a
 * run-time dependency. Request bodies deserve the same rules as the safetensors parser: every field is
 * checked, the three keys must each appear exactly once with nothing else in the dict, the data must be
 * exactly shape × itemsize bytes, and nothing is copied before that.
 */
import { MalformedNpy, UnsupportedDtype } from "../errors";
import type { TensorView } from "./safetensors";

export const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Little-endian float descriptors accepted, and the safetensors dtype each reads as. */
const DESCR: Record<string, "F16" | "F32" | "F64"> = { "<f2": "F16", "<f4": "F32", "<f8": "F64" };
const WIDTH = { F16: 2, F32: 4, F64: 8 } as const;

export const isNpy = (buf: Uint8Array) => buf.byteLength >= 6 && NPY_MAGIC.every((b, i) => buf[i] === b);

/**
 * Parses a .npy buffer into a tensor view (no copy) named `name`.
 * @throws MalformedNpy for structural problems, UnsupportedDtype for non-float or big-endian data
 */
export function parseNpy(buf: Uint8Array, name: string): TensorView {
  if (!isNpy(buf)) throw new MalformedNpy("body does not start with the .npy magic \\x93NUMPY");
  if (buf.byteLength < 10) throw new MalformedNpy(`body is ${buf.byteLength} bytes, shorter than a .npy preamble`);
  const major = buf[6];
  if (major < 1 || major > 3 || buf[7] !== 0) throw new MalformedNpy(`unsupported .npy version ${major}.${buf[7]}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.byteLength < 8 + lenBytes) throw new MalformedNpy("body ends inside the header length");
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  if (headerLen > 1 << 16 || start + headerLen > buf.byteLength) {
    throw new MalformedNpy(`header length ${headerLen} runs past the ${buf.byteLength}-byte body or exceeds 65536`);
  }
  let header: string;
  try {
    header = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(buf.subarray(start, start + headerLen));
  } catch {
    throw new MalformedNpy("header is not valid text");
  }
  let rest = header.trim();
  if (!rest.startsWith("{") || !rest.endsWith("}")) throw new MalformedNpy(`header must be a dict literal, got ${JSON.stringify(header.slice(0, 80))}`);
  rest = rest.slice(1, -1);
  const take = (key: string, value: string): string => {
    const re = new RegExp(`'${key}'\\s*:\\s*(${value})\\s*(,|$)`);
    const m = re.exec(rest);
    if (!m) throw new MalformedNpy(`header lacks a valid '${key}' entry: ${header.trim()}`);
    rest = rest.slice(0, m.index) + rest.slice(m.index + m[0].length);
    if (re.test(rest)) throw new MalformedNpy(`header repeats '${key}'`);
    return m[1];
  };
  const descr = take("descr", "'[^']*'").slice(1, -1);
  const fortran = take("fortran_order", "True|False") === "True";
  const shapeText = take("shape", "\\((?:\\s*\\d+\\s*,)*\\s*\\d*\\s*\\)");
  if (rest.trim() !== "") throw new MalformedNpy(`header has unexpected entries: ${rest.trim()}`);
  const dtype = DESCR[descr];
  if (!dtype) {
    throw new UnsupportedDtype(`.npy dtype ${descr} is not accepted; send little-endian float ('<f2', '<f4' or '<f8')`, { tensor: name, dtype: descr });
  }
  const shape = shapeText.slice(1, -1).split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new MalformedNpy(`shape ${shapeText} is not a tuple of integers`);
  if (fortran && shape.filter((d) => d > 1).length > 1) {
    throw new MalformedNpy("fortran_order arrays are not accepted; save a C-ordered array (np.ascontiguousarray)");
  }
  const dataStart = start + headerLen;
  const dataLen = buf.byteLength - dataStart;
  let bytes: number = WIDTH[dtype];
  for (const d of shape) {
    bytes *= d;
    if (bytes > dataLen) break;
  }
  if (bytes !== dataLen) {
    throw new MalformedNpy(`shape ${shapeText} of ${descr} needs ${bytes > dataLen ? `more than ${dataLen}` : bytes} bytes, the body holds ${dataLen}`);
  }
  return { name, dtype, shape, bytes: buf.subarray(dataStart) };
}
