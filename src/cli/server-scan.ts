/**
 * @module cli/server-scan
 * `headscope scan CHECKPOINT --server-side` and `headscope scan --job ID`: the scan runs on the
 * worker's own fan-out (checkpoint in R2, one queue message per head, a Durable Object per job) while
 * this machine only uploads what is missing, starts the job, follows its progress and writes
 * report.json, report.html and run.json from the report the job wrote. Without --endpoint the local
 * worker (Miniflare: local R2, KV, Queues and Durable Objects) runs it, so no account is needed.
 */
import { TokenRejected } from "./token";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureExampleCheckpoint, EXAMPLE } from "./example-model";
import { startLocalWorker, type LocalWorker } from "./local-worker";
import { createProgress } from "./progress";
import type { Report } from "./report";
import { renderReportHtml } from "./report-html";
import { defaultModelName, UsageError, type ScanOptions, type ScanResult } from "./scan";
import { ServerApi, ServerProblem } from "./server-api";
import { DEFAULT_DEADLINE } from "../deadlines";
import { DEFAULT_RETRY } from "./fan-out";
import { uploadCheckpoint } from "./upload";
import { MODEL_NAME } from "../wire/head-request";
import type { ScanJobStatus } from "../wire/scan-job";

export interface ServerScanOptions extends ScanOptions {
  /** follow this job instead of starting one */
  job?: string;
  /** status polls, ms (default 500 locally, 2,000 remote) */
  pollMs?: number;
}

/** The longest delay a consumer puts between a head's attempts (jobs/consumer.ts retryDelaySeconds). */
const MAX_RETRY_DELAY_MS = 60_000;

/**
 * How long a followed job may show no activity before the CLI stops following it:
 * stallAfter × (the consumer's deadline for the largest head + the longest retry delay). Workers
 * older than head_deadline_ms get the deadline of a Llama-70B-sized head.
 */
export function followStallMs(status: Pick<ScanJobStatus, "head_deadline_ms">, scale: number): number {
  const head = status.head_deadline_ms ?? scale * 15 * 60_000;
  return DEFAULT_DEADLINE.stallAfter * (head + MAX_RETRY_DELAY_MS);
}

/** Starts the local worker unless an endpoint is given; returns the API and a stop function. */
export async function connect(
  o: Pick<ScanOptions, "endpoint" | "token" | "root" | "stateDir" | "deadlineScale"> & Partial<Pick<ScanOptions, "retries" | "retryBaseMs">>,
  log: (s: string) => void,
) {
  let worker: LocalWorker | undefined;
  let endpoint = o.endpoint?.replace(/\/$/, "");
  let token = o.token ?? process.env.HEADSCOPE_TOKEN;
  const scale = o.deadlineScale ?? 1;
  if (!endpoint) {
    // the local worker's queue consumer takes the same --deadline-scale (SCAN_DEADLINE_SCALE)
    worker = await startLocalWorker({ root: o.root, stateDir: o.stateDir ?? join(o.root, ".wrangler/state"), deadlineScale: scale, processes: 1 });
    endpoint = worker.url;
    token = worker.token;
    log(`local worker on ${endpoint} (workerd; R2, KV, Queues and Durable Objects under ${o.stateDir ?? ".wrangler/state"})`);
  } else if (!token) {
    throw new UsageError("--endpoint needs a write token: --token or HEADSCOPE_TOKEN");
  }
  const policy = {
    ...DEFAULT_RETRY, retries: o.retries ?? DEFAULT_RETRY.retries, baseDelayMs: o.retryBaseMs ?? DEFAULT_RETRY.baseDelayMs, deadline: { ...DEFAULT_DEADLINE, scale },
  };
  return { api: new ServerApi(endpoint, token, policy, worker?.supervision), worker };
}

