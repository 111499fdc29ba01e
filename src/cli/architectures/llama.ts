/**
 * @module cli/architectures/llama
 * Llama and Llama-like models (`model.layers.{l}.self_attn.{q,k,v,o}_proj`; Mistral, Qwen2 share the
 * layout): nn.Linear [out, in], so W_Q of head h is rows h·d_head … of q_proj, transposed. Grouped-
 * query attention: k_proj and v_proj hold n_kv_heads heads, and query head h reads key/value head
 * h ÷ (n_heads / n_kv_heads). o_proj [d, n_heads·d_head] columns per head, transposed. Optional
 * q/k biases (Qwen2). Pre-attention RMSNorm `input_layernorm`: only a gain γ, no β, no centring —
 * the residual is divided by its RMS, not mean-centred, so folding multiplies γ in and centres
 * nothing (variant norm=rmsnorm, `centred: false`). Full rotary (rotate_half) with base rope_theta.
 */
import { CheckpointError } from "../checkpoint-error";
import type { TensorSource as Checkpoint } from "../tensor-source";
import { countLayers, expectShapes } from "./common";
import { configNumber, LayerCache, rawColsT, readRowsT } from "./layout";
import type { Architecture, ArchitectureOverrides, CircuitTensors, HeadTensors } from "./types";

export const LLAMA_PATTERN = /^(.*?)layers\.(\d+)\.self_attn\.q_proj\.weight$/;

export function llama(ckpt: Checkpoint, prefix: string, o: ArchitectureOverrides): Architecture {
  const p = (l: number, s: string) => `${prefix}layers.${l}.${s}`;
  const nLayers = countLayers(ckpt, new RegExp(`^${prefix.replace(/\./g, "\\.")}layers\\.(\\d+)\\.self_attn\\.q_proj\\.weight$`), "self_attn.q_proj");
  const [qRows, d] = ckpt.info(p(0, "self_attn.q_proj.weight")).shape;
  const kRows = ckpt.has(p(0, "self_attn.k_proj.weight")) ? ckpt.info(p(0, "self_attn.k_proj.weight")).shape[0] : 0;
  const cfg = ckpt.config;
  const nHeadsCfg = configNumber(cfg, "num_attention_heads");
  const nHeads = o.nHeads ?? nHeadsCfg;
  if (nHeads === undefined) {
    throw new CheckpointError("llama: the number of attention heads is unknown: put config.json beside the checkpoint or pass --n-heads");
  }
  if (!Number.isInteger(nHeads) || nHeads < 1 || qRows % nHeads !== 0) {
    throw new CheckpointError(`llama: n_heads ${nHeads} does not divide q_proj's ${qRows} rows`);
  }
  const dh = configNumber(cfg, "head_dim") ?? qRows / nHeads;
  const nKv = o.nKvHeads ?? configNumber(cfg, "num_key_value_heads") ?? kRows / dh;
  if (!Number.isInteger(nKv) || nKv < 1 || nHeads % nKv !== 0 || nKv * dh !== kRows) {
    throw new CheckpointError(`llama: n_kv_heads ${nKv} is inconsistent with n_heads ${nHeads}, d_head ${dh} and k_proj's ${kRows} rows`);
  }
  const group = nHeads / nKv;
  const hasBias = ckpt.has(p(0, "self_attn.q_proj.bias"));
  const shapes: Array<[string, number[]]> = [];
  for (let l = 0; l < nLayers; l++) {
    shapes.push([p(l, "self_attn.q_proj.weight"), [nHeads * dh, d]], [p(l, "self_attn.k_proj.weight"), [nKv * dh, d]],
      [p(l, "self_attn.v_proj.weight"), [nKv * dh, d]], [p(l, "self_attn.o_proj.weight"), [d, nHeads * dh]],
      [p(l, "input_layernorm.weight"), [d]]);
    if (hasBias) shapes.push([p(l, "self_attn.q_proj.bias"), [nHeads * dh]], [p(l, "self_attn.k_proj.bias"), [nKv * dh]]);
  }
  expectShapes(ckpt, shapes);
  const layers = new LayerCache((l) => ({
    o: ckpt.readRaw(p(l, "self_attn.o_proj.weight")),
    lnW: ckpt.read(p(l, "input_layernorm.weight")),
    bQ: hasBias ? ckpt.read(p(l, "self_attn.q_proj.bias")) : undefined,
    bK: hasBias ? ckpt.read(p(l, "self_attn.k_proj.bias")) : undefined,
  }));
  const rowsT = (l: number, x: string, h: number) => readRowsT(ckpt, p(l, `self_attn.${x}_proj.weight`), h * dh, (h + 1) * dh);
  const kvHead = (h: number) => Math.floor(h / group);
  const circuit = (l: number, h: number, c: "qk" | "ov"): CircuitTensors => {
    const { o: oProj, lnW, bQ, bK } = layers.get(l);
    const kv = kvHead(h);
    return c === "qk"
      ? {
          W_Q: rowsT(l, "q", h), W_K: rowsT(l, "k", kv),
          ...(bQ && bK ? { b_Q: bQ.slice(h * dh, (h + 1) * dh), b_K: bK.slice(kv * dh, (kv + 1) * dh) } : {}),
          ln_w: lnW,
        }
      : { W_V: rowsT(l, "v", kv), W_O: rawColsT(oProj, h * dh, (h + 1) * dh), ln_w: lnW };
  };
  return {
    facts: {
      architecture: "llama", n_layers: nLayers, n_heads: nHeads, n_kv_heads: nKv, d_model: d, d_head: dh,
      attention_scale: 1 / Math.sqrt(dh), norm: "rmsnorm", norm_eps: configNumber(cfg, "rms_norm_eps") ?? 1e-6,
      rotary_dim: o.rotaryDim ?? dh, rotary_base: o.rotaryBase ?? configNumber(cfg, "rope_theta") ?? 10000,
      n_heads_source: o.nHeads !== undefined ? "flag" : "config.json",
      layout: "nn.Linear q/k/v/o_proj [out, in] → transposed; GQA kv head = h ÷ (n_heads/n_kv_heads); input_layernorm (RMSNorm γ)",
    },
    kvHead,
    hasBias,
    circuit,
    head: (l, h) => ({ ...circuit(l, h, "qk"), ...circuit(l, h, "ov") }) as HeadTensors,
    release: (l) => layers.release(l),
  };
}
