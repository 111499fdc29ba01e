/**
 * Every architecture adapter, in every dtype (F32, F16, BF16) and layout (one file, sharded with an
 * index), against a direct computation: random Hugging Face tensors are written as the model's own
 * layout, and for a random token vector x the adapter's per-head W_Q, W_K, W_V, W_O and biases must
 * reproduce what the Hugging Face forward pass computes from the raw tensors (q, k, v per head with
 * the model's own split/view, and the head's contribution to the output projection).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { detectArchitecture, floatsOf, reuseOutputs, rotateKeyRows, type Architecture } from "../../src/cli/architectures";
import { Checkpoint, CheckpointError } from "../../src/cli/checkpoint";
import { writeCheckpoint, type RawTensor, type TestDtype } from "../support/checkpoints";
import { gaussian, rng } from "../support/matrices";

const tmp = mkdtempSync(join(tmpdir(), "headscope-arch-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const D = 16;
const NH = 4;
const DH = 4;
const NKV = 2; // llama GQA: 2 query heads per kv head
const L = 2;
const r = rng(7);
const rand = (...shape: number[]): RawTensor => ({
  shape,
  data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0.5 * gaussian(r)),
});
const ones = (n: number): RawTensor => ({ shape: [n], data: Float64Array.from({ length: n }, () => 1 + 0.1 * gaussian(r)) });

/** y = x M for M [rows, cols] (Conv1D orientation) */
const xM = (x: number[], m: RawTensor) => {
  const [rows, cols] = m.shape;
  return Array.from({ length: cols }, (_, j) => x.reduce((s, xi, i) => s + xi * m.data[i * cols + j], 0)).slice(0, cols + rows * 0);
};
/** y = x Mᵀ for M [out, in] (nn.Linear) */
const xMt = (x: number[], m: RawTensor) => {
  const [out, inn] = m.shape;
  return Array.from({ length: out }, (_, o) => x.reduce((s, xi, i) => s + xi * m.data[o * inn + i], 0));
};
const add = (a: number[], b: RawTensor | undefined) => (b ? a.map((v, i) => v + b.data[i]) : a);
/** x W for a TL [rows, cols] Float32/64Array */
const xW = (x: number[], w: ArrayLike<number>, cols: number) =>
  Array.from({ length: cols }, (_, j) => x.reduce((s, xi, i) => s + xi * w[i * cols + j], 0));

interface Forward {
  q(l: number, h: number, x: number[]): number[];
  k(l: number, h: number, x: number[]): number[];
  v(l: number, h: number, x: number[]): number[];
  /** head h's contribution to the attention output: z placed in head h's slot, through the out projection */
  out(l: number, h: number, z: number[]): number[];
}

interface Case {
  arch: string;
  tensors: () => Record<string, RawTensor>;
  config: Record<string, unknown>;
  forward: (t: Record<string, RawTensor>) => Forward;
  nHeads: number;
  nKv: number;
}

const slot = (z: number[], h: number, width: number) => {
  const full = new Array(width).fill(0);
  z.forEach((v, j) => (full[h * DH + j] = v));
  return full;
};

