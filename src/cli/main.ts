/**
 * @module cli/main
 * `headscope` command line (commander). `headscope scan [CHECKPOINT] --out DIR` scans every head of a
 * safetensors checkpoint through a headscope worker — the embedded local one by default, or any
 * deployment with --endpoint and --token — and writes report.json and report.html.
 */
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { ARCHITECTURES } from "./architectures";
import { runScan } from "./scan";
import { runServerScan, runUpload } from "./server-scan";
import { maskTokenArgument } from "./token";

const int = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
  return n;
};
const readoutsArg = (v: string): number | "all" => {
  if (v === "all") return "all";
  if (!/^\d+$/.test(v) || Number(v) > 4096) throw new InvalidArgumentError("a number of singular vectors (0 … 4096) or all");
  return Number(v);
};
const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number");
  return n;
};

/** The project root: this file is bundled to build/cli/headscope.mjs. */
export const projectRoot = () => fileURLToPath(new URL("../..", import.meta.url));

export function program(): Command {
  const p = new Command("headscope").description("Singular vectors of attention heads: whole-model scans through a headscope worker");
  p.command("scan")
    .description("scan every head of a checkpoint (default: a small example model generated on the spot)")
    .argument("[checkpoint]", "model.safetensors, model.safetensors.index.json, or a directory holding either")
    .option("-o, --out <dir>", "output directory (default: out/<model-name>)")
    .option("--endpoint <url>", "a deployed headscope worker (default: start the local one)")
    .option("--token <token>", "write token for --endpoint (default and preferred: $HEADSCOPE_TOKEN; an argument is visible to ps until the CLI masks it)")
    .addOption(new Option("--arch <name>", "architecture (default: detected from tensor names)").choices(ARCHITECTURES))
    .option("--model-name <name>", "name the results are stored under (default: config.json's _name_or_path, else the folder of model.safetensors/index/shards, else the file name)")
    .option("--circuits <list>", "qk, ov or all", "all")
    .option("--layers <list>", 'layers, e.g. "0-3,7", or all', "all")
    .option("--heads <list>", 'heads, e.g. "0,5", or all', "all")
    .option("--variants <list>", "default, or any of raw, raw_augmented, folded, folded_augmented (method §3)", "default")
    .option("--rotary-offsets <list>", "rotary models: relative offsets Δ to analyse Ω_Δ at (results for Δ ≠ 0 go to <model>.rot<Δ>)", "0")
    .option("-c, --concurrency <n>", "requests in flight", int(1), 4)
    .option("--retries <n>", "retries of a request that may succeed later (429, 5xx, network)", int(0), 5)
    .option("--retry-base-ms <ms>", "first backoff (doubles each retry, full jitter)", int(1), 250)
    .option("--deadline-scale <x>", "multiply every request's deadline (10 s + concurrency × (MB/1 MB/s + GFLOP/0.05 GFLOP/s))", num, 1)
    .option("--n-heads <n>", "number of attention heads when there is no config.json", int(1))
    .option("--n-kv-heads <n>", "key/value heads (grouped-query attention) when there is no config.json", int(1))
    .option("--rotary-dim <n>", "rotary dimensions per head (overrides config.json)", int(0))
    .option("--rotary-base <x>", "rotary base θ (overrides config.json)", num)
    .option("--activations <file>", "safetensors with layer.{l} [T, d_model] or [B, T, d_model] normalised token vectors: adds SAD per qk head")
    .option("--prompts <spec>", "ioi[:N], FILE.txt or FILE.jsonl: run the forward pass here and add SAD per qk head on the model's own attention inputs")
    .option("--save-activations <file>", "with --prompts: write the attention inputs (layer.{l} [B, T, d_model] F32) in the format --activations reads")
    .option("--sad-tau <x>", "SAD N_recon threshold τ (method §4)", num, 1)
    .addOption(new Option("--vectors <dtype>", "how each result's U and V are stored: f32, f16 (half the storage), or none (spectra only)").choices(["f32", "f16", "none"]).default("f32"))
    .option("--readouts <n>", "token readouts of the leading N singular vectors per side (N, all, or 0 for none) when the checkpoint has a token embedding", readoutsArg, 8)
    .option("--readout-k <k>", "tokens at each end of a readout", int(1), 10)
    .option("--state <dir>", "local worker's R2/KV state (default: .wrangler/state in the project)")
    .option("--local-processes <n>", "workerd processes of the local worker: the first owns R2 and KV, the others compute (default: $HEADSCOPE_LOCAL_PROCESSES; else, on several cores, 1 + cores up to 5 when each head's work is large: d_model × d_head ≥ 2^18, or readouts over a basis of vocab × d_model ≥ 2^23, or SAD over prompts × tokens × d_model ≥ 2^20; else 1)", int(1))
    .addOption(new Option("--progress <mode>", "progress display").choices(["auto", "bar", "plain", "quiet"]).default("auto"))
    .option("--no-html", "skip report.html")
    .option("--server-side", "run the scan on the worker's own fan-out: upload the checkpoint to R2 (what is missing), start a job, follow it")
    .option("--job <id>", "follow (or resume following) a server-side scan job and write its report")
    .action(async (checkpoint: string | undefined, opts) => {
      const run = opts.serverSide || opts.job ? runServerScan : runScan;
      if (opts.job && checkpoint) throw new InvalidArgumentError("--job follows an existing job: give no checkpoint");
      const r = await run({
        job: opts.job,
        checkpoint, out: opts.out, endpoint: opts.endpoint, token: opts.token, arch: opts.arch, modelName: opts.modelName,
        circuits: opts.circuits, layers: opts.layers, heads: opts.heads, variants: opts.variants,
        concurrency: opts.concurrency, retries: opts.retries, retryBaseMs: opts.retryBaseMs, deadlineScale: opts.deadlineScale, rotaryOffsets: opts.rotaryOffsets,
        nHeads: opts.nHeads, nKvHeads: opts.nKvHeads, rotaryDim: opts.rotaryDim, rotaryBase: opts.rotaryBase,
        stateDir: opts.state, localProcesses: opts.localProcesses, activations: opts.activations, prompts: opts.prompts, saveActivations: opts.saveActivations, sadTau: opts.sadTau, vectors: opts.vectors, readouts: opts.readouts, readoutK: opts.readoutK, progress: opts.progress, html: opts.html, root: projectRoot(),
      });
      // exit now: a failed local runtime can leave handles behind that would keep the process alive
      process.exit(r.exitCode);
    });
  p.command("upload")
    .description("put a checkpoint into the worker's R2 for server-side scans (multipart, resumable; shards already there are not sent); prints its id")
    .argument("<checkpoint>", "model.safetensors, model.safetensors.index.json, or a directory holding either")
    .option("--endpoint <url>", "a deployed headscope worker (default: the local one)")
    .option("--token <token>", "write token for --endpoint (default and preferred: $HEADSCOPE_TOKEN; an argument is visible to ps until the CLI masks it)")
    .option("--model-name <name>", "the checkpoint's name (default: as for scan)")
    .option("--state <dir>", "local worker's state, and where interrupted uploads are remembered (default: .wrangler/state)")
    .action(async (checkpoint: string, opts) => {
      process.exit(await runUpload({ checkpoint, endpoint: opts.endpoint, token: opts.token, modelName: opts.modelName, stateDir: opts.state, root: projectRoot() }));
    });
  return p;
}

maskTokenArgument();
program()
  .parseAsync()
  .catch((e) => {
    process.stderr.write(`headscope: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
