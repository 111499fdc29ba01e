/**
 * @module forward/activation
 * The MLP non-linearities, element-wise on f32 with the arithmetic in float64:
 *   0 gelu_new (tanh approximation; GPT-2, GPT-Neo), 1 gelu (exact, erf; GPT-NeoX/Pythia),
 *   2 silu (x·sigmoid x), 3 relu;
 * and the gated unit of SwiGLU (Llama): g = act(gate) ∘ up.
 * erf: W. J. Cody's rational approximations are overkill for an f32 result; this uses the
 * complementary-error-function Chebyshev fit of Numerical Recipes (erfcc, fractional error < 1.2e-7
 * everywhere), below f32's resolution.
 */

export const ACT_GELU_NEW: i32 = 0;
export const ACT_GELU: i32 = 1;
export const ACT_SILU: i32 = 2;
export const ACT_RELU: i32 = 3;

function erfc(x: f64): f64 {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

// @ts-ignore: decorator
@inline
function act(v: f64, kind: i32): f64 {
  if (kind == ACT_GELU_NEW) return 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
  if (kind == ACT_GELU) return 0.5 * v * erfc(-v * 0.7071067811865476);
  if (kind == ACT_SILU) return v / (1 + Math.exp(-v));
  return v > 0 ? v : 0;
}

/** h[t, j] = act(h[t, j]) for t < n, j < m (row stride ldh). */
export function activateF32(n: i32, m: i32, h: usize, ldh: i32, kind: i32): void {
  for (let t = 0; t < n; t++) {
    const r = h + ((<usize>t * <usize>ldh) << 2);
    for (let j = 0; j < m; j++) {
      const p = r + (<usize>j << 2);
      store<f32>(p, <f32>act(<f64>load<f32>(p), kind));
    }
  }
}

/** h[t, j] = act(h[t, j])·h[t, f + j] for j < f: [gate | up] → the gated product in the first half. */
export function gluF32(n: i32, f: i32, h: usize, ldh: i32, kind: i32): void {
  for (let t = 0; t < n; t++) {
    const r = h + ((<usize>t * <usize>ldh) << 2);
    const u = r + (<usize>f << 2);
    for (let j = 0; j < f; j++) {
      const o = <usize>j << 2;
      store<f32>(r + o, <f32>(act(<f64>load<f32>(r + o), kind) * <f64>load<f32>(u + o)));
    }
  }
}
