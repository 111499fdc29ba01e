/**
 * The forward pass of every layout against the float64 numpy reference of
 * test/fixtures/forward/make_forward_fixtures.py on small synthetic full checkpoints (GPT-2 F32,
 * GPT-Neo F16 with local layers, GPT-NeoX BF16 parallel and F32 sequential residual, Llama F32 in two
 * shards with GQA and linear rope scaling): every layer's attention input within 1e-4, padding
 * zeroed, the SIMD and scalar builds and one or two worker threads bit-identical, a prompt's
 * activations independent of the batch it is in.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { computeAttentionInputs, groupByLength, threadsFor } from "../../src/model/forward";
import { chunkPlan } from "../../src/model/chunks";
import { forwardModel } from "../../src/model/architectures";
import { Checkpoint } from "../../src/cli/checkpoint";
import { loadForwardKernels } from "../../src/kernels/forward-node";
import { resolvePrompts } from "../../src/model/prompts";
import { gpt2Tokenizer } from "../../src/model/tokenizer";
import { writeCheckpoint, type RawTensor } from "../support/checkpoints";
import { gaussian, rng } from "../support/matrices";
import { decodeFloat, parseSafetensors } from "../../src/wire/safetensors";
import { PROJECT_ROOT, SHARED } from "../support/paths";

const FIXTURES = join(PROJECT_ROOT, "test/fixtures/forward");
const LAYOUTS = ["gpt2", "gpt-neo", "gpt-neox", "gpt-neox-sequential", "llama"] as const;
const tmp = mkdtempSync(join(tmpdir(), "headscope-forward-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function expected(layout: string) {
  const f = parseSafetensors(new Uint8Array(readFileSync(join(FIXTURES, layout, "expected.safetensors"))));
  const t = (name: string) => f.tensors.get(name)!;
  const tok = t("tokens");
  const [B, T] = tok.shape;
  const ids = new Int32Array(tok.bytes.buffer.slice(tok.bytes.byteOffset, tok.bytes.byteOffset + tok.bytes.byteLength));
  const prompts = Array.from({ length: B }, (_, b) => [...ids.subarray(b * T, (b + 1) * T)].filter((x) => x >= 0));
  const layers = [...f.tensors.values()].filter((x) => x.name.startsWith("layer.")).sort((a, b) => Number(a.name.slice(6)) - Number(b.name.slice(6))).map((x) => decodeFloat(x) as Float64Array);
  return { prompts, layers, B, T };
}

/**
 * Random GPT-2-layout tensors (Conv1D [in, out] weights, biases, γ and β) with N(0, scale²) values
 * from seed, drawn in one fixed order.
 */
function randomGpt2(dims: { V: number; P: number; D: number; FF: number; layers: number }, seed: number, scale: number): Record<string, RawTensor> {
  const { V, P, D, FF } = dims;
  const r = rng(seed);
  const rand = (...shape: number[]): RawTensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * gaussian(r)) });
  const tensors: Record<string, RawTensor> = { "wte.weight": rand(V, D), "wpe.weight": rand(P, D) };
  for (let l = 0; l < dims.layers; l++) {
    Object.assign(tensors, {
      [`h.${l}.ln_1.weight`]: rand(D), [`h.${l}.ln_1.bias`]: rand(D), [`h.${l}.ln_2.weight`]: rand(D), [`h.${l}.ln_2.bias`]: rand(D),
      [`h.${l}.attn.c_attn.weight`]: rand(D, 3 * D), [`h.${l}.attn.c_attn.bias`]: rand(3 * D),
      [`h.${l}.attn.c_proj.weight`]: rand(D, D), [`h.${l}.attn.c_proj.bias`]: rand(D),
      [`h.${l}.mlp.c_fc.weight`]: rand(D, FF), [`h.${l}.mlp.c_fc.bias`]: rand(FF),
      [`h.${l}.mlp.c_proj.weight`]: rand(FF, D), [`h.${l}.mlp.c_proj.bias`]: rand(D),
    });
  }
  return tensors;
}

