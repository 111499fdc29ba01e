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
import { MODEL_NAME } from "../wire/head-request";
import { resolveScanOptions, ScanOptionError } from "../wire/scan-options";
import { detectArchitecture, type Architecture } from "./architectures";
import { Checkpoint, CheckpointError } from "./checkpoint";
import { ensureExampleCheckpoint, EXAMPLE } from "./example-model";
import { DEFAULT_RETRY, fanOut, type Outcome } from "./fan-out";
import { startLocalWorker, type LocalWorker } from "./local-worker";
import { planTasks, taskLabel, taskRequest, type ScanTask } from "./plan";
import { createProgress, type Counts } from "./progress";
import { assembleReport, reportEntry, type Report, type ReportEntry } from "./report";
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
    const { circuits, variants, offsets, layers, heads } = resolveScanOptions(o, f);
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
      worker = await startLocalWorker({ root: o.root, stateDir: o.stateDir ?? join(o.root, ".wrangler/state") });
      endpoint = worker.url;
      token = worker.token;
      log(`local worker on ${endpoint} (workerd, R2 and KV under ${o.stateDir ?? ".wrangler/state"})`);
    } else if (!token) {
      throw new UsageError("--endpoint needs a write token: --token or HEADSCOPE_TOKEN");
    }

    // ── fan-out ──
    process.on("SIGINT", onSigint);
    const counts: Counts = { computed: 0, stored: 0, failed: 0, retries: 0 };
    const progress = createProgress(tasks.length + sadTasks.length, o.progress);
    const answers = new Map<ScanTask, Extract<Outcome, { ok: true }>>();
    let done = 0;
    const kernels = new Map<string, { name: string; simd: boolean }>();
    const computedTasks: string[] = [];
    await fanOut(tasks, {
      concurrency: o.concurrency,
      token: token!,
      policy: { ...DEFAULT_RETRY, retries: o.retries, baseDelayMs: o.retryBaseMs },
      signal: abort.signal,
      build: (t) => taskRequest(endpoint!, arch, t),
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
    });
    // SAD of every qk head whose SVD is stored (phase two: the rotary-free qk results exist now)
    const sads = new Map<ScanTask, SadDigest>();
    const sadFailures: typeof failures = [];
    if (activations && !abort.signal.aborted) {
      const ready = sadTasks.filter((t) => answers.has(t));
      done += sadTasks.length - ready.length;
      await fanOut(ready, {
        concurrency: o.concurrency,
        token: token!,
        policy: { ...DEFAULT_RETRY, retries: o.retries, baseDelayMs: o.retryBaseMs },
        signal: abort.signal,
        build: (t) => ({ ...activations!.request(endpoint!, arch, t, o.sadTau), parse: (j) => SadSummarySchema.parse(j) }),
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
      });
      failures.push(...sadFailures);
    }
    progress.stop();
    process.off("SIGINT", onSigint);
    const workerPeak = peakRssOf(worker?.pid);
    if (worker) {
      await worker.stop();
      worker = undefined;
    }

    // ── report ──
    const entries: ReportEntry[] = [...answers]
      .map(([t, a]) => ({ ...reportEntry(t, a.answer, arch.kvHead(t.head)), ...(sads.has(t) ? { sad: sads.get(t) } : {}) }));
    const report: Report = assembleReport({
      model,
      checkpoint: { files: ckpt.files.map((x) => basename(x)), dtypes: ckpt.dtypes() },
      facts: f,
      kvHeadOf: [...Array(f.n_heads).keys()].map((h) => arch.kvHead(h)),
      scan: {
        circuits, variants, layers, heads, offsets, endpoint: o.endpoint ? "remote" : "local",
        ...(activations ? { sad: { activations: basename(o.activations!), tau: o.sadTau } } : {}),
      },
      kernels: [...kernels.values()],
      entries,
      failures: failures.map(({ task: t, outcome: x }) => ({
        layer: t.layer, head: t.head, circuit: t.circuit, variant: t.variant, rotary_offset: t.offset, type: x.type,
        ...(x.status ? { status: x.status } : {}), detail: x.detail,
      })),
    });
    if (!interrupted) {
      writeFileSync(join(out, "report.json"), JSON.stringify(report, null, 1) + "\n");
      if (o.html) writeFileSync(join(out, "report.html"), renderReportHtml(report));
    }
    const seconds = (Date.now() - t0) / 1000;
    const run = {
      schema: "headscope.scan-run/v1", model, tasks: tasks.length, ...counts, interrupted, seconds,
      peak_rss_bytes: { cli: process.resourceUsage().maxRSS * 1024, ...(workerPeak ? { worker: workerPeak } : {}) },
      /** what this run computed (the rest was already stored, or failed) */
      computed_tasks: computedTasks.sort(),
    };
    writeFileSync(join(out, "run.json"), JSON.stringify(run, null, 1) + "\n");
    log(
      `${interrupted ? "interrupted" : "done"} in ${seconds.toFixed(1)} s: ${counts.computed} computed, ${counts.stored} already stored, ` +
        `${counts.failed} failed, ${counts.retries} retries${interrupted ? "" : ` → ${join(out, "report.json")}${o.html ? ", report.html" : ""}`}`,
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
    if (e instanceof CheckpointError || e instanceof UsageError || e instanceof ScanOptionError || e instanceof AppError) {
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