const CASES: Case[] = [
  {
    arch: "gpt2", nHeads: NH, nKv: NH, config: { model_type: "gpt2", n_head: NH },
    tensors: () => {
      const t: Record<string, RawTensor> = {};
      for (let l = 0; l < L; l++) {
        t[`transformer.h.${l}.ln_1.weight`] = ones(D);
        t[`transformer.h.${l}.ln_1.bias`] = rand(D);
        t[`transformer.h.${l}.attn.c_attn.weight`] = rand(D, 3 * D);
        t[`transformer.h.${l}.attn.c_attn.bias`] = rand(3 * D);
        t[`transformer.h.${l}.attn.c_proj.weight`] = rand(D, D);
        t[`transformer.h.${l}.attn.c_proj.bias`] = rand(D);
      }
      return t;
    },
    forward: (t) => {
      const qkv = (l: number, x: number[]) => add(xM(x, t[`transformer.h.${l}.attn.c_attn.weight`]), t[`transformer.h.${l}.attn.c_attn.bias`]);
      // split(n_embd, dim=2) then _split_heads: view(n_head, head_dim)
      const part = (p: number) => (l: number, h: number, x: number[]) => qkv(l, x).slice(p * D + h * DH, p * D + (h + 1) * DH);
      return { q: part(0), k: part(1), v: part(2), out: (l, h, z) => xM(slot(z, h, D), t[`transformer.h.${l}.attn.c_proj.weight`]) };
    },
  },
  {
    arch: "gpt-neo", nHeads: NH, nKv: NH, config: { model_type: "gpt_neo", num_heads: NH },
    tensors: () => {
      const t: Record<string, RawTensor> = {};
      for (let l = 0; l < L; l++) {
        t[`transformer.h.${l}.ln_1.weight`] = ones(D);
        t[`transformer.h.${l}.ln_1.bias`] = rand(D);
        for (const x of ["q", "k", "v", "out"]) t[`transformer.h.${l}.attn.attention.${x}_proj.weight`] = rand(D, D);
        t[`transformer.h.${l}.attn.attention.out_proj.bias`] = rand(D);
      }
      return t;
    },
    forward: (t) => {
      const proj = (x: string) => (l: number, h: number, v: number[]) => xMt(v, t[`transformer.h.${l}.attn.attention.${x}_proj.weight`]).slice(h * DH, (h + 1) * DH);
      return { q: proj("q"), k: proj("k"), v: proj("v"), out: (l, h, z) => xMt(slot(z, h, D), t[`transformer.h.${l}.attn.attention.out_proj.weight`]) };
    },
  },
  {
    arch: "gpt-neox", nHeads: NH, nKv: NH, config: { model_type: "gpt_neox", num_attention_heads: NH, rotary_pct: 0.5 },
    tensors: () => {
      const t: Record<string, RawTensor> = {};
      for (let l = 0; l < L; l++) {
        t[`gpt_neox.layers.${l}.input_layernorm.weight`] = ones(D);
        t[`gpt_neox.layers.${l}.input_layernorm.bias`] = rand(D);
        t[`gpt_neox.layers.${l}.attention.query_key_value.weight`] = rand(3 * D, D);
        t[`gpt_neox.layers.${l}.attention.query_key_value.bias`] = rand(3 * D);
        t[`gpt_neox.layers.${l}.attention.dense.weight`] = rand(D, D);
        t[`gpt_neox.layers.${l}.attention.dense.bias`] = rand(D);
      }
      return t;
    },
    forward: (t) => {
      // qkv.view(…, num_heads, 3 * head_size); q = [..., :hs], k = [..., hs:2hs], v = [..., 2hs:]
      const qkv = (l: number, x: number[]) => add(xMt(x, t[`gpt_neox.layers.${l}.attention.query_key_value.weight`]), t[`gpt_neox.layers.${l}.attention.query_key_value.bias`]);
      const part = (p: number) => (l: number, h: number, x: number[]) => qkv(l, x).slice(h * 3 * DH + p * DH, h * 3 * DH + (p + 1) * DH);
      return { q: part(0), k: part(1), v: part(2), out: (l, h, z) => xMt(slot(z, h, D), t[`gpt_neox.layers.${l}.attention.dense.weight`]) };
    },
  },
  {
    arch: "llama", nHeads: NH, nKv: NKV, config: { model_type: "llama", num_attention_heads: NH, num_key_value_heads: NKV, rope_theta: 500000 },
    tensors: () => {
      const t: Record<string, RawTensor> = {};
      for (let l = 0; l < L; l++) {
        t[`model.layers.${l}.input_layernorm.weight`] = ones(D);
        t[`model.layers.${l}.self_attn.q_proj.weight`] = rand(NH * DH, D);
        t[`model.layers.${l}.self_attn.k_proj.weight`] = rand(NKV * DH, D);
        t[`model.layers.${l}.self_attn.v_proj.weight`] = rand(NKV * DH, D);
        t[`model.layers.${l}.self_attn.o_proj.weight`] = rand(D, NH * DH);
        t[`model.layers.${l}.post_attention_layernorm.weight`] = ones(D);
      }
      return t;
    },
    forward: (t) => {
      const rep = NH / NKV; // repeat_kv: kv head j serves query heads j·rep … j·rep + rep − 1
      const proj = (x: string, kv: boolean) => (l: number, h: number, v: number[]) => {
        const hh = kv ? Math.floor(h / rep) : h;
        return xMt(v, t[`model.layers.${l}.self_attn.${x}_proj.weight`]).slice(hh * DH, (hh + 1) * DH);
      };
      return { q: proj("q", false), k: proj("k", true), v: proj("v", true), out: (l, h, z) => xMt(slot(z, h, NH * DH), t[`model.layers.${l}.self_attn.o_proj.weight`]) };
    },
  },
];

