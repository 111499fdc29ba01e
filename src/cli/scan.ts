/**
 * @module cli/scan
 * The whole-model scan: open and validate the checkpoint, pick the architecture, plan one request
 * per head, circuit and variant, start the local worker unless an endpoint is given, fan out with
 * retries, then write report.json, report.html and run.json into the output directory. Anything
 * wrong with the checkpoint is reported before a single request is sent, so nothing is stored.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { AppError } from "../errors";
import { MODEL_NAME } from "../wire/head-request";
import { resolveScanOptions, ScanOptionError } from "../wire/scan-options";
import { detectArchitecture, reuseOutputs, type Architecture } from "./architectures";
import { gptNeoWindows } from "./architectures/gpt-neo";
import { Checkpoint, CheckpointError } from "./checkpoint";
import { ensureExampleCheckpoint, EXAMPLE } from "./example-model";
import { DEFAULT_DEADLINE, DEFAULT_RETRY, fanOut, NoProgress, requestDeadlineMs, type Outcome, type RetryPolicy } from "./fan-out";
import { defaultLocalProcesses, startLocalWorker, type LocalWorker, type ScanWork } from "./local-worker";
import { headBody, planTasks, taskFlops, taskLabel, taskUrl, widened, type ScanTask, type VectorsPolicy } from "./plan";
import { createHash } from "node:crypto";
import { estimateScan, formatBytes, formatSeconds, freeDiskBytes } from "./estimate";
import { httpRequest } from "./http";
import { HashCache } from "./hash-cache";
import { Profile } from "./profile";
import { sampleCostsOffThread, type SampleJob } from "./sample-costs";
import { storedAnswer } from "./stored-check";
import { createProgress, type Counts } from "./progress";
import { assembleReport, reportEntry, type Report, type ReportEntry } from "./report";
import { renderReportHtml } from "./report-html";
import { ActivationSource, checkUploadSize, formOf, sadHeadReport, sadRequest, uploadKey, uploadRequest, type ActivationUpload, type SadHeadReport } from "./sad";
import { SadSummarySchema } from "../wire/analysis-request";
import type { SvdAnswer } from "../wire/svd-result";
import type { ActivationAnswer } from "../wire/activations";
import { medianDistribution, SAD_VERDICT_RULE } from "../analysis/sad-report";
import { promptActivations, type ForwardTiming } from "./prompt-activations";
import { TokenRejected } from "./token";
import { buildReadoutBasis, tokenEmbedding, uploadReadoutBasis } from "./readout-basis";
import { ServerApi } from "./server-api";
import type { ScanReadouts } from "./report";

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
  /** workerd processes of the local worker (local-worker.ts defaultLocalProcesses) */
  localProcesses?: number;
  /** per-layer normalised token vectors for SAD of every qk head (cli/sad.ts) */
  activations?: string;
  /** --prompts SPEC: run the forward pass here and SAD on its attention inputs */
  prompts?: string;
  /** --save-activations FILE (with --prompts): write the attention inputs in the format --activations reads */
  saveActivations?: string;
  sadTau: number;
  /** how stored vectors are kept: U and V in F32 (default), F16, or none (spectra only) */
  vectors?: VectorsPolicy;
  /** token readouts of the leading N singular vectors per side (default 8; "all"; 0: none) */
  readouts?: number | "all";
  /** tokens at each end of a readout (default 10) */
  readoutK?: number;
  /** rows per readout basis chunk (tests, also through HEADSCOPE_READOUT_CHUNK_ROWS; default ≤ 8 MiB of F16 per chunk) */
  readoutChunkRows?: number;
  progress: "auto" | "bar" | "plain" | "quiet";
  html: boolean;
  /** project root (build/, wrangler.toml, .wrangler/state) */
  root: string;
}

/** A user error: print the message, exit 2, store nothing. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Hugging Face file names that say nothing about the model (one file, shards, the index). */
const GENERIC_FILE = /^(model|pytorch_model|diffusion_pytorch_model|consolidated)(-\d+-of-\d+)?\.safetensors$|\.index\.json$/;

