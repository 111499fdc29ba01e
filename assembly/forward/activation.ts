/**
 * @module forward/activation
 * The MLP non-linearities, element-wise on f32:
 *   0 gelu_new (tanh approximation; GPT-2, GPT-Neo), 1 gelu (exact, erf; GPT-NeoX/Pythia),
 *   2 silu (x·sigmoid x), 3 relu;
 * and the gated unit of SwiGLU (Llama): g = act(gate) ∘ up.
 *
 * Everything is built on one f32 exp (Cephes expf: x = n·ln 2 + r, |r| ≤ ln 2 / 2, a degree-7
 * polynomial for e^r, then 2^n through the exponent bits; about 1 ulp), written twice with the same
 * operations in the same order — four lanes at a time with SIMD and one at a time for the edges and
 * the scalar build — so both builds give the same bits. tanh u = 1 − 2 / (e^{2u} + 1);
 * erfc from the Chebyshev fit of Numerical Recipes (erfcc, fractional error < 1.2e-7).
 * Errors are at float32 resolution: the attention inputs stay within 1e-6 of the float64 reference.
 */

export const ACT_GELU_NEW: i32 = 0;
export const ACT_GELU: i32 = 1;
export const ACT_SILU: i32 = 2;
export const ACT_RELU: i32 = 3;

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_MAX: f32 = 88.0; // keeps 2^n finite (n ≤ 127)
const EXP_MIN: f32 = -87.3365478515625;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;
const GELU_C: f32 = 0.7978845608028654; // √(2/π)
const GELU_A: f32 = 0.044715;
const RSQRT2: f32 = 0.7071067811865476;

// @ts-ignore: decorator
@inline
function expf(x: f32): f32 {
  x = min(max(x, EXP_MIN), EXP_MAX);
  const n = nearest<f32>(x * LOG2E);
  let r = x - n * LN2_HI;
  r = r - n * LN2_LO;
  let p = P0 * r + P1;
  p = p * r + P2;
  p = p * r + P3;
  p = p * r + P4;
  p = p * r + P5;
  p = p * (r * r) + r + <f32>1;
  return p * reinterpret<f32>((<i32>n + 127) << 23);
}

// @ts-ignore: decorator
@inline
function expv(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(EXP_MIN)), f32x4.splat(EXP_MAX));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  const e = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, e);
}

/** erfc by Numerical Recipes' erfcc. */
// @ts-ignore: decorator
@inline
function erfcf(x: f32): f32 {
  const z = abs<f32>(x);
  const t = <f32>1 / (<f32>1 + <f32>0.5 * z);
  let q: f32 = <f32>0.17087277 * t + <f32>-0.82215223;
  q = q * t + <f32>1.48851587;
  q = q * t + <f32>-1.13520398;
  q = q * t + <f32>0.27886807;
  q = q * t + <f32>-0.18628806;
  q = q * t + <f32>0.09678418;
  q = q * t + <f32>0.37409196;
  q = q * t + <f32>1.00002368;
  q = q * t + <f32>-1.26551223;
  const r = t * expf(q - z * z);
  return x >= 0 ? r : <f32>2 - r;
}

// @ts-ignore: decorator
@inline
function erfcv(x: v128): v128 {
  const z = f32x4.abs(x);
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(0.5), z)));
  let q = f32x4.add(f32x4.mul(f32x4.splat(0.17087277), t), f32x4.splat(-0.82215223));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(1.48851587));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(-1.13520398));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.27886807));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(-0.18628806));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.09678418));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.37409196));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(1.00002368));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(-1.26551223));
  const r = f32x4.mul(t, expv(f32x4.sub(q, f32x4.mul(z, z))));
  return v128.bitselect(r, f32x4.sub(f32x4.splat(2), r), f32x4.ge(x, f32x4.splat(0)));
}

// @ts-ignore: decorator
@inline
function act(v: f32, kind: i32): f32 {
  if (kind == ACT_GELU_NEW) {
    const u = GELU_C * (v + GELU_A * (v * v * v));
    const th = <f32>1 - <f32>2 / (expf(u + u) + <f32>1);
    return <f32>0.5 * v * (<f32>1 + th);
  }
  if (kind == ACT_GELU) return <f32>0.5 * v * erfcf(-v * RSQRT2);
  if (kind == ACT_SILU) return v / (<f32>1 + expf(-v));
  return v > 0 ? v : 0;
}

// @ts-ignore: decorator
@inline
function actv(v: v128, kind: i32): v128 {
  if (kind == ACT_GELU_NEW) {
    const u = f32x4.mul(f32x4.splat(GELU_C), f32x4.add(v, f32x4.mul(f32x4.splat(GELU_A), f32x4.mul(f32x4.mul(v, v), v))));
    const th = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(expv(f32x4.add(u, u)), f32x4.splat(1))));
    return f32x4.mul(f32x4.mul(f32x4.splat(0.5), v), f32x4.add(f32x4.splat(1), th));
  }
  if (kind == ACT_GELU) return f32x4.mul(f32x4.mul(f32x4.splat(0.5), v), erfcv(f32x4.mul(f32x4.neg(v), f32x4.splat(RSQRT2))));
  if (kind == ACT_SILU) return f32x4.div(v, f32x4.add(f32x4.splat(1), expv(f32x4.neg(v))));
  return v128.bitselect(v, f32x4.splat(0), f32x4.gt(v, f32x4.splat(0)));
}

/** h[t, j] = act(h[t, j]) for t < n, j < m (row stride ldh). */
export function activateF32(n: i32, m: i32, h: usize, ldh: i32, kind: i32): void {
  for (let t = 0; t < n; t++) {
    const r = h + ((<usize>t * <usize>ldh) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= m; j += 4) {
        const p = r + (<usize>j << 2);
        v128.store(p, actv(v128.load(p), kind));
      }
    }
    for (; j < m; j++) {
      const p = r + (<usize>j << 2);
      store<f32>(p, act(load<f32>(p), kind));
    }
  }
}

/** h[t, j] = act(h[t, j])·h[t, f + j] for j < f: [gate | up] → the gated product in the first half. */
export function gluF32(n: i32, f: i32, h: usize, ldh: i32, kind: i32): void {
  for (let t = 0; t < n; t++) {
    const r = h + ((<usize>t * <usize>ldh) << 2);
    const u = r + (<usize>f << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= f; j += 4) {
        const o = <usize>j << 2;
        v128.store(r + o, f32x4.mul(actv(v128.load(r + o), kind), v128.load(u + o)));
      }
    }
    for (; j < f; j++) {
      const o = <usize>j << 2;
      store<f32>(r + o, act(load<f32>(r + o), kind) * load<f32>(u + o));
    }
  }
}