const close = (a: number[], b: number[]) => {
  const scale = Math.max(1, ...b.map(Math.abs));
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i]) / scale).toBeLessThan(1e-12);
  expect(a.length).toBe(b.length);
};

function checkHeads(arch: Architecture, fwd: Forward, c: Case) {
  expect(arch.facts).toMatchObject({ architecture: c.arch, n_layers: L, n_heads: c.nHeads, n_kv_heads: c.nKv, d_model: D, d_head: DH });
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < c.nHeads; h++) {
      const w = arch.head(l, h);
      const x = Array.from({ length: D }, () => gaussian(r));
      const z = Array.from({ length: DH }, () => gaussian(r));
      close(add(xW(x, floatsOf(w.W_Q), DH), w.b_Q && { shape: [DH], data: Float64Array.from(w.b_Q) }), fwd.q(l, h, x));
      close(add(xW(x, floatsOf(w.W_K), DH), w.b_K && { shape: [DH], data: Float64Array.from(w.b_K) }), fwd.k(l, h, x));
      close(xW(x, floatsOf(w.W_V), DH), fwd.v(l, h, x).map((v, j) => v - (c.arch === "gpt2" || c.arch === "gpt-neox" ? fwd.v(l, h, new Array(D).fill(0))[j] : 0)));
      close(xW(z, floatsOf(w.W_O), D), fwd.out(l, h, z));
      expect(w.ln_w).toHaveLength(D);
      expect(w.ln_b === undefined).toBe(c.arch === "llama");
    }
  }
}

describe.each(CASES)("$arch", (c) => {
  test.each([
    ["F32", 1], ["F16", 1], ["BF16", 1], ["F32", 3], ["F16", 2], ["BF16", 3],
  ] as Array<[TestDtype, number]>)("%s, %i file(s): per-head weights reproduce the Hugging Face forward pass", (dtype, shards) => {
    const tensors = c.tensors();
    const path = writeCheckpoint(join(tmp, `${c.arch}-${dtype}-${shards}`), tensors, { dtype, shards, config: c.config });
    const ckpt = Checkpoint.open(path);
    try {
      expect(ckpt.files).toHaveLength(shards);
      expect(ckpt.dtypes()).toEqual([dtype]);
      const arch = detectArchitecture(ckpt);
      checkHeads(arch, c.forward(tensors), c);
      // the big matrices keep the checkpoint's dtype (half precision as its bits), the rest is decoded
      const w = arch.head(L - 1, c.nHeads - 1);
      for (const m of [w.W_Q, w.W_K, w.W_V, w.W_O]) expect("bits" in m ? m.dtype : m.constructor.name).toBe(dtype === "F32" ? "Float32Array" : dtype);
      expect(w.ln_w).toBeInstanceOf(Float32Array);
    } finally {
      ckpt.close();
    }
  });
});

