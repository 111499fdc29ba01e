/**
 * @module cli/scan
 * The whole-model scan: open and validate the checkpoint, pick the architecture, plan one request
 * per head, circuit and variant, start the local worker unless an endpoint is given, fan out with
 * retries, then write report.json, report.html and run.json into the output directory. Anything
 * wrong with the checkpoint is reported before a single request is sent, so nothing is stored.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { AppError } from "../errors";
import { CIRCUITS, MODEL_NAME, type Circuit } from "../wire/head-request";
import { detectArchitecture, type Architecture } from "./architectures";
import { Checkpoint, CheckpointError } from "./checkpoint";
import { ensureExampleCheckpoint, EXAMPLE } from "./example-model";
import { DEFAULT_DEADLINE, DEFAULT_RETRY, fanOut, NoProgress, type Outcome, type RetryPolicy } from "./fan-out";
import { startLocalWorker, type LocalWorker } from "./local-worker";
import { planTasks, taskLabel, taskRequest, type ScanTask } from "./plan";
import { createProgress, type Counts } from "./progress";
import { compareEntries, reportEntry, type Report, type ReportEntry } from "./report";
import { renderReportHtml } from "./report-html";
import { Activations, sadDigest, type SadDigest } from "./sad";
import { SadSummarySchema } from "../wire/analysis-request";

export interface ScanOptions {
  checkpoint?: string;
  out?: string;
  endpoint?: string;
  token?: string;
  arch?: string;
  modelName?: string;
  circuits: string;
  layers: string;
  heads: string;
  variants: string;
  concurrency: number;
  retries: number;
  retryBaseMs: number;
  /** multiplies every request's deadline (fan-out.ts requestDeadlineMs); default 1 */
  deadlineScale?: number;
  rotaryOffsets: string;
  nHeads?: number;
  nKvHeads?: number;
  rotaryDim?: number;
  rotaryBase?: number;
  stateDir?: string;
  /** per-layer normalised token vectors for SAD of every qk head (cli/sad.ts) */
  activations?: string;
  sadTau: number;
  progress: "auto" | "bar" | "plain" | "quiet";
  html: boolean;
  /** project root (build/, wrangler.toml, .wrangler/state) */
  root: string;
}

