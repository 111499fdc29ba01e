/**
 * Exports one attention head of a Hugging Face safetensors checkpoint as the body headscope's
 * `POST /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov}` expects: TransformerLens orientation
 * (row vectors, `q = x W_Q + b_Q`), W_Q, W_K, W_V [d_model, d_head], W_O [d_head, d_model], F32.
 * The TypeScript twin of export_head.py (same tensors, same bytes); no dependency but Node.
 *
 *   npx esbuild examples/export_head.ts --platform=node --format=esm --outfile=build/export_head.mjs
 *   node build/export_head.mjs CHECKPOINT LAYER HEAD qk|ov [OUT.safetensors] [--n-heads N]
 *
 * or import exportHead and encodeHead from it.
 *
 * CHECKPOINT is a model.safetensors (or a folder holding one) with config.json beside it for the head
 * counts. Layouts: GPT-2 (`c_attn` [d_model, 3·d_model] = [Q | K | V] column blocks, `c_proj` rows
 * h·d_head…, already [in, out]) and nn.Linear models (`q_proj`, `k_proj`, `v_proj`, `o_proj` or
 * `out_proj`, stored [out, in] and transposed here: Llama, Mistral, Qwen2, GPT-Neo; grouped-query
 * heads share their key/value head). The pre-attention norm's gain and bias go along as ln_w, ln_b
 * (RMSNorm models have no ln_b: POST with `?norm=rmsnorm`). Tested by test/examples/export-head.test.ts
 * against a real local worker.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

interface Entry { dtype: string; shape: number[]; data_offsets: [number, number] }
type Tensor = { shape: number[]; data: Float32Array };

/** Reads one tensor of a safetensors file at its offsets (the file is never read whole), as F32. */
function readTensor(file: string, header: Record<string, Entry>, base: number, name: string): Tensor {
  const e = header[name];
  const [begin, end] = e.data_offsets;
  const raw = Buffer.alloc(end - begin);
  const fd = openSync(file, "r");
  try {
    readSync(fd, raw, 0, raw.length, base + begin);
  } finally {
    closeSync(fd);
  }
  const n = e.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const u32 = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    if (e.dtype === "F32") out[i] = raw.readFloatLE(4 * i);
    else if (e.dtype === "BF16") u32[i] = raw.readUInt16LE(2 * i) << 16;
    else if (e.dtype === "F16") out[i] = halfToFloat(raw.readUInt16LE(2 * i));
    else if (e.dtype === "F64") out[i] = raw.readDoubleLE(8 * i);
    else throw new Error(`${name} has dtype ${e.dtype}; expected a float dtype`);
  }
  return { shape: e.shape, data: out };
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
}

/** rows [r0, r1) × columns [c0, c1) of a row-major matrix, transposed when asked. */
function block(t: Tensor, r0: number, r1: number, c0: number, c1: number, transpose = false): Tensor {
  const cols = t.shape[1];
  const out = new Float32Array((r1 - r0) * (c1 - c0));
  for (let r = r0; r < r1; r++) {
    for (let c = c0; c < c1; c++) {
      const i = transpose ? (c - c0) * (r1 - r0) + (r - r0) : (r - r0) * (c1 - c0) + (c - c0);
      out[i] = t.data[r * cols + c];
    }
  }
  return { shape: transpose ? [c1 - c0, r1 - r0] : [r1 - r0, c1 - c0], data: out };
}
const slice = (t: Tensor, a: number, b: number): Tensor => ({ shape: [b - a], data: t.data.slice(a, b) });