describe("facts and errors", () => {
  test("GQA: query head h reads kv head h ÷ (n_heads / n_kv_heads); RMSNorm; full rotary", () => {
    const c = CASES[3];
    const ckpt = Checkpoint.open(writeCheckpoint(join(tmp, "llama-facts"), c.tensors(), { dtype: "F32", config: c.config }));
    const a = detectArchitecture(ckpt);
    expect([0, 1, 2, 3].map(a.kvHead)).toEqual([0, 0, 1, 1]);
    expect(a.facts).toMatchObject({ norm: "rmsnorm", rotary_dim: DH, rotary_base: 500000, attention_scale: 1 / Math.sqrt(DH) });
  });

  test("gpt-neox partial rotary from rotary_pct; gpt-neo unscaled", () => {
    const neox = detectArchitecture(Checkpoint.open(writeCheckpoint(join(tmp, "neox-facts"), CASES[2].tensors(), { dtype: "F32", config: CASES[2].config })));
    expect(neox.facts).toMatchObject({ rotary_dim: DH / 2, norm: "layernorm" });
    const neo = detectArchitecture(Checkpoint.open(writeCheckpoint(join(tmp, "neo-facts"), CASES[1].tensors(), { dtype: "F32", config: CASES[1].config })));
    expect(neo.facts.attention_scale).toBe(1);
  });

  test("no config.json: llama needs --n-heads (clear error); the flag works", () => {
    const path = writeCheckpoint(join(tmp, "llama-noconfig"), CASES[3].tensors(), { dtype: "F32" });
    expect(() => detectArchitecture(Checkpoint.open(path))).toThrow(/--n-heads/);
    const a = detectArchitecture(Checkpoint.open(path), undefined, { nHeads: NH });
    expect(a.facts).toMatchObject({ n_heads: NH, n_kv_heads: NKV, n_heads_source: "flag" });
  });

  test("unknown architecture and a forced mismatch are clear errors", () => {
    const path = writeCheckpoint(join(tmp, "unknown"), { "encoder.layer.0.attention.self.query.weight": rand(D, D) }, { dtype: "F32" });
    expect(() => detectArchitecture(Checkpoint.open(path))).toThrow(/unknown architecture/);
    expect(() => detectArchitecture(Checkpoint.open(path), "bert")).toThrow(/unknown architecture "bert"/);
    const gpt2 = writeCheckpoint(join(tmp, "gpt2-forced"), CASES[0].tensors(), { dtype: "F32", config: CASES[0].config });
    expect(() => detectArchitecture(Checkpoint.open(gpt2), "llama")).toThrow(CheckpointError);
  });

  test("missing tensors are named before anything is read", () => {
    const t = CASES[0].tensors();
    delete t["transformer.h.1.attn.c_proj.weight"];
    const path = writeCheckpoint(join(tmp, "gpt2-missing"), t, { dtype: "F32", config: CASES[0].config });
    expect(() => detectArchitecture(Checkpoint.open(path))).toThrow(/missing tensors: transformer\.h\.1\.attn\.c_proj\.weight/);
  });
});

describe("rotary offsets", () => {
  /** Hugging Face apply_rotary_pos_emb on one vector: x·cos + rotate_half(x)·sin on the first rd dims. */
  const rope = (v: number[], pos: number, rd: number, base: number) => {
    const out = v.slice();
    const half = rd / 2;
    for (let i = 0; i < half; i++) {
      const th = pos * base ** (-(2 * i) / rd);
      out[i] = v[i] * Math.cos(th) - v[i + half] * Math.sin(th);
      out[i + half] = v[i + half] * Math.cos(th) + v[i] * Math.sin(th);
    }
    return out;
  };
  test.each([[4, 4], [2, 4]])("rotary_dim %i of %i: q_rot(d)·k_rot(s) = x_d W_Q (W_K R_Δᵀ)ᵀ x_sᵀ with Δ = d − s", (rd, dh) => {
    const d = 6;
    const wq = Float64Array.from({ length: d * dh }, () => gaussian(r));
    const wk = Float64Array.from({ length: d * dh }, () => gaussian(r));
    const bk = Float64Array.from({ length: dh }, () => gaussian(r));
    for (const [pd, ps] of [[5, 2], [17, 0], [3, 3], [40, 39]]) {
      const xd = Array.from({ length: d }, () => gaussian(r));
      const xs = Array.from({ length: d }, () => gaussian(r));
      const q = rope(xW(xd, wq, dh), pd, rd, 10000);
      const k = rope(xW(xs, wk, dh).map((v, j) => v + bk[j]), ps, rd, 10000);
      const direct = q.reduce((s, v, j) => s + v * k[j], 0);
      const wk2 = rotateKeyRows(wk, d, dh, rd, 10000, pd - ps);
      const bk2 = rotateKeyRows(bk, 1, dh, rd, 10000, pd - ps);
      const viaOmega = xW(xd, wq, dh).reduce((s, v, j) => s + v * (xW(xs, wk2, dh)[j] + bk2[j]), 0);
      expect(Math.abs(viaOmega - direct) / Math.max(1, Math.abs(direct))).toBeLessThan(1e-12);
    }
  });
});

