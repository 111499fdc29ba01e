/**
 * @module model/architectures/llama
 * Llama-family forward layout (Mistral, Qwen2 alike): `embed_tokens` (no learned positions); per
 * block input_layernorm (RMSNorm γ), self_attn.{q,k,v}_proj fused into [Q heads | K heads | V heads]
 * (GQA: n_kv key/value heads; optional biases, Qwen2), RoPE on whole heads with rope_theta,
 * o_proj, post_attention_layernorm, SwiGLU mlp: down(silu(gate x) ∘ up x). rope_scaling other than
 * none, default or linear is refused. A configured sliding window longer than every prompt changes
 * nothing, so prompts longer than it are refused rather than computed without it.
 */
import type { Checkpoint } from "../../cli/checkpoint";
import type { ArchitectureFacts } from "../../cli/architectures";
import { LLAMA_PATTERN } from "../../cli/architectures/llama";
import { activationOf } from "./activation";
import { concat, embedRows, findPrefix, norm, readLinear, requireAll, requireShape, ropePositionScale } from "./common";
import type { ForwardModel } from "./types";

export function llamaForward(ckpt: Checkpoint, facts: ArchitectureFacts): ForwardModel {
  const prefix = findPrefix(ckpt, LLAMA_PATTERN);
  const p = (l: number, s: string) => `${prefix}layers.${l}.${s}`;
  const d = facts.d_model;
  requireAll(ckpt, facts.n_layers, (l) => l < 0 ? [`${prefix}embed_tokens.weight`]
    : ["input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
      "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"].map((x) => p(l, `${x}.weight`)));
  const dh = facts.d_head;
  const nH = facts.n_heads;
  const nKv = facts.n_kv_heads;
  const cfg = ckpt.config;
  const positionScale = ropePositionScale(cfg, "llama");
  const [vocab] = ckpt.info(`${prefix}embed_tokens.weight`).shape;
  requireShape(ckpt, `${prefix}embed_tokens.weight`, [vocab, d]);
  const ff = ckpt.info(p(0, "mlp.gate_proj.weight")).shape[0];
  const window = typeof cfg?.sliding_window === "number" && (cfg.model_type === "mistral" || cfg.use_sliding_window === true) ? cfg.sliding_window : undefined;
  const maybe = (name: string) => (ckpt.has(name) ? ckpt.read(name) : undefined);
  return {
    ff,
    facts,
    vocab,
    maxTokens: window ? { tokens: window, why: `the sliding window of ${window} positions is not implemented` } : undefined,
    shape: {
      dModel: d, nHeads: nH, nKvHeads: nKv, dHead: dh, norm: "rmsnorm", eps: facts.norm_eps ?? 1e-6,
      scale: facts.attention_scale, activation: activationOf(cfg?.hidden_act, "silu", "llama"), gated: true, parallelResidual: false,
      rotary: { dim: facts.rotary_dim, base: facts.rotary_base ?? 10000, positionScale },
    },
    embed: (prompts) => embedRows(ckpt, `${prefix}embed_tokens.weight`, prompts),
    window: () => 0,
    block(l, alloc) {
      for (const x of ["gate", "up"]) requireShape(ckpt, p(l, `mlp.${x}_proj.weight`), [ff, d]);
      requireShape(ckpt, p(l, "mlp.down_proj.weight"), [d, ff]);
      const a = (x: string) => ({ name: p(l, `self_attn.${x}_proj.weight`) });
      const bq = maybe(p(l, "self_attn.q_proj.bias"));
      const bk = maybe(p(l, "self_attn.k_proj.bias"));
      const bv = maybe(p(l, "self_attn.v_proj.bias"));
      const qkvBias = bq || bk || bv
        ? concat([bq ?? new Float32Array(nH * dh), bk ?? new Float32Array(nKv * dh), bv ?? new Float32Array(nKv * dh)])
        : undefined;
      const m = (x: string) => ({ name: p(l, `mlp.${x}_proj.weight`) });
      return {
        ln1: norm(ckpt, p(l, "input_layernorm.weight")),
        qkv: readLinear(ckpt, alloc, [a("q"), a("k"), a("v")], d, (nH + 2 * nKv) * dh, "out_in", qkvBias),
        out: readLinear(ckpt, alloc, [a("o")], nH * dh, d, "out_in", maybe(p(l, "self_attn.o_proj.bias"))),
        ln2: norm(ckpt, p(l, "post_attention_layernorm.weight")),
        up: readLinear(ckpt, alloc, [m("gate"), m("up")], d, 2 * ff, "out_in", maybe(p(l, "mlp.gate_proj.bias")) && concat([maybe(p(l, "mlp.gate_proj.bias"))!, maybe(p(l, "mlp.up_proj.bias"))!])),
        down: readLinear(ckpt, alloc, [m("down")], ff, d, "out_in", maybe(p(l, "mlp.down_proj.bias"))),
      };
    },
    layout: `embed_tokens; input_layernorm (RMSNorm); q/k/v_proj fused (GQA ${nH}/${nKv}); RoPE θ=${facts.rotary_base ?? 10000}${positionScale !== 1 ? ` positions ÷ ${positionScale}` : ""}; o_proj; post_attention_layernorm; SwiGLU`,
  };
}
