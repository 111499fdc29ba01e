/**
 * @module cli/plan
 * What a scan sends: one task per (layer, head, circuit, variant, rotary offset), layer-major so the
 * adapters read each layer once, and for each task the request — a safetensors body in the API's
 * head format (wire/head-request.ts) plus the query options that select the variant.
 */
import { encodeSafetensors, type TensorOut } from "../wire/safetensors";
import { VARIANTS, type Circuit, type VariantName, type VectorsPolicy } from "../wire/head-request";
import { floatsOf, rotateKeyRows, type Architecture, type CircuitTensors, type Weights } from "./architectures";
import type { HeadRequest } from "./fan-out";

export interface ScanTask {
  layer: number;
  head: number;
  circuit: Circuit;
  variant: VariantName;
  /** relative rotary offset Δ (0 without rotary) */
  offset: number;
  /** the model name the result is stored under */
  model: string;
}

export interface PlanOptions {
  model: string;
  circuits: Circuit[];
  layers: number[];
  heads: number[];
  /** variant names, or ["default"] for the API's default per circuit */
  variants: string[];
  offsets: number[];
}

/** The variants scanned for a circuit; ov never has augmented variants, qk only with biases. */
export function variantsFor(circuit: Circuit, wanted: string[], hasBias: boolean): VariantName[] {
  if (wanted.length === 1 && wanted[0] === "default") return [circuit === "qk" && hasBias ? "folded_augmented" : "folded"];
  return wanted.filter((v): v is VariantName => (VARIANTS as readonly string[]).includes(v)).filter(
    (v) => !(v.endsWith("_augmented") && (circuit === "ov" || !hasBias)),
  );
}

/** Results for offset Δ ≠ 0 are stored under their own model name (one stored result per head and variant). */
export const offsetModelName = (model: string, offset: number) => (offset === 0 ? model : `${model}.rot${offset}`);

export function planTasks(arch: Architecture, o: PlanOptions): ScanTask[] {
  const hasBias = arch.hasBias;
  const tasks: ScanTask[] = [];
  for (const layer of o.layers) {
    for (const head of o.heads) {
      for (const circuit of o.circuits) {
        for (const variant of variantsFor(circuit, o.variants, hasBias)) {
          const offsets = circuit === "qk" && arch.facts.rotary_dim > 0 ? o.offsets : [0];
          for (const offset of offsets) tasks.push({ layer, head, circuit, variant, offset, model: offsetModelName(o.model, offset) });
        }
      }
    }
  }
  return tasks;
}

/** A tensor of the body in the dtype its values have: F64, F32, or the checkpoint's BF16/F16 bits. */
const t = (v: Weights, shape: number[]): TensorOut =>
  "bits" in v ? { dtype: v.dtype, shape, data: v.bits } : { dtype: v instanceof Float64Array ? "F64" : "F32", shape, data: v };

/** The tensors of one head and circuit's body (every tensor the API accepts for it). */
export function headTensors(arch: Architecture, w: CircuitTensors, circuit: Circuit, offset: number): Record<string, TensorOut> {
  const { d_model: d, d_head: dh, rotary_dim: rd, rotary_base: base = 10000 } = arch.facts;
  const tensors: Record<string, TensorOut> = {};
  if (circuit === "qk") {
    tensors.W_Q = t(w.W_Q!, [d, dh]);
    tensors.W_K = t(offset ? rotateKeyRows(floatsOf(w.W_K!), d, dh, rd, base, offset) : w.W_K!, [d, dh]);
    if (w.b_Q && w.b_K) {
      tensors.b_Q = t(w.b_Q, [dh]);
      tensors.b_K = t(offset ? rotateKeyRows(w.b_K, 1, dh, rd, base, offset) : w.b_K, [dh]);
    }
  } else {
    tensors.W_V = t(w.W_V!, [d, dh]);
    tensors.W_O = t(w.W_O!, [dh, d]);
  }
  if (w.ln_w) tensors.ln_w = t(w.ln_w, [d]);
  if (w.ln_b) tensors.ln_b = t(w.ln_b, [d]);
  return tensors;
}

