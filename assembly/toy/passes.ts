/**
 * @module toy/passes
 * The per-sample passes of the toy model's loss and gradient (method §6), the only part of a training
 * step whose cost grows with the batch. The host (src/toy/model.ts through src/kernels/toy.ts)
 * forms the per-step products G = W_effᵀ W_eff and M = W_effᵀ Ω W_eff in feature space and maps the
 * gradients collected here (dG, db, dM) back to W, W_Q, W_K. Tokens are compressed sparse rows.
 *
 * Why WebAssembly: measured on this machine (Node 20, N = 100, batch 1024, p = 0.2), the
 * reconstruction pass took 9.3 ms per step in TypeScript and 1.2 ms here with f64x2 SIMD including
 * the copies across the boundary; the loops are axpys over contiguous rows of G, M, dG, dM.
 * src/toy/model.ts keeps the TypeScript version of both passes as the reference they are tested
 * against (equal to rounding), and the finite-difference gradient checks run on both.
 */
import { axpy } from "../blas/axpy";

/**
 * Reconstruction pass: for each token, z = b + Σ_a f_a G[a, :], f' = ReLU(z),
 * loss += ‖f' − f‖², and (backward) dz = (2/T)(f' − f)·[z > 0], db += dz, dG[a, :] += f_a dz.
 *
 * Arguments
 *   n        number of features N ≥ 1
 *   tokens   number of tokens T ≥ 1
 *   ptr      i32[T + 1] row pointers; idx i32[nnz] feature indices in [0, n); val f64[nnz]
 *   gram     f64[n·n] G, row-major
 *   b        f64[n]
 *   dGram    f64[n·n] output (overwritten) when backward ≠ 0
 *   db       f64[n] output (overwritten) when backward ≠ 0
 *   work     f64[2n] workspace
 *   out      f64[1]: mean over tokens of ‖f − f'‖²
 * Status: 0 ok; −1 bad n; −2 bad tokens.
 */
export function toyReconPass(n: i32, tokens: i32, ptr: usize, idx: usize, val: usize, gram: usize, b: usize, dGram: usize, db: usize, backward: i32, work: usize, out: usize): i32 {
  if (n < 1) return -1;
  if (tokens < 1) return -2;
  const rowBytes = <usize>n << 3;
  const z = work;
  const fd = work + rowBytes;
  memory.fill(fd, 0, rowBytes);
  if (backward) {
    memory.fill(dGram, 0, rowBytes * <usize>n);
    memory.fill(db, 0, rowBytes);
  }
  const scale = 2.0 / <f64>tokens;
  let loss: f64 = 0;
  for (let t = 0; t < tokens; t++) {
    const e0 = load<i32>(ptr + (<usize>t << 2));
    const e1 = load<i32>(ptr + (<usize>(t + 1) << 2));
    memory.copy(z, b, rowBytes);
    for (let e = e0; e < e1; e++) {
      const a = load<i32>(idx + (<usize>e << 2));
      const fa = load<f64>(val + (<usize>e << 3));
      store<f64>(fd + (<usize>a << 3), fa);
      axpy(n, fa, gram + <usize>a * rowBytes, z);
    }
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 3;
      const zi = load<f64>(z + o);
      const diff = (zi > 0 ? zi : 0) - load<f64>(fd + o);
      loss += diff * diff;
      store<f64>(z + o, zi > 0 ? scale * diff : 0); // z now holds ∂L/∂z
    }
    for (let e = e0; e < e1; e++) store<f64>(fd + (<usize>load<i32>(idx + (<usize>e << 2)) << 3), 0);
    if (backward) {
      axpy(n, 1.0, z, db);
      for (let e = e0; e < e1; e++) {
        const a = load<i32>(idx + (<usize>e << 2));
        axpy(n, load<f64>(val + (<usize>e << 3)), z, dGram + <usize>a * rowBytes);
      }
    }
  }
  store<f64>(out, loss / <f64>tokens);
  return 0;
}

/**
 * Attention pass: for each sample (query token, then m key tokens), g = Σ_a f_a M[a, :],
 * ℓ_j = f_j · g, ℓ*_j = β Σ_{(a,b,t) ∈ T} t f_a(r) f_b(s_j), ce += −Σ_j softmax(ℓ*)_j log softmax(ℓ)_j,
 * and (backward) dℓ_j = (λ/S)(softmax(ℓ)_j − softmax(ℓ*)_j), h = Σ_j dℓ_j f_j, dM[a, :] += f_a h.
 *
 * Arguments
 *   n        number of features N ≥ 1
 *   m        keys per query ≥ 1
 *   samples  S ≥ 1; tokens = S·(m + 1), query first
 *   ptr, idx, val   the tokens as compressed sparse rows (as in toyReconPass)
 *   mOmega   f64[n·n] M = W_effᵀ Ω W_eff, row-major
 *   tplPtr   i32[n + 1], tplKey i32[·], tplVal f64[·]: the template rows, query feature → (key, value)
 *   beta     target temperature; lambda  CE weight
 *   dM       f64[n·n] output (overwritten) when backward ≠ 0
 *   work     f64[3n + 2m] workspace
 *   out      f64[1]: mean CE over samples
 * Status: 0 ok; −1 bad n; −2 bad m; −3 bad samples.
 */
