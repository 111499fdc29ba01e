/**
 * @module cli/architectures/gpt2
 * GPT-2 (Hugging Face `GPT2Model`, names with or without `transformer.`): Conv1D weights are already
 * [in, out]. `attn.c_attn.weight [d, 3d]` holds [Q | K | V] column blocks, head h owning columns
 * h·d_head … of each block; `attn.c_attn.bias [3d]` likewise; `attn.c_proj.weight [d, d]` rows
 * h·d_head … are head h's W_O. Pre-attention LayerNorm `ln_1`. Scale 1/√d_head. No config.json:
 * d_head is 64 in every released GPT-2, so n_heads = d_model / 64 is inferred (and recorded as such).
 */
import type { TensorSource as Checkpoint } from "../tensor-source";
import { countLayers, expectShapes, resolveHeadCount } from "./common";
import { configNumber, LayerCache, rawCols, readRows } from "./layout";
import type { Architecture, ArchitectureOverrides, CircuitTensors, HeadTensors } from "./types";

export const GPT2_PATTERN = /^(.*?)h\.(\d+)\.attn\.c_attn\.weight$/;

export function gpt2(ckpt: Checkpoint, prefix: string, o: ArchitectureOverrides): Architecture {
  const p = (l: number, s: string) => `${prefix}h.${l}.${s}`;
  const nLayers = countLayers(ckpt, new RegExp(`^${prefix.replace(/\./g, "\\.")}h\\.(\\d+)\\.attn\\.c_attn\\.weight$`), "attn.c_attn.weight");
  const d = ckpt.info(p(0, "attn.c_attn.weight")).shape[0];
  const cfg = ckpt.config;
  const { nHeads, source } = resolveHeadCount(configNumber(cfg, "n_head"), o.nHeads, d, d % 64 === 0 ? d / 64 : undefined, "gpt2");
  const dh = d / nHeads;
  const shapes: Array<[string, number[]]> = [];
  for (let l = 0; l < nLayers; l++) {
    shapes.push([p(l, "attn.c_attn.weight"), [d, 3 * d]], [p(l, "attn.c_attn.bias"), [3 * d]], [p(l, "attn.c_proj.weight"), [d, d]],
      [p(l, "ln_1.weight"), [d]], [p(l, "ln_1.bias"), [d]]);
  }
  expectShapes(ckpt, shapes);
  const layers = new LayerCache((l) => ({
    w: ckpt.readRaw(p(l, "attn.c_attn.weight")),
    b: ckpt.read(p(l, "attn.c_attn.bias")),
    lnW: ckpt.read(p(l, "ln_1.weight")),
    lnB: ckpt.read(p(l, "ln_1.bias")),
  }));
  const circuit = (l: number, h: number, c: "qk" | "ov"): CircuitTensors => {
    const { w, b, lnW, lnB } = layers.get(l);
    const block = (part: number) => rawCols(w, part * d + h * dh, part * d + (h + 1) * dh);
    return c === "qk"
      ? { W_Q: block(0), W_K: block(1), b_Q: b.slice(h * dh, (h + 1) * dh), b_K: b.slice(d + h * dh, d + (h + 1) * dh), ln_w: lnW, ln_b: lnB }
      : { W_V: block(2), W_O: readRows(ckpt, p(l, "attn.c_proj.weight"), h * dh, (h + 1) * dh), ln_w: lnW, ln_b: lnB };
  };
  return {
    facts: {
      architecture: "gpt2", n_layers: nLayers, n_heads: nHeads, n_kv_heads: nHeads, d_model: d, d_head: dh,
      attention_scale: 1 / Math.sqrt(dh), norm: "layernorm", norm_eps: configNumber(cfg, "layer_norm_epsilon") ?? 1e-5,
      rotary_dim: 0, n_heads_source: source,
      layout: "Conv1D c_attn [d, 3d] = [Q|K|V] column blocks (already [in, out]); c_proj rows per head; ln_1",
    },
    kvHead: (h) => h,
    hasBias: true,
    circuit,
    head: (l, h) => ({ ...circuit(l, h, "qk"), ...circuit(l, h, "ov") }) as HeadTensors,
    release: (l) => layers.release(l),
  };
}
