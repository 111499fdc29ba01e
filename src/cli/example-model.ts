/**
 * @module cli/example-model
 * A tiny GPT-2-layout checkpoint generated deterministically (seeded PRNG, so the same bytes on
 * every machine), so `npm run scan` works on a fresh clone with nothing downloaded: 4 layers,
 * 4 heads, d_model 128, d_head 32, F32, with config.json. Each head's W_Q and W_K get a
 * head-specific spectral decay, so the report's heatmaps and spectra show structure.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRng } from "../analysis/random";
import { encodeSafetensors, type TensorOut } from "../wire/safetensors";

export const EXAMPLE = { name: "example-tiny-gpt2", layers: 4, heads: 4, dModel: 128, dHead: 32, seed: 20260213 } as const;


export function exampleTensors(): Record<string, TensorOut> {
  const { layers, heads, dModel: d, dHead: dh, seed } = EXAMPLE;
  const g = createRng(seed);
  const gauss = () => g.normal();
  const out: Record<string, TensorOut> = {};
  const vec = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
  for (let l = 0; l < layers; l++) {
    const w = new Float32Array(d * 3 * d);
    for (let part = 0; part < 3; part++) {
      for (let h = 0; h < heads; h++) {
        // column j of head h decays like exp(−j/τ), τ different per layer and head
        const tau = 2 + 3 * ((l * heads + h) % 7);
        for (let i = 0; i < d; i++) {
          for (let j = 0; j < dh; j++) w[i * 3 * d + part * d + h * dh + j] = (gauss() * Math.exp(-j / tau)) / Math.sqrt(d);
        }
      }
    }
    out[`h.${l}.ln_1.weight`] = { dtype: "F32", shape: [d], data: vec(d, () => 1 + 0.1 * gauss()) };
    out[`h.${l}.ln_1.bias`] = { dtype: "F32", shape: [d], data: vec(d, () => 0.05 * gauss()) };
    out[`h.${l}.attn.c_attn.weight`] = { dtype: "F32", shape: [d, 3 * d], data: w };
    out[`h.${l}.attn.c_attn.bias`] = { dtype: "F32", shape: [3 * d], data: vec(3 * d, () => 0.1 * gauss()) };
    out[`h.${l}.attn.c_proj.weight`] = { dtype: "F32", shape: [d, d], data: vec(d * d, () => gauss() / Math.sqrt(d)) };
    out[`h.${l}.attn.c_proj.bias`] = { dtype: "F32", shape: [d], data: vec(d, () => 0) };
  }
  return out;
}

/**
 * Writes and returns the path of the example checkpoint under `dir`. It is generated every time
 * (milliseconds) and written only when the file's bytes differ, so a changed generator never leaves a
 * stale checkpoint behind.
 */
export function ensureExampleCheckpoint(dir: string): string {
  const file = join(dir, "model.safetensors");
  const bytes = encodeSafetensors(exampleTensors(), { format: "pt", generator: "headscope example-model" });
  if (!existsSync(file) || !Buffer.from(bytes).equals(readFileSync(file))) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, bytes);
    writeFileSync(
      join(dir, "config.json"),
      JSON.stringify({ model_type: "gpt2", n_layer: EXAMPLE.layers, n_head: EXAMPLE.heads, n_embd: EXAMPLE.dModel, layer_norm_epsilon: 1e-5 }, null, 2) + "\n",
    );
  }
  return file;
}
