/**
 * @module bench/gpt2-weights
 * One head's raw circuit factors and reference spectrum for the benchmarks, on top of the tests' GPT-2
 * reader (test/support/gpt2.ts: ../shared beside the repository, the project's own parser).
 */
import type { Matrix } from "../src/kernels/types";
import { D_HEAD, D_MODEL, GPT2_PATH, SPECTRA_PATH, gpt2Head, spectraReference, tensor } from "../test/support/gpt2";

export { D_HEAD, D_MODEL, GPT2_PATH };
export const GPT2_SPECTRA_PATH = SPECTRA_PATH;

export interface Safetensors {
  tensor(name: string): { data: Float32Array };
}

/** The GPT-2 file, read through the project's validating safetensors parser (test/support/gpt2.ts). */
export function readSafetensors(): Safetensors {
  return { tensor: (name) => ({ data: tensor(name) }) };
}

/**
 * Raw (unfolded, no bias) factors of one head's circuit: QK gives (W_Q, W_K), OV gives (W_V, W_Oᵀ),
 * each [d_model, d_head], so that the circuit is a·bᵀ.
 */
export function headFactors(_st: Safetensors, layer: number, head: number, circuit: "qk" | "ov"): { a: Matrix; b: Matrix } {
  const w = gpt2Head(layer, head);
  const m = (data: Float32Array): Matrix => ({ rows: D_MODEL, cols: D_HEAD, data });
  if (circuit === "qk") return { a: m(w.W_Q), b: m(w.W_K) };
  const wOt = new Float32Array(D_MODEL * D_HEAD);
  for (let r = 0; r < D_HEAD; r++) {
    for (let c = 0; c < D_MODEL; c++) wOt[c * D_HEAD + r] = w.W_O[r * D_MODEL + c];
  }
  return { a: m(w.W_V), b: m(wOt) };
}

/** The reference singular values (numpy/LAPACK, 7 significant digits) of one head's raw circuit. */
export function referenceSpectrum(layer: number, head: number, circuit: "qk" | "ov"): number[] {
  const h = spectraReference().heads.find((x) => x.layer === layer && x.head === head);
  if (!h) throw new Error(`no reference spectrum for layer ${layer} head ${head}`);
  return h[circuit].raw;
}

/**
 * max_k |σ_k − σ_k^ref| / σ_k^ref over σ_k^ref ≥ 1e-6·σ_1^ref (smaller values carry no relative
 * accuracy in a 7-digit reference).
 */
export function maxRelativeError(s: ArrayLike<number>, ref: number[]): number {
  let worst = 0;
  for (let k = 0; k < ref.length; k++) {
    if (ref[k] < 1e-6 * ref[0]) continue;
    const e = Math.abs(s[k] - ref[k]) / ref[k];
    if (!(e <= worst)) worst = e;
  }
  return worst;
}
