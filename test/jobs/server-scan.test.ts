/**
 * Server-side scans inside workerd with the real local R2, KV, Queues and Durable Objects: a checkpoint
 * uploaded through the HTTP API, a job started, the queue delivering real batches to the consumer, the
 * ScanJob writing the report.
 */
import { env } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import { encodeSafetensors } from "../../src/wire/safetensors";
import { exampleTensors, EXAMPLE } from "../../src/cli/example-model";
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
