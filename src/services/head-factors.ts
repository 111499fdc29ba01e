/**
 * @module services/head-factors
 * Builds the two factors whose product is the analysed circuit, in the variant the request selects
 * (method §3), with the arithmetic in float64:
 *
 *   qk: Ω = A Bᵀ with A = W_Q, B = W_K;  ov: W_OV = A Bᵀ with A = W_V, B = W_Oᵀ.
 *   fold_ln: W' = diag(γ) W, b' = b + β W, then the reading weights are centred over d_model
 *            (W' ← W' − mean_rows W'), and W_O over its output (W_O ← W_O − mean_cols W_O).
 *   bias = augmented (qk only): A = [W_Q; b_Q], B = [W_K; b_K], (d_model + 1) rows, so that
 *            [x, 1] Ω̃ [y, 1]ᵀ = q·k exactly.
 *
 *   norm = rmsnorm: fold_ln multiplies γ in and centres nothing (RMSNorm keeps the mean), `centred: false`.
 *
 * Defaults: fold_ln is on when ln_w is present; bias is augmented when both b_Q and b_K are present.
 * Asking for a variant the tensors cannot give is an error, never a silent fallback.
 */
import { InvalidRequest } from "../errors";
import { variantName, type Circuit, type HeadOptions, type Variant, type VariantName } from "../wire/head-request";
import type { Matrix } from "../kernels/types";
import type { HeadWeights, Vec } from "./head-weights";

export interface HeadFactors {
  a: Matrix;
  b: Matrix;
  variant: Variant;
  /** Frobenius norms of a and b (a Gaussian pair of the same shapes scaled to these is the null band's draw) */
  norms: { a: number; b: number };
}

const frobenius = (x: Vec) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
};

/** diag(γ)·W then (LayerNorm) centre the rows' mean away; b' = b + β·W (on the unscaled W). W is [d, h]. */
function foldReading(w: Vec, d: number, h: number, gamma: Vec, beta: Vec | undefined, bias: Vec | undefined, centre = true) {
  const out = new Float64Array(d * h);
  const mean = new Float64Array(h);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < h; j++) {
      const v = gamma[i] * w[i * h + j];
      out[i * h + j] = v;
      mean[j] += v;
    }
  }
  for (let j = 0; j < h; j++) mean[j] = centre ? mean[j] / d : 0;
  for (let i = 0; i < d; i++) for (let j = 0; j < h; j++) out[i * h + j] -= mean[j];
  let foldedBias: Float64Array | undefined;
  if (bias || beta) {
    foldedBias = new Float64Array(h);
    if (bias) for (let j = 0; j < h; j++) foldedBias[j] = bias[j];
    if (beta) for (let i = 0; i < d; i++) for (let j = 0; j < h; j++) foldedBias[j] += beta[i] * w[i * h + j];
  }
  return { w: out, bias: foldedBias };
}

/** [W; b] as a (d + 1) × h matrix. */
function augment(w: Vec, d: number, h: number, b: Vec): Float64Array {
  const out = new Float64Array((d + 1) * h);
  out.set(w);
  for (let j = 0; j < h; j++) out[d * h + j] = b[j];
  return out;
}

/**
 * The variant a request gets, from its options and the names of the tensors it sent (so it can be
 * known, and a stored result found, before any tensor is decoded).
 */
export function resolveVariant(circuit: Circuit, present: Set<string>, opts: HeadOptions) {
  const foldLn = opts.fold_ln ?? present.has("ln_w");
  if (opts.norm === "rmsnorm" && present.has("ln_b")) {
    throw new InvalidRequest("norm=rmsnorm has a gain only: send ln_w without ln_b", { option: "norm" });
  }
  if (foldLn && !present.has("ln_w")) {
    throw new InvalidRequest("fold_ln=true needs ln_w (and optionally ln_b) in the body", { option: "fold_ln" });
  }
  if (circuit === "ov" && opts.bias === "augmented") {
    throw new InvalidRequest("bias=augmented applies to the qk circuit only", { option: "bias" });
  }
  if (circuit === "qk" && present.has("b_Q") !== present.has("b_K")) {
    throw new InvalidRequest("send both b_Q and b_K, or neither", { option: "bias" });
  }
  const hasBias = circuit === "qk" && present.has("b_Q") && present.has("b_K");
  const bias = opts.bias ?? (hasBias ? "augmented" : "none");
  if (bias === "augmented" && !hasBias) {
    throw new InvalidRequest("bias=augmented needs b_Q and b_K in the body", { option: "bias" });
  }
  return { foldLn, bias, name: variantName(foldLn, bias) };
}

export const resolveVariantName = (circuit: Circuit, present: Set<string>, opts: HeadOptions): VariantName =>
  resolveVariant(circuit, present, opts).name;

export function buildHeadFactors(wts: HeadWeights, opts: HeadOptions): HeadFactors {
  const { dModel: d, dHead: h, circuit } = wts;
  const present = new Set(
    Object.entries({ ln_w: wts.lnW, ln_b: wts.lnB, b_Q: wts.bQ, b_K: wts.bK }).filter(([, v]) => v !== undefined).map(([k]) => k),
  );
  const { foldLn, bias } = resolveVariant(circuit, present, opts);
  const scale = opts.scale ?? 1 / Math.sqrt(h);
  const centred = foldLn && opts.norm !== "rmsnorm";

  let a: Vec;
  let b: Vec; // [d, h] for both; ov's W_O is transposed here
  let bQ = wts.bQ;
  let bK = wts.bK;
  if (circuit === "qk") {
    a = wts.read;
    b = wts.other;
    if (foldLn) {
      const fq = foldReading(a, d, h, wts.lnW!, wts.lnB, bQ, centred);
      const fk = foldReading(b, d, h, wts.lnW!, wts.lnB, bK, centred);
      a = fq.w;
      b = fk.w;
      bQ = fq.bias;
      bK = fk.bias;
    }
  } else {
    a = foldLn ? foldReading(wts.read, d, h, wts.lnW!, undefined, undefined, centred).w : wts.read;
    const wO = wts.other; // [h, d]
    const t = new Float64Array(d * h);
    for (let r = 0; r < h; r++) {
      let mean = 0;
      if (centred) {
        for (let c = 0; c < d; c++) mean += wO[r * d + c];
        mean /= d;
      }
      for (let c = 0; c < d; c++) t[c * h + r] = wO[r * d + c] - mean;
    }
    b = t;
  }
  let rows = d;
  if (bias === "augmented") {
    a = augment(a, d, h, bQ!);
    b = augment(b, d, h, bK!);
    rows = d + 1;
  }
  return {
    a: { rows, cols: h, data: a },
    b: { rows, cols: h, data: b },
    variant: { name: variantName(foldLn, bias), fold_ln: foldLn, bias, scale, factor_rows: rows, centred },
    norms: { a: frobenius(a), b: frobenius(b) },
  };
}