export async function runServerScan(o: ServerScanOptions, log: (s: string) => void = (s) => process.stderr.write(s + "\n")): Promise<ScanResult> {
  const t0 = Date.now();
  let worker: LocalWorker | undefined;
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  try {
    if (o.localProcesses !== undefined) {
      throw new UsageError("--local-processes applies to client-coordinated scans: a server-side scan runs on the local worker's queue, in its one storage-owning process");
    }
    let model: string | undefined;
    let path: string | undefined;
    if (!o.job) {
      const example = o.checkpoint === undefined;
      path = example ? ensureExampleCheckpoint(join(o.root, "build/example", EXAMPLE.name)) : o.checkpoint!;
      model = o.modelName ?? (example ? EXAMPLE.name : defaultModelName(path));
      if (!MODEL_NAME.test(model)) throw new UsageError(`--model-name ${JSON.stringify(model)} must match ${MODEL_NAME.source}`);
      if (o.activations) throw new UsageError("--activations (SAD) is not supported with --server-side yet: run the client-coordinated scan");
    }
    const conn = await connect(o, log);
    worker = conn.worker;
    const api = conn.api;

    let status: ScanJobStatus;
    if (o.job) {
      status = (await api.call<ScanJobStatus>("GET", `/v1/scans/${encodeURIComponent(o.job)}`)).body;
      log(`following job ${status.id} (${status.model}, ${status.planned} heads)`);
    } else {
      const up = await uploadCheckpoint(path!, model!, api, join(o.stateDir ?? join(o.root, ".wrangler/state"), "headscope-uploads"), log);
      log(
        `checkpoint ${up.manifest.id.slice(0, 12)}… (${up.manifest.files.length} file(s), ${(up.manifest.bytes / 2 ** 20).toFixed(1)} MiB): ` +
          `${up.sent.length} sent (${(up.bytesSent / 2 ** 20).toFixed(1)} MiB), ${up.skipped.length} already stored`,
      );
      const body = {
        checkpoint: up.manifest.id, model, circuits: o.circuits, layers: o.layers, heads: o.heads, variants: o.variants, rotary_offsets: o.rotaryOffsets,
        vectors: o.vectors ?? "f32",
        ...(o.arch ? { arch: o.arch } : {}), ...(o.nHeads ? { n_heads: o.nHeads } : {}), ...(o.nKvHeads ? { n_kv_heads: o.nKvHeads } : {}),
        ...(o.rotaryDim !== undefined ? { rotary_dim: o.rotaryDim } : {}), ...(o.rotaryBase !== undefined ? { rotary_base: o.rotaryBase } : {}),
      };
      status = (await api.call<ScanJobStatus>("POST", "/v1/scans", body)).body;
      log(`job ${status.id}: ${status.planned} heads on the worker's queue (follow again with: headscope scan --job ${status.id})`);
    }

    // ── follow ──
    process.on("SIGINT", onSigint);
    const progress = createProgress(status.planned, o.progress);
    const poll = o.pollMs ?? (worker ? 500 : 2000);
    // a job whose heads neither land, fail nor retry for stallAfter × (the consumer's deadline for
    // its largest head + the longest retry delay) is not making progress: stop following (it can be
    // followed again) instead of waiting for ever
    const activity = (s: ScanJobStatus) => `${s.done}/${s.failed}/${s.retries}`;
    let seen = activity(status);
    let since = Date.now();
    let stalledFor: number | undefined;
    while (status.state === "running" && !interrupted) {
      progress.update(status.done + status.failed, { computed: status.computed, stored: status.stored, failed: status.failed, retries: status.retries });
      await new Promise((r) => setTimeout(r, poll));
      status = (await api.call<ScanJobStatus>("GET", `/v1/scans/${status.id}`)).body;
      if (activity(status) !== seen) {
        seen = activity(status);
        since = Date.now();
      } else if (Date.now() - since > followStallMs(status, o.deadlineScale ?? 1)) {
        stalledFor = Date.now() - since;
        break;
      }
    }
    // the report lands right after the last head
    for (let i = 0; status.state === "finished" && status.report === "pending" && i < 120 && !interrupted; i++) {
      await new Promise((r) => setTimeout(r, poll));
      status = (await api.call<ScanJobStatus>("GET", `/v1/scans/${status.id}`)).body;
    }
    progress.update(status.done + status.failed, { computed: status.computed, stored: status.stored, failed: status.failed, retries: status.retries });
    progress.stop();
    process.off("SIGINT", onSigint);
    if (stalledFor !== undefined) {
      log(
        `headscope scan: job ${status.id} made no progress for ${(stalledFor / 1000).toFixed(0)} s (no head landed, failed or was retried): ` +
          `the worker's queue is not running it. ${status.done} of ${status.planned} heads done. ` +
          `Follow it again with: headscope scan --job ${status.id}${worker ? " (with the same --state)" : ""}`,
      );
      return { exitCode: 1 };
    }
    if (interrupted) {
      log(`stopped following job ${status.id}${worker ? " (the local worker stops with this command, so the job pauses)" : " (it keeps running on the worker)"}; follow again with: headscope scan --job ${status.id}`);
      return { exitCode: 130 };
    }
    if (status.state === "cancelled") {
      log(`job ${status.id} was cancelled after ${status.done} of ${status.planned} heads`);
      return { exitCode: 1 };
    }
    const report = (await api.call<Report>("GET", `/v1/scans/${status.id}/report`)).body;
    if (worker) {
      await worker.stop();
      worker = undefined;
    }
    const out = resolve(o.out ?? join("out", report.model));
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "report.json"), JSON.stringify(report, null, 1) + "\n");
    if (o.html) writeFileSync(join(out, "report.html"), renderReportHtml(report));
    const seconds = (Date.now() - t0) / 1000;
    const counts = { computed: status.computed, stored: status.stored, failed: status.failed, retries: status.retries };
    writeFileSync(
      join(out, "run.json"),
      JSON.stringify({ schema: "headscope.scan-run/v1", model: report.model, server_side: { job: status.id, started: status.started, finished: status.finished, dead_lettered: status.dead_lettered }, tasks: status.planned, ...counts, timeouts: api.timeouts, interrupted: false, seconds }, null, 1) + "\n",
    );
    log(`done in ${seconds.toFixed(1)} s: ${counts.computed} computed, ${counts.stored} already stored, ${counts.failed} failed, ${counts.retries} retries → ${join(out, "report.json")}${o.html ? ", report.html" : ""}`);
    for (const f of status.failures) log(`  ${f.label}: ${f.type}${f.status ? ` (${f.status})` : ""}: ${f.detail}`);
    return { exitCode: status.failed ? 1 : 0, out, counts: { ...counts, tasks: status.planned } };
  } catch (e) {
    if (e instanceof UsageError || e instanceof ServerProblem || e instanceof TokenRejected || (e instanceof Error && e.name === "CheckpointError") || (e instanceof Error && e.name === "MalformedSafetensors")) {
      log(`headscope scan: ${e instanceof ServerProblem ? `${e.type}: ` : ""}${e.message}`);
      return { exitCode: 2 };
    }
    throw e;
  } finally {
    process.off("SIGINT", onSigint);
    if (worker) await worker.stop().catch(() => undefined);
  }
}

