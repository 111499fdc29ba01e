/**
 * @module model/architectures/gpt2
 * GPT-2 forward layout: token `wte` + learned positions `wpe`; per block ln_1, attn.c_attn (Conv1D
 * [d, 3d] = [Q | K | V], already [in, out]) and c_proj, ln_2, mlp.c_fc [d, ff] and mlp.c_proj [ff, d]
 * (Conv1D, with biases); activation from config.json's activation_function (default gelu_new).
 */
import type { Checkpoint } from "../../cli/checkpoint";
import type { ArchitectureFacts } from "../../cli/architectures";
import { GPT2_PATTERN } from "../../cli/architectures/gpt2";
import type { Activation } from "../../kernels/forward";
import { embedRows, findPrefix, norm, readLinear, requireAll, requireShape } from "./common";
import type { ForwardModel } from "./types";
import { activationOf } from "./activation";

export function gpt2Forward(ckpt: Checkpoint, facts: ArchitectureFacts): ForwardModel {
  const prefix = findPrefix(ckpt, GPT2_PATTERN);
  const p = (l: number, s: string) => `${prefix}h.${l}.${s}`;
  const d = facts.d_model;
  requireAll(ckpt, facts.n_layers, (l) => l < 0 ? [`${prefix}wte.weight`, `${prefix}wpe.weight`]
    : ["ln_1", "ln_2", "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"].flatMap((x) => [p(l, `${x}.weight`), p(l, `${x}.bias`)]));
  const [vocab] = ckpt.info(`${prefix}wte.weight`).shape;
  const [nPos] = ckpt.info(`${prefix}wpe.weight`).shape;
  requireShape(ckpt, `${prefix}wte.weight`, [vocab, d]);
  requireShape(ckpt, `${prefix}wpe.weight`, [nPos, d]);
  const ff = ckpt.info(p(0, "mlp.c_fc.weight")).shape[1];
  const activation: Activation = activationOf(ckpt.config?.activation_function, "gelu_new", "gpt2");
  return {
    ff,
    facts,
    vocab,
    maxTokens: { tokens: nPos, why: `wpe has ${nPos} learned positions` },
    shape: {
      dModel: d, nHeads: facts.n_heads, nKvHeads: facts.n_heads, dHead: facts.d_head, norm: "layernorm", eps: facts.norm_eps ?? 1e-5,
      scale: facts.attention_scale, activation, gated: false, parallelResidual: false,
    },
    embed: (prompts) => embedRows(ckpt, `${prefix}wte.weight`, prompts, `${prefix}wpe.weight`),
    window: () => 0,
    block(l, alloc) {
      for (const [n, s] of [["mlp.c_fc.weight", [d, ff]], ["mlp.c_proj.weight", [ff, d]], ["attn.c_proj.weight", [d, d]]] as const) requireShape(ckpt, p(l, n), [...s]);
      return {
        ln1: norm(ckpt, p(l, "ln_1.weight"), p(l, "ln_1.bias")),
        qkv: readLinear(ckpt, alloc, [{ name: p(l, "attn.c_attn.weight") }], d, 3 * d, "in_out", ckpt.read(p(l, "attn.c_attn.bias"))),
        out: readLinear(ckpt, alloc, [{ name: p(l, "attn.c_proj.weight") }], d, d, "in_out", ckpt.read(p(l, "attn.c_proj.bias"))),
        ln2: norm(ckpt, p(l, "ln_2.weight"), p(l, "ln_2.bias")),
        up: readLinear(ckpt, alloc, [{ name: p(l, "mlp.c_fc.weight") }], d, ff, "in_out", ckpt.read(p(l, "mlp.c_fc.bias"))),
        down: readLinear(ckpt, alloc, [{ name: p(l, "mlp.c_proj.weight") }], ff, d, "in_out", ckpt.read(p(l, "mlp.c_proj.bias"))),
      };
    },
    layout: "wte + wpe; ln_1; Conv1D c_attn [Q|K|V] and c_proj; ln_2; Conv1D mlp.c_fc, mlp.c_proj",
  };
}
