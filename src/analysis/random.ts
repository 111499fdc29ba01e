/**
 * @module analysis/random
 * Seeded randomness for the null models (method §4 random rotations, §5 random directions): a small,
 * fast, reproducible generator that behaves the same in workerd, Node and the CLI. It must never be
 * used where unpredictability matters (tokens, ids): it is a simulation generator, not a CSPRNG.
 *
 * Generator: xoshiro128** (Blackman & Vigna 2018) seeded through splitmix32, so seeds 0, 1, 2, … give
 * unrelated streams. Normal deviates by Box–Muller on 53-bit uniforms. Haar-random orthogonal
 * matrices by QR of a Gaussian matrix with the signs of R's diagonal made positive (Mezzadri 2007,
 * "How to generate random matrices from the classical compact groups"): numpy's
 * `np.linalg.qr(rng.standard_normal((n, n)))[0]` differs only by column signs, which the SAD statistics
 * are invariant to (t_k^rot is quadratic in ũ_k).
 */

/** Names recorded in results, so a reader knows how the null was drawn. */
export const RNG_NAME = "xoshiro128** (splitmix32 seeding), Box–Muller normals";
export const HAAR_NAME = "QR (modified Gram–Schmidt, twice) of a standard normal matrix, diag(R) > 0";

export interface Rng {
  /** uniform on [0, 1) with 53 random bits */
  uniform(): number;
  /** standard normal */
  normal(): number;
}

/** A seeded generator. @param seed - any integer (taken mod 2³²) */
export function createRng(seed: number): Rng {
  let x = seed >>> 0;
  const splitmix32 = () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = splitmix32();
  let s1 = splitmix32();
  let s2 = splitmix32();
  let s3 = splitmix32();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3 >>> 0, 11);
    s0 >>>= 0; s1 >>>= 0; s2 >>>= 0;
    return result;
  };
  let spare: number | undefined;
  const uniform = () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992; // (a·2²⁶ + b) / 2⁵³
  return {
    uniform,
    normal(): number {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      let u = 0;
      while (u === 0) u = uniform();
      const v = uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
  };
}

const rotl = (v: number, k: number) => ((v << k) | (v >>> (32 - k))) >>> 0;

/** `count` standard normals. */
export function normals(rng: Rng, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal();
  return out;
}

/**
 * A Haar-random orthogonal n×n matrix, row-major f64.
 * @example const Q = haarOrthogonal(64, createRng(3)) // QᵀQ = I to ~1e-15
 */
export function haarOrthogonal(n: number, rng: Rng): Float64Array {
  const g = normals(rng, n * n); // row-major; QR acts on columns
  const q = new Float64Array(n * n);
  const col = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) col[i] = g[i * n + j];
    // projecting out the previous columns twice keeps orthogonality at rounding level (Giraud et al. 2005)
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i * n + p] * col[i];
        for (let i = 0; i < n; i++) col[i] -= dot * q[i * n + p];
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += col[i] * col[i];
    norm = Math.sqrt(norm);
    // the projection leaves R_jj = norm > 0: the sign fix is built in
    for (let i = 0; i < n; i++) q[i * n + j] = col[i] / norm;
  }
  return q;
}

/** `count` random unit vectors of length d (rows of a row-major [count, d] array). */
export function randomUnitRows(count: number, d: number, rng: Rng): Float64Array {
  const out = normals(rng, count * d);
  for (let r = 0; r < count; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += out[r * d + i] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < d; i++) out[r * d + i] *= inv;
  }
  return out;
}

/** One Haar rotation per seed, packed [seeds.length, n, n] row-major (the SAD null's input). */
export function seededRotations(n: number, seeds: number[]): Float64Array {
  const out = new Float64Array(seeds.length * n * n);
  seeds.forEach((seed, i) => out.set(haarOrthogonal(n, createRng(seed)), i * n * n));
  return out;
}