export function toyAttentionPass(
  n: i32, m: i32, samples: i32, ptr: usize, idx: usize, val: usize, mOmega: usize,
  tplPtr: usize, tplKey: usize, tplVal: usize, beta: f64, lambda: f64, dM: usize, backward: i32, work: usize, out: usize,
): i32 {
  if (n < 1) return -1;
  if (m < 1) return -2;
  if (samples < 1) return -3;
  const rowBytes = <usize>n << 3;
  const g = work;
  const tvec = g + rowBytes;
  const hvec = tvec + rowBytes;
  const logits = hvec + rowBytes;
  const target = logits + (<usize>m << 3);
  memory.fill(tvec, 0, rowBytes * 2);
  if (backward) memory.fill(dM, 0, rowBytes * <usize>n);
  const coef = lambda / <f64>samples;
  let ceSum: f64 = 0;
  for (let s = 0; s < samples; s++) {
    const tq = s * (m + 1);
    const q0 = load<i32>(ptr + (<usize>tq << 2));
    const q1 = load<i32>(ptr + (<usize>(tq + 1) << 2));
    memory.fill(g, 0, rowBytes);
    for (let e = q0; e < q1; e++) {
      const a = load<i32>(idx + (<usize>e << 2));
      const fa = load<f64>(val + (<usize>e << 3));
      axpy(n, fa, mOmega + <usize>a * rowBytes, g);
      const r1 = load<i32>(tplPtr + (<usize>(a + 1) << 2));
      for (let r = load<i32>(tplPtr + (<usize>a << 2)); r < r1; r++) {
        const o = <usize>load<i32>(tplKey + (<usize>r << 2)) << 3;
        store<f64>(tvec + o, load<f64>(tvec + o) + load<f64>(tplVal + (<usize>r << 3)) * fa);
      }
    }
    let maxL = -Infinity;
    let maxT = -Infinity;
    for (let j = 0; j < m; j++) {
      const tk = tq + 1 + j;
      const k1 = load<i32>(ptr + (<usize>(tk + 1) << 2));
      let l: f64 = 0;
      let lt: f64 = 0;
      for (let e = load<i32>(ptr + (<usize>tk << 2)); e < k1; e++) {
        const o = <usize>load<i32>(idx + (<usize>e << 2)) << 3;
        const v = load<f64>(val + (<usize>e << 3));
        l += v * load<f64>(g + o);
        lt += v * load<f64>(tvec + o);
      }
      lt *= beta;
      store<f64>(logits + (<usize>j << 3), l);
      store<f64>(target + (<usize>j << 3), lt);
      if (l > maxL) maxL = l;
      if (lt > maxT) maxT = lt;
    }
    for (let e = q0; e < q1; e++) {
      const a = load<i32>(idx + (<usize>e << 2));
      const r1 = load<i32>(tplPtr + (<usize>(a + 1) << 2));
      for (let r = load<i32>(tplPtr + (<usize>a << 2)); r < r1; r++) store<f64>(tvec + (<usize>load<i32>(tplKey + (<usize>r << 2)) << 3), 0);
    }
    let zL: f64 = 0;
    let zT: f64 = 0;
    for (let j = 0; j < m; j++) {
      zL += Math.exp(load<f64>(logits + (<usize>j << 3)) - maxL);
      zT += Math.exp(load<f64>(target + (<usize>j << 3)) - maxT);
    }
    const lse = maxL + Math.log(zL);
    for (let j = 0; j < m; j++) {
      const pT = Math.exp(load<f64>(target + (<usize>j << 3)) - maxT) / zT;
      const logP = load<f64>(logits + (<usize>j << 3)) - lse;
      ceSum -= pT * logP;
      store<f64>(logits + (<usize>j << 3), coef * (Math.exp(logP) - pT)); // now ∂L/∂ℓ_j
    }
    if (!backward) continue;
    for (let j = 0; j < m; j++) {
      const tk = tq + 1 + j;
      const dl = load<f64>(logits + (<usize>j << 3));
      const k1 = load<i32>(ptr + (<usize>(tk + 1) << 2));
      for (let e = load<i32>(ptr + (<usize>tk << 2)); e < k1; e++) {
        const o = <usize>load<i32>(idx + (<usize>e << 2)) << 3;
        store<f64>(hvec + o, load<f64>(hvec + o) + dl * load<f64>(val + (<usize>e << 3)));
      }
    }
    for (let e = q0; e < q1; e++) {
      const a = load<i32>(idx + (<usize>e << 2));
      axpy(n, load<f64>(val + (<usize>e << 3)), hvec, dM + <usize>a * rowBytes);
    }
    for (let j = 0; j < m; j++) {
      const tk = tq + 1 + j;
      const k1 = load<i32>(ptr + (<usize>(tk + 1) << 2));
      for (let e = load<i32>(ptr + (<usize>tk << 2)); e < k1; e++) store<f64>(hvec + (<usize>load<i32>(idx + (<usize>e << 2)) << 3), 0);
    }
  }
  store<f64>(out, ceSum / <f64>samples);
  return 0;
}
