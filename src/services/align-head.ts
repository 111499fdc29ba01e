/**
 * @module services/align-head
 * One head's feature alignment (method §5), without I/O: reads the feature dictionary F (and the
 * optional query-side / key-side sets for the theory prediction) from the request's tensors, runs
 * analysis/alignment.ts against the head's singular vectors, and returns the JSON summary (stating
 * every choice) and the stored detail (the |cos| matrices). Routes call this; no Hono, no storage.
 */
import { alignFeatures, cosines, normalizeRows } from "../analysis/alignment";
import { RNG_NAME } from "../analysis/random";
import { MissingTensor, ShapeMismatch } from "../errors";
import type { Matrix } from "../kernels/types";
import { ALIGNMENT_TENSORS, ANALYSIS_LIMITS, type AlignmentQuery } from "../wire/analysis-request";
import type { HeadPath } from "../wire/head-request";
import { decodeFloat, encodeSafetensors, type TensorView } from "../wire/safetensors";
import { requireNonzero, type HeadBasis } from "./sad-head";

/** A feature set [n, d_model] from a tensor (NaN and zero rows are rejected later, by name). */
export function readFeatures(t: TensorView | undefined, name: string, dModel: number, required: boolean): Matrix | undefined {
  if (!t) {
    if (required) throw new MissingTensor(`the body needs tensor ${name} [n_features, d_model] (or a .npy body holding it)`, { tensor: name });
    return undefined;
  }
  if (t.shape.length !== 2) throw new ShapeMismatch(`${name} must be [n_features, d_model], got [${t.shape.join(", ")}]`, { tensor: name, actual: t.shape });
  const [n, d] = t.shape;
  if (n < 1) throw new ShapeMismatch(`${name} has no features: [${t.shape.join(", ")}]`, { tensor: name, actual: t.shape });
  if (d !== dModel) {
    throw new ShapeMismatch(`${name} has ${d} columns; the head's d_model is ${dModel}`, { tensor: name, expected: [n, dModel], actual: t.shape });
  }
  if (n > ANALYSIS_LIMITS.maxFeatures) {
    throw new ShapeMismatch(`${name} has ${n} features; one request may hold ${ANALYSIS_LIMITS.maxFeatures}`, { tensor: name, actual: t.shape, limits: ANALYSIS_LIMITS });
  }
  return { rows: n, cols: d, data: decodeFloat(t) };
}

export interface AlignmentInputs {
  features: Matrix;
  querySide?: Matrix;
  keySide?: Matrix;
  format: "safetensors" | "npy";
}

export function alignHead(
  path: HeadPath,
  basis: HeadBasis,
  inputs: AlignmentInputs,
  options: AlignmentQuery,
  input: { sha256: string; bytes: number },
  id: string,
  /** where the detail object will be stored (ResultStore.analysisDetailKey), recorded in the summary */
  detailKey: string,
) {
  requireNonzero(basis, path.circuit);
  const r = alignFeatures(inputs.features, basis, {
    topK: options.top_k,
    nullDraws: options.null_draws,
    nullSeed: options.null_seed,
    pairs: options.pairs,
    querySide: inputs.querySide,
    keySide: inputs.keySide,
  });
  const { rows: n, cols: d } = inputs.features;
  const fhat = normalizeRows(inputs.features, ALIGNMENT_TENSORS.features);
  const cu = cosines(fhat, n, d, basis.U, basis.k);
  const cv = cosines(fhat, n, d, basis.V, basis.k);
  const key = detailKey;
  const detail = encodeSafetensors(
    { C_U: { dtype: "F32", shape: [n, basis.k], data: cu }, C_V: { dtype: "F32", shape: [n, basis.k], data: cv } },
    {
      schema: "headscope.alignment-cosines/v1",
      model: path.model, layer: String(path.layer), head: String(path.head), circuit: path.circuit, id,
      convention: "C_U = F̂ U, C_V = F̂ V (signed cosines; rows are features, columns singular indices)",
    },
  );
  const sides = path.circuit === "qk" ? { u: "query (destination) side", v: "key (source) side" } : { u: "read from the source residual", v: "written to the destination residual" };
  const summary = {
    schema: "headscope.alignment/v1" as const,
    id,
    model: path.model,
    layer: path.layer,
    head: path.head,
    circuit: path.circuit,
    choices: {
      svd_source: basis.source,
      svd_stored_sha256: basis.storedSha256 ?? null,
      variant: basis.variant,
      sides,
      cosine: "|cos| of unit feature rows with unit singular vectors (sign-free)",
      bias_coordinate: r.bias_coordinate === "zero" ? "features given 0 in the augmented bias coordinate" : "none",
      matching: "optimal one-to-one, Hungarian (Jonker–Volgenant, linear-sum-assignment) maximising Σ|cos|, per side",
      null: r.null ? { kind: "random unit directions in d_model, as many as features", draws: options.null_draws, seed: options.null_seed, generator: RNG_NAME } : null,
      theory: r.theory
        ? {
            prediction: "u ∝ Σ_X⁺ x_i, v ∝ Σ_Y⁺ y_j, features as columns of X, Y; pair p compared with singular index p",
            query_side: inputs.querySide ? ALIGNMENT_TENSORS.querySide : ALIGNMENT_TENSORS.features,
            key_side: inputs.keySide ? ALIGNMENT_TENSORS.keySide : ALIGNMENT_TENSORS.features,
            pseudo_inverse: r.theory.pseudo_inverse,
          }
        : null,
      top_k: r.top_k,
    },
    d_model: basis.dModel,
    d_head: basis.dHead,
    rank: basis.k,
    singular_values: Array.from(basis.S),
    input: { sha256: input.sha256, bytes: input.bytes, format: inputs.format, n_features: n },
    per_feature: r.per_feature,
    per_singular: r.per_singular,
    matching: r.matching,
    null: r.null,
    theory: r.theory ? r.theory.pairs : null,
    detail: { key, format: "safetensors", tensors: { C_U: [n, basis.k], C_V: [n, basis.k] } },
  };
  return { summary, detail };
}
