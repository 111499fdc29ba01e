/**
 * Checkpoints in the real local R2: ranged reads at safetensors offsets decode F32, F16 and BF16
 * exactly (against values rounded to the dtype first) from one file and from a sharded checkpoint;
 * the architecture adapter reads a head through them; uploads that lie are refused.
 */
import { env } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import { detectArchitecture, floatsOf } from "../../src/cli/architectures";
import { R2Checkpoint } from "../../src/services/r2-checkpoint";
import { CheckpointStore } from "../../src/storage/checkpoint-store";
import { encodeFile, roundTo, type RawTensor, type TestDtype } from "../support/checkpoints";
import { createRng } from "../../src/analysis/random";
import { expectProblem } from "../support/worker-assertions";
import { call, getJson, sha256Hex, uploadCheckpoint, uploadShard } from "../support/server-scan";

const D = 16;
const DH = 8;
const LAYERS = 2;

function tensors(dtype: TestDtype): Array<[string, RawTensor]> {
  const g = createRng(7);
  const t = (shape: number[]): RawTensor => roundTo({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => g.normal()) }, dtype);
  const out: Array<[string, RawTensor]> = [];
  for (let l = 0; l < LAYERS; l++) {
    out.push([`h.${l}.attn.c_attn.weight`, t([D, 3 * D])], [`h.${l}.attn.c_attn.bias`, t([3 * D])], [`h.${l}.attn.c_proj.weight`, t([D, D])],
      [`h.${l}.ln_1.weight`, t([D])], [`h.${l}.ln_1.bias`, t([D])]);
  }
  return out;
}

async function open(id: string) {
  const store = new CheckpointStore(env.RESULTS);
  const { body: manifest } = await getJson(`/v1/checkpoints/${id}`);
  return R2Checkpoint.open(store, manifest);
}

async function expectExact(ck: R2Checkpoint, all: Array<[string, RawTensor]>) {
  for (const [name, t] of all) {
    expect(Array.from(await ck.run(() => ck.read(name))), name).toEqual(Array.from(t.data));
    if (t.shape.length === 2) {
      const [rows, cols] = t.shape;
      const got = await ck.run(() => ck.readRows(name, 3, rows - 2));
      expect(Array.from(got), `${name} rows`).toEqual(Array.from(t.data.subarray(3 * cols, (rows - 2) * cols)));
    }
  }
}

describe("ranged reads", () => {
  for (const dtype of ["F32", "F16", "BF16"] as const) {
    test(`${dtype}: every tensor and row range decodes exactly; the adapter reads a head`, async () => {
      const all = tensors(dtype);
      const id = await uploadCheckpoint(`reads-${dtype}`, { "model.safetensors": encodeFile(all, dtype) }, { config: { model_type: "gpt2", n_head: 2 } });
      const ck = await open(id);
      expect(ck.dtypes()).toEqual([dtype]);
      await expectExact(ck, all);
      const arch = detectArchitecture(ck);
      expect(arch.facts).toMatchObject({ architecture: "gpt2", n_layers: LAYERS, n_heads: 2, d_head: DH });
      const w = await ck.run(() => arch.head(1, 1));
      const proj = all.find(([n]) => n === "h.1.attn.c_proj.weight")![1].data;
      expect(Array.from(floatsOf(w.W_O))).toEqual(Array.from(proj.subarray(DH * D, 2 * DH * D)));
      const bias = all.find(([n]) => n === "h.1.attn.c_attn.bias")![1].data;
      expect(Array.from(w.b_K!)).toEqual(Array.from(bias.subarray(D + DH, D + 2 * DH)));
    });
  }

  test("a sharded BF16 checkpoint (3 shards and the index's weight map) reads the same", async () => {
    const all = tensors("BF16");
    const files: Record<string, Uint8Array> = {};
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < 3; s++) {
      const file = `model-0000${s + 1}-of-00003.safetensors`;
      const mine = all.filter((_, i) => i % 3 === s);
      for (const [n] of mine) weightMap[n] = file;
      files[file] = encodeFile(mine, "BF16");
    }
    const id = await uploadCheckpoint("reads-sharded", files, { weight_map: weightMap, config: { model_type: "gpt2", n_head: 2 } });
    const ck = await open(id);
    expect(ck.names().sort()).toEqual(all.map(([n]) => n).sort());
    await expectExact(ck, all);
  });
});

describe("uploads that are refused", () => {
  test("bytes that do not hash to the shard's name are discarded", async () => {
    const bytes = encodeFile(tensors("F32"), "F32");
    const claimed = await sha256Hex(new Uint8Array([1, 2, 3]));
    const start = (await (await call("POST", `/v1/checkpoints/blobs/${claimed}/uploads`)).json()) as any;
    const part = (await (await call("PUT", `/v1/checkpoints/blobs/${claimed}/uploads/${start.upload_id}/parts/1`, bytes, { "content-length": String(bytes.length) })).json()) as any;
    const res = await call("POST", `/v1/checkpoints/blobs/${claimed}/uploads/${start.upload_id}/complete`, JSON.stringify({ parts: [part] }));
    await expectProblem(res, 400, "invalid-request");
    expect(await new CheckpointStore(env.RESULTS).blobBytes(claimed)).toBeUndefined();
  });

  test("registering a checkpoint whose shard was never uploaded stores no manifest", async () => {
    const before = (await getJson("/v1/checkpoints")).body.checkpoints.length;
    const res = await call("POST", "/v1/checkpoints", JSON.stringify({ name: "ghost", files: [{ name: "model.safetensors", sha256: "ab".repeat(32), bytes: 100 }] }));
    const p = await expectProblem(res, 400, "invalid-request");
    expect(p.reason).toBe("missing-shards");
    expect((await getJson("/v1/checkpoints")).body.checkpoints.length).toBe(before);
  });

  test("a shard that is not safetensors is refused at registration", async () => {
    const junk = new Uint8Array(64).fill(7);
    const { sha256 } = await uploadShard(junk);
    const res = await call("POST", "/v1/checkpoints", JSON.stringify({ name: "junk", files: [{ name: "model.safetensors", sha256, bytes: 64 }] }));
    await expectProblem(res, 400, "malformed-safetensors");
  });
});
