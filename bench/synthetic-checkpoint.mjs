/**
 * Writes a synthetic Llama-shaped checkpoint for `npm run bench:scan -- --shape …`: BF16 tensors in
 * Hugging Face names, one shard per layer with a model.safetensors.index.json and a config.json,
 * exactly the layout a downloaded Llama-3 checkpoint has (attention tensors and the pre-attention
 * RMSNorm only; the MLP does not enter a scan). Values are seeded pseudo-random (xorshift32), about
 * N(0, 0.02²) like trained projections, so every head is full rank and costs what a real one costs.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";

export const SHAPES = {
  "llama-1b": { hidden_size: 2048, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, layers: 4, full_layers: 16, rope_theta: 500000 },
  "llama-3b": { hidden_size: 3072, num_attention_heads: 24, num_key_value_heads: 8, head_dim: 128, layers: 3, full_layers: 28, rope_theta: 500000 },
  "llama-8b": { hidden_size: 4096, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 128, layers: 2, full_layers: 32, rope_theta: 500000 },
  "llama-70b": { hidden_size: 8192, num_attention_heads: 64, num_key_value_heads: 8, head_dim: 128, layers: 1, full_layers: 80, rope_theta: 500000 },
};

function bf16Random(count, seed, scale) {
  const out = new Uint16Array(count);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    // sum of two uniforms: triangular, mean 0, variance 1/6 → scaled to std `scale`
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const a = s / 4294967296;
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const b = s / 4294967296;
    f[0] = (a + b - 1) * scale * 2.449489742783178;
    out[i] = u[0] >>> 16;
  }
  return out;
}

/** Writes one safetensors file of BF16 tensors [name, shape, Uint16Array] in order. */
function writeShard(file, tensors) {
  const header = {};
  let offset = 0;
  for (const [name, shape, data] of tensors) {
    header[name] = { dtype: "BF16", shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const fd = openSync(file, "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, json);
    for (const [, , data] of tensors) writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } finally {
    closeSync(fd);
  }
}

/** Builds the checkpoint in `dir`; returns its facts. */
export function writeSyntheticLlama(dir, shapeName, layers) {
  const shape = SHAPES[shapeName];
  if (!shape) throw new Error(`unknown shape ${shapeName}; known: ${Object.keys(SHAPES).join(", ")}`);
  const L = layers ?? shape.layers;
  const d = shape.hidden_size;
  const q = shape.num_attention_heads * shape.head_dim;
  const kv = shape.num_key_value_heads * shape.head_dim;
  mkdirSync(dir, { recursive: true });
  const weightMap = {};
  let bytes = 0;
  for (let l = 0; l < L; l++) {
    const file = `model-${String(l + 1).padStart(5, "0")}-of-${String(L).padStart(5, "0")}.safetensors`;
    const p = (s) => `model.layers.${l}.${s}`;
    const gamma = new Uint16Array(d);
    const g = new Float32Array(1);
    const gu = new Uint32Array(g.buffer);
    for (let i = 0; i < d; i++) {
      g[0] = 0.5 + ((i * 2654435761) % 1000) / 1000; // positive gains in [0.5, 1.5)
      gamma[i] = gu[0] >>> 16;
    }
    const tensors = [
      [p("input_layernorm.weight"), [d], gamma],
      [p("self_attn.q_proj.weight"), [q, d], bf16Random(q * d, 1 + 4 * l, 0.02)],
      [p("self_attn.k_proj.weight"), [kv, d], bf16Random(kv * d, 2 + 4 * l, 0.02)],
      [p("self_attn.v_proj.weight"), [kv, d], bf16Random(kv * d, 3 + 4 * l, 0.02)],
      [p("self_attn.o_proj.weight"), [d, q], bf16Random(d * q, 4 + 4 * l, 0.02)],
    ];
    writeShard(join(dir, file), tensors);
    for (const [name, , data] of tensors) {
      weightMap[name] = file;
      bytes += data.byteLength;
    }
  }
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: bytes }, weight_map: weightMap }, null, 1));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      model_type: "llama", architectures: ["LlamaForCausalLM"], hidden_size: d, num_attention_heads: shape.num_attention_heads,
      num_key_value_heads: shape.num_key_value_heads, head_dim: shape.head_dim, num_hidden_layers: L, rms_norm_eps: 1e-5,
      rope_theta: shape.rope_theta, torch_dtype: "bfloat16",
    }, null, 1),
  );
  return { ...shape, layers: L, bytes };
}
