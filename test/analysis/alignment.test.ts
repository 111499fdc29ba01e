/**
 * Method §5 alignment on planted and random dictionaries, with the SVD computed by the real
 * WebAssembly kernels: planted features must be recovered exactly and in order; random dictionaries
 * must sit at the random-direction null.
 */
import { describe, expect, test } from "vitest";
import { alignFeatures, hungarianMax, whitenedDirections } from "../../src/analysis/alignment";
import { createRng, haarOrthogonal, normals } from "../../src/analysis/random";
import { loadKernels } from "../../src/kernels/load-node";

const kernels = loadKernels("release");

/** Columns 0..n-1 of a Haar matrix of size d: orthonormal rows x_i (returned row-major [n, d]). */
function orthonormalRows(n: number, d: number, seed: number): Float64Array {
  const q = haarOrthogonal(d, createRng(seed));
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let t = 0; t < d; t++) out[i * d + t] = q[t * d + i];
  return out;
}

/** Ω = Σ c_i x_i y_iᵀ as factors A = [c_i x_i] columns, B = [y_i] columns ([d, n] each). */
function plantedHead(x: Float64Array, y: Float64Array, c: number[], d: number) {
  const n = c.length;
  const a = new Float64Array(d * n);
  const b = new Float64Array(d * n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < d; t++) {
      a[t * n + i] = c[i] * x[i * d + t];
      b[t * n + i] = y[i * d + t];
    }
  }
  const svd = kernels.factoredSvd({ rows: d, cols: n, data: a }, { rows: d, cols: n, data: b });
  return { U: svd.U, V: svd.V, rows: d, k: svd.k, S: svd.S };
}

