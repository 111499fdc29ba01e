import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { MalformedSafetensors, UnsupportedDtype } from "../../src/errors";
import { decodeFloat, encodeSafetensors, parseSafetensors, type TensorOut } from "../../src/wire/safetensors";

function raw(header: unknown, dataBytes = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe("parseSafetensors", () => {
  test("round-trips F32 and F64 with metadata", () => {
    const buf = encodeSafetensors(
      { a: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, b: { dtype: "F64", shape: [1], data: new Float64Array([Math.PI]) } },
      { note: "x" },
    );
    const p = parseSafetensors(buf);
    expect(p.metadata).toEqual({ note: "x" });
    expect(Array.from(decodeFloat(p.tensors.get("a")!))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(decodeFloat(p.tensors.get("b")!)[0]).toBe(Math.PI);
  });

  test("float64 values written as F32 round to nearest, also after an F16 tensor leaves the offset unaligned", () => {
    const values = Float64Array.from([Math.PI, -1e-40, 1 + 2 ** -24, 1 + 3 * 2 ** -25, 3.5e38, -0]);
    const f16: Record<string, TensorOut> = { h: { dtype: "F16", shape: [1], data: new Float32Array([1]) } };
    for (const before of [{}, f16]) {
      const p = parseSafetensors(encodeSafetensors({ ...before, x: { dtype: "F32", shape: [values.length], data: values } }));
      expect(Array.from(decodeFloat(p.tensors.get("x")!))).toEqual(Array.from(Float32Array.from(values)));
    }
  });

  test("decodeFloat's view aliases an aligned F32/F64 tensor's bytes, and copies when unaligned or F16", () => {
    const buf = encodeSafetensors({ a: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }, b: { dtype: "F64", shape: [1], data: new Float64Array([4]) } });
    const p = parseSafetensors(buf);
    const a = decodeFloat(p.tensors.get("a")!, true);
    const b = decodeFloat(p.tensors.get("b")!, true);
    expect(a.buffer).toBe(buf.buffer);
    expect(b.buffer).toBe(buf.buffer);
    expect([...a, ...b]).toEqual([1, 2, 4]);
    expect(decodeFloat(p.tensors.get("a")!).buffer).not.toBe(buf.buffer); // no view unless asked
    // the same file one byte into a bigger buffer: unaligned, so a copy with the same values
    const shifted = new Uint8Array(buf.length + 1);
    shifted.set(buf, 1);
    const q = parseSafetensors(shifted.subarray(1));
    const a2 = decodeFloat(q.tensors.get("a")!, true);
    expect(a2.buffer).not.toBe(shifted.buffer);
    expect(Array.from(a2)).toEqual([1, 2]);
  });

  test("decodes F16 and BF16 exactly", () => {
    // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal 0x0001 = 2^-24
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]);
    // BF16: 1.0 = 0x3f80, -0.5 = 0xbf00
    const bf16 = new Uint16Array([0x3f80, 0xbf00]);
    const header = { h: { dtype: "F16", shape: [4], data_offsets: [0, 8] }, b: { dtype: "BF16", shape: [2], data_offsets: [8, 12] } };
    const buf = raw(header, 12);
    const base = buf.length - 12;
    buf.set(new Uint8Array(f16.buffer), base);
    buf.set(new Uint8Array(bf16.buffer), base + 8);
    const p = parseSafetensors(buf);
    expect(Array.from(decodeFloat(p.tensors.get("h")!))).toEqual([1, -2, 65504, 2 ** -24]);
    expect(Array.from(decodeFloat(p.tensors.get("b")!))).toEqual([1, -0.5]);
  });

  test("decodes every BF16 and F16 bit pattern, at aligned and odd byte offsets", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    for (const shift of [0, 1]) {
      const bytes = new Uint8Array(2 * 65536 + shift).subarray(shift);
      bytes.set(new Uint8Array(all.buffer));
      const bf = decodeFloat({ name: "b", dtype: "BF16", shape: [65536], bytes });
      const hf = decodeFloat({ name: "h", dtype: "F16", shape: [65536], bytes });
      const expected = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < 65536; i++) {
        expected.setUint32(0, i << 16);
        const want = expected.getFloat32(0);
        if (!(Object.is(bf[i], want) || (Number.isNaN(want) && Number.isNaN(bf[i])))) throw new Error(`BF16 0x${i.toString(16)}: ${bf[i]} ≠ ${want}`);
        // F16: sign, 5-bit exponent (bias 15), 10-bit fraction; subnormals below 2^-14
        const sign = i & 0x8000 ? -1 : 1, e = (i >> 10) & 31, f = i & 1023;
        const half = e === 31 ? (f ? NaN : sign * Infinity) : e === 0 ? sign * f * 2 ** -24 : sign * (1 + f / 1024) * 2 ** (e - 15);
        if (!(Object.is(hf[i], half) || (Number.isNaN(half) && Number.isNaN(hf[i])))) throw new Error(`F16 0x${i.toString(16)}: ${hf[i]} ≠ ${half}`);
      }
    }
  });

  const bad: Array<[string, () => Uint8Array]> = [
    ["too short", () => new Uint8Array(4)],
    ["header length past the end", () => { const b = new Uint8Array(10); new DataView(b.buffer).setBigUint64(0, 99n, true); return b; }],
    ["huge header length", () => { const b = new Uint8Array(10); new DataView(b.buffer).setBigUint64(0, 2n ** 62n, true); return b; }],
    ["not JSON", () => { const b = new Uint8Array(11); new DataView(b.buffer).setBigUint64(0, 3n, true); b.set([0x7b, 0x22, 0x7d], 8); return b; }],
    ["not UTF-8", () => { const b = new Uint8Array(10); new DataView(b.buffer).setBigUint64(0, 2n, true); b.set([0xff, 0xfe], 8); return b; }],
    ["array header", () => raw([1, 2])],
    ["unknown dtype", () => raw({ a: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, 16)],
    ["negative dim", () => raw({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 4)],
    ["offsets past the end", () => raw({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, 8)],
    ["offsets reversed", () => raw({ a: { dtype: "F32", shape: [0], data_offsets: [8, 4] } }, 8)],
    ["shape disagrees with span", () => raw({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8)],
    ["billions of elements", () => raw({ a: { dtype: "F32", shape: [100000, 100000, 100000], data_offsets: [0, 8] } }, 8)],
    ["overlapping tensors", () => raw({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, 12)],
    ["bad metadata", () => raw({ __metadata__: { a: 1 } })],
  ];
  for (const [name, make] of bad) {
    test(`rejects ${name}`, () => expect(() => parseSafetensors(make())).toThrow(MalformedSafetensors));
  }

  test("empty tensors (a zero dimension) parse, whatever the other dimensions", () => {
    const p = parseSafetensors(raw({ a: { dtype: "F32", shape: [1_000_000, 0], data_offsets: [0, 0] } }));
    expect(p.tensors.get("a")!.bytes.length).toBe(0);
  });

  test("integer tensors parse but do not decode as floats", () => {
    const p = parseSafetensors(raw({ a: { dtype: "I32", shape: [1], data_offsets: [0, 4] } }, 4));
    expect(() => decodeFloat(p.tensors.get("a")!)).toThrow(UnsupportedDtype);
  });

  test("random bytes never throw anything but MalformedSafetensors (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          parseSafetensors(bytes);
        } catch (e) {
          if (!(e instanceof MalformedSafetensors)) throw e;
        }
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
});

describe("a body that is not safetensors at all", () => {
  const bytes = (...x: number[]) => new Uint8Array([...x, ...new Array(64).fill(0x41)]);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["a torch.save zip archive", bytes(0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0), /zip archive \(PyTorch's torch\.save/],
    ["a pickle", bytes(0x80, 0x02, 0x63, 0x5f, 0x5f, 0x62, 0x75, 0x69, 0x6c), /Python pickle/],
    [".npy", bytes(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0x76, 0), /\.npy array/],
    ["JSON", new TextEncoder().encode('{"W_Q": [[1, 2], [3, 4]], "W_K": [[1, 0], [0, 1]]}'), /JSON text \("\{\\"W_Q\\": \[\[1, 2\]/],
    ["plain text", new TextEncoder().encode("hello, this is not a tensor file"), /text \("hello, this is n/],
    ["three bytes", new Uint8Array([1, 2, 3]), /bytes 01 02 03/],
  ];
  for (const [name, body, what] of cases) {
    test(`${name}: says "not a safetensors file" and what it looks like, never a header length`, () => {
      let err: unknown;
      try {
        parseSafetensors(body);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MalformedSafetensors);
      const m = (err as MalformedSafetensors).detail;
      expect(m).toMatch(/^not a safetensors file: the body starts with /);
      expect(m).toMatch(what);
      expect(m).not.toMatch(/header length \d/);
      expect((err as MalformedSafetensors).extensions.detected).toBe("not-safetensors");
    });
  }

  test("a real safetensors file whose header length lies keeps the precise message", () => {
    const b = raw({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, 4);
    new DataView(b.buffer).setBigUint64(0, 5000n, true);
    expect(() => parseSafetensors(b)).toThrow(/header length 5000 runs past the end of the \d+-byte body/);
  });
});