/** A name as a path segment: `org/name` becomes `org--name`, other characters outside [A-Za-z0-9._-] become `-`. */
const asSegment = (s: string) => s.replace(/\//g, "--").replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 128);

/**
 * The name a checkpoint's results are stored under when --model-name is not given, so that the same
 * model reached by different paths (its folder, its model.safetensors, its index, a shard, a copy in
 * another folder) is stored once:
 *
 * 1. `_name_or_path` of the `config.json` beside the checkpoint (what transformers writes): a hub id
 *    `org/name` becomes `org--name`; a local path gives its last folder name;
 * 2. otherwise the checkpoint's folder name, when the path is a folder or a file with a generic
 *    Hugging Face name (`model.safetensors`, `model-00001-of-00002.safetensors`, `*.index.json`);
 * 3. otherwise the file name without `.safetensors` (a lone file such as `gpt2-small-attn.safetensors`).
 *
 * `model_type` is never used: it names an architecture (`gpt2`), not a model (GPT-2 small and
 * medium would collide).
 */
export function defaultModelName(path: string): string {
  const p = resolve(path);
  const isDir = existsSync(p) && statSync(p).isDirectory();
  const dir = isDir ? p : dirname(p);
  const configPath = join(dir, "config.json");
  if (existsSync(configPath)) {
    try {
      const given = (JSON.parse(readFileSync(configPath, "utf8")) as { _name_or_path?: unknown })._name_or_path;
      if (typeof given === "string" && given.trim()) {
        const g = given.trim().replace(/[\\/]+$/, "");
        const local = /^([./~]|[A-Za-z]:)/.test(g) || g.split("/").length > 2;
        const name = asSegment(local ? basename(g) : g);
        if (name) return name;
      }
    } catch {
      /* a config.json that is not JSON is reported when the checkpoint is opened */
    }
  }
  const file = basename(p);
  const stem = isDir || GENERIC_FILE.test(file) ? basename(dir) : file.replace(/\.safetensors$/, "");
  return asSegment(stem) || "model";
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

/** User + system CPU seconds of a process (Linux /proc; clock ticks of 10 ms). */
const cpuSecondsOf = (pid: number | undefined): number | undefined => {
  if (!pid) return undefined;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return undefined;
  }
};

/** Whether a stored answer keeps its vectors the way this scan asks (a spectra-only result cannot stand in for U and V). */
export const vectorsMatch = (a: SvdAnswer, vectors: VectorsPolicy): boolean =>
  vectors === "none" ? a.vectors === null : a.vectors !== null && a.vectors.dtype.U === vectors.toUpperCase();

export interface ScanResult {
  exitCode: number;
  out?: string;
  counts?: Counts & { tasks: number };
}

export async function runScan(o: ScanOptions, log: (s: string) => void = (s) => process.stderr.write(s + "\n")): Promise<ScanResult> {
  const t0 = Date.now();
  let ckpt: Checkpoint | undefined;
  let worker: LocalWorker | undefined;
  let activations: ActivationSource | undefined;
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
    // every tensor's dtype and shape were checked from the headers (decodable float dtypes only), so
    // nothing is read here: weights are read layer by layer as the requests are built
    const vectors: VectorsPolicy = o.vectors ?? "f32";
    if (o.activations && o.prompts) throw new UsageError("--activations and --prompts are two sources of the same thing: give one");
    if (o.saveActivations && !o.prompts) throw new UsageError("--save-activations writes what --prompts computes: add --prompts SPEC");
    let windows: number[] = [];
    let forward: ForwardTiming | undefined;
    // SAD of every qk head at offset 0: rotary models decompose each pair in its own Ω_Δ there
    const sadCandidates = tasks.filter((t) => t.circuit === "qk" && t.offset === 0);
    if (o.activations || o.prompts) {
      if (!(o.sadTau > 0 && o.sadTau <= 1)) throw new UsageError("--sad-tau must be in (0, 1]");
      windows = f.architecture === "gpt-neo" ? gptNeoWindows(ckpt.config, f.n_layers) : new Array(f.n_layers).fill(0);
      if (o.activations) activations = ActivationSource.openFile(o.activations, arch, layers);
    }
    if (o.prompts) {
      // the store takes one file per layer: what it cannot take is refused before the forward pass
      const forms = new Set(sadCandidates.map((t) => formOf(arch, t)));
      const check = (batch: number, tokens: number) => checkUploadSize(batch, tokens, f.d_model, forms);
      const run = await promptActivations(path, ckpt, o.prompts, {
        arch: f.architecture, overrides: { nHeads: o.nHeads, nKvHeads: o.nKvHeads, rotaryDim: o.rotaryDim, rotaryBase: o.rotaryBase }, layers, log, check,
      });
      activations = run.source;
      forward = run.forward;
      if (o.saveActivations) {
        activations.save(resolve(o.saveActivations), layers);
        log(`attention inputs of ${activations.batch} prompts × ${activations.tokens} tokens written to ${o.saveActivations}`);
      }
    }
    const sadTasks = activations ? sadCandidates : [];
    const focus = activations?.focus();
    const out = resolve(o.out ?? join("out", model));
    mkdirSync(out, { recursive: true });
    log(`headscope scan: ${model} (${f.architecture}, ${f.n_layers} layers × ${f.n_heads} heads, d_model ${f.d_model}, d_head ${f.d_head}) → ${tasks.length + sadTasks.length} requests` +
        // the same total as the progress counter, which counts the SAD requests too
        (sadTasks.length ? ` (${tasks.length} SVD, ${sadTasks.length} SAD)` : ""));

    // token readouts need a token embedding (known from the header); with them, or with SAD, each head's
    // work may be large enough for the local worker to run on several processes (defaultLocalProcesses)
    const askReadouts = o.readouts ?? 8;
    const embedding = askReadouts !== 0 ? tokenEmbedding(ckpt, f.d_model) : undefined;
    const work: ScanWork = {
      dModel: f.d_model, dHead: f.d_head,
      readoutBasis: embedding && "vocab" in embedding ? embedding.vocab * f.d_model : 0,
      sadActivations: activations ? activations.batch * activations.tokens * f.d_model : 0,
    };

    // ── worker (starts while the CLI samples the worker's per-head cost) ──
    const profile = new Profile();
    let endpoint = o.endpoint?.replace(/\/$/, "");
    let token = o.token ?? process.env.HEADSCOPE_TOKEN;
    const stateDir = o.stateDir ?? join(o.root, ".wrangler/state");
    let startSeconds: number | undefined;
    let sampling: ReturnType<typeof sampleFirst>;
    if (!endpoint) {
      // a token set for the local worker lets other clients (the soak run) write to it too
      const tStart = performance.now();
      const starting = startLocalWorker({ root: o.root, stateDir, token: o.token ?? process.env.HEADSCOPE_TOKEN, processes: o.localProcesses ?? defaultLocalProcesses(work) });
      starting.catch(() => undefined);
      sampling = sampleFirst();
      worker = await starting;
      startSeconds = (performance.now() - tStart) / 1000;
      endpoint = worker.url;
      token = worker.token;
      log(`local worker on ${endpoint} (${worker.processes > 1 ? `${worker.processes} workerd processes, the first owning` : "workerd,"} R2 and KV under ${o.stateDir ?? ".wrangler/state"})`);
    } else if (o.localProcesses !== undefined) {
      throw new UsageError("--local-processes sets the processes of the local worker; with --endpoint the deployment scales itself");
    } else if (!token) {
      throw new UsageError("--endpoint needs a write token: --token or HEADSCOPE_TOKEN");
    } else sampling = sampleFirst();
    for (const c of await sampling) if (c) profile.sampled.push(c);
    /**
     * The worker's code timed on the first task of each circuit (for the profile and the estimate),
     * on a thread of its own while this one starts the local worker. Optional: a head the worker
     * would reject (a zero circuit, NaN) is reported by the fan-out as usual, so a failure here only
     * leaves the estimate without a time.
     */
    function sampleFirst() {
      const jobs: SampleJob[] = [];
      for (const c of circuits) {
        const t = tasks.find((x) => x.circuit === c);
        if (!t) continue;
        try {
          jobs.push({ body: headBody(arch, arch.circuit(t.layer, t.head, c), c, t.offset), url: taskUrl("http://x", arch, t, vectors).post, circuit: c });
        } catch {
          /* see above */
        }
      }
      // never rejects: nothing may wait on it yet (the local worker is starting)
      return sampleCostsOffThread(jobs).catch((e: Error) => {
        log(`timing the worker's code failed (${e.message}): the estimate has no time`);
        return [];
      });
    }

    // deadlines, retries and their counts: the readout basis upload below uses them as the heads do
    const deadline = { ...DEFAULT_DEADLINE, scale: o.deadlineScale ?? 1 };
    const counts: Counts = { computed: 0, stored: 0, failed: 0, retries: 0 };
    const policy: RetryPolicy = {
      ...DEFAULT_RETRY, retries: o.retries, baseDelayMs: o.retryBaseMs, deadline,
    };

    // ── the token readout basis (once per model; skipped when the same one is stored) ──
    const readoutK = o.readoutK ?? 10;
    let scanReadouts: ScanReadouts | undefined;
    if (askReadouts !== 0) {
      const built = profile.time("readout_basis", () => buildReadoutBasis(ckpt!, arch, path, o.readoutChunkRows ?? (Number(process.env.HEADSCOPE_READOUT_CHUNK_ROWS) || undefined)));
      if ("none" in built) {
        log(`readouts: none (${built.none})`);
      } else {
        try {
          const up = await profile.timeAsync("readout_basis", () =>
            uploadReadoutBasis(
              new ServerApi(endpoint!, token!, policy, undefined, {
                signal: abort.signal,
                onRetry: (call, attempt, why) => {
                  counts.retries++;
                  if (o.progress !== "quiet") log(`retry ${attempt}/${policy.retries} ${call}: ${why}`);
                },
              }),
              model, built,
            ),
          );
          profile.bytesUploaded += up.bytesSent;
          const b = up.answer;
          scanReadouts = {
            vectors: askReadouts, k: readoutK,
            basis: { sha256: b.sha256, bytes: b.bytes, vocab: b.vocab, embedding: b.embedding.source, unembedding: b.unembedding?.source ?? null, tokens: b.tokens?.source ?? null },
          };
          log(`readouts: basis of ${b.vocab} tokens ${up.uploaded ? `uploaded (${formatBytes(b.bytes)})` : "already stored"}; leading ${askReadouts} vectors per side, k = ${readoutK}`);
        } catch (e) {
          if (e instanceof TokenRejected) throw e; // the first 401 stops the scan, before any head is sent
          log(`readouts: none (the basis upload failed: ${(e as Error).message})`);
        }
      }
    }
    // without a basis the report says nothing of readouts (as a server-side scan's), the log says why
    const basis = scanReadouts?.basis ?? null;
    /**
     * Readouts are asked for the model's own results; without a basis the worker's default answers
     * `readouts: null` (rotary Δ ≠ 0 results live under another name, with none).
     */
    const readoutQuery = (t: ScanTask) => (askReadouts === 0 ? "&readouts=0" : basis && t.model === model ? `&readouts=${askReadouts}&readout_k=${readoutK}` : "");
    /** the multiply-adds of a head's readouts ×2: each side's vectors against every row of its basis */
    const readoutFlops = (t: ScanTask) => {
      if (!basis || t.model !== model) return 0;
      const n = askReadouts === "all" ? f.d_head : Math.min(askReadouts, f.d_head);
      return 2 * 2 * n * basis.vocab * f.d_model;
    };
    /** whether a stored answer carries the readouts this scan asks for */
    const readoutsMatch = (a: SvdAnswer, t: ScanTask): boolean => {
      if (!basis || t.model !== model) return true;
      const r = a.readouts;
      const R = a.singular_values.length;
      return !!r && r.vectors === (askReadouts === "all" ? R : Math.min(askReadouts, R)) && r.k === Math.min(readoutK, basis.vocab);
    };

    // ── what is stored already (one listing per model name), the estimate, the free-disk check ──
    const storedSha = new Map<string, string>();
    const keyOf = (model: string, layer: number, head: number, circuit: string, variant: string) => `${model}/${layer}/${head}/${circuit}/${variant}`;
    await profile.timeAsync("check", async () => {
      for (const model of new Set(tasks.map((t) => t.model))) {
        // a deadline from the answer's size (about 2 KB per entry); one that passes only means nothing is skipped
        const timeoutMs = requestDeadlineMs(2048 * tasks.length, 0, 1, deadline);
        const res = await httpRequest("GET", `${endpoint}/v1/models/${encodeURIComponent(model)}/summary`, undefined, {}, undefined, timeoutMs).catch(() => undefined);
        if (res?.status !== 200) continue;
        for (const e of (JSON.parse(res.text) as { entries: Array<{ layer: number; head: number; circuit: string; variant: string; input_sha256: string }> }).entries) {
          storedSha.set(keyOf(model, e.layer, e.head, e.circuit, e.variant), e.input_sha256);
        }
      }
    });
    const toStore = tasks.filter((t) => !storedSha.has(keyOf(t.model, t.layer, t.head, t.circuit, t.variant)));
    const est = estimateScan(f, toStore, vectors, profile.sampled, 1, !o.endpoint);
    log(
      `estimate: ${toStore.length} new result(s) of ${tasks.length}, about ${formatBytes(est.bytes)} of storage (vectors ${vectors})` +
        (est.seconds !== undefined ? `, roughly ${formatSeconds(est.seconds)} of worker time` : ""),
    );
    if (!o.endpoint) {
      const free = freeDiskBytes(stateDir);
      if (est.bytes > free) {
        throw new UsageError(
          `the scan would store about ${formatBytes(est.bytes)} but only ${formatBytes(free)} is free under ${stateDir}: ` +
            "use --vectors f16 (half) or --vectors none (spectra only), scan fewer --layers, or put --state on a larger disk",
        );
      }
    }

    // ── fan-out ──
    process.on("SIGINT", onSigint);
    /** per task label: attempts that passed their deadline (run.json timeouts) */
    const timeouts = new Map<string, number>();
    const noteTimeout = (label: string) => timeouts.set(label, (timeouts.get(label) ?? 0) + 1);
    let stalled: string | undefined;
    const progress = createProgress(tasks.length + sadTasks.length, o.progress);
    const answers = new Map<ScanTask, Extract<Outcome, { ok: true }>>();
    let done = 0;
    const kernels = new Map<string, { name: string; simd: boolean }>();
    const computedTasks: string[] = [];
    // a layer's tensors are released once every request of that layer is built (tasks are layer-major)
    const pendingInLayer = new Map<number, number>();
    for (const t of tasks) pendingInLayer.set(t.layer, (pendingInLayer.get(t.layer) ?? 0) + 1);
    const posted = new Map<ScanTask, number>();
    const hashes = HashCache.open(out, ckpt.files);
    const stallGuard = (e: unknown) => {
      if (e instanceof TokenRejected) progress.stop();
      if (!(e instanceof NoProgress)) throw e;
      stalled = e.message;
    };
    await fanOut(tasks, {
      concurrency: o.concurrency,
      token: token!,
      policy,
      signal: abort.signal,
      worker: worker?.supervision,
      endpoint: o.endpoint,
      build: async (t) => {
        const base = taskUrl(endpoint!, arch, t, vectors);
        const urls = { ...base, post: base.post + readoutQuery(t) };
        const request = urls.post.slice(endpoint!.length);
        const storedInput = storedSha.get(keyOf(t.model, t.layer, t.head, t.circuit, t.variant));
        const left = pendingInLayer.get(t.layer)! - 1;
        pendingInLayer.set(t.layer, left);
        const check = async (sha256: string) => {
          if (storedInput !== sha256) return undefined;
          const stored = await profile.timeAsync("check", () =>
            storedAnswer(urls.get, sha256, (a) => vectorsMatch(a, vectors) && readoutsMatch(a, t), abort.signal, requestDeadlineMs(0, 0, o.concurrency, policy.deadline)),
          );
          return stored && { outcome: { ok: true as const, answer: stored, attempts: 0, timeouts: 0 } };
        };
        // a resume: the body's hash is known from an earlier run on these very files, so nothing is read
        const known = storedInput !== undefined ? hashes.get(request) : undefined;
        const skip = known !== undefined ? await check(known) : undefined;
        if (skip) {
          if (left === 0) arch.release(t.layer);
          return skip;
        }
        const sha = (b: Uint8Array) => profile.time("hash", () => createHash("sha256").update(b).digest("hex"));
        // the head's weights live only inside reuseOutputs (arrays reused head after head), so
        // everything made of them is made there, before any await
        const { body, sha256, legacySha } = reuseOutputs(() => {
          const w = profile.time("read", () => arch.circuit(t.layer, t.head, t.circuit));
          if (left === 0) arch.release(t.layer);
          const body = profile.time("encode", () => headBody(arch, w, t.circuit, t.offset));
          const sha256 = sha(body);
          // a result of another input is stored: perhaps by an earlier version, which sent BF16/F16
          // weights as F32 (the same values, another hash)
          const legacy = storedInput !== undefined && storedInput !== sha256 ? widened(w) : undefined;
          return { body, sha256, legacySha: legacy && sha(headBody(arch, legacy, t.circuit, t.offset)) };
        });
        profile.bytesHashed += body.byteLength;
        hashes.set(request, sha256);
        const stored = sha256 !== known ? await check(sha256) : undefined;
        if (stored) return stored;
        const found = legacySha !== undefined && legacySha === storedInput ? await check(legacySha) : undefined;
        if (found) {
          hashes.set(request, legacySha!);
          return found;
        }
        profile.bytesUploaded += body.byteLength;
        posted.set(t, performance.now());
        return { url: urls.post, body, flops: taskFlops(arch, t) + readoutFlops(t) };
      },
      onTimeout: (t) => noteTimeout(taskLabel(t)),
      onRetry: (t, attempt, why) => {
        counts.retries++;
        if (o.progress !== "quiet") progress.log(`retry ${attempt}/${o.retries} ${taskLabel(t)}: ${why}`);
      },
      done: (t, outcome) => {
        done++;
        const sent = posted.get(t);
        if (sent !== undefined) profile.add("http", performance.now() - sent);
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
    // SAD of every qk head whose SVD is stored (phase two), each layer's activations uploaded once first
    const sads = new Map<ScanTask, SadHeadReport>();
    const sadFailures: typeof failures = [];
    const activationIds = new Map<string, string>();
    const uploaded = { stored: 0, already_stored: 0, failed: 0 };
    if (activations && !abort.signal.aborted && !stalled) {
      const src = activations;
      const ready = sadTasks.filter((t) => answers.has(t));
      done += sadTasks.length - ready.length;
      const uploads = new Map<string, ActivationUpload>();
      for (const t of ready) {
        const u = { layer: t.layer, form: formOf(arch, t) };
        uploads.set(uploadKey(u), u);
      }
      const uploadFailed = new Map<string, Extract<Outcome, { ok: false }>>();
      await fanOut([...uploads.values()], {
        concurrency: 1, token: token!, policy, signal: abort.signal, worker: worker?.supervision, endpoint: o.endpoint,
        build: (u) => uploadRequest(endpoint!, src, arch, u),
        onTimeout: (u) => noteTimeout(`upload of layer ${u.layer} activations`),
        onRetry: (u, attempt, why) => {
          counts.retries++;
          if (o.progress !== "quiet") progress.log(`retry ${attempt}/${o.retries} upload of layer ${u.layer} activations: ${why}`);
        },
        done: (u, outcome) => {
          if (outcome.ok) {
            const a = outcome.answer as unknown as ActivationAnswer;
            activationIds.set(uploadKey(u), a.id);
            if (a.stored) uploaded.stored++;
            else uploaded.already_stored++;
          } else {
            uploaded.failed++;
            uploadFailed.set(uploadKey(u), outcome);
          }
        },
      }).catch(stallGuard);
      const sendable = ready.filter((t) => {
        const failed = uploadFailed.get(uploadKey({ layer: t.layer, form: formOf(arch, t) }));
        if (!failed) return true;
        counts.failed++;
        done++;
        sadFailures.push({ task: t, outcome: { ...failed, detail: `uploading layer ${t.layer}'s activations failed: ${failed.detail}` } });
        return false;
      });
      await fanOut(sendable, {
        concurrency: o.concurrency,
        token: token!,
        policy,
        signal: abort.signal,
        worker: worker?.supervision,
        endpoint: o.endpoint,
        build: (t) => ({
          ...sadRequest(endpoint!, arch, t, {
            tau: o.sadTau, activationsId: activationIds.get(uploadKey({ layer: t.layer, form: formOf(arch, t) }))!, window: windows[t.layer] ?? 0, focus, shape: { batch: src.batch, tokens: src.tokens },
          }),
          parse: (j) => SadSummarySchema.parse(j),
        }),
        onTimeout: (t) => noteTimeout(`SAD ${taskLabel(t)}`),
        onRetry: (t, attempt, why) => {
          counts.retries++;
          if (o.progress !== "quiet") progress.log(`retry ${attempt}/${o.retries} SAD ${taskLabel(t)}: ${why}`);
        },
        done: (t, outcome) => {
          done++;
          if (outcome.ok) {
            const a = outcome.answer as unknown as Record<string, unknown>;
            sads.set(t, sadHeadReport(a));
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
    hashes.save();
    if (stalled) {
      // what never finished is listed as failed, so the report and the exit code say so
      const ended = new Set([...answers.keys(), ...failures.map((x) => x.task)]);
      for (const t of tasks) {
        if (ended.has(t)) continue;
        counts.failed++;
        failures.push({ task: t, outcome: { ok: false, type: "no-progress", detail: "not finished: the scan stopped because the worker made no progress", attempts: 0, timeouts: 0 } });
      }
      // and the SAD of every qk head that had its spectrum but no SAD answer (the second phase stalled)
      if (activations) {
        const sadEnded = new Set([...sads.keys(), ...sadFailures.map((x) => x.task)]);
        for (const t of sadTasks) {
          if (sadEnded.has(t) || !answers.has(t)) continue;
          counts.failed++;
          failures.push({ task: t, outcome: { ok: false, type: "no-progress", detail: "SAD not finished: the scan stopped because the worker made no progress", attempts: 0, timeouts: 0 } });
        }
      }
      log(`headscope scan: ${stalled}`);
    }
    // summed over the local worker's processes (the peaks of each, so an upper bound of their sum at any moment)
    const sumOver = (f: (pid: number) => number | undefined) => {
      const xs = (worker?.pids ?? []).map(f).filter((x): x is number => x !== undefined);
      return xs.length ? xs.reduce((a, b) => a + b, 0) : undefined;
    };
    const workerPeak = sumOver(peakRssOf);
    const workerCpu = sumOver(cpuSecondsOf);
    const workerProcessCpu = (worker?.pids ?? []).map((p) => cpuSecondsOf(p) ?? 0);
    const workerRestarts = worker?.restarts();
    const localWorker = worker && { processes: worker.processes, ...(worker.served() ? { requests: worker.served() } : {}) };
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
        circuits, variants, layers, heads, offsets, endpoint: o.endpoint ? "remote" : "local", vectors,
        ...(scanReadouts ? { readouts: scanReadouts } : {}),
        ...(activations
          ? {
              sad: {
                tau: o.sadTau, batch: activations.batch, tokens: activations.tokens,
                prompt_lengths: activations.ragged ? "per prompt (right-padded; padding never read)" : "all equal",
                prompts: activations.prompts,
                focus: focus ? "IOI: END→IO and END→S2 of every prompt" : null,
                activations: Object.fromEntries([...activationIds].sort(([a], [b]) => (a < b ? -1 : 1))),
                verdict_rule: SAD_VERDICT_RULE,
              },
            }
          : {}),
      },
      kernels: [...kernels.values()],
      entries,
      ...(sads.size ? { sadOverview: medianDistribution([...sads.values()]) } : {}),
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
      /** attempts abandoned at their deadline, in all and per task (fan-out.ts requestDeadlineMs) */
      timeouts: [...timeouts.values()].reduce((a, b) => a + b, 0),
      timeouts_per_head: Object.fromEntries([...timeouts].sort(([a], [b]) => (a < b ? -1 : 1))),
      ...(stalled ? { stalled } : {}),
      ...(workerRestarts?.length ? { worker_restarts: workerRestarts } : {}),
      /** the embedded worker's workerd processes and the head requests each was given (the first owns the storage) */
      ...(localWorker ? { local_worker: localWorker } : {}),
      peak_rss_bytes: { cli: process.resourceUsage().maxRSS * 1024, ...(workerPeak ? { worker: workerPeak } : {}) },
      vectors,
      profile: profile.toJSON({
        wallSeconds: seconds, startSeconds, bytesRead: ckpt.bytesRead, hashCacheHits: hashes.hits,
        cliCpuSeconds: (() => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; })(),
        workerCpuSeconds: workerCpu, workerProcessCpuSeconds: workerProcessCpu,
      }),
      estimate: est,
      ...(activations ? { activation_uploads: uploaded } : {}),
      /** --prompts: the forward pass's wall and CPU seconds (cli/prompt-activations.ts) */
      ...(forward ? { forward } : {}),
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
    if (e instanceof CheckpointError || e instanceof UsageError || e instanceof ScanOptionError || e instanceof AppError || e instanceof TokenRejected) {
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
