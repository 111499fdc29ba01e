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

  test("exact ties between neighbouring halves go to the even one, a float32 step either side to the nearer", () => {
    const below = (x: number) => Math.fround(x - Math.abs(x) * 2 ** -24); // within one float32 step under x (x ≥ 2^-14)
    const above = (x: number) => Math.fround(x + Math.abs(x) * 2 ** -24);
    for (const sign of [0, 0x8000]) {
      for (let bits = 0x0400; bits < 0x7bff; bits++) {
        const lo = half(sign | bits), hi = half(sign | (bits + 1));
        const tie = (lo + hi) / 2; // exact in float32: one more mantissa bit than a half has
        expect(Math.fround(tie)).toBe(tie);
        expect(toF16(tie), `tie 0x${(sign | bits).toString(16)}`).toBe(sign | (bits & 1 ? bits + 1 : bits));
        const [near, far] = sign ? [above(tie), below(tie)] : [below(tie), above(tie)]; // toward lo, toward hi
        expect(toF16(near)).toBe(sign | bits);
        expect(toF16(far)).toBe(sign | (bits + 1));
      }
    }
    // the ends of the normal range: 65504 is the largest half, 65520 and above round to infinity;
    // below 2^-14 the halves are subnormal
    expect(toF16(65504)).toBe(0x7bff);
    expect(toF16(Math.fround(65519.99))).toBe(0x7bff);
    expect(toF16(65520)).toBe(0x7c00);
    expect(toF16(-65520)).toBe(0xfc00);
    expect(toF16(2 ** -14)).toBe(0x0400);
    expect(toF16(Math.fround(2 ** -14 - 2 ** -25))).toBe(0x0400); // the tie under it rounds up to the even 0x0400
    expect(toF16(Math.fround(2 ** -14 - 2 ** -24))).toBe(0x03ff);
  });

  test("an F16 tensor written by encodeSafetensors parses back", () => {
    const data = Float32Array.from([0, 1, -2.5, 65504, 1e-7, 3.14159]);
    const t = parseSafetensors(encodeSafetensors({ U: { dtype: "F16", shape: [2, 3], data } })).tensors.get("U")!;
    expect(t.dtype).toBe("F16");
    expect(Array.from(decodeFloat(t))).toEqual(Array.from(data, (x) => half(toF16(x))));
  });
});
