/**
 * @module services/head-factors
 * Plans the two factors whose product is the analysed circuit, in the variant the request selects
 * (method §3); the kernels fold them in float64 (assembly/svd/fold.ts), inside the SVD's call:
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
import { InvalidRequest, ZeroCircuit } from "../errors";
import { variantName, type Circuit, type HeadOptions, type Variant, type VariantName } from "../wire/head-request";
import type { FactorPlan, Kernels, Matrix, Svd } from "../kernels/types";
import type { HeadWeights } from "./head-weights";

/** The two factors' fold plans (kernels/types.ts FactorPlan) and the variant they make. */
export interface HeadFactorPlan {
  a: FactorPlan;
  b: FactorPlan;
  variant: Variant;
}

export interface HeadFactors {
  a: Matrix;
  b: Matrix;
  variant: Variant;
  /** Frobenius norms of a and b (a Gaussian pair of the same shapes scaled to these is the null band's draw) */
  norms: { a: number; b: number };
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

/**
 * A factor that is all zeros makes the circuit zero: every σ is 0, so an SVD would pass its checks
 * while telling nothing. Refused, naming the factor (and whether folding or centring emptied it).
 * @throws ZeroCircuit
 */
function refuseZeroFactor(circuit: Circuit, zero: [boolean, boolean], variant: Variant): void {
  const names = circuit === "qk" ? ["W_Q", "W_K"] : ["W_V", "W_O"];
  const which = names.filter((_, i) => zero[i]);
  if (which.length === 0) return;
  const how = variant.centred ? " after folding ln_w and centring" : variant.fold_ln ? " after folding ln_w" : "";
  throw new ZeroCircuit(
    `the ${circuit} circuit is zero: ${which.join(" and ")} ${which.length > 1 ? "are" : "is"} all zeros${how}, so every singular value is 0 ` +
      "and no singular vector means anything; check that the right tensors were exported (an untrained or pruned head?)",
    { tensors: which },
  );
}

/**
 * How this head's two factors are folded in its variant (computed later, by the kernels): qk folds
 * W_Q and W_K, each with its own bias; ov folds W_V and takes W_O [h, d] as its transpose, centred
 * over its output but never scaled by γ.
 */
export function planHeadFactors(wts: HeadWeights, opts: HeadOptions): HeadFactorPlan {
  const { dModel: d, dHead: h, circuit } = wts;
  const present = new Set(
    Object.entries({ ln_w: wts.lnW, ln_b: wts.lnB, b_Q: wts.bQ, b_K: wts.bK }).filter(([, v]) => v !== undefined).map(([k]) => k),
  );
  const { foldLn, bias } = resolveVariant(circuit, present, opts);
  const centre = foldLn && opts.norm !== "rmsnorm";
  const augment = bias === "augmented";
  const gamma = foldLn ? wts.lnW : undefined;
  const variant: Variant = {
    name: variantName(foldLn, bias), fold_ln: foldLn, bias, scale: opts.scale ?? 1 / Math.sqrt(h), factor_rows: augment ? d + 1 : d, centred: centre,
  };
  if (circuit === "qk") {
    const beta = foldLn ? wts.lnB : undefined;
    return {
      a: { w: wts.read, d, h, transposed: false, gamma, beta, bias: wts.bQ, centre, augment },
      b: { w: wts.other, d, h, transposed: false, gamma, beta, bias: wts.bK, centre, augment },
      variant,
    };
  }
  return {
    a: { w: wts.read, d, h, transposed: false, gamma, centre, augment: false },
    b: { w: wts.other, d, h, transposed: true, centre, augment: false },
    variant,
  };
}

/** The variant's two factors, materialized row-major (SAD's rotary path and the tests read them). */
export function buildHeadFactors(kernels: Pick<Kernels, "foldFactors">, wts: HeadWeights, opts: HeadOptions): HeadFactors {
  const { a, b, variant } = planHeadFactors(wts, opts);
  const f = kernels.foldFactors(a, b);
  refuseZeroFactor(wts.circuit, f.zero, variant);
  return { a: f.a, b: f.b, variant, norms: f.norms };
}

/** The head's factored SVD in its variant, folded inside the kernel call (nothing materialized on the way). */
export function headSvd(kernels: Pick<Kernels, "foldedSvd">, wts: HeadWeights, opts: HeadOptions): { svd: Svd; variant: Variant; norms: HeadFactors["norms"] } {
  const { a, b, variant } = planHeadFactors(wts, opts);
  const r = kernels.foldedSvd(a, b);
  refuseZeroFactor(wts.circuit, r.zero, variant);
  return { svd: r.svd!, variant, norms: r.norms };
}
