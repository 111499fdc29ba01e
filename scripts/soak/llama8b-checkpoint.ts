/**
 * A synthetic Llama-3-8B-shaped checkpoint for the soak run: the real model's attention shapes
 * (d_model 4096, 32 query heads, 8 key/value heads (GQA), d_head 128, RMSNorm, rope_theta 500000)
 * with `layers` layers, BF16, split into two shards with a model.safetensors.index.json and a
 * config.json, as Hugging Face writes them. Values come from a seeded generator (uniform, standard
 * deviation 0.02, like an initialised model), written tensor by tensor in 1 MiB chunks so a
 * 160 MB checkpoint never sits in memory. One layer is 80 MiB on disk.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createRng } from "../../src/analysis/random";

export const LLAMA8B = { d: 4096, nHeads: 32, nKv: 8, dh: 128 } as const;

interface Spec {
  name: string;
  shape: number[];
  /** fill value generator: gain vectors near 1, weights uniform with std 0.02 */
  kind: "weight" | "gain";
}

function tensorsOf(layers: number): Spec[] {
  const { d, nHeads, nKv, dh } = LLAMA8B;
  const out: Spec[] = [];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [d], kind: "gain" },
      { name: `${p}self_attn.q_proj.weight`, shape: [nHeads * dh, d], kind: "weight" },
      { name: `${p}self_attn.k_proj.weight`, shape: [nKv * dh, d], kind: "weight" },
      { name: `${p}self_attn.v_proj.weight`, shape: [nKv * dh, d], kind: "weight" },
      { name: `${p}self_attn.o_proj.weight`, shape: [d, nHeads * dh], kind: "weight" },
    );
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** bfloat16 bits of x, round to nearest even */
const bf16 = (x: number) => {
  f32[0] = x;
  const u = u32[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
};

function writeShard(file: string, specs: Spec[], rand: () => number): void {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let off = 0;
  for (const s of specs) {
    const bytes = s.shape.reduce((a, b) => a * b, 1) * 2;
    header[s.name] = { dtype: "BF16", shape: s.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const hb = Buffer.from(json);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(hb.length));
  const fd = openSync(file, "w");
  try {
    writeSync(fd, prefix);
    writeSync(fd, hb);
    const chunk = new Uint16Array(1 << 19);
    const half = Math.sqrt(3) * 0.02; // uniform on [-half, half] has standard deviation 0.02
    for (const s of specs) {
      let left = s.shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        for (let i = 0; i < n; i++) chunk[i] = bf16(s.kind === "gain" ? 0.8 + 0.4 * rand() : (2 * rand() - 1) * half);
        writeSync(fd, chunk.subarray(0, n));
        left -= n;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes the checkpoint into dir; returns the index path to scan. */
export function writeLlama8bCheckpoint(dir: string, opts: { layers?: number; seed?: number } = {}): string {
  const layers = opts.layers ?? 2;
  mkdirSync(dir, { recursive: true });
  const rng = createRng(opts.seed ?? 8);
  const rand = () => rng.uniform();
  const specs = tensorsOf(layers);
  // two shards, as a real 8B checkpoint has several: each holds some tensors of every layer
  const shards = [specs.filter((_, i) => i % 2 === 0), specs.filter((_, i) => i % 2 === 1)];
  const weightMap: Record<string, string> = {};
  shards.forEach((mine, s) => {
    const file = `model-0000${s + 1}-of-00002.safetensors`;
    for (const t of mine) weightMap[t.name] = file;
    writeShard(join(dir, file), mine, rand);
  });
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: LLAMA8B.d, num_attention_heads: LLAMA8B.nHeads,
      num_key_value_heads: LLAMA8B.nKv, head_dim: LLAMA8B.dh, num_hidden_layers: layers, rms_norm_eps: 1e-5, rope_theta: 500000,
      torch_dtype: "bfloat16",
    }),
  );
  return join(dir, "model.safetensors.index.json");
}
