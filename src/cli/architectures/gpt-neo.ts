/**
 * @module cli/architectures/gpt-neo
 * GPT-Neo (`transformer.h.{l}.attn.attention.{q,k,v,out}_proj`): nn.Linear weights are [out, in], so
 * head h's W_Q is rows h·d_head … of q_proj, transposed; W_O is columns h·d_head … of out_proj,
 * transposed. No q/k/v biases. Pre-attention LayerNorm `ln_1`. GPT-Neo does not scale its scores
 * (scale 1), local and global layers alike.
 */
import { CheckpointError } from "../checkpoint-error";
import type { TensorSource as Checkpoint } from "../tensor-source";
import { countLayers, expectShapes, resolveHeadCount } from "./common";
import { configNumber, LayerCache, rawColsT, readRowsT } from "./layout";
import type { Architecture, ArchitectureOverrides, CircuitTensors, HeadTensors } from "./types";

export const GPT_NEO_PATTERN = /^(.*?)h\.(\d+)\.attn\.attention\.q_proj\.weight$/;

/**
 * GPT-Neo's attention window per layer, from config.json: `attention_layers` (or `attention_types`
 * expanded) says which layers are local, `window_size` (default 256) how far they see (keys with
 * d − s < window); 0 for a global layer. The forward pass and SAD's firing rule both read it here.
 * @throws CheckpointError when config.json does not say which layers are local
 */
export function gptNeoWindows(config: Record<string, unknown> | undefined, nLayers: number): number[] {
  let kinds: unknown = config?.attention_layers;
  if (!Array.isArray(kinds) && Array.isArray(config?.attention_types)) {
    kinds = (config!.attention_types as Array<[string[], number]>).flatMap(([pattern, times]) =>
      Array.from({ length: times }, () => pattern).flat());
  }
  if (!Array.isArray(kinds) || kinds.length !== nLayers || kinds.some((k) => k !== "global" && k !== "local")) {
    throw new CheckpointError(
      `gpt-neo: config.json beside the checkpoint must say which of the ${nLayers} layers are global and which local ` +
        "(attention_layers or attention_types); without it the attention inputs and SAD's firing rule would be wrong",
    );
  }
  const window = typeof config?.window_size === "number" ? config.window_size : 256;
  return kinds.map((k) => (k === "local" ? window : 0));
}

export function gptNeo(ckpt: Checkpoint, prefix: string, o: ArchitectureOverrides): Architecture {
  const p = (l: number, s: string) => `${prefix}h.${l}.${s}`;
  const nLayers = countLayers(ckpt, new RegExp(`^${prefix.replace(/\./g, "\\.")}h\\.(\\d+)\\.attn\\.attention\\.q_proj\\.weight$`), "attn.attention.q_proj");
  const d = ckpt.info(p(0, "attn.attention.q_proj.weight")).shape[1];
  const cfg = ckpt.config;
  const { nHeads, source } = resolveHeadCount(configNumber(cfg, "num_heads"), o.nHeads, d, undefined, "gpt-neo");
  const dh = d / nHeads;
  const shapes: Array<[string, number[]]> = [];
  for (let l = 0; l < nLayers; l++) {
    for (const x of ["q", "k", "v", "out"]) shapes.push([p(l, `attn.attention.${x}_proj.weight`), [d, d]]);
    shapes.push([p(l, "ln_1.weight"), [d]], [p(l, "ln_1.bias"), [d]]);
  }
  expectShapes(ckpt, shapes);
  const layers = new LayerCache((l) => ({
    out: ckpt.readRaw(p(l, "attn.attention.out_proj.weight")),
    lnW: ckpt.read(p(l, "ln_1.weight")),
    lnB: ckpt.read(p(l, "ln_1.bias")),
  }));
  const rowsT = (l: number, x: string, h: number) => readRowsT(ckpt, p(l, `attn.attention.${x}_proj.weight`), h * dh, (h + 1) * dh);
  const circuit = (l: number, h: number, c: "qk" | "ov"): CircuitTensors => {
    const { out, lnW, lnB } = layers.get(l);
    return c === "qk"
      ? { W_Q: rowsT(l, "q", h), W_K: rowsT(l, "k", h), ln_w: lnW, ln_b: lnB }
      : { W_V: rowsT(l, "v", h), W_O: rawColsT(out, h * dh, (h + 1) * dh), ln_w: lnW, ln_b: lnB };
  };
  return {
    facts: {
      architecture: "gpt-neo", n_layers: nLayers, n_heads: nHeads, n_kv_heads: nHeads, d_model: d, d_head: dh,
      attention_scale: 1, norm: "layernorm", norm_eps: configNumber(cfg, "layer_norm_epsilon") ?? 1e-5,
      rotary_dim: 0, n_heads_source: source,
      layout: "nn.Linear q/k/v/out_proj [out, in] → transposed; no q/k/v bias; ln_1; unscaled scores",
    },
    kvHead: (h) => h,
    hasBias: false,
    circuit,
    head: (l, h) => ({ ...circuit(l, h, "qk"), ...circuit(l, h, "ov") }) as HeadTensors,
    release: (l) => layers.release(l),
  };
}