/** `headscope upload CHECKPOINT`: prints the checkpoint id. */
export async function runUpload(o: Pick<ScanOptions, "endpoint" | "token" | "root" | "stateDir" | "modelName"> & { checkpoint: string }, log: (s: string) => void = (s) => process.stderr.write(s + "\n")): Promise<number> {
  let worker: LocalWorker | undefined;
  try {
    const model = o.modelName ?? defaultModelName(o.checkpoint);
    if (!MODEL_NAME.test(model)) throw new UsageError(`--model-name ${JSON.stringify(model)} must match ${MODEL_NAME.source}`);
    const conn = await connect(o, log);
    worker = conn.worker;
    const up = await uploadCheckpoint(o.checkpoint, model, conn.api, join(o.stateDir ?? join(o.root, ".wrangler/state"), "headscope-uploads"), log);
    log(`${up.sent.length} file(s) sent (${(up.bytesSent / 2 ** 20).toFixed(1)} MiB), ${up.skipped.length} already stored`);
    process.stdout.write(up.manifest.id + "\n");
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ServerProblem || e instanceof TokenRejected || (e instanceof Error && (e.name === "CheckpointError" || e.name === "MalformedSafetensors"))) {
      log(`headscope upload: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    if (worker) await worker.stop().catch(() => undefined);
  }
}
