/**
 * Half-precision checkpoints are sent as they are stored: the head bodies of a BF16 (or F16)
 * checkpoint carry the weights' bits, half the bytes of F32, and the worker's result equals the one
 * the F32 body of the same values gives (singular values and vectors, bit for bit). A result that an
 * earlier version stored from the F32 body is recognised by a resume, reported as stored, never
 * refused as another input; a second resume reads no weights at all.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { detectArchitecture } from "../../src/cli/architectures";
import { Checkpoint } from "../../src/cli/checkpoint";
import { startLocalWorker } from "../../src/cli/local-worker";
import { headBody, planTasks, taskUrl, widened } from "../../src/cli/plan";
import { parseSafetensors } from "../../src/wire/safetensors";
import { ROOT, runCli } from "../support/cli";
import { writeCheckpoint, type RawTensor, type TestDtype } from "../support/checkpoints";
import { gaussian, rng } from "../support/matrices";

const tmp = mkdtempSync(join(tmpdir(), "headscope-half-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const D = 48, NH = 4, NKV = 2, DH = 12;
const r = rng(5);
const rand = (...shape: number[]): RawTensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0.3 * gaussian(r)) });
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function llama(dtype: TestDtype, name: string): string {
  const t: Record<string, RawTensor> = {};
  for (let l = 0; l < 2; l++) {
    t[`model.layers.${l}.input_layernorm.weight`] = { shape: [D], data: Float64Array.from({ length: D }, () => 1 + 0.2 * gaussian(r)) };
    t[`model.layers.${l}.self_attn.q_proj.weight`] = rand(NH * DH, D);
    t[`model.layers.${l}.self_attn.k_proj.weight`] = rand(NKV * DH, D);
    t[`model.layers.${l}.self_attn.v_proj.weight`] = rand(NKV * DH, D);
    t[`model.layers.${l}.self_attn.o_proj.weight`] = rand(D, NH * DH);
  }
  return writeCheckpoint(join(tmp, name), t, { dtype, shards: 2, config: { model_type: "llama", num_attention_heads: NH, num_key_value_heads: NKV } });
}

test.each(["BF16", "F16"] as const)("%s: bodies carry the stored bits and give the F32 body's result; a result stored from the F32 body is resumed", async (dtype) => {
  const path = llama(dtype, `llama-${dtype}`);
  const ckpt = Checkpoint.open(path);
  const arch = detectArchitecture(ckpt);
  const tasks = planTasks(arch, { model: "half", circuits: ["qk", "ov"], layers: [0, 1], heads: [0, 1, 2, 3], variants: ["default"], offsets: [0] });
  const worker = await startLocalWorker({ root: ROOT, stateDir: join(tmp, `state-${dtype}`) });
  try {
    const post = async (url: string, body: Uint8Array) => {
      const res = await fetch(url, { method: "POST", body, headers: { authorization: `Bearer ${worker.token}`, "content-type": "application/octet-stream" } });
      expect(res.status, await res.clone().text()).toBe(201);
      return (await res.json()) as { singular_values: number[]; input: { sha256: string; dtypes: Record<string, string> }; links: { vectors: string } };
    };
    // every big matrix of every circuit is sent in the checkpoint's dtype; the F32 body of earlier versions holds the same values
    for (const c of ["qk", "ov"] as const) {
      const w = arch.circuit(1, 2, c);
      const half = parseSafetensors(headBody(arch, w, c, 0));
      const full = parseSafetensors(headBody(arch, widened(w)!, c, 0));
      for (const name of c === "qk" ? ["W_Q", "W_K"] : ["W_V", "W_O"]) {
        expect(half.tensors.get(name)!.dtype).toBe(dtype);
        expect(full.tensors.get(name)!.dtype).toBe("F32");
        expect(half.tensors.get(name)!.bytes.byteLength * 2).toBe(full.tensors.get(name)!.bytes.byteLength);
      }
    }

    // the same head from either body, under two model names: the same spectrum and the same vectors
    const task = tasks.find((t) => t.layer === 0 && t.head === 1 && t.circuit === "qk")!;
    const w = arch.circuit(0, 1, "qk");
    const legacy = headBody(arch, widened(w)!, "qk", 0);
    const fromLegacy = await post(taskUrl(worker.url, arch, task).post, legacy);
    const fromBits = await post(taskUrl(worker.url, arch, { ...task, model: "half-bits" }).post, headBody(arch, w, "qk", 0));
    expect(fromBits.input.dtypes.W_Q).toBe(dtype);
    expect(fromLegacy.input.dtypes.W_Q).toBe("F32");
    expect(fromBits.singular_values).toEqual(fromLegacy.singular_values);
    const vectors = async (link: string) => new Uint8Array(await (await fetch(new URL(link, worker.url))).arrayBuffer());
    const [vBits, vLegacy] = await Promise.all([vectors(fromBits.links.vectors), vectors(fromLegacy.links.vectors)]);
    const tensor = (b: Uint8Array, n: string) => Array.from(parseSafetensors(b).tensors.get(n)!.bytes);
    for (const n of ["U", "S", "V"]) expect(tensor(vBits, n)).toEqual(tensor(vLegacy, n));

    // a scan of model "half" finds the result stored from the F32 body: stored, not a 409
    const out = join(tmp, `out-${dtype}`);
    const args = ["scan", path, "--out", out, "--model-name", "half", "--endpoint", worker.url, "--token", worker.token, "--progress", "quiet", "--no-html"];
    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    const run1 = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect([run1.stored, run1.computed, run1.failed]).toEqual([1, tasks.length - 1, 0]);
    const entry = JSON.parse(readFileSync(join(out, "report.json"), "utf8")).entries.find((e: any) => e.layer === 0 && e.head === 1 && e.circuit === "qk");
    expect(entry.input_sha256).toBe(sha(legacy));
    const report1 = readFileSync(join(out, "report.json"), "utf8");

    // and a resume reads no weights: every hash is known, every result stored
    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    const run2 = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect([run2.stored, run2.computed]).toEqual([tasks.length, 0]);
    expect(run2.profile.hash_cache_hits).toBe(tasks.length);
    expect(run2.profile.steps.read ?? 0).toBe(0);
    expect(readFileSync(join(out, "report.json"), "utf8")).toBe(report1);
  } finally {
    ckpt.close();
    await worker.stop();
  }
}, 120_000);