test("the tiled block transpose equals the element-wise definition at shapes and blocks that are not multiples of its tile, in every stored type", async () => {
  const { transpose, transposeBlock } = await import("../../src/cli/architectures/layout");
  const makers = [(n: number) => new Float32Array(n), (n: number) => new Float64Array(n), (n: number) => new Uint16Array(n)];
  for (const [rows, cols] of [[1, 1], [3, 40], [37, 53], [128, 300], [300, 17]]) {
    for (const make of makers) {
      const blank = make(rows * cols);
      const m = blank.map((_, i) => (blank instanceof Uint16Array ? (i * 7919) & 0xffff : i * 0.5 - 7));
      const t = transpose(m, rows, cols);
      expect(t.constructor).toBe(m.constructor);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) if (t[j * rows + i] !== m[i * cols + j]) throw new Error(`${rows}×${cols} at ${i},${j}`);
      // a block: rows [r0, r1) × columns [c0, c1) → [c1 − c0, r1 − r0]
      const [r0, r1, c0, c1] = [Math.floor(rows / 3), rows, Math.floor(cols / 4), Math.max(Math.floor(cols / 4) + 1, cols - 5)];
      const b = transposeBlock(m, cols, r0, r1, c0, c1);
      expect(b.length).toBe((r1 - r0) * (c1 - c0));
      for (let i = r0; i < r1; i++) for (let j = c0; j < c1; j++) if (b[(j - c0) * (r1 - r0) + i - r0] !== m[i * cols + j]) throw new Error(`block of ${rows}×${cols} at ${i},${j}`);
    }
  }
});

test("reuseOutputs: a head's blocks reuse the previous call's arrays, with the new values; outside it every read is fresh", () => {
  const c = CASES[3]; // llama: rows and column blocks transposed
  const tensors = c.tensors();
  const ckpt = Checkpoint.open(writeCheckpoint(join(tmp, "llama-reuse"), tensors, { dtype: "BF16", config: c.config }));
  try {
    const arch = detectArchitecture(ckpt);
    const bitsOf = (w: ReturnType<Architecture["circuit"]>) => [w.W_Q, w.W_K].map((m) => ("bits" in m! ? m.bits : undefined)!);
    const fresh = [bitsOf(arch.circuit(0, 0, "qk")), bitsOf(arch.circuit(0, 1, "qk"))].map((p) => p.map((b) => Array.from(b)));
    const first = reuseOutputs(() => bitsOf(arch.circuit(0, 0, "qk")));
    const firstValues = first.map((b) => Array.from(b));
    const second = reuseOutputs(() => {
      const b = bitsOf(arch.circuit(0, 1, "qk"));
      // nested: the outer call's arrays are not handed out again
      const inner = reuseOutputs(() => bitsOf(arch.circuit(0, 0, "qk")));
      expect(inner[0]).not.toBe(b[0]);
      return b;
    });
    expect(firstValues).toEqual(fresh[0]);
    expect(second[0]).toBe(first[0]); // the same array, holding head 1's weights now
    expect(second.map((b) => Array.from(b))).toEqual(fresh[1]);
    expect(bitsOf(arch.circuit(0, 1, "qk"))[0]).not.toBe(second[0]);
  } finally {
    ckpt.close();
  }
});

describe("readRowsInto (the forward pass reads weights with it)", () => {
  // rows of 2^20 values: 2 MiB each in half precision, so 3 rows take two reads of the 4 MiB buffer
  test.each(["BF16", "F16", "F32"] as const)("%s: rows decoded into place, exactly as readRows decodes them", (dtype) => {
    const cols = 2 ** 20;
    const r = rng(5);
    const path = writeCheckpoint(join(tmp, `rows-${dtype}`), {
      w: { shape: [4, cols], data: Float64Array.from({ length: 4 * cols }, () => gaussian(r)) },
    }, { dtype });
    const ckpt = Checkpoint.open(path);
    try {
      const into = new Float32Array(3 * cols + 7).fill(-1);
      ckpt.readRowsInto("w", 1, 4, into, 5);
      expect(into.subarray(0, 5).every((v) => v === -1) && into[3 * cols + 5] === -1).toBe(true);
      expect(Buffer.from(into.slice(5, 5 + 3 * cols).buffer).equals(Buffer.from(Float32Array.from(ckpt.readRows("w", 1, 4)).buffer))).toBe(true);
    } finally {
      ckpt.close();
    }
  });
});