/** The head's tensors in TransformerLens orientation, keyed by the API's names, in the API's order. */
export function exportHead(checkpoint: string, layer: number, head: number, circuit: "qk" | "ov", nHeadsFlag?: number) {
  const file = statSync(checkpoint).isDirectory() ? join(checkpoint, "model.safetensors") : checkpoint;
  const fd = openSync(file, "r");
  const prefix = Buffer.alloc(8);
  readSync(fd, prefix, 0, 8, 0);
  const n = Number(prefix.readBigUInt64LE(0));
  const headerBytes = Buffer.alloc(n);
  readSync(fd, headerBytes, 0, n, 8);
  closeSync(fd);
  const header = JSON.parse(headerBytes.toString("utf8")) as Record<string, Entry>;
  const configPath = join(dirname(file), "config.json");
  const config = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, "utf8")) as Record<string, number>) : {};
  const find = (...suffixes: string[]) => Object.keys(header).find((k) => suffixes.some((s) => k === s || k.endsWith(`.${s}`)));
  const get = (name: string) => readTensor(file, header, 8 + n, name);
  const out: Record<string, Tensor> = {};
  const l = layer;
  const cAttn = find(`h.${l}.attn.c_attn.weight`);
  if (cAttn) {
    // GPT-2: Conv1D weights are [in, out] already
    const w = get(cAttn);
    const dModel = w.shape[0];
    const nHeads = nHeadsFlag ?? config.n_head ?? dModel / 64;
    const dHead = dModel / nHeads;
    const bias = get(find(`h.${l}.attn.c_attn.bias`)!);
    const cols = (part: number) => [part * dModel + head * dHead, part * dModel + (head + 1) * dHead] as const;
    if (circuit === "qk") {
      out.W_Q = block(w, 0, dModel, ...cols(0));
      out.W_K = block(w, 0, dModel, ...cols(1));
      out.b_Q = slice(bias, ...cols(0));
      out.b_K = slice(bias, ...cols(1));
    } else {
      out.W_V = block(w, 0, dModel, ...cols(2));
      out.W_O = block(get(find(`h.${l}.attn.c_proj.weight`)!), head * dHead, (head + 1) * dHead, 0, dModel);
    }
    out.ln_w = get(find(`h.${l}.ln_1.weight`)!);
    out.ln_b = get(find(`h.${l}.ln_1.bias`)!);
    return out;
  }
  // nn.Linear models: weights are [out, in]; transpose each head's block
  const attn = find(`layers.${l}.self_attn.q_proj.weight`) ? `layers.${l}.self_attn` : `h.${l}.attn.attention`;
  const q = find(`${attn}.q_proj.weight`);
  if (!q) throw new Error(`no GPT-2 c_attn or q_proj weights for layer ${l} in ${basename(file)} (GPT-NeoX's fused QKV: use headscope scan)`);
  const wq = get(q);
  const dModel = wq.shape[1];
  const nHeads = nHeadsFlag ?? config.num_attention_heads ?? config.num_heads;
  if (!nHeads) throw new Error("the number of heads is unknown: put config.json beside the checkpoint or pass --n-heads");
  const dHead = config.head_dim ?? dModel / nHeads;
  const kvHead = Math.floor(head / (nHeads / (config.num_key_value_heads ?? nHeads)));
  const rows = (h: number) => [h * dHead, (h + 1) * dHead] as const;
  const optional = (name: string) => (find(name) ? get(find(name)!) : undefined);
  if (circuit === "qk") {
    out.W_Q = block(wq, ...rows(head), 0, dModel, true);
    out.W_K = block(get(find(`${attn}.k_proj.weight`)!), ...rows(kvHead), 0, dModel, true);
    const bq = optional(`${attn}.q_proj.bias`);
    const bk = optional(`${attn}.k_proj.bias`);
    if (bq && bk) {
      out.b_Q = slice(bq, ...rows(head));
      out.b_K = slice(bk, ...rows(kvHead));
    }
  } else {
    out.W_V = block(get(find(`${attn}.v_proj.weight`)!), ...rows(kvHead), 0, dModel, true);
    const o = get(find(`${attn}.o_proj.weight`, `${attn}.out_proj.weight`)!);
    out.W_O = block(o, 0, dModel, ...rows(head), true);
  }
  const lnW = optional(`layers.${l}.input_layernorm.weight`) ?? optional(`h.${l}.ln_1.weight`);
  const lnB = optional(`layers.${l}.input_layernorm.bias`) ?? optional(`h.${l}.ln_1.bias`);
  if (lnW) out.ln_w = lnW;
  if (lnB) out.ln_b = lnB;
  return out;
}

/** A safetensors file: compact JSON header padded with spaces to 8 bytes, F32 little-endian data. */
export function encodeHead(tensors: Record<string, Tensor>, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  out.write(json, 8, "utf8");
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) for (const v of t.data) at = out.writeFloatLE(v, at);
  return out;
}

// run as a program (node on the bundle, or a TypeScript runner), not when imported
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--n-heads");
  const nHeads = at >= 0 ? Number(args.splice(at, 2)[1]) : undefined;
  const [checkpoint, layer, head, circuit, outFile] = args;
  if (!checkpoint || !["qk", "ov"].includes(circuit)) {
    console.error("usage: export_head.ts CHECKPOINT LAYER HEAD qk|ov [OUT.safetensors] [--n-heads N]");
    process.exit(2);
  }
  const out = outFile ?? `L${layer}H${head}-${circuit}.safetensors`;
  const tensors = exportHead(checkpoint, Number(layer), Number(head), circuit as "qk" | "ov", nHeads);
  const meta = { source: basename(checkpoint), layer: String(Number(layer)), head: String(Number(head)), circuit };
  writeFileSync(out, encodeHead(tensors, meta));
  console.log(`${out}: ${Object.entries(tensors).map(([k, t]) => `${k} [${t.shape.join(", ")}]`).join(", ")}`);
}
