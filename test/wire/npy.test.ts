/** The strict .npy reader: valid files of each accepted dtype and version, and every malformed case. */
import { describe, expect, test } from "vitest";
import { parseNpy, isNpy } from "../../src/wire/npy";
import { decodeFloat } from "../../src/wire/safetensors";

function npy(header: string, data: Uint8Array, version = 1): Uint8Array {
  const lenBytes = version === 1 ? 2 : 4;
  const pre = 8 + lenBytes;
  const h = header + " ".repeat((64 - ((pre + header.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(pre + h.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  out.set(new TextEncoder().encode(h), pre);
  out.set(data, pre + h.length);
  return out;
}
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

describe("valid files", () => {
  test("v1 <f4 [2, 3], keys in numpy's order", () => {
    const t = parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32(1, 2, 3, 4, 5, 6)), "F");
    expect(t).toMatchObject({ name: "F", dtype: "F32", shape: [2, 3] });
    expect(Array.from(decodeFloat(t))).toEqual([1, 2, 3, 4, 5, 6]);
  });
  test("v2 <f8, keys reordered, 1-D shape with trailing comma; v3; scalar-free empty array", () => {
    const data = new Uint8Array(Float64Array.from([0.5, -2]).buffer);
    const t = parseNpy(npy("{'shape': (2,), 'fortran_order': False, 'descr': '<f8'}", data, 2), "F");
    expect(t.dtype).toBe("F64");
    expect(Array.from(decodeFloat(t))).toEqual([0.5, -2]);
    expect(parseNpy(npy("{'descr': '<f2', 'fortran_order': False, 'shape': (0, 4), }", new Uint8Array(0), 3), "F").shape).toEqual([0, 4]);
  });
  test("isNpy tells .npy from safetensors", () => {
    expect(isNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32(1)))).toBe(true);
    expect(isNpy(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0]))).toBe(false);
  });
});

describe("malformed files", () => {
  test.each([
    ["data shorter than the shape", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32(1, 2)), /needs more than 8 bytes/],
    ["data longer than the shape", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32(1, 2)), /holds 8/],
    ["repeated key", npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32(1)), /repeats 'descr'/],
    ["extra key", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1, }", f32(1)), /unexpected entries/],
    ["missing shape", npy("{'descr': '<f4', 'fortran_order': False, }", f32(1)), /lacks a valid 'shape'/],
    ["not a dict", npy("['descr', '<f4']", f32(1)), /dict literal/],
    ["fortran order", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f32(1, 2, 3, 4)), /fortran_order/],
    ["header length past the end", (() => {
      const b = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32(1));
      new DataView(b.buffer).setUint16(8, 60000, true);
      return b;
    })(), /runs past/],
    ["version 4", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32(1), 4), /version 4/],
  ])("%s", (_n, buf, message) => {
    expect(() => parseNpy(buf, "F")).toThrow(message);
    try {
      parseNpy(buf, "F");
    } catch (e) {
      expect((e as { type: string }).type).toBe("malformed-npy");
    }
  });
  test.each(["<i4", ">f4", "|u1", "<c16"])("dtype %s is unsupported-dtype", (descr) => {
    const buf = npy(`{'descr': '${descr}', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array(descr === "|u1" ? 1 : descr === "<c16" ? 16 : 4));
    expect(() => parseNpy(buf, "F")).toThrow(expect.objectContaining({ type: "unsupported-dtype" }));
  });
});
