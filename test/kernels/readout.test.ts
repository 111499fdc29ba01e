/**
 * The token-readout kernel (assembly/readout/topk.ts through src/kernels/readout.ts) against a float64
 * computation in the test: top and bottom k over chunked rows, F32 and F16 rows, ties, k > rows, both builds;
 * and F16 rows against 8 and 16 vectors (the SIMD build's own path: rows widened four at a time
 * into the product's packed layout) giving the scalar build's lists bit for bit, every finite F16
 * value included (zeros, subnormals, the largest), at widths with and without a ragged last column.
 */
import { describe, expect, test } from "vitest";
import { loadKernels, type KernelBuild } from "../../src/kernels/load-node";
import { createRng } from "../../src/analysis/random";
import { toF16 } from "../../src/wire/safetensors";

/** Mulberry32: a small seeded generator. */
/** uniform on [−0.5, 0.5) from the project's one generator */
function rng(seed: number) {
  const g = createRng(seed);
  return () => g.uniform() - 0.5;
}

function fromHalf(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

/** float64 scores, and per vector the ids sorted by score (desc), ties by id. */
function reference(rows: ArrayLike<number>, n: number, d: number, vecs: ArrayLike<number>, m: number) {
  const scores: number[][] = [];
  for (let j = 0; j < m; j++) {
    const s: number[] = [];
    for (let t = 0; t < n; t++) {
      let acc = 0;
      for (let i = 0; i < d; i++) acc += rows[t * d + i] * vecs[j * d + i];
      s.push(acc);
    }
    scores.push(s);
  }
  return scores;
}

function run(build: KernelBuild, rows: Uint16Array | Float32Array, d: number, vecs: Float32Array, m: number, k: number, cuts: number[]) {
  const kern = loadKernels(build);
  const st = kern.readoutStart(vecs, d, m, k);
  let at = 0;
  for (const c of [...cuts, rows.length / d]) {
    if (c > at) kern.readoutAdd(st, rows.subarray(at * d, c * d));
    at = c;
  }
  return st;
}

/** Checks one vector's lists against float64 scores: every listed score is its row's, the order is right, nothing better was left out. */
function checkLists(st: ReturnType<typeof run>, j: number, ref: number[], tol: number) {
  const k = st.k;
  const n = ref.length;
  expect(st.filled).toBe(Math.min(k, n));
  const sorted = [...ref.keys()].sort((a, b) => ref[b] - ref[a] || a - b);
  for (const end of [0, 1]) {
    const desc = end === 0;
    const want = desc ? sorted : [...sorted].reverse();
    const at = (end * st.m + j) * k;
    for (let p = 0; p < st.filled; p++) {
      const id = st.ids[at + p];
      const s = st.scores[at + p];
      expect(Math.abs(s - ref[id])).toBeLessThanOrEqual(tol);
      if (p > 0) expect(desc ? s <= st.scores[at + p - 1] : s >= st.scores[at + p - 1]).toBe(true);
      // the p-th best in float64 may differ only by a near-tie
      expect(Math.abs(ref[id] - ref[want[p]])).toBeLessThanOrEqual(2 * tol);
    }
  }
}

for (const build of ["release", "scalar"] as const) {
  describe(`token readout kernel (${build})`, () => {
    const n = 1000, d = 37, m = 11, k = 10;
    const r = rng(7);
    const f32 = Float32Array.from({ length: n * d }, () => r() * 4);
    const vecs = Float32Array.from({ length: m * d }, () => r());

    test("F32 rows: top and bottom k match float64, across uneven chunks", () => {
      const ref = reference(f32, n, d, vecs, m);
      const one = run(build, f32, d, vecs, m, k, []);
      const cut = run(build, f32, d, vecs, m, k, [1, 63, 64, 65, 129, 500, 999]);
      for (let j = 0; j < m; j++) checkLists(one, j, ref[j], 1e-5);
      // chunking changes nothing, bit for bit
      expect(Array.from(cut.ids)).toEqual(Array.from(one.ids));
      expect(Array.from(cut.scores)).toEqual(Array.from(one.scores));
    });

    test("F16 rows are widened exactly", () => {
      const half = Uint16Array.from(f32, (x) => toF16(x));
      const widened = Float64Array.from(half, fromHalf);
      const ref = reference(widened, n, d, vecs, m);
      const st = run(build, half, d, vecs, m, k, [300, 301, 777]);
      for (let j = 0; j < m; j++) checkLists(st, j, ref[j], 1e-5);
      expect(fromHalf(toF16(1.5))).toBe(1.5);
    });

    test("ties keep the smaller id, whatever the chunks", () => {
      // 40 rows, all equal to one of 4 rows: scores tie in groups of 10
      const rows = new Float32Array(40 * d);
      for (let t = 0; t < 40; t++) rows.set(f32.subarray((t % 4) * d, (t % 4 + 1) * d), t * d);
      const a = run(build, rows, d, vecs, m, 6, []);
      const b = run(build, rows, d, vecs, m, 6, [3, 5, 17, 18, 39]);
      expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
      for (let j = 0; j < m; j++) {
        const ids = Array.from(a.ids.subarray(j * 6, j * 6 + 6));
        // the best row class repeats every 4 ids: its first six ids in increasing order
        const best = ids[0] % 4;
        expect(ids).toEqual([0, 1, 2, 3, 4, 5].map((i) => best + 4 * i));
      }
    });

    test("k larger than the rows: every row, once, in order", () => {
      const ref = reference(f32, 5, d, vecs, m);
      const st = run(build, f32.subarray(0, 5 * d), d, vecs, m, 12, [2]);
      expect(st.filled).toBe(5);
      for (let j = 0; j < m; j++) {
        checkLists(st, j, ref[j], 1e-5);
        expect(new Set(st.ids.subarray(j * 12, j * 12 + 5)).size).toBe(5);
      }
    });
  });
}

describe("F16 rows against a multiple of 8 vectors: the SIMD build's packed widening", () => {
  // every finite F16 bit pattern (e < 31), both signs, in a scrambled order
  const finite: number[] = [];
  for (let h = 0; h < 65536; h++) if (((h >> 10) & 0x1f) !== 31) finite.push(h);
  const r = rng(11);
  for (let i = finite.length - 1; i > 0; i--) {
    const j = Math.floor((r() + 0.5) * (i + 1));
    [finite[i], finite[j]] = [finite[j], finite[i]];
  }
  test("zeros, subnormals and ±∞ are widened exactly (one value per row, all-ones vectors: each score is the value)", () => {
    const d = 4, m = 8, k = 12;
    const subnormal = finite.filter((h) => ((h >> 10) & 0x1f) === 0); // 2048 patterns, ±0 included
    const half = new Uint16Array((subnormal.length + 2) * d);
    subnormal.forEach((h, t) => (half[t * d + (t % d)] = h));
    const inf = subnormal.length;
    half[inf * d + 1] = 0x7c00; // +∞, then −∞: the top and the bottom of every list
    half[(inf + 1) * d + 2] = 0xfc00;
    for (const build of ["release", "scalar"] as const) {
      const st = run(build, half, d, new Float32Array(m * d).fill(1), m, k, [5, 130]);
      const values = subnormal.map(fromHalf);
      const desc = [...values.keys()].sort((a, b) => values[b] - values[a] || a - b);
      for (let j = 0; j < m; j++) {
        expect(Array.from(st.scores.subarray(j * k, (j + 1) * k))).toEqual([Infinity, ...desc.slice(0, k - 1).map((t) => values[t])]);
        expect(st.ids[j * k]).toBe(inf);
        expect(Array.from(st.scores.subarray((m + j) * k, (m + j + 1) * k))).toEqual([-Infinity, ...[...desc].reverse().slice(0, k - 1).map((t) => values[t])]);
        expect(st.ids[(m + j) * k]).toBe(inf + 1);
      }
    }
  });

  for (const [d, m] of [[16, 16], [37, 8], [6, 16]] as const) {
    test(`d ${d}, ${m} vectors: release and scalar lists agree bit for bit and match float64`, () => {
      const n = Math.ceil(finite.length / d);
      const half = new Uint16Array(n * d);
      half.set(finite);
      const vecs = Float32Array.from({ length: m * d }, () => r() * 2 ** -8);
      const cuts = [1, 3, 64, 67, 1001, n - 5];
      const simd = run("release", half, d, vecs, m, 7, cuts);
      const scalar = run("scalar", half, d, vecs, m, 7, cuts);
      expect(Array.from(simd.ids)).toEqual(Array.from(scalar.ids));
      expect(Array.from(simd.scores)).toEqual(Array.from(scalar.scores));
      const ref = reference(Float64Array.from(half, fromHalf), n, d, vecs, m);
      // scores reach 65504·2^-8·d: the float32 sums carry a relative error of ~d·2^-24 of that
      for (let j = 0; j < m; j++) checkLists(simd, j, ref[j], 65504 * 2 ** -8 * d * d * 2 ** -23);
    });
  }
});
