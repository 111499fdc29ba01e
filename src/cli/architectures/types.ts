/**
 * @module cli/architectures/types
 * What every architecture adapter gives the scan: the model's attention facts and, per layer and
 * head, the weights in TransformerLens orientation (method §1): W_Q, W_K, W_V [d_model, d_head],
 * W_O [d_head, d_model], optional b_Q, b_K [d_head], and the pre-attention norm's γ (and β for
 * LayerNorm) [d_model]. Adapters read from a Checkpoint and never hold more than a layer.
 */
import type { HalfBits } from "../../wire/safetensors";

export type Vec = Float32Array | Float64Array;

export type { HalfBits };

/**
 * A weight matrix of a head: floats, or a half-precision checkpoint's bits, which the scan sends
 * unconverted (half the bytes of F32 to build, hash and send; layout.ts floatsOf decodes them).
 */
export type Weights = Vec | HalfBits;

export interface HeadTensors {
  W_Q: Weights; W_K: Weights; W_V: Weights; W_O: Weights;
  b_Q?: Vec; b_K?: Vec;
  ln_w?: Vec; ln_b?: Vec;
}

export type NormType = "layernorm" | "rmsnorm";

export interface ArchitectureFacts {
  architecture: string;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  d_model: number;
  d_head: number;
  /** the model's score scale (Ω never includes it) */
  attention_scale: number;
  norm: NormType;
  norm_eps?: number;
  /** head dimensions rotated by rotary embeddings; 0 without rotary */
  rotary_dim: number;
  rotary_base?: number;
  /** where n_heads came from */
  n_heads_source: "config.json" | "flag" | "inferred";
  /** the checkpoint tensor each piece of a head comes from, for the report */
  layout: string;
}

/** What one circuit's request needs: qk reads W_Q, W_K (and biases), ov reads W_V, W_O; both the norm. */
export type CircuitTensors = Partial<HeadTensors>;

export interface Architecture {
  facts: ArchitectureFacts;
  /** Query head h's weights in layer l (GQA: with key/value head kvHead(h)). */
  head(layer: number, head: number): HeadTensors;
  /** Only what one circuit needs (a scan reads nothing twice: qk never reads W_V or W_O). */
  circuit(layer: number, head: number, circuit: "qk" | "ov"): CircuitTensors;
  /** The key/value head query head h reads (h itself without GQA). */
  kvHead(head: number): number;
  /** Whether the checkpoint has query/key biases (from its headers: no weights are read). */
  hasBias: boolean;
  /** Drops layer l's cached tensors (the scan calls it once every request of the layer is built). */
  release(layer: number): void;
}

/** Flags that stand in for a missing config.json. */
export interface ArchitectureOverrides {
  nHeads?: number;
  nKvHeads?: number;
  rotaryDim?: number;
  rotaryBase?: number;
}
