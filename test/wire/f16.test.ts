/**
 * F16 encoding of stored vectors (`vectors=f16`): every one of the 65,536 half-precision values
 * survives decode → encode bit for bit (NaNs stay NaN), and random float32 values round to the
 * nearest half (ties to even), checked against the two neighbouring halves.
 */
import { describe, expect, test } from "vitest";
import { decodeFloat, encodeSafetensors, parseSafetensors, toF16 } from "../../src/wire/safetensors";
import { rng } from "../support/matrices";

const half = (bits: number) => {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, bits, true);
  return decodeFloat({ name: "x", dtype: "F16", shape: [1], bytes: b })[0];
};

describe("toF16", () => {
  test("every half value round-trips", () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const x = half(bits);
      if (Number.isNaN(x)) expect(Number.isNaN(half(toF16(x)))).toBe(true);
      else expect(toF16(x), `0x${bits.toString(16)}`).toBe(bits);
    }
  });

  test("random floats round to the nearest half, ties to even", () => {
    const r = rng(12);
    for (let i = 0; i < 20_000; i++) {
      const x = Math.fround((r() - 0.5) * 2 ** Math.floor(r() * 40 - 28));
      const h = toF16(x);
      const y = half(h);
      if (!Number.isFinite(y)) {
        expect(Math.abs(x)).toBeGreaterThanOrEqual(65520);
        continue;
      }
      // neither neighbour is closer
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) > 0x7bff || n < 0 || (n & 0x8000) !== (h & 0x8000)) continue;
        const d = Math.abs(half(n) - x) - Math.abs(y - x);
        expect(d, `x=${x}`).toBeGreaterThanOrEqual(0);
        if (d === 0) expect(h & 1, `tie at x=${x}`).toBe(0);
      }
    }
  });

  test("an F16 tensor written by encodeSafetensors parses back", () => {
    const data = Float32Array.from([0, 1, -2.5, 65504, 1e-7, 3.14159]);
    const t = parseSafetensors(encodeSafetensors({ U: { dtype: "F16", shape: [2, 3], data } })).tensors.get("U")!;
    expect(t.dtype).toBe("F16");
    expect(Array.from(decodeFloat(t))).toEqual(Array.from(data, (x) => half(toF16(x))));
  });
});
