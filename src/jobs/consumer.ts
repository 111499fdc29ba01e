/**
 * @module jobs/consumer
 * The queue consumer of server-side scans. Each message is one head, circuit, variant and rotary
 * offset of a job: the head's weights are read from the checkpoint in R2 with ranged reads (the CLI's
 * architecture adapters over services/r2-checkpoint.ts), encoded exactly as the CLI encodes a request
 * body (cli/plan.ts), and handed to the per-head service (services/head-results.ts) — so the result is
 * stored under the same keys, with the same idempotency, as `POST …/heads/{h}/{qk|ov}` would store it.
 *
 * Before computing, the batch asks its job which messages should still run (not cancelled, not
 * already landed). A problem of the input (4xx) fails the head at once; anything else is retried with
 * exponential backoff (2^attempt seconds, at most 60) and, after the queue's max_retries, arrives at
 * the dead-letter queue, whose batches mark the head failed in its job. That includes a head that
 * passes its deadline (head-deadline.ts): the batch stops waiting for it, so it never blocks the queue.
 */
import pLimit from "p-limit";
import { AppError } from "../errors";
import { CheckpointError } from "../cli/checkpoint-error";
import { getKernels } from "../kernels/worker";
import { headTensors, taskQuery, type ScanTask } from "../cli/plan";
import { reportEntry } from "../cli/report";
import { headLinks } from "../routes/heads";
import { postHead } from "../services/head-results";
import { cachedCheckpoint } from "../services/scan-plan";
import { CheckpointStore } from "../storage/checkpoint-store";
import { ReadoutBasisStore } from "../storage/readout-basis-store";
import { ResultStore } from "../storage/result-store";
import { HeadOptionsSchema } from "../wire/head-request";
import { encodeSafetensors } from "../wire/safetensors";
import { ScanMessageSchema, type ScanMessage } from "../wire/scan-job";
import { DEFAULT_DEADLINE, DeadlineExceeded, withDeadline } from "../deadlines";
import { consumerTestHook } from "../test-hooks";
import { CONSUMER_CONCURRENCY, deadlineScale, headDeadlineMs } from "./head-deadline";
import type { Bindings } from "../env";
import type { Landing, TaskFailure } from "./scan-job";

/** Dead-lettered messages arrive on the queue named like this (wrangler.toml dead_letter_queue). */
const isDeadLetterQueue = (name: string) => name.endsWith("-dlq");


export const retryDelaySeconds = (attempts: number) => Math.min(60, 2 ** Math.max(1, attempts));

/**
 * Computes (or finds stored) one head of a job and returns what the job records; rejects with
 * DeadlineExceeded when opening the checkpoint (its headers, cached per isolate) takes longer than
 * the policy's base deadline, or the head longer than its own (head-deadline.ts).
 */
export async function runScanMessage(env: Bindings, m: ScanMessage): Promise<Landing> {
  const scale = deadlineScale(env);
  const open = withDeadline(cachedCheckpoint(new CheckpointStore(env.RESULTS), m), Math.ceil(DEFAULT_DEADLINE.baseMs * scale), "the checkpoint did not open within its deadline");
  const { ck, arch } = await open;
  const ms = headDeadlineMs(arch.facts, m.variant.endsWith("_augmented"), scale);
  return withDeadline(computeHead(env, m, ck, arch), ms, `head L${m.layer}H${m.head} ${m.circuit} did not finish within its deadline`);
}

async function computeHead(env: Bindings, m: ScanMessage, ck: Awaited<ReturnType<typeof cachedCheckpoint>>["ck"], arch: Awaited<ReturnType<typeof cachedCheckpoint>>["arch"]): Promise<Landing> {
  const task: ScanTask = { layer: m.layer, head: m.head, circuit: m.circuit, variant: m.variant, offset: m.offset, model: m.model };
  const weights = await ck.run(() => arch.circuit(m.layer, m.head, m.circuit));
  const body = encodeSafetensors(headTensors(arch, weights, m.circuit, m.offset));
  const options = HeadOptionsSchema.parse(Object.fromEntries(taskQuery(arch, task, m.vectors)));
  const path = { model: m.model, layer: m.layer, head: m.head, circuit: m.circuit };
  await consumerTestHook(env, `/v1/models/${m.model}/layers/${m.layer}/heads/${m.head}/${m.circuit}`);
  const { summary, computed } = await postHead(new ResultStore(env), getKernels(), path, body, options, new ReadoutBasisStore(env));
  return {
    entry: reportEntry(task, { ...summary, links: headLinks(path, summary.variant.name, summary.input.sha256, summary.vectors !== null) }, arch.kvHead(m.head)),
    computed,
    kernel: summary.kernel,
  };
}

const failureOf = (e: unknown): TaskFailure =>
  e instanceof AppError ? { type: e.type, status: e.status, detail: e.detail }
  : e instanceof CheckpointError ? { type: "invalid-request", status: 400, detail: `checkpoint: ${e.message}` }
  : e instanceof DeadlineExceeded ? { type: "timeout", detail: e.message }
  : { type: "internal", detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };

/** 4xx problems and checkpoint errors are the input's: retrying cannot help. */
const permanent = (e: unknown) => (e instanceof AppError && e.status < 500) || e instanceof CheckpointError;

export async function consumeScanBatch(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const byJob = new Map<string, Array<{ msg: Message<unknown>; body: ScanMessage }>>();
  for (const msg of batch.messages) {
    const parsed = ScanMessageSchema.safeParse(msg.body);
    if (!parsed.success) {
      console.error(`scan queue: dropping a message that is not a scan task (${parsed.error.issues[0]?.message})`);
      msg.ack();
      continue;
    }
    const list = byJob.get(parsed.data.job) ?? [];
    list.push({ msg, body: parsed.data });
    byJob.set(parsed.data.job, list);
  }
  for (const [job, items] of byJob) {
    const stub = env.SCAN_JOBS.get(env.SCAN_JOBS.idFromName(job));
    if (isDeadLetterQueue(batch.queue)) {
      for (const { msg, body } of items) {
        await stub.deadLettered(body.index);
        msg.ack();
      }
      continue;
    }
    const run = new Set(await stub.claim(items.map((i) => i.body.index)));
    // layer-major, so the adapters' layer cache serves consecutive heads
    const todo = items.filter((i) => run.has(i.body.index)).sort((a, b) => a.body.layer - b.body.layer || a.body.head - b.body.head);
    for (const i of items) if (!run.has(i.body.index)) i.msg.ack();
    // a few heads at once, so one head's storage round trips overlap another's compute
    const limit = pLimit(CONSUMER_CONCURRENCY);
    await Promise.all(todo.map(({ msg, body }) => limit(async () => {
      try {
        const landing = await runScanMessage(env, body);
        await stub.land(body.index, landing);
        msg.ack();
      } catch (e) {
        if (permanent(e)) {
          await stub.fail(body.index, failureOf(e));
          msg.ack();
        } else {
          console.error(`scan job ${job}: task ${body.index} attempt ${msg.attempts} failed: ${failureOf(e).detail}`);
          await stub.retrying(body.index, failureOf(e)).catch(() => undefined);
          msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
        }
      }
    })));
  }
}
