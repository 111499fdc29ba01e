/**
 * @module cli/architectures/gpt-neox
 * GPT-NeoX / Pythia (`gpt_neox.layers.{l}.attention.query_key_value`, `…attention.dense`): the fused
 * nn.Linear `query_key_value.weight [3d, d]` is interleaved per head — rows h·3·d_head … are head h's
 * [q; k; v], each d_head rows, [out, in] so transposed — and its bias [3d] likewise. `dense [d, d]`
 * columns h·d_head … are head h's W_O (transposed). Pre-attention LayerNorm `input_layernorm`.
 * Partial rotary: the first rotary_pct·d_head dimensions of q and k (rotate_half convention).
 */
import type { TensorSource as Checkpoint } from "../tensor-source";
import { countLayers, expectShapes, resolveHeadCount } from "./common";
import { configNumber, LayerCache, rawColsT, readRowsT } from "./layout";
import type { Architecture, ArchitectureOverrides, CircuitTensors, HeadTensors } from "./types";

export const GPT_NEOX_PATTERN = /^(.*?)layers\.(\d+)\.attention\.query_key_value\.weight$/;

export function gptNeox(ckpt: Checkpoint, prefix: string, o: ArchitectureOverrides): Architecture {
  const p = (l: number, s: string) => `${prefix}layers.${l}.${s}`;
  const nLayers = countLayers(ckpt, new RegExp(`^${prefix.replace(/\./g, "\\.")}layers\\.(\\d+)\\.attention\\.query_key_value\\.weight$`), "attention.query_key_value");
  const d = ckpt.info(p(0, "attention.query_key_value.weight")).shape[1];
  const cfg = ckpt.config;
  const { nHeads, source } = resolveHeadCount(configNumber(cfg, "num_attention_heads"), o.nHeads, d, undefined, "gpt-neox");
  const dh = d / nHeads;
  const rotaryDim = o.rotaryDim ?? Math.floor(dh * (configNumber(cfg, "rotary_pct") ?? 0.25));
  const shapes: Array<[string, number[]]> = [];
  for (let l = 0; l < nLayers; l++) {
    shapes.push([p(l, "attention.query_key_value.weight"), [3 * d, d]], [p(l, "attention.query_key_value.bias"), [3 * d]],
      [p(l, "attention.dense.weight"), [d, d]], [p(l, "input_layernorm.weight"), [d]], [p(l, "input_layernorm.bias"), [d]]);
  }
  expectShapes(ckpt, shapes);
  const layers = new LayerCache((l) => ({
    b: ckpt.read(p(l, "attention.query_key_value.bias")),
    dense: ckpt.readRaw(p(l, "attention.dense.weight")),
    lnW: ckpt.read(p(l, "input_layernorm.weight")),
    lnB: ckpt.read(p(l, "input_layernorm.bias")),
  }));
  // head h's rows of the fused projection: [q; k; v], d_head rows each ([out, in], so transposed)
  const part = (l: number, h: number, k: number) => readRowsT(ckpt, p(l, "attention.query_key_value.weight"), (3 * h + k) * dh, (3 * h + k + 1) * dh);
  const circuit = (l: number, h: number, c: "qk" | "ov"): CircuitTensors => {
    const { b, dense, lnW, lnB } = layers.get(l);
    const bias = (k: number) => b.slice(h * 3 * dh + k * dh, h * 3 * dh + (k + 1) * dh);
    return c === "qk"
      ? { W_Q: part(l, h, 0), W_K: part(l, h, 1), b_Q: bias(0), b_K: bias(1), ln_w: lnW, ln_b: lnB }
      : { W_V: part(l, h, 2), W_O: rawColsT(dense, h * dh, (h + 1) * dh), ln_w: lnW, ln_b: lnB };
  };
  return {
    facts: {
      architecture: "gpt-neox", n_layers: nLayers, n_heads: nHeads, n_kv_heads: nHeads, d_model: d, d_head: dh,
      attention_scale: 1 / Math.sqrt(dh), norm: "layernorm", norm_eps: configNumber(cfg, "layer_norm_eps") ?? 1e-5,
      rotary_dim: rotaryDim, rotary_base: o.rotaryBase ?? configNumber(cfg, "rotary_emb_base", "rope_theta") ?? 10000,
      n_heads_source: source,
      layout: "fused query_key_value [3d, d] interleaved per head [q; k; v] (nn.Linear, transposed); dense columns per head; input_layernorm",
    },
    kvHead: (h) => h,
    hasBias: true,
    circuit,
    head: (l, h) => ({ ...circuit(l, h, "qk"), ...circuit(l, h, "ov") }) as HeadTensors,
    release: (l) => layers.release(l),
  };
}