/** The safetensors body of one head and circuit. */
export const headBody = (arch: Architecture, w: CircuitTensors, circuit: Circuit, offset: number): Uint8Array =>
  encodeSafetensors(headTensors(arch, w, circuit, offset));

/**
 * The weights as earlier versions sent them, half-precision bits widened to F32, when any are bits
 * (else undefined): a result those versions stored is keyed by the hash of that body, and a resume
 * recognises it instead of meeting a 409 for a "different" input that holds the same values.
 */
export function widened(w: CircuitTensors): CircuitTensors | undefined {
  const big = ["W_Q", "W_K", "W_V", "W_O"] as const;
  if (!big.some((k) => w[k] && "bits" in w[k])) return undefined;
  const out: CircuitTensors = { ...w };
  for (const k of big) if (w[k]) out[k] = floatsOf(w[k]);
  return out;
}

/** How stored vectors are kept (`--vectors`): U and V in F32 (default), F16, or not at all (spectra only). */
export type { VectorsPolicy } from "../wire/head-request";

/** The query options of one task (the variant, the model's scale and norm, the vectors policy); server-side jobs parse the same. */
export function taskQuery(arch: Architecture, task: ScanTask, vectors: VectorsPolicy = "f32"): URLSearchParams {
  const q = new URLSearchParams({
    fold_ln: String(task.variant.startsWith("folded")),
    bias: task.variant.endsWith("_augmented") ? "augmented" : "none",
    scale: String(arch.facts.attention_scale),
  });
  if (arch.facts.norm === "rmsnorm") q.set("norm", "rmsnorm");
  // the default keeps the query of earlier versions byte for byte
  if (vectors !== "f32") q.set("vectors", vectors);
  return q;
}

/** The URL a task is POSTed to; its path without the query is where the stored result is read. */
export function taskUrl(endpoint: string, arch: Architecture, task: ScanTask, vectors: VectorsPolicy = "f32"): { post: string; get: string } {
  const base = `${endpoint}/v1/models/${encodeURIComponent(task.model)}/layers/${task.layer}/heads/${task.head}/${task.circuit}`;
  return { post: `${base}?${taskQuery(arch, task, vectors)}`, get: `${base}?variant=${task.variant}` };
}

/**
 * Floating-point operations of one factored SVD of A·Bᵀ, A and B [m, n] (kernels' svdFactored): two
 * Householder QRs (2·2mn²), the n×n core product and its one-sided Jacobi (≈ 40n³ over the sweeps
 * a head needs), and U = Q_A·U_core, V = Q_B·V_core (2·2mn²): 8mn² + 40n³.
 */
export const svdFlops = (m: number, n: number) => 8 * m * n * n + 40 * n ** 3;

/** The expected work of a task's SVD, for its request deadline (factor rows: d_model, +1 with the augmented variant). */
export function taskFlops(arch: Architecture, task: ScanTask): number {
  return svdFlops(arch.facts.d_model + (task.variant.endsWith("_augmented") ? 1 : 0), arch.facts.d_head);
}

/** The request of one task against an endpoint. */
export function taskRequest(endpoint: string, arch: Architecture, task: ScanTask, vectors: VectorsPolicy = "f32"): HeadRequest {
  return {
    url: taskUrl(endpoint, arch, task, vectors).post,
    body: headBody(arch, arch.circuit(task.layer, task.head, task.circuit), task.circuit, task.offset),
    flops: taskFlops(arch, task),
  };
}

export const taskLabel = (t: ScanTask) =>
  `L${t.layer}H${t.head} ${t.circuit} ${t.variant}${t.offset ? ` Δ=${t.offset}` : ""}`;
