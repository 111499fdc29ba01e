/**
 * @module toy/random
 * A small seeded pseudo-random generator for the toy model: sfc32 (Chris Doty-Humphrey's "small fast
 * counting" generator, PractRand-clean) seeded through splitmix32, plus the few distributions the toy
 * needs (uniform, standard normal, geometric gaps for sparse Bernoulli draws). Same seed → same stream
 * on every platform: it uses only 32-bit integer arithmetic and `Math.log`/`Math.sqrt`/`Math.cos`.
 * It must not read `Math.random` or the clock.
 */

/** splitmix32 step: scrambles a 32-bit state into a well-mixed 32-bit output. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal = NaN;

  /** @param seed - any integer (only its low 32 bits are used) */
  constructor(seed: number) {
    let s = seed | 0;
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, z] = splitmix32(s);
      s = next;
      out.push(z | 0);
    }
    [this.a, this.b, this.c, this.d] = out as [number, number, number, number];
    for (let i = 0; i < 16; i++) this.nextUint32(); // discard the warm-up outputs
  }

  /** Next raw 32-bit output of sfc32, in [0, 2³²). */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform on [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296; // 2^32
  }

  /** Uniform on (0, 1]: safe to take the log of. */
  uniformOpenZero(): number {
    return (this.nextUint32() + 1) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal by Box–Muller (the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const z = this.spareNormal;
      this.spareNormal = NaN;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniformOpenZero()));
    const theta = 2 * Math.PI * this.uniform();
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /**
   * Number of failures before the next success of a Bernoulli(p) process, given
   * `logOneMinusP = Math.log(1 - p)`: floor(log U / log(1 − p)). Skipping by these gaps draws a sparse
   * Bernoulli vector in O(number of successes) instead of O(length), with exactly the same law.
   */
  geometricGap(logOneMinusP: number): number {
    return Math.floor(Math.log(this.uniformOpenZero()) / logOneMinusP);
  }
}
