/**
 * Scan jobs inside workerd with the real local Queues and Durable Objects: bad jobs are refused with
 * problems and create nothing; a cancelled job stops sending; redelivered batches and consumers that
 * fail in the middle of a batch leave exactly one result per head.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, test, vi } from "vitest";
import worker from "../../src/worker";
import { exampleTensors, EXAMPLE } from "../../src/cli/example-model";
import { ScanJob } from "../../src/jobs/scan-job";
import { planScan } from "../../src/services/scan-plan";
import { CheckpointStore } from "../../src/storage/checkpoint-store";
import { ResultStore } from "../../src/storage/result-store";
import { encodeSafetensors } from "../../src/wire/safetensors";
import { ScanJobRequestSchema, type ScanMessage } from "../../src/wire/scan-job";
import { expectProblem } from "../support/worker-assertions";
import { call, getJson, startJob, uploadCheckpoint, waitForJob } from "../support/server-scan";

const CONFIG = { model_type: "gpt2", n_layer: EXAMPLE.layers, n_head: EXAMPLE.heads, n_embd: EXAMPLE.dModel, layer_norm_epsilon: 1e-5 };
const example = () => uploadCheckpoint("example-tiny-gpt2", { "model.safetensors": encodeSafetensors(exampleTensors(), { format: "pt" }) }, { config: CONFIG });
const kvCount = async (model: string) => (await env.JOBS.list({ prefix: `svd/v1/${model}/` })).keys.length;
const r2Count = async (model: string) => (await env.RESULTS.list({ prefix: `results/v1/${model}/` })).objects.length;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("bad jobs are refused and create nothing", () => {
  const cases: Array<[string, Record<string, unknown> | string, number, string]> = [
    ["unknown checkpoint", { checkpoint: "cd".repeat(32) }, 404, "not-found"],
    ["not JSON", "{nope", 400, "invalid-request"],
    ["an unknown option", { checkpoint: "CKPT", vectors_please: true }, 400, "invalid-request"],
    ["layers out of range", { checkpoint: "CKPT", layers: "0-9" }, 400, "invalid-request"],
    ["an unknown circuit", { checkpoint: "CKPT", circuits: "qk,xy" }, 400, "invalid-request"],
    ["an unknown variant", { checkpoint: "CKPT", variants: "folded,twisted" }, 400, "invalid-request"],
    ["rotary offsets on GPT-2", { checkpoint: "CKPT", rotary_offsets: "0,4" }, 400, "invalid-request"],
    ["an unknown vectors policy", { checkpoint: "CKPT", vectors: "f8" }, 400, "invalid-request"],
    ["the wrong architecture", { checkpoint: "CKPT", arch: "llama" }, 400, "invalid-request"],
    ["a bad model name", { checkpoint: "CKPT", model: "../x" }, 400, "invalid-request"],
    ["no variant applies", { checkpoint: "CKPT", circuits: "ov", variants: "raw_augmented" }, 400, "invalid-request"],
  ];
  for (const [what, body, status, type] of cases) {
    test(what, async () => {
      const id = await example();
      const before = (await listDurableObjectIds(env.SCAN_JOBS)).length;
      const text = typeof body === "string" ? body : JSON.stringify({ ...body, checkpoint: body.checkpoint === "CKPT" ? id : body.checkpoint, model: body.model ?? "refused" });
      const res = await call("POST", "/v1/scans", text, { "content-type": "application/json" });
      await expectProblem(res, status, type);
      expect((await listDurableObjectIds(env.SCAN_JOBS)).length).toBe(before);
      expect(await kvCount("refused")).toBe(0);
    });
  }

  test("without the token: 401", async () => {
    const res = await exports.default.fetch(new Request("https://headscope.test/v1/scans", { method: "POST", body: "{}" }));
    await expectProblem(res, 401, "unauthorized");
  });
});

describe("cancel", () => {
  test("a cancelled job sends nothing more and computes nothing more", async () => {
    const id = await example();
    const { body: job } = await startJob({ checkpoint: id, model: "cancelled-model" });
    expect(job.enqueued).toBe(8); // SCAN_WINDOW in the test configuration
    const res = await call("DELETE", `/v1/scans/${job.id}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).state).toBe("cancelled");
    await new Promise((r) => setTimeout(r, 3000)); // the queue delivers its batches meanwhile
    const after = (await getJson(`/v1/scans/${job.id}`)).body;
    expect(after).toMatchObject({ state: "cancelled", planned: 32, enqueued: 8, report: "none" });
    expect(await kvCount("cancelled-model")).toBe(after.done);
    expect(after.done).toBeLessThanOrEqual(8);
    await expectProblem(await call("GET", `/v1/scans/${job.id}/report`), 404, "not-found");
  });
});

/** A job created straight through its Durable Object, its messages captured instead of sent. */
async function capturedJob(model: string) {
  const ckpt = await example();
  const plan = await planScan(new CheckpointStore(env.RESULTS), ScanJobRequestSchema.parse({ checkpoint: ckpt, model }));
  const id = crypto.randomUUID();
  const stub = env.SCAN_JOBS.get(env.SCAN_JOBS.idFromName(id));
  const sent: ScanMessage[] = [];
  await runInDurableObject(stub, (instance) => {
    const queue = (instance as unknown as { env: typeof env }).env.SCAN_QUEUE;
    vi.spyOn(queue, "sendBatch").mockImplementation(async (msgs) => {
      for (const m of msgs) sent.push(m.body as ScanMessage);
      return undefined as never;
    });
  });
  const f = plan.opened.arch.facts;
  await stub.create(
    {
      id, checkpoint: ckpt, model, arch: plan.opened.archName, overrides: {}, files: ["model.safetensors"], dtypes: ["F32"], facts: f,
      kvHeadOf: [...Array(f.n_heads).keys()], options: plan.options,
    },
    plan.tasks,
  );
  // the first window; landings top the queue up, so `sent` grows as heads land
  return { id, stub, sent, wave: sent.slice() };
}

