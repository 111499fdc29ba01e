/**
 * @module analysis/random
 * The one seeded generator of the project: the null models (method §4 random rotations, §5 random
 * directions), the toy model (method §6: initialisation, sampling), the example checkpoint and the
 * tests. Small, fast, reproducible, the same in workerd, Node, the browser and the CLI; it reads
 * neither `Math.random` nor the clock. It must never be used where unpredictability matters (tokens,
 * ids): it is a simulation generator, not a CSPRNG.
 *
 * Generator: xoshiro128** (Blackman & Vigna 2018) seeded through splitmix32, so seeds 0, 1, 2, … give
 * unrelated streams. Normal deviates by Marsaglia's polar method on 53-bit uniforms. Haar-random orthogonal
 * matrices by QR of a Gaussian matrix with the signs of R's diagonal made positive (Mezzadri 2007,
 * "How to generate random matrices from the classical compact groups"): numpy's
 * `np.linalg.qr(rng.standard_normal((n, n)))[0]` differs only by column signs, which the SAD statistics
 * are invariant to (t_k^rot is quadratic in ũ_k).
 */

/** Names recorded in results, so a reader knows how the null was drawn. */
export const RNG_NAME = "xoshiro128** (splitmix32 seeding), Marsaglia polar normals";
export const HAAR_NAME = "QR (modified Gram–Schmidt, twice) of a standard normal matrix, diag(R) > 0";

export interface Rng {
  /** uniform on [0, 1) with 53 random bits */
  uniform(): number;
  /** standard normal */
  normal(): number;
}

/** The generator and the distributions drawn from it. */
export type Random = Xoshiro128;

/**
 * xoshiro128** with its state in a Uint32Array: 32-bit words above 2³⁰ do not fit V8's small integers,
 * so kept in object fields or closures every step allocates heap numbers (measured: 190 ns per normal;
 * in a typed array it is a few ns).
 */
class Xoshiro128 implements Rng {
  private readonly s = new Uint32Array(4);
  private spare = 0;
  private hasSpare = false;

  constructor(seed: number) {
    let x = seed >>> 0;
    const splitmix32 = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    for (let i = 0; i < 4; i++) this.s[i] = splitmix32();
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Next raw 32-bit output, in [0, 2³²). */
  nextUint32(): number {
    return this.next();
  }

  private next(): number {
    const s = this.s;
    const s1 = s[1];
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s[2] ^= s[0];
    s[3] ^= s1;
    s[1] = s1 ^ s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  uniform(): number {
    return ((this.next() >>> 5) * 67108864 + (this.next() >>> 6)) / 9007199254740992; // (a·2²⁶ + b) / 2⁵³
  }

  /** Uniform on (0, 1]: safe to take the log of. */
  uniformOpenZero(): number {
    return 1 - this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /**
   * Number of failures before the next success of a Bernoulli(p) process, given
   * `logOneMinusP = Math.log(1 - p)`: floor(log U / log(1 − p)). Skipping by these gaps draws a sparse
   * Bernoulli vector in O(number of successes) instead of O(length), with exactly the same law.
   */
  geometricGap(logOneMinusP: number): number {
    return Math.floor(Math.log(this.uniformOpenZero()) / logOneMinusP);
  }

  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    // Marsaglia's polar method: no trigonometry, one log and one sqrt per two normals
    let u: number, v: number, q: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      q = u * u + v * v;
    } while (q >= 1 || q === 0);
    const f = Math.sqrt((-2 * Math.log(q)) / q);
    this.spare = v * f;
    this.hasSpare = true;
    return u * f;
  }
}

/** A seeded generator. @param seed - any integer (taken mod 2³²) */
export function createRng(seed: number): Random {
  return new Xoshiro128(seed);
}

const rotl = (v: number, k: number) => (v << k) | (v >>> (32 - k));

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