describe.each(LAYOUTS)("%s", (layout) => {
  const ckpt = join(FIXTURES, layout);
  const ref = expected(layout);

  test("every layer's attention input matches the float64 reference within 1e-4", async () => {
    const got = await computeAttentionInputs(ckpt, ref.prompts, { threads: 1 });
    expect(got.layers).toEqual(ref.layers.map((_, l) => l));
    expect([got.batch, got.tokens]).toEqual([ref.B, ref.T]);
    got.activations.forEach((a, l) => {
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - ref.layers[l][i]));
      expect(worst, `layer ${l}`).toBeLessThan(1e-4);
    });
    // padding stays zero, and the layer is normalised where it is real (unit RMS)
    const d = got.dModel;
    const last = got.activations[got.activations.length - 1];
    for (let b = 0; b < ref.B; b++) {
      for (let t = got.lengths[b]; t < ref.T; t++) expect(last.subarray((b * ref.T + t) * d, (b * ref.T + t + 1) * d).every((x) => x === 0)).toBe(true);
    }
  });

  test("scalar build, two worker threads and a different batch give the same bits", async () => {
    const simd = await computeAttentionInputs(ckpt, ref.prompts, { threads: 1 });
    const scalar = await computeAttentionInputs(ckpt, ref.prompts, { threads: 1, kernel: "scalar" });
    const workers = await computeAttentionInputs(ckpt, ref.prompts, { threads: 2 });
    expect(simd.kernel.simd).toBe(true);
    expect(scalar.kernel.simd).toBe(false);
    expect(workers.kernel.threads).toBe(2);
    simd.activations.forEach((a, l) => {
      expect(Buffer.from(scalar.activations[l].buffer).equals(Buffer.from(a.buffer))).toBe(true);
      expect(Buffer.from(workers.activations[l].buffer).equals(Buffer.from(a.buffer))).toBe(true);
    });
    // the last prompt alone, and only its last layer
    const lastLayer = simd.layers[simd.layers.length - 1];
    const alone = await computeAttentionInputs(ckpt, [ref.prompts[2]], { threads: 1, layers: [lastLayer] });
    const d = simd.dModel;
    const n = ref.prompts[2].length;
    expect(alone.layers).toEqual([lastLayer]);
    const inBatch = simd.activations[lastLayer].subarray(2 * ref.T * d, (2 * ref.T + n) * d);
    expect(Buffer.from(alone.activations[0].buffer).equals(Buffer.from(inBatch.slice().buffer))).toBe(true);
  });
});

test("many chunks over two and three threads give the bits of one thread, and of each prompt alone", async () => {
  // 48 prompts of 1 to 16 tokens (~400 rows): several chunks of whole prompts per thread, so threads
  // take chunks from the shared queue and run ahead into the next layer
  const ckpt = join(FIXTURES, "gpt2");
  const base = expected("gpt2").prompts.flat();
  const prompts = Array.from({ length: 48 }, (_, i) => Array.from({ length: 1 + ((i * 7) % 16) }, (_, t) => base[(i + 3 * t) % base.length]));
  const one = await computeAttentionInputs(ckpt, prompts, { threads: 1 });
  for (const threads of [2, 3]) {
    const many = await computeAttentionInputs(ckpt, prompts, { threads });
    expect(many.kernel.threads).toBe(threads);
    one.activations.forEach((a, l) => expect(Buffer.from(many.activations[l].buffer).equals(Buffer.from(a.buffer)), `${threads} threads, layer ${l}`).toBe(true));
  }
  const d = one.dModel;
  for (const b of [0, 17, 47]) {
    const alone = await computeAttentionInputs(ckpt, [prompts[b]], { threads: 1 });
    alone.activations.forEach((a, l) => {
      const inBatch = one.activations[l].subarray(b * one.tokens * d, (b * one.tokens + prompts[b].length) * d);
      expect(Buffer.from(a.buffer).equals(Buffer.from(inBatch.slice().buffer)), `prompt ${b}, layer ${l}`).toBe(true);
    });
  }
});

