/**
 * @module analysis/rotary
 * Rotary position embeddings (method §3) in the Hugging Face GPT-NeoX / Llama convention
 * ("rotate_half"): within the first `rotaryDim` dimensions of a head, dimension i < r/2 pairs with
 * i + r/2 at frequency θ_i = base^(−2i/r), and a query or key at position p becomes
 * x·cos(pθ) + rotate_half(x)·sin(pθ). So q̂_d·k̂_s = q_d·rot(k_s, −(d − s)), which is
 * x_d Ω_Δ x_sᵀ with Ω_Δ = W_Q R_Δ W_Kᵀ = W_Q (rot_{−Δ}(W_K))ᵀ, Δ = d − s. One place for the
 * convention: the scan's per-offset SVDs and the rotary SAD both call this. Pure TS.
 */
type Vec = Float32Array | Float64Array;

/** θ_i = base^(−2i/r) for i < r/2. */
export function rotaryFrequencies(rotaryDim: number, base: number): Float64Array {
  const half = rotaryDim / 2;
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) out[i] = base ** (-(2 * i) / rotaryDim);
  return out;
}

/**
 * Rotates every row of w [rows, dHead] by position `p` (in place into `out`, which may be w):
 * x ↦ x·cos(pθ) + rotate_half(x)·sin(pθ) on the first rotaryDim dimensions.
 */
export function rotateRows(w: Vec, rows: number, dHead: number, rotaryDim: number, base: number, p: number, out: Vec = w.slice() as Vec): Vec {
  if (p === 0 || rotaryDim === 0) {
    if (out !== w) out.set(w);
    return out;
  }
  const half = rotaryDim / 2;
  for (let i = 0; i < half; i++) {
    const angle = p * base ** (-(2 * i) / rotaryDim);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    for (let r = 0; r < rows; r++) {
      const x1 = w[r * dHead + i];
      const x2 = w[r * dHead + i + half];
      out[r * dHead + i] = x1 * c - x2 * s;
      out[r * dHead + i + half] = x2 * c + x1 * s;
    }
  }
  for (let r = 0; r < rows && out !== w; r++) for (let j = rotaryDim; j < dHead; j++) out[r * dHead + j] = w[r * dHead + j];
  return out;
}

/**
 * Rotates the rotary dimensions of every row of W [d, d_head] (and a bias [d_head]) so that
 * Ω_Δ = W_Q R_Δ W_Kᵀ = W_Q (W_K R_Δᵀ)ᵀ: each key row is rotated by −Δ.
 */
export function rotateKeyRows(w: Vec, rows: number, dHead: number, rotaryDim: number, base: number, delta: number): Vec {
  return rotateRows(w, rows, dHead, rotaryDim, base, -delta);
}
