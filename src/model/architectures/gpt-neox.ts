/**
 * @module model/architectures/gpt-neox
 * GPT-NeoX / Pythia forward layout: `embed_in` (no learned positions); per block input_layernorm,
 * attention.query_key_value (nn.Linear [3d, d], interleaved per head [q; k; v], rows regrouped here
 * into [Q heads | K heads | V heads]), partial rotary on the first rotary_dim dimensions of each q and
 * k head, attention.dense, post_attention_layernorm, mlp.dense_h_to_4h and dense_4h_to_h (all with
 * biases), activation hidden_act (default gelu, exact). `use_parallel_residual` (default true):
 * r + attn(ln1 r) + mlp(ln2 r); false: the sequential residual.
 */
import type { Checkpoint } from "../../cli/checkpoint";
import type { ArchitectureFacts } from "../../cli/architectures";
import { GPT_NEOX_PATTERN } from "../../cli/architectures/gpt-neox";
import { activationOf } from "./activation";
import { embedRows, findPrefix, norm, readLinear, requireAll, requireShape, ropePositionScale } from "./common";
import type { ForwardModel } from "./types";

export function gptNeoxForward(ckpt: Checkpoint, facts: ArchitectureFacts): ForwardModel {
  const prefix = findPrefix(ckpt, GPT_NEOX_PATTERN);
  const p = (l: number, s: string) => `${prefix}layers.${l}.${s}`;
  const d = facts.d_model;
  requireAll(ckpt, facts.n_layers, (l) => l < 0 ? [`${prefix}embed_in.weight`]
    : ["input_layernorm", "post_attention_layernorm", "attention.query_key_value", "attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"]
      .flatMap((x) => [p(l, `${x}.weight`), p(l, `${x}.bias`)]));
  const dh = facts.d_head;
  const nH = facts.n_heads;
  const cfg = ckpt.config;
  const positionScale = ropePositionScale(cfg, "gpt-neox");
  const [vocab] = ckpt.info(`${prefix}embed_in.weight`).shape;
  requireShape(ckpt, `${prefix}embed_in.weight`, [vocab, d]);
  const ff = ckpt.info(p(0, "mlp.dense_h_to_4h.weight")).shape[0];
  const parallel = cfg?.use_parallel_residual !== false;
  return {
    ff,
    facts,
    vocab,
    shape: {
      dModel: d, nHeads: nH, nKvHeads: nH, dHead: dh, norm: "layernorm", eps: facts.norm_eps ?? 1e-5,
      scale: facts.attention_scale, activation: activationOf(cfg?.hidden_act, "gelu", "gpt-neox"), gated: false, parallelResidual: parallel,
      rotary: facts.rotary_dim > 0 ? { dim: facts.rotary_dim, base: facts.rotary_base ?? 10000, positionScale } : undefined,
    },
    embed: (prompts) => embedRows(ckpt, `${prefix}embed_in.weight`, prompts),
    window: () => 0,
    block(l, alloc) {
      requireShape(ckpt, p(l, "mlp.dense_h_to_4h.weight"), [ff, d]);
      requireShape(ckpt, p(l, "mlp.dense_4h_to_h.weight"), [d, ff]);
      const qkvName = p(l, "attention.query_key_value.weight");
      const b = ckpt.read(p(l, "attention.query_key_value.bias"));
      // head h's rows h·3·dh + part·dh … → rows (part·nH + h)·dh … of [Q heads | K heads | V heads]
      const segments = [0, 1, 2].flatMap((part) => Array.from({ length: nH }, (_, h) => ({ name: qkvName, from: h * 3 * dh + part * dh, count: dh })));
      const bq = new Float32Array(3 * d);
      segments.forEach((s, i) => bq.set(b.subarray(s.from, s.from + dh), i * dh));
      return {
        ln1: norm(ckpt, p(l, "input_layernorm.weight"), p(l, "input_layernorm.bias")),
        qkv: readLinear(ckpt, alloc, segments, d, 3 * d, "out_in", bq),
        out: readLinear(ckpt, alloc, [{ name: p(l, "attention.dense.weight") }], d, d, "out_in", ckpt.read(p(l, "attention.dense.bias"))),
        ln2: norm(ckpt, p(l, "post_attention_layernorm.weight"), p(l, "post_attention_layernorm.bias")),
        up: readLinear(ckpt, alloc, [{ name: p(l, "mlp.dense_h_to_4h.weight") }], d, ff, "out_in", ckpt.read(p(l, "mlp.dense_h_to_4h.bias"))),
        down: readLinear(ckpt, alloc, [{ name: p(l, "mlp.dense_4h_to_h.weight") }], ff, d, "out_in", ckpt.read(p(l, "mlp.dense_4h_to_h.bias"))),
      };
    },
    layout: `embed_in; input_layernorm; fused query_key_value regrouped per head; rotary ${facts.rotary_dim}/${dh} dims (rotate_half); dense; post_attention_layernorm; mlp; ${parallel ? "parallel" : "sequential"} residual`,
  };
}