async function deliver(messages: ScanMessage[], attempts = 1) {
  const batch = createMessageBatch<ScanMessage>(
    "headscope-scan",
    messages.map((body, i) => ({ id: `m${i}-${attempts}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, env);
  return getQueueResult(batch, ctx);
}

describe("redelivery and consumers failing mid-batch", () => {
  test("a batch delivered twice computes each head once and counts it once", async () => {
    const { id, wave: sent, sent: all } = await capturedJob("redelivered");
    expect(sent).toHaveLength(8);
    const first = await deliver(sent);
    expect(first.explicitAcks).toHaveLength(8);
    expect(all).toHaveLength(16); // eight landed, so eight more were sent
    const put = vi.spyOn(ResultStore.prototype, "put");
    const again = await deliver(sent, 2);
    expect(again.explicitAcks).toHaveLength(8);
    expect(put).not.toHaveBeenCalled();
    const s = (await getJson(`/v1/scans/${id}`)).body;
    expect(s).toMatchObject({ done: 8, computed: 8, failed: 0 });
    expect(await kvCount("redelivered")).toBe(8);
    expect(await r2Count("redelivered")).toBe(8);
  });

  test("storage failing in the middle of a batch: those heads retry; after redelivery, one result per head", async () => {
    const { id, wave: sent } = await capturedJob("crashing");
    const real = ResultStore.prototype.put;
    // the third and sixth heads of the batch fail once (chosen by head, not by call order: the consumer
    // runs several heads at once, so the order of its writes is not the order of the batch)
    const headOf = (l: number, h: number, c: string, v: string) => `${l}/${h}/${c}/${v}`;
    const failing = new Set([sent[2], sent[5]].map((m) => headOf(m.layer, m.head, m.circuit, m.variant)));
    vi.spyOn(ResultStore.prototype, "put").mockImplementation(function (this: ResultStore, ...args) {
      const [p, summary] = args;
      if (failing.delete(headOf(p.layer, p.head, p.circuit, summary.variant.name))) throw new Error("R2 went away");
      return real.apply(this, args);
    });
    const first = await deliver(sent);
    expect(first.retryMessages.map((m: { msgId: string }) => m.msgId).sort()).toEqual(["m2-1", "m5-1"]);
    // the platform redelivers the whole batch (as after a crash that lost the acks)
    const second = await deliver(sent, 2);
    expect(second.retryMessages).toHaveLength(0);
    const s = (await getJson(`/v1/scans/${id}`)).body;
    expect(s).toMatchObject({ done: 8, failed: 0, retries: 2 });
    expect(await kvCount("crashing")).toBe(8);
    expect(await r2Count("crashing")).toBe(8);
  });

  test("a consumer that throws after storing (before its job heard) loses nothing and stores nothing twice", async () => {
    const { id, wave: sent } = await capturedJob("thrown");
    let landed = 0;
    const land = ScanJob.prototype.land;
    vi.spyOn(ScanJob.prototype, "land").mockImplementation(async function (this: ScanJob, i, l) {
      if (++landed === 4) throw new Error("consumer crashed");
      return land.call(this, i, l);
    });
    const first = await deliver(sent);
    expect(first.retryMessages).toHaveLength(1);
    await deliver(sent, 2);
    const s = (await getJson(`/v1/scans/${id}`)).body;
    expect(s).toMatchObject({ done: 8, computed: 7, stored: 1, failed: 0 });
    expect(await kvCount("thrown")).toBe(8);
    expect(await r2Count("thrown")).toBe(8);
  });

  test("a stalled job (its messages lost) sends its heads in flight again; nothing is counted twice", async () => {
    const { id, stub, sent, wave } = await capturedJob("stalled");
    expect(sent).toHaveLength(8);
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE meta SET v = '0' WHERE k = 'progress_at'");
    });
    const s = (await getJson(`/v1/scans/${id}`)).body;
    expect(s).toMatchObject({ resent: 8, enqueued: 8, done: 0 });
    expect(sent.slice(8).map((m) => m.index)).toEqual(wave.map((m) => m.index));
    await deliver(sent.slice(8, 16));
    await deliver(wave, 2); // the copies that were not lost after all
    const after = (await getJson(`/v1/scans/${id}`)).body;
    expect(after).toMatchObject({ done: 8, computed: 8, resent: 8 });
    expect(await kvCount("stalled")).toBe(8);
  });

  test("dead-lettered heads are failed in their job with the last error", async () => {
    const { id, wave: sent } = await capturedJob("dead");
    vi.spyOn(ResultStore.prototype, "put").mockImplementation(async () => {
      throw new Error("R2 is down for good");
    });
    await deliver(sent.slice(0, 1));
    const batch = createMessageBatch<ScanMessage>("headscope-scan-dlq", [{ id: "d0", timestamp: new Date(), attempts: 1, body: sent[0] }]);
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, env);
    await getQueueResult(batch, ctx);
    const s = (await getJson(`/v1/scans/${id}`)).body;
    expect(s).toMatchObject({ failed: 1, dead_lettered: 1 });
    expect(s.failures[0].type).toBe("dead-lettered");
    expect(s.failures[0].detail).toMatch(/R2 is down for good/);
  });
});