test("a block that cannot be read while the threads run earlier layers fails the pass, and nothing waits forever", async () => {
  // layer 2's mlp.c_proj is stored transposed: found when block 2 is read, while both threads run layer 1
  const V = 64, P = 16, D = 16, FF = 32;
  const tensors = randomGpt2({ V, P, D, FF, layers: 4 }, 9, 0.3);
  tensors["h.2.mlp.c_proj.weight"] = { ...tensors["h.2.mlp.c_proj.weight"], shape: [D, FF] };
  const ckpt = writeCheckpoint(join(tmp, "bad-layer-2"), tensors, { dtype: "F32", config: { model_type: "gpt2", n_head: 2 } });
  const prompts = Array.from({ length: 64 }, (_, b) => Array.from({ length: 12 }, (_, t) => (b * 5 + t) % V));
  await expect(computeAttentionInputs(ckpt, prompts, { threads: 2 })).rejects.toThrow(/h\.2\.mlp\.c_proj\.weight has shape \[16,32\], expected \[32,16\]/);
  // the layers before it are fine on their own
  const ok = await computeAttentionInputs(ckpt, prompts, { threads: 2, layers: [0, 1, 2] });
  expect(ok.layers).toEqual([0, 1, 2]);
});

test("heads of a width that is not a multiple of 4 (d_head 6) match a float64 GPT-2 block written out here", async () => {
  const V = 40, P = 16, D = 18, H = 3, FF = 24, dh = D / H;
  const t = randomGpt2({ V, P, D, FF, layers: 2 }, 11, 0.4);
  // what the checkpoint will hold: float32 values, here in float64
  const w = (name: string) => Float64Array.from(Float32Array.from(t[name].data));
  const ckpt = writeCheckpoint(join(tmp, "dh6"), t, { dtype: "F32", config: { model_type: "gpt2", n_head: H } });
  const prompts = [[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], [2, 7], [1, 8, 2, 8, 1]];

  const norm = (x: number[]) => {
    const m = x.reduce((a, v) => a + v, 0) / x.length;
    const sd = Math.sqrt(x.reduce((a, v) => a + (v - m) ** 2, 0) / x.length + 1e-5);
    return x.map((v) => (v - m) / sd);
  };
  const affine = (z: number[], g: Float64Array, b: Float64Array) => z.map((v, i) => v * g[i] + b[i]);
  const matmul = (x: number[], W: Float64Array, bias: Float64Array, m: number) =>
    Array.from({ length: m }, (_, j) => x.reduce((a, v, i) => a + v * W[i * m + j], bias[j]));
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const wte = w("wte.weight"), wpe = w("wpe.weight");
  const expected = prompts.map((ids) => {
    let x = ids.map((id, p) => Array.from({ length: D }, (_, i) => wte[id * D + i] + wpe[p * D + i]));
    const qkv = x.map((row) => matmul(affine(norm(row), w("h.0.ln_1.weight"), w("h.0.ln_1.bias")), w("h.0.attn.c_attn.weight"), w("h.0.attn.c_attn.bias"), 3 * D));
    const z = x.map((_, i) => Array.from({ length: D }, (_, c) => {
      const h = Math.floor(c / dh);
      const s = Array.from({ length: i + 1 }, (_, j) => {
        let dot = 0;
        for (let e = 0; e < dh; e++) dot += qkv[i][h * dh + e] * qkv[j][D + h * dh + e];
        return dot / Math.sqrt(dh);
      });
      const mx = Math.max(...s);
      const ex = s.map((v) => Math.exp(v - mx));
      const sum = ex.reduce((a, v) => a + v, 0);
      return ex.reduce((a, v, j) => a + (v / sum) * qkv[j][2 * D + c], 0);
    }));
    x = x.map((row, i) => matmul(z[i], w("h.0.attn.c_proj.weight"), w("h.0.attn.c_proj.bias"), D).map((v, c) => v + row[c]));
    x = x.map((row) => {
      const hid = matmul(affine(norm(row), w("h.0.ln_2.weight"), w("h.0.ln_2.bias")), w("h.0.mlp.c_fc.weight"), w("h.0.mlp.c_fc.bias"), FF).map(gelu);
      return matmul(hid, w("h.0.mlp.c_proj.weight"), w("h.0.mlp.c_proj.bias"), D).map((v, c) => v + row[c]);
    });
    return x.map(norm);
  });
  for (const kernel of ["release", "scalar"] as const) {
    const got = await computeAttentionInputs(ckpt, prompts, { threads: 1, kernel, layers: [1] });
    let worst = 0;
    expected.forEach((rows, b) => rows.forEach((row, p) => row.forEach((v, c) => (worst = Math.max(worst, Math.abs(v - got.activations[0][(b * got.tokens + p) * D + c]))))));
    expect(worst, kernel).toBeLessThan(1e-4);
  }
});

