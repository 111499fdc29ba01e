/**
 * The on-ramp examples (examples/export_head.ts and its Python twin export_head.py): a head exported
 * from a Hugging Face checkpoint is the body the API expects. Checked against a real local worker
 * (wrangler dev, local R2 and KV) with the real GPT-2 small weights — the answer's spectrum equals
 * LAPACK's reference — and on a synthetic Llama-layout checkpoint (nn.Linear [out, in], BF16, grouped
 * query heads) against the blocks computed here. The Python script runs only where python3 and numpy
 * are installed (CI has no numpy) and must write the same bytes as the TypeScript twin.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encodeHead, exportHead } from "../../examples/export_head";
import { decodeFloat, parseSafetensors } from "../../src/wire/safetensors";
import { fromBf16Bits, toBf16Bits, writeCheckpoint, type RawTensor } from "../support/checkpoints";
import { GPT2_PATH, gpt2Head, spectraReference } from "../support/gpt2";
import { startLocalWorker, type LocalWorker } from "../support/local-worker";
import { PROJECT_ROOT } from "../support/paths";

const tmp = mkdtempSync(join(tmpdir(), "headscope-export-"));
let worker: LocalWorker;
beforeAll(async () => {
  worker = await startLocalWorker();
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const python = spawnSync("python3", ["-c", "import numpy"]).status === 0;
const post = (path: string, body: Uint8Array) =>
  fetch(`${worker.url}${path}`, { method: "POST", body, headers: { authorization: `Bearer ${worker.token}`, "content-type": "application/octet-stream" } });
const values = (body: Uint8Array) => {
  const p = parseSafetensors(body);
  return Object.fromEntries([...p.tensors].map(([k, t]) => [k, { shape: t.shape, data: Array.from(decodeFloat(t)) }]));
};

describe("GPT-2 small (Conv1D, already [in, out]) through the real worker", () => {
  test.each([
    [0, 1, "qk", "folded_augmented"],
    [5, 7, "ov", "folded"],
  ] as const)("L%iH%i %s: the exported body's spectrum is LAPACK's", async (layer, head, circuit, variant) => {
    const body = encodeHead(exportHead(GPT2_PATH, layer, head, circuit), { source: "gpt2-small-attn.safetensors", layer: String(layer), head: String(head), circuit });
    // the same tensors as the test suite's own reader of GPT-2 (test/support/gpt2.ts)
    const mine = gpt2Head(layer, head) as unknown as Record<string, Float32Array>;
    const got = values(body);
    const names = circuit === "qk" ? ["W_Q", "W_K", "b_Q", "b_K", "ln_w", "ln_b"] : ["W_V", "W_O", "ln_w", "ln_b"];
    expect(Object.keys(got)).toEqual(names);
    for (const name of names) expect(got[name].data, name).toEqual(Array.from(mine[name]));

    const res = await post(`/v1/models/gpt2-export/layers/${layer}/heads/${head}/${circuit}`, body);
    expect(res.status).toBe(201);
    const a = (await res.json()) as { variant: { name: string }; singular_values: number[] };
    expect(a.variant.name).toBe(variant);
    const ref = (spectraReference().heads.find((h) => h.layer === layer && h.head === head) as any)[circuit][variant] as number[];
    for (let i = 0; i < 16; i++) expect(Math.abs(a.singular_values[i] - ref[i]) / ref[0]).toBeLessThan(1e-6);
  });
});

describe("a Llama-layout checkpoint (nn.Linear [out, in], BF16, 4 query heads sharing 2 key/value heads)", () => {
  const D = 16, H = 4, KV = 2, DH = 4;
  const t = (rows: number, cols: number, seed: number): RawTensor => ({
    shape: cols ? [rows, cols] : [rows],
    data: Float64Array.from({ length: rows * (cols || 1) }, (_, i) => fromBf16Bits(toBf16Bits(Math.sin(seed + 0.37 * i)))),
  });
  const tensors: Record<string, RawTensor> = {
    "model.layers.0.self_attn.q_proj.weight": t(H * DH, D, 1),
    "model.layers.0.self_attn.k_proj.weight": t(KV * DH, D, 2),
    "model.layers.0.self_attn.v_proj.weight": t(KV * DH, D, 3),
    "model.layers.0.self_attn.o_proj.weight": t(D, H * DH, 4),
    "model.layers.0.input_layernorm.weight": t(D, 0, 5),
  };
  const dir = () => writeCheckpoint(join(tmp, "llama"), tensors, { dtype: "BF16", config: { model_type: "llama", num_attention_heads: H, num_key_value_heads: KV } });
  /** rows [r0, r0 + DH) of an [out, in] matrix, transposed to [in, DH] */
  const headOf = (w: RawTensor, r0: number) => Array.from({ length: D * DH }, (_, i) => w.data[(r0 + (i % DH)) * D + Math.floor(i / DH)]);

  test("head 3 (key/value head 1): each block transposed into TransformerLens orientation; the worker takes it with norm=rmsnorm", async () => {
    const path = dir();
    const qk = encodeHead(exportHead(path, 0, 3, "qk"), {});
    const got = values(qk);
    expect(Object.keys(got)).toEqual(["W_Q", "W_K", "ln_w"]);
    expect(got.W_Q).toEqual({ shape: [D, DH], data: headOf(tensors["model.layers.0.self_attn.q_proj.weight"], 3 * DH) });
    expect(got.W_K).toEqual({ shape: [D, DH], data: headOf(tensors["model.layers.0.self_attn.k_proj.weight"], 1 * DH) });
    const ov = values(encodeHead(exportHead(path, 0, 3, "ov"), {}));
    expect(ov.W_V.data).toEqual(headOf(tensors["model.layers.0.self_attn.v_proj.weight"], 1 * DH));
    const o = tensors["model.layers.0.self_attn.o_proj.weight"];
    expect(ov.W_O).toEqual({ shape: [DH, D], data: Array.from({ length: DH * D }, (_, i) => o.data[(i % D) * H * DH + 3 * DH + Math.floor(i / D)]) });

    const res = await post("/v1/models/llama-export/layers/0/heads/3/qk?norm=rmsnorm", qk);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { variant: { name: string } }).variant.name).toBe("folded");
    // sent as Hugging Face stores it (q_proj rows, [out, in]), the worker names the transposed tensor
    const raw = encodeHead({ W_Q: { shape: [DH, D], data: Float32Array.from(tensors["model.layers.0.self_attn.q_proj.weight"].data.slice(3 * DH * D, 4 * DH * D)) }, W_K: { shape: [D, DH], data: Float32Array.from(got.W_K.data) } }, {});
    const bad = await post("/v1/models/llama-export/layers/0/heads/3/qk?bias=none", raw);
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { transposed: string[] }).transposed).toEqual(["W_Q"]);
  });

  test.skipIf(!python)("export_head.py reads the BF16 Llama layout to the same bytes", () => {
    const path = dir();
    for (const circuit of ["qk", "ov"] as const) {
      const out = join(tmp, `py-llama-${circuit}.safetensors`);
      execFileSync("python3", [join(PROJECT_ROOT, "examples/export_head.py"), path, "0", "3", circuit, out]);
      const ts = encodeHead(exportHead(path, 0, 3, circuit), { source: "model.safetensors", layer: "0", head: "3", circuit });
      expect(Buffer.compare(readFileSync(out), Buffer.from(ts))).toBe(0);
    }
  });
});

// after every request to the worker: a blocking python run lets wrangler close the idle keep-alive connection
describe("the Python twin", () => {
  test.skipIf(!python)("export_head.py writes the same bytes as export_head.ts (numpy only)", () => {
    for (const [layer, head, circuit] of [[0, 1, "qk"], [11, 3, "ov"]] as const) {
      const out = join(tmp, `py-L${layer}H${head}-${circuit}.safetensors`);
      execFileSync("python3", [join(PROJECT_ROOT, "examples/export_head.py"), GPT2_PATH, String(layer), String(head), circuit, out]);
      const ts = encodeHead(exportHead(GPT2_PATH, layer, head, circuit), { source: "gpt2-small-attn.safetensors", layer: String(layer), head: String(head), circuit });
      expect(Buffer.compare(readFileSync(out), Buffer.from(ts))).toBe(0);
    }
  });
});