describe("seeded randomness", () => {
  test("same seed, same stream; Haar matrices are orthogonal", () => {
    expect(Array.from(normals(createRng(7), 5))).toEqual(Array.from(normals(createRng(7), 5)));
    expect(normals(createRng(7), 1)[0]).not.toBe(normals(createRng(8), 1)[0]);
    const n = 32;
    const q = haarOrthogonal(n, createRng(1));
    let worst = 0;
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += q[i * n + a] * q[i * n + b];
        worst = Math.max(worst, Math.abs(s - (a === b ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-13);
  });

  test("normals have mean 0 and variance 1", () => {
    const z = normals(createRng(3), 200_000);
    const m = z.reduce((a, b) => a + b, 0) / z.length;
    const v = z.reduce((a, b) => a + (b - m) ** 2, 0) / z.length;
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.abs(v - 1)).toBeLessThan(0.01);
  });
});

describe("Hungarian matching", () => {
  test("finds the optimum where greedy fails, on rectangular inputs both ways", () => {
    // greedy takes (0,0)=0.9 then (1,1)=0.1 → 1.0; optimal (0,1)+(1,0) = 0.8 + 0.8 = 1.6
    const m = hungarianMax(Float64Array.from([0.9, 0.8, 0.8, 0.1]), 2, 2);
    expect(m.pairs).toEqual([[0, 1], [1, 0]]);
    expect(m.mean_abs_cos).toBeCloseTo(0.8, 15);
    const tall = hungarianMax(Float64Array.from([0.1, 0.9, 0.2, 0.95, 0.3, 0.3]), 3, 2);
    expect(tall.pairs).toEqual([[1, 1], [2, 0]]); // 0.95 + 0.3 beats 0.9 + 0.3
    const wide = hungarianMax(Float64Array.from([0.1, 0.9, 0.2, 0.95, 0.3, 0.3]), 2, 3);
    expect(wide.pairs).toEqual([[0, 1], [1, 0]]);
  });
});

describe("planted features (Ω = Σ c_i x_i y_iᵀ, orthonormal x, y)", () => {
  const d = 24;
  const c = [5, 4, 3, 2, 1.5, 1];
  const n = c.length;
  const x = orthonormalRows(n, d, 11);
  const y = orthonormalRows(n, d, 12);
  const basis = plantedHead(x, y, c, d);

  test("query features match u_k with |cos| = 1, in order; key features match v_k", () => {
    const r = alignFeatures({ rows: n, cols: d, data: x }, basis, { nullDraws: 2 });
    expect(r.per_feature.u.index).toEqual([0, 1, 2, 3, 4, 5]);
    for (const v of r.per_feature.u.abs_cos) expect(v).toBeGreaterThan(1 - 1e-12);
    expect(r.per_singular.u.feature).toEqual([0, 1, 2, 3, 4, 5]);
    expect(r.matching.u.pairs).toEqual([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
    expect(r.matching.u.mean_abs_cos).toBeGreaterThan(1 - 1e-12);
    expect(r.null!.matching_mean_abs_cos.u).toBeLessThan(0.9);

    const rv = alignFeatures({ rows: n, cols: d, data: y }, basis, { nullDraws: 0 });
    expect(rv.matching.v.pairs).toEqual([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
    expect(rv.matching.v.mean_abs_cos).toBeGreaterThan(1 - 1e-12);
    expect(rv.null).toBeNull();
  });

  test("isotropic features: the theory prediction is the feature itself, |cos| = 1", () => {
    const pairs = Array.from({ length: n }, (_, i) => [i, i] as [number, number]);
    const r = alignFeatures({ rows: n, cols: d, data: x }, basis, {
      nullDraws: 0,
      pairs,
      querySide: { rows: n, cols: d, data: x },
      keySide: { rows: n, cols: d, data: y },
    });
    for (const [p, t] of r.theory!.pairs.entries()) {
      expect(t.index).toBe(p);
      expect(t.u_abs_cos).toBeGreaterThan(1 - 1e-12);
      expect(t.v_abs_cos).toBeGreaterThan(1 - 1e-12);
      expect(t.best_u_index).toBe(p);
      expect(t.prediction_vs_feature.u).toBeGreaterThan(1 - 1e-12);
    }
    const pm = r.theory!.pair_matching;
    expect(pm.index).toEqual([0, 1, 2, 3, 4, 5]);
    expect(pm.in_order).toBe(n);
    expect(pm.mean_score).toBeGreaterThan(1 - 1e-12);
  });

  test("pair matching: query feature i with key feature i + n (one dictionary) in shuffled template order", () => {
    // F holds x_0..x_5 then y_0..y_5; pairs listed out of σ order are still matched to their own index
    const f = new Float64Array(2 * n * d);
    f.set(x);
    f.set(y, n * d);
    const pairs: Array<[number, number]> = [[2, 8], [0, 6], [5, 11], [1, 7], [4, 10], [3, 9]];
    const r = alignFeatures({ rows: 2 * n, cols: d, data: f }, basis, { nullDraws: 0, pairs });
    expect(r.theory!.pair_matching.index).toEqual([2, 0, 5, 1, 4, 3]);
    expect(r.theory!.pair_matching.in_order).toBe(1); // only [4, 10] sits at its own position
    for (const c of r.theory!.pair_matching.u_abs_cos) expect(c).toBeGreaterThan(1 - 1e-12);
    for (const c of r.theory!.pair_matching.v_abs_cos) expect(c).toBeGreaterThan(1 - 1e-12);
  });

  test("augmented basis (one extra row): features get a 0 bias coordinate", () => {
    const rows = d + 1;
    const pad = (w: Float64Array) => {
      const o = new Float64Array(rows * basis.k);
      o.set(w);
      return o;
    };
    const r = alignFeatures({ rows: n, cols: d, data: x }, { ...basis, U: pad(basis.U), V: pad(basis.V), rows }, { nullDraws: 0 });
    expect(r.bias_coordinate).toBe("zero");
    expect(r.matching.u.mean_abs_cos).toBeGreaterThan(1 - 1e-12);
  });

  test("anisotropic features: the whitened prediction recovers u exactly where the raw feature does not", () => {
    // features x'_i = x_i + 0.8·e with a shared unit direction e; head built from Σ_X⁺ x'_0 and y_0
    const e = orthonormalRows(n + 1, d, 11).subarray(n * d, (n + 1) * d);
    const xa = x.map((v, idx) => v + 0.8 * e[idx % d]);
    const w = whitenedDirections({ rows: n, cols: d, data: xa });
    const head = plantedHead(w.subarray(0, d), y.subarray(0, d), [1], d);
    const r = alignFeatures({ rows: n, cols: d, data: xa }, head, { nullDraws: 0, pairs: [[0, 0]], keySide: { rows: n, cols: d, data: y } });
    const t = r.theory!.pairs[0];
    expect(t.u_abs_cos).toBeGreaterThan(1 - 1e-10);
    expect(t.prediction_vs_feature.u).toBeLessThan(0.99);
    expect(r.per_feature.u.abs_cos[0]).toBeLessThan(0.99);
  });
});

describe("random dictionaries sit at the null", () => {
  test("Gaussian F against a random head: statistics within the null's spread", () => {
    const d = 64;
    const k = 16;
    const n = 40;
    const rng = createRng(99);
    const a = normals(rng, d * k);
    const b = normals(rng, d * k);
    const svd = kernels.factoredSvd({ rows: d, cols: k, data: a }, { rows: d, cols: k, data: b });
    const f = normals(createRng(5), n * d);
    const r = alignFeatures({ rows: n, cols: d, data: f }, { U: svd.U, V: svd.V, rows: d, k }, { nullDraws: 16, nullSeed: 1 });
    const nul = r.null!;
    expect(Math.abs(r.matching.u.mean_abs_cos - nul.matching_mean_abs_cos.u)).toBeLessThan(0.15 * nul.matching_mean_abs_cos.u);
    expect(Math.abs(r.matching.v.mean_abs_cos - nul.matching_mean_abs_cos.v)).toBeLessThan(0.15 * nul.matching_mean_abs_cos.v);
    const meanBest = r.per_feature.u.abs_cos.reduce((x, y) => x + y, 0) / n;
    expect(Math.abs(meanBest - nul.per_feature_mean_best_abs_cos.u)).toBeLessThan(0.15 * nul.per_feature_mean_best_abs_cos.u);
  });
});

describe("bad input", () => {
  const basis = { U: new Float64Array(8), V: new Float64Array(8), rows: 4, k: 2 };
  test("shape mismatch, zero row, NaN", () => {
    expect(() => alignFeatures({ rows: 1, cols: 6, data: new Float64Array(6).fill(1) }, basis)).toThrow(/rows/);
    expect(() => alignFeatures({ rows: 1, cols: 4, data: new Float64Array(4) }, basis)).toThrow(/zero/);
    expect(() => alignFeatures({ rows: 1, cols: 4, data: Float64Array.from([1, NaN, 0, 0]) }, basis)).toThrow(/NaN/);
    expect(() => alignFeatures({ rows: 0, cols: 4, data: new Float64Array(0) }, basis)).toThrow(/at least one/);
  });
});