test("groupByLength returns dense groups of equal length without padded positions", async () => {
  const ref = expected("gpt2");
  const prompts = [ref.prompts[0], ref.prompts[1], ref.prompts[0].slice(0, 5)];
  const got = await computeAttentionInputs(join(FIXTURES, "gpt2"), prompts, { threads: 1, layers: [1] });
  const groups = groupByLength(got);
  expect(groups.map((g) => [g.length, g.prompts])).toEqual([[5, [1, 2]], [7, [0]]]);
  const d = got.dModel;
  expect([...groups[0].activations[0].subarray(5 * d, 10 * d)]).toEqual([...got.activations[0].subarray(2 * 7 * d, (2 * 7 + 5) * d)]);
  // causality: a prefix of a prompt has the same activations as the prompt's first tokens
  expect([...got.activations[0].subarray(2 * 7 * d, (2 * 7 + 5) * d)]).toEqual([...got.activations[0].subarray(0, 5 * d)]);
});

test("threads: every core by default, fewer when memory holds fewer copies of a block, as many as asked when asked", () => {
  const ckpt = Checkpoint.open(join(FIXTURES, "llama"));
  try {
    const model = forwardModel(ckpt);
    const kernels = loadForwardKernels("release");
    const lengths = Array.from({ length: 16 }, () => 4);
    const cores = Math.min(availableParallelism(), 16);
    const plenty = threadsFor(model, kernels, lengths, 3, undefined, 1e15);
    expect(plenty).toEqual({ threads: cores, memoryPerThread: expect.any(Number) });
    expect(plenty.memoryPerThread).toBe(kernels.memoryBytes(model.shape, model.ff, chunkPlan(lengths, cores).capacity));
    const scarce = threadsFor(model, kernels, lengths, 3, undefined, 1);
    expect(scarce.threads).toBe(1);
    expect(scarce.limitedBy).toMatch(new RegExp(`^1 of ${cores} threads: each holds 0\\.\\d GB of WebAssembly memory and this process may use 0\\.0 GB$`));
    expect(threadsFor(model, kernels, lengths, 3, 3, 1)).toEqual({ threads: 3, memoryPerThread: expect.any(Number) });
  } finally {
    ckpt.close();
  }
});