/** A user error: print the message, exit 2, store nothing. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** "all" or a list like "0,2,5-7", each within [0, n). */
export function parseIndexList(spec: string, n: number, what: string): number[] {
  if (spec === "all") return [...Array(n).keys()];
  const out = new Set<number>();
  for (const part of spec.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`--${what}: ${JSON.stringify(part)} is not an index or a range a-b`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b >= n) throw new UsageError(`--${what}: ${part} is outside 0..${n - 1}`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** A model name valid as a path segment, from the checkpoint's file or directory name. */
export function defaultModelName(path: string): string {
  const p = resolve(path);
  const file = basename(p);
  const stem =
    existsSync(p) && !file.includes(".") ? file
    : file === "model.safetensors" || file.endsWith(".index.json") ? basename(dirname(p))
    : file.replace(/\.safetensors$/, "");
  const name = stem.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 128);
  return name || "model";
}

const peakRssOf = (pid: number | undefined): number | undefined => {
  if (!pid) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
};

export interface ScanResult {
  exitCode: number;
  out?: string;
  counts?: Counts & { tasks: number };
}

export async function runScan(o: ScanOptions, log: (s: string) => void = (s) => process.stderr.write(s + "\n")): Promise<ScanResult> {
  const t0 = Date.now();
  let ckpt: Checkpoint | undefined;
  let worker: LocalWorker | undefined;
  let activations: Activations | undefined;
  const abort = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log("\ninterrupted: stopping; results stored so far stay stored — run the same command again to resume");
    abort.abort(new Error("interrupted"));
  };
  try {
    // ── checkpoint and architecture (errors here store nothing) ──
    const example = o.checkpoint === undefined;
    const path = example ? ensureExampleCheckpoint(join(o.root, "build/example", EXAMPLE.name)) : o.checkpoint!;
    ckpt = Checkpoint.open(path);
    const arch: Architecture = detectArchitecture(ckpt, o.arch, {
      nHeads: o.nHeads, nKvHeads: o.nKvHeads, rotaryDim: o.rotaryDim, rotaryBase: o.rotaryBase,
    });
    const model = o.modelName ?? (example ? EXAMPLE.name : defaultModelName(path));
    if (!MODEL_NAME.test(model)) throw new UsageError(`--model-name ${JSON.stringify(model)} must match ${MODEL_NAME.source}`);
    const f = arch.facts;
    const circuits = o.circuits === "all" ? [...CIRCUITS] : (o.circuits.split(",").map((s) => s.trim()) as Circuit[]);
    for (const c of circuits) if (!CIRCUITS.includes(c)) throw new UsageError(`--circuits: unknown circuit ${c}; use qk, ov or all`);
    const variants = o.variants.split(",").map((s) => s.trim());
    for (const v of variants) {
      if (!["default", "raw", "raw_augmented", "folded", "folded_augmented"].includes(v)) throw new UsageError(`--variants: unknown variant ${v}`);
    }
    const offsets = o.rotaryOffsets.split(",").map((s) => Number(s.trim()));
    if (offsets.some((x) => !Number.isSafeInteger(x) || x < 0)) throw new UsageError("--rotary-offsets: non-negative integers, e.g. 0,1,8");
    if (f.rotary_dim === 0 && offsets.some((x) => x !== 0)) throw new UsageError(`--rotary-offsets: ${f.architecture} has no rotary embeddings`);
    const layers = parseIndexList(o.layers, f.n_layers, "layers");
    const heads = parseIndexList(o.heads, f.n_heads, "heads");
    const tasks = planTasks(arch, { model, circuits, layers, heads, variants, offsets });
    const failures: Array<{ task: ScanTask; outcome: Extract<Outcome, { ok: false }> }> = [];
    if (tasks.length === 0) throw new UsageError("nothing to scan: no variant of the chosen ones applies to these circuits");
    // read one head of every layer now, so a tensor that cannot be decoded fails before anything is sent
    for (const l of layers) arch.head(l, heads[0]);
    if (o.activations) {
      if (f.rotary_dim > 0) {
        throw new UsageError("--activations: SAD of a rotary model needs Ω_Δ for every pair's offset; only models without rotary embeddings are supported");
      }
      if (!(o.sadTau > 0 && o.sadTau <= 1)) throw new UsageError("--sad-tau must be in (0, 1]");
      activations = Activations.open(o.activations, arch, layers);
    }
    const sadTasks = activations ? tasks.filter((t) => t.circuit === "qk") : [];
    const out = resolve(o.out ?? join("out", model));
    mkdirSync(out, { recursive: true });
    log(`headscope scan: ${model} (${f.architecture}, ${f.n_layers} layers × ${f.n_heads} heads, d_model ${f.d_model}, d_head ${f.d_head}) → ${tasks.length} requests`);

    // ── worker ──
    let endpoint = o.endpoint?.replace(/\/$/, "");
    let token = o.token ?? process.env.HEADSCOPE_TOKEN;
    if (!endpoint) {
      // a token set for the local worker lets other clients (the soak run) write to it too
      worker = await startLocalWorker({ root: o.root, stateDir: o.stateDir ?? join(o.root, ".wrangler/state"), token: o.token ?? process.env.HEADSCOPE_TOKEN });
      endpoint = worker.url;
      token = worker.token;
      log(`local worker on ${endpoint} (workerd, R2 and KV under ${o.stateDir ?? ".wrangler/state"})`);
    } else if (!token) {
      throw new UsageError("--endpoint needs a write token: --token or HEADSCOPE_TOKEN");
    }

    // ── fan-out ──
    process.on("SIGINT", onSigint);
    const counts: Counts = { computed: 0, stored: 0, failed: 0, retries: 0 };
    const policy: RetryPolicy = {
      ...DEFAULT_RETRY, retries: o.retries, baseDelayMs: o.retryBaseMs, deadline: { ...DEFAULT_DEADLINE, scale: o.deadlineScale ?? 1 },
    };
    /** per task label: attempts that passed their deadline (run.json timeouts) */
    const timeouts = new Map<string, number>();
    const noteTimeout = (label: string) => timeouts.set(label, (timeouts.get(label) ?? 0) + 1);
    let stalled: string | undefined;
    const progress = createProgress(tasks.length + sadTasks.length, o.progress);
    const answers = new Map<ScanTask, Extract<Outcome, { ok: true }>>();
    let done = 0;
    const kernels = new Map<string, { name: string; simd: boolean }>();
    const computedTasks: string[] = [];
    const stallGuard = (e: unknown) => {
      if (!(e instanceof NoProgress)) throw e;
      stalled = e.message;
    };
    await fanOut(tasks, {
      concurrency: o.concurrency,
      token: token!,
      policy,
      signal: abort.signal,
      worker: worker?.supervision,
      build: (t) => taskRequest(endpoint!, arch, t),
      onTimeout: (t) => noteTimeout(taskLabel(t)),
      onRetry: (t, attempt, why) => {
        counts.retries++;
        if (o.progress !== "quiet") progress.log(`retry ${attempt}/${o.retries} ${taskLabel(t)}: ${why}`);
      },
      done: (t, outcome) => {
        done++;
        if (outcome.ok) {
          answers.set(t, outcome);
          if (outcome.answer.computed) {
            counts.computed++;
            computedTasks.push(taskLabel(t));
          }
          else counts.stored++;
          kernels.set(JSON.stringify(outcome.answer.kernel), outcome.answer.kernel);
        } else {
          counts.failed++;
          failures.push({ task: t, outcome });
        }
        progress.update(done, counts);
      },
    }).catch(stallGuard);
    // SAD of every qk head whose SVD is stored (phase two: the rotary-free qk results exist now)
    const sads = new Map<ScanTask, SadDigest>();
    const sadFailures: typeof failures = [];
    if (activations && !abort.signal.aborted && !stalled) {
      const ready = sadTasks.filter((t) => answers.has(t));
      done += sadTasks.length - ready.length;
      await fanOut(ready, {
        concurrency: o.concurrency,
        token: token!,
        policy,
        signal: abort.signal,
        worker: worker?.supervision,
        build: (t) => ({ ...activations!.request(endpoint!, arch, t, o.sadTau), parse: (j) => SadSummarySchema.parse(j) }),
        onTimeout: (t) => noteTimeout(`SAD ${taskLabel(t)}`),
        onRetry: (t, attempt, why) => {
          counts.retries++;
          if (o.progress !== "quiet") progress.log(`retry ${attempt}/${o.retries} SAD ${taskLabel(t)}: ${why}`);
        },
        done: (t, outcome) => {
          done++;
          if (outcome.ok) {
            const a = outcome.answer as unknown as Record<string, unknown>;
            sads.set(t, sadDigest(a));
            if (a.computed) {
              counts.computed++;
              computedTasks.push(`SAD ${taskLabel(t)}`);
            } else counts.stored++;
          } else {
            counts.failed++;
            sadFailures.push({ task: t, outcome });
          }
          progress.update(done, counts);
        },
      }).catch(stallGuard);
      failures.push(...sadFailures);
    }
    progress.stop();
    process.off("SIGINT", onSigint);
    if (stalled) {
      // what never finished is listed as failed, so the report and the exit code say so
      const ended = new Set([...answers.keys(), ...failures.map((x) => x.task)]);
      for (const t of tasks) {
        if (ended.has(t)) continue;
        counts.failed++;
        failures.push({ task: t, outcome: { ok: false, type: "no-progress", detail: "not finished: the scan stopped because the worker made no progress", attempts: 0, timeouts: 0 } });
      }
      log(`headscope scan: ${stalled}`);
    }
    const workerPeak = peakRssOf(worker?.pid);
    const workerRestarts = worker?.restarts();
    if (worker) {
      await worker.stop();
      worker = undefined;
    }

    // ── report ──
    const entries: ReportEntry[] = [...answers]
      .map(([t, a]) => ({ ...reportEntry(t, a.answer, arch.kvHead(t.head)), ...(sads.has(t) ? { sad: sads.get(t) } : {}) }))
      .sort(compareEntries);
    const report: Report = {
      schema: "headscope.scan-report/v1",
      model,
      checkpoint: { files: ckpt.files.map((x) => basename(x)), dtypes: ckpt.dtypes() },
      facts: { ...f, kv_head_of: [...Array(f.n_heads).keys()].map((h) => arch.kvHead(h)) },
      scan: {
        circuits, variants, layers, heads, rotary_offsets: f.rotary_dim ? offsets : [0], endpoint: o.endpoint ? "remote" : "local",
        ...(activations ? { sad: { activations: basename(o.activations!), tau: o.sadTau } } : {}),
      },
      ...(kernels.size === 1 ? { kernel: [...kernels.values()][0] } : {}),
      entries,
      ...(failures.length
        ? {
            failures: failures
              .map(({ task: t, outcome: x }) => ({
                layer: t.layer, head: t.head, circuit: t.circuit, variant: t.variant, rotary_offset: t.offset, type: x.type,
                ...(x.status ? { status: x.status } : {}), detail: x.detail,
              }))
              .sort(compareEntries),
          }
        : {}),
    };
    if (!interrupted) {
      writeFileSync(join(out, "report.json"), JSON.stringify(report, null, 1) + "\n");
      if (o.html) writeFileSync(join(out, "report.html"), renderReportHtml(report));
    }
    const seconds = (Date.now() - t0) / 1000;
    const run = {
      schema: "headscope.scan-run/v1", model, tasks: tasks.length, ...counts, interrupted, seconds,
      /** attempts abandoned at their deadline, in all and per task (fan-out.ts requestDeadlineMs) */
      timeouts: [...timeouts.values()].reduce((a, b) => a + b, 0),
      timeouts_per_head: Object.fromEntries([...timeouts].sort(([a], [b]) => (a < b ? -1 : 1))),
      ...(stalled ? { stalled } : {}),
      ...(workerRestarts?.length ? { worker_restarts: workerRestarts } : {}),
      peak_rss_bytes: { cli: process.resourceUsage().maxRSS * 1024, ...(workerPeak ? { worker: workerPeak } : {}) },
      /** what this run computed (the rest was already stored, or failed) */
      computed_tasks: computedTasks.sort(),
    };
    writeFileSync(join(out, "run.json"), JSON.stringify(run, null, 1) + "\n");
    log(
      `${interrupted ? "interrupted" : "done"} in ${seconds.toFixed(1)} s: ${counts.computed} computed, ${counts.stored} already stored, ` +
        `${counts.failed} failed, ${counts.retries} retries, ${[...timeouts.values()].reduce((a, b) => a + b, 0)} timeouts${interrupted ? "" : ` → ${join(out, "report.json")}${o.html ? ", report.html" : ""}`}`,
    );
    if (failures.length) {
      log(`${failures.length} request(s) failed for good:`);
      const byType = new Map<string, number>();
      for (const { outcome } of failures) byType.set(outcome.type, (byType.get(outcome.type) ?? 0) + 1);
      log(`  by type: ${[...byType].map(([k, v]) => `${k} ×${v}`).join(", ")}`);
      for (const { task, outcome } of failures.slice(0, 20)) log(`  ${taskLabel(task)}: ${outcome.type}${outcome.status ? ` (${outcome.status})` : ""}: ${outcome.detail}`);
      if (failures.length > 20) log(`  … and ${failures.length - 20} more (see report.json "failures")`);
      log("run the same command again to retry them; heads already stored are not computed again");
    }
    return { exitCode: interrupted ? 130 : failures.length ? 1 : 0, out, counts: { ...counts, tasks: tasks.length } };
  } catch (e) {
    if (e instanceof CheckpointError || e instanceof UsageError || e instanceof AppError) {
      log(`headscope scan: ${e instanceof AppError ? `${e.type}: ${e.detail}` : e.message}`);
      return { exitCode: 2 };
    }
    throw e;
  } finally {
    process.off("SIGINT", onSigint);
    ckpt?.close();
    activations?.close();
    if (worker) await worker.stop().catch(() => undefined);
  }
}
