/**
 * @module demo/client/example-head
 * The upload view's example head, made in the browser (nothing to download from the worker, a few
 * hundred bytes of script): a QK head whose spectrum is known in advance. W_Q = Q₁·diag(√σ) and
 * W_K = Q₂·diag(√σ) with Q₁, Q₂ orthonormal [d_model, d_head] (Gram–Schmidt of seeded random
 * columns), so Ω = W_Q W_Kᵀ = Q₁ diag(σ) Q₂ᵀ has singular values σ = 8, 4, 2, …, 2⁻⁴ exactly (up to
 * F32 rounding): the analysis should show them.
 */

export const EXAMPLE_SIGMAS = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.0625];
const D_MODEL = 64;

function orthonormal(rows: number, cols: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const q = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) {
    const v = Float64Array.from({ length: rows }, rand);
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += v[i] * q[i * cols + k];
        for (let i = 0; i < rows; i++) v[i] -= dot * q[i * cols + k];
      }
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < rows; i++) q[i * cols + j] = v[i] / norm;
  }
  return q;
}

/** The example as a safetensors file: W_Q, W_K [64, 8] F32. */
export function exampleHead(): Uint8Array {
  const h = EXAMPLE_SIGMAS.length;
  const factor = (seed: number) => {
    const q = orthonormal(D_MODEL, h, seed);
    return Float32Array.from(q, (x, i) => x * Math.sqrt(EXAMPLE_SIGMAS[i % h]));
  };
  const tensors = { W_Q: factor(1), W_K: factor(2) };
  const bytes = 4 * D_MODEL * h;
  const header = JSON.stringify({
    __metadata__: { about: "headscope example: singular values 8, 4, 2, 1, 0.5, 0.25, 0.125, 0.0625" },
    W_Q: { dtype: "F32", shape: [D_MODEL, h], data_offsets: [0, bytes] },
    W_K: { dtype: "F32", shape: [D_MODEL, h], data_offsets: [bytes, 2 * bytes] },
  });
  const json = new TextEncoder().encode(header + " ".repeat((8 - (header.length % 8)) % 8));
  const out = new Uint8Array(8 + json.length + 2 * bytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(new Uint8Array(tensors.W_Q.buffer), 8 + json.length);
  out.set(new Uint8Array(tensors.W_K.buffer), 8 + json.length + bytes);
  return out;
}
