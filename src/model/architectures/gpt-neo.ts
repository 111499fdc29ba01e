/**
 * @module model/architectures/gpt-neo
 * GPT-Neo forward layout: `wte` + `wpe`; per block ln_1, attn.attention.{q,k,v}_proj (nn.Linear
 * [out, in], no bias) fused into one [Q | K | V] matrix, out_proj (with bias), ln_2, mlp.c_fc and
 * mlp.c_proj (nn.Linear, with biases); unscaled scores. Layers alternate global and local attention
 * as config.json says (cli/architectures/gpt-neo.ts gptNeoWindows), local layers seeing keys within
 * `window_size` positions (d − s < window_size), as Hugging Face's GPTNeoSelfAttention masks.
 */
import type { Checkpoint } from "../../cli/checkpoint";
import type { ArchitectureFacts } from "../../cli/architectures";
import { GPT_NEO_PATTERN, gptNeoWindows } from "../../cli/architectures/gpt-neo";
import { activationOf } from "./activation";
import { embedRows, findPrefix, norm, readLinear, requireAll, requireShape } from "./common";
import type { ForwardModel } from "./types";

export function gptNeoForward(ckpt: Checkpoint, facts: ArchitectureFacts): ForwardModel {
  const prefix = findPrefix(ckpt, GPT_NEO_PATTERN);
  const p = (l: number, s: string) => `${prefix}h.${l}.${s}`;
  const d = facts.d_model;
  requireAll(ckpt, facts.n_layers, (l) => l < 0 ? [`${prefix}wte.weight`, `${prefix}wpe.weight`]
    : [...["ln_1", "ln_2", "attn.attention.out_proj", "mlp.c_fc", "mlp.c_proj"].flatMap((x) => [p(l, `${x}.weight`), p(l, `${x}.bias`)]),
      ...["q", "k", "v"].map((x) => p(l, `attn.attention.${x}_proj.weight`))]);
  const cfg = ckpt.config;
  const windows = gptNeoWindows(cfg, facts.n_layers);
  const [vocab] = ckpt.info(`${prefix}wte.weight`).shape;
  const [nPos] = ckpt.info(`${prefix}wpe.weight`).shape;
  requireShape(ckpt, `${prefix}wte.weight`, [vocab, d]);
  const ff = ckpt.info(p(0, "mlp.c_fc.weight")).shape[0];
  return {
    ff,
    facts,
    vocab,
    maxTokens: { tokens: nPos, why: `wpe has ${nPos} learned positions` },
    shape: {
      dModel: d, nHeads: facts.n_heads, nKvHeads: facts.n_heads, dHead: facts.d_head, norm: "layernorm", eps: facts.norm_eps ?? 1e-5,
      scale: 1, activation: activationOf(cfg?.activation_function, "gelu_new", "gpt-neo"), gated: false, parallelResidual: false,
    },
    embed: (prompts) => embedRows(ckpt, `${prefix}wte.weight`, prompts, `${prefix}wpe.weight`),
    window: (l) => windows[l],
    block(l, alloc) {
      requireShape(ckpt, p(l, "mlp.c_fc.weight"), [ff, d]);
      requireShape(ckpt, p(l, "mlp.c_proj.weight"), [d, ff]);
      const a = (x: string) => ckpt.read(p(l, `attn.attention.${x}`));
      return {
        ln1: norm(ckpt, p(l, "ln_1.weight"), p(l, "ln_1.bias")),
        qkv: readLinear(ckpt, alloc, ["q", "k", "v"].map((x) => ({ name: p(l, `attn.attention.${x}_proj.weight`) })), d, 3 * d, "out_in"),
        out: readLinear(ckpt, alloc, [{ name: p(l, "attn.attention.out_proj.weight") }], d, d, "out_in", a("out_proj.bias")),
        ln2: norm(ckpt, p(l, "ln_2.weight"), p(l, "ln_2.bias")),
        up: readLinear(ckpt, alloc, [{ name: p(l, "mlp.c_fc.weight") }], d, ff, "out_in", ckpt.read(p(l, "mlp.c_fc.bias"))),
        down: readLinear(ckpt, alloc, [{ name: p(l, "mlp.c_proj.weight") }], ff, d, "out_in", ckpt.read(p(l, "mlp.c_proj.bias"))),
      };
    },
    layout: `wte + wpe; ln_1; nn.Linear q/k/v_proj fused, out_proj; ln_2; nn.Linear mlp.c_fc, mlp.c_proj; unscaled; layers ${windows.map((w) => (w ? "l" : "g")).join("")} (g global, l local, window ${Math.max(...windows) || "none"})`,
  };
}
