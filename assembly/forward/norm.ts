/**
 * @module forward/norm
 * The pre-attention and pre-MLP normalisations, split as TransformerLens splits them: `normRowsF32`
 * writes the normalised residual without the affine part (`ln1.hook_normalized`, method §3) —
 * LayerNorm: z = (r − mean r) / √(mean((r − mean r)²) + ε); RMSNorm: z = r / √(mean(r²) + ε) —
 * and `affineRowsF32` applies the gain γ and bias β. Means and variances accumulate in float64.
 */

/**
 * z[t, :] = normalised x[t, :] for n rows of width d.
 * @param rms - 1 for RMSNorm (no centring), 0 for LayerNorm
 */
export function normRowsF32(n: i32, d: i32, x: usize, ldx: i32, z: usize, ldz: i32, eps: f64, rms: i32): void {
  for (let t = 0; t < n; t++) {
    const xr = x + ((<usize>t * <usize>ldx) << 2);
    const zr = z + ((<usize>t * <usize>ldz) << 2);
    let mean: f64 = 0;
    if (!rms) {
      for (let i = 0; i < d; i++) mean += <f64>load<f32>(xr + (<usize>i << 2));
      mean /= d;
    }
    let ss: f64 = 0;
    for (let i = 0; i < d; i++) {
      const c = <f64>load<f32>(xr + (<usize>i << 2)) - mean;
      ss += c * c;
    }
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) store<f32>(zr + (<usize>i << 2), <f32>((<f64>load<f32>(xr + (<usize>i << 2)) - mean) * inv));
  }
}

/** out[t, i] = z[t, i]·γ[i] + β[i] (β = 0 pointer: no bias). */
export function affineRowsF32(n: i32, d: i32, z: usize, ldz: i32, gamma: usize, beta: usize, out: usize, ldo: i32): void {
  for (let t = 0; t < n; t++) {
    const zr = z + ((<usize>t * <usize>ldz) << 2);
    const or = out + ((<usize>t * <usize>ldo) << 2);
    for (let i = 0; i < d; i++) {
      const o = <usize>i << 2;
      let v = load<f32>(zr + o) * load<f32>(gamma + o);
      if (beta) v += load<f32>(beta + o);
      store<f32>(or + o, v);
    }
  }
}
