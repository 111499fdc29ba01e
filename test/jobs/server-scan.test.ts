/**
 * Server-side scans inside workerd with the real local R2, KV, Queues and Durable Objects: a checkpoint
 * uploaded through the HTTP API, a job started, the queue delivering real batches to the consumer, the
 * ScanJob writing the report.
 */
import { env } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import { encodeSafetensors } from "../../src/wire/safetensors";
import { exampleTensors, EXAMPLE } from "../../src/cli/example-model";
import { detectArchitecture } from "../../src/cli/architectures";
import { headBody, planTasks, taskQuery } from "../../src/cli/plan";
import { R2Checkpoint } from "../../src/services/r2-checkpoint";
import { CheckpointStore } from "../../src/storage/checkpoint-store";
import { call, getJson, startJob, uploadCheckpoint, uploadShard, waitForJob } from "../support/server-scan";

const exampleBytes = () => encodeSafetensors(exampleTensors(), { format: "pt", generator: "headscope example-model" });
const CONFIG = { model_type: "gpt2", n_layer: EXAMPLE.layers, n_head: EXAMPLE.heads, n_embd: EXAMPLE.dModel, layer_norm_epsilon: 1e-5 };

describe("server-side scan of the example model", () => {
  test("every head lands once; the report is written; per-head POSTs find the same results stored", async () => {
    const id = await uploadCheckpoint("example-tiny-gpt2", { "model.safetensors": exampleBytes() }, { config: CONFIG });
    const { status, body: job } = await startJob({ checkpoint: id });
    expect(status, JSON.stringify(job)).toBe(201);
    expect(job.planned).toBe(EXAMPLE.layers * EXAMPLE.heads * 2);
    const done = await waitForJob(job.id);
    expect(done).toMatchObject({ state: "finished", done: 32, computed: 32, failed: 0, report: "written" });
    const report = await getJson(`/v1/scans/${job.id}/report`);
    expect(report.status).toBe(200);
    expect(report.body.entries).toHaveLength(32);
    expect(report.body.scan.endpoint).toBe("server-side");
    const kv = await env.JOBS.list({ prefix: "svd/v1/example-tiny-gpt2/" });
    expect(kv.keys).toHaveLength(32);
    // the client-coordinated request for a head (the CLI's body and query) finds the job's result stored
    const { body: manifest } = await getJson(`/v1/checkpoints/${id}`);
    const ck = await R2Checkpoint.open(new CheckpointStore(env.RESULTS), manifest);
    const arch = detectArchitecture(ck);
    await ck.run(() => arch.head(0, 0), true); // planTasks probes head 0 inside a try: its bytes must be at hand
    const tasks = planTasks(arch, { model: "example-tiny-gpt2", circuits: ["qk", "ov"], layers: [3], heads: [2], variants: ["default"], offsets: [0] });
    ck.release();
    expect(tasks.map((t) => t.variant)).toEqual(["folded_augmented", "folded"]);
    for (const task of tasks) {
      const w = await ck.run(() => arch.head(task.layer, task.head));
      const res = await call("POST", `/v1/models/example-tiny-gpt2/layers/3/heads/2/${task.circuit}?${taskQuery(arch, task)}`, headBody(arch, w, task.circuit, 0));
      const a = (await res.json()) as any;
      expect(res.status).toBe(200);
      expect(a.computed).toBe(false);
      const entry = report.body.entries.find((e: any) => e.layer === 3 && e.head === 2 && e.circuit === task.circuit);
      expect(entry.input_sha256).toBe(a.input.sha256);
      expect(entry.singular_values).toEqual(a.singular_values);
    }
  });
});

describe("the vectors policy of a job", () => {
  test("vectors none: every head's spectrum and checks are stored, no U and V; the report says so", async () => {
    const id = await uploadCheckpoint("example-tiny-gpt2", { "model.safetensors": exampleBytes() }, { config: CONFIG });
    const { status, body: job } = await startJob({ checkpoint: id, model: "spectra-only", vectors: "none" });
    expect(status, JSON.stringify(job)).toBe(201);
    const done = await waitForJob(job.id);
    expect(done).toMatchObject({ state: "finished", done: 32, failed: 0, report: "written" });
    const report = (await getJson(`/v1/scans/${job.id}/report`)).body;
    expect(report.scan.vectors).toBe("none");
    expect(report.entries.every((e: any) => e.vectors === null && e.singular_values.length > 0)).toBe(true);
    expect((await env.JOBS.list({ prefix: "svd/v1/spectra-only/" })).keys).toHaveLength(32);
    expect((await env.RESULTS.list({ prefix: "results/v1/spectra-only/" })).objects).toHaveLength(0);
  });
});

describe("checkpoints", () => {
  test("a shard already stored is not sent again; listing shows the checkpoint", async () => {
    const bytes = exampleBytes();
    const first = await uploadShard(bytes);
    const again = await uploadShard(bytes);
    expect(again).toEqual({ sha256: first.sha256, sent: false });
    const id = await uploadCheckpoint("example-tiny-gpt2", { "model.safetensors": bytes }, { config: CONFIG });
    const list = await getJson("/v1/checkpoints");
    expect(list.body.checkpoints.map((c: any) => c.id)).toContain(id);
  });
});