describe("refusals", () => {
  const withConfig = (layout: string, edit: (c: Record<string, unknown>) => void) => {
    const dir = join(tmp, `${layout}-${Math.random().toString(36).slice(2)}`);
    cpSync(join(FIXTURES, layout), dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    edit(cfg);
    writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
    return dir;
  };
  test("unimplemented rope_scaling", async () => {
    const dir = withConfig("llama", (c) => (c.rope_scaling = { rope_type: "llama3", factor: 8 }));
    await expect(computeAttentionInputs(dir, [[1, 2]])).rejects.toThrow(/rope_scaling .*llama3.* is not implemented/);
  });
  test("a block too large for a WebAssembly memory, before any block is read", async () => {
    // Llama-3.1-405B's shapes, 2 layers, BF16: a header and a sparse file (no disk used, every value 0)
    const dir = join(tmp, "llama-405b-shape");
    mkdirSync(dir);
    const [d, nH, nKv, dh, ff, V] = [16384, 128, 8, 128, 53248, 128256];
    const tensors: Array<[string, number[]]> = [["model.embed_tokens.weight", [V, d]]];
    for (let l = 0; l < 2; l++) {
      const p = `model.layers.${l}.`;
      tensors.push([p + "input_layernorm.weight", [d]], [p + "post_attention_layernorm.weight", [d]], [p + "self_attn.q_proj.weight", [nH * dh, d]],
        [p + "self_attn.k_proj.weight", [nKv * dh, d]], [p + "self_attn.v_proj.weight", [nKv * dh, d]], [p + "self_attn.o_proj.weight", [d, nH * dh]],
        [p + "mlp.gate_proj.weight", [ff, d]], [p + "mlp.up_proj.weight", [ff, d]], [p + "mlp.down_proj.weight", [d, ff]]);
    }
    const header: Record<string, unknown> = {};
    let end = 0;
    for (const [name, shape] of tensors) {
      const bytes = 2 * shape.reduce((a, b) => a * b, 1);
      header[name] = { dtype: "BF16", shape, data_offsets: [end, end + bytes] };
      end += bytes;
    }
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(join(dir, "model.safetensors"), Buffer.concat([len, json]));
    truncateSync(join(dir, "model.safetensors"), 8 + json.length + end);
    writeFileSync(join(dir, "config.json"), JSON.stringify({
      model_type: "llama", hidden_size: d, num_attention_heads: nH, num_key_value_heads: nKv, num_hidden_layers: 2, intermediate_size: ff,
      vocab_size: V, rms_norm_eps: 1e-5, rope_theta: 500000, hidden_act: "silu",
    }));
    await expect(computeAttentionInputs(dir, [[1, 2]])).rejects.toThrow(
      /a block of this model \(d_model 16384, MLP 53248\) needs 12\.8 GB of WebAssembly memory .* more than the 4\.3 GB a WebAssembly memory can hold/,
    );
  });
  test("gpt-neo without its global/local layers", async () => {
    const dir = withConfig("gpt-neo", (c) => delete c.attention_types);
    await expect(computeAttentionInputs(dir, [[1, 2]])).rejects.toThrow(/global and which local/);
  });
  test("token ids outside the vocabulary, too many tokens, empty prompts, layers out of range", async () => {
    const gpt2 = join(FIXTURES, "gpt2");
    await expect(computeAttentionInputs(gpt2, [[1, 50]])).rejects.toThrow(/token id 50 is outside the vocabulary \[0, 50\)/);
    await expect(computeAttentionInputs(gpt2, [Array(17).fill(1)])).rejects.toThrow(/17 tokens; at most 16 \(wpe has 16 learned positions\)/);
    await expect(computeAttentionInputs(gpt2, [[1], []])).rejects.toThrow(/prompt 1 has no tokens/);
    await expect(computeAttentionInputs(gpt2, [[1]], { layers: [3] })).rejects.toThrow(/layer 3 is outside 0..2/);
  });
});

test("ioi prompts through GPT-2's tokenizer into a GPT-2-vocabulary model: layer 0 is LN(wte[token] + wpe[position])", async () => {
  const V = 50257, P = 64, D = 16, FF = 32;
  const tensors = randomGpt2({ V, P, D, FF, layers: 2 }, 5, 0.3);
  const ckpt = writeCheckpoint(join(tmp, "gpt2-vocab"), tensors, { dtype: "F32", config: { model_type: "gpt2", n_head: 2 } });
  const { tokens, meta } = resolvePrompts("ioi:6", gpt2Tokenizer());
  const got = await computeAttentionInputs(ckpt, tokens, { threads: 2 });
  expect(got.lengths).toEqual(tokens.map((t) => t.length));
  expect(meta.ioi!.every((m, b) => m.positions.END === got.lengths[b] - 1)).toBe(true);
  const [wte, wpe] = [tensors["wte.weight"].data, tensors["wpe.weight"].data];
  let worst = 0;
  tokens.forEach((ids, b) => ids.forEach((id, t) => {
    const x = Array.from({ length: D }, (_, i) => wte[id * D + i] + wpe[t * D + i]);
    const mean = x.reduce((a, v) => a + v, 0) / D;
    const sd = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / D + 1e-5);
    x.forEach((v, i) => (worst = Math.max(worst, Math.abs((v - mean) / sd - got.activations[0][(b * got.tokens + t) * D + i]))));
  }));
  expect(worst).toBeLessThan(1e-5);
});

test("a checkpoint holding only attention weights is refused before anything runs", async () => {
  await expect(computeAttentionInputs(join(SHARED, "models/gpt2-small-attn.safetensors"), [[1, 2]], { threads: 1 }))
    .rejects.toThrow(/the forward pass needs the whole model .*missing wte\.weight/);
});
