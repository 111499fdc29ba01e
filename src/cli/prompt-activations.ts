/**
 * @module cli/prompt-activations
 * `scan --prompts SPEC`: prompts → token ids (model/prompts.ts, with the checkpoint's tokenizer) →
 * the forward pass (model/forward.ts, every core) → every scanned layer's attention input, as an
 * ActivationSource (cli/sad.ts) carrying the prompt lengths (right-padded, padding never read), the
 * IOI roles, and a description of the prompts for the report and for `--save-activations`.
 */
import { basename } from "node:path";
import { computeAttentionInputs, loadTokenizer, resolvePrompts } from "../model";
import type { ArchitectureOverrides } from "./architectures";
import type { Checkpoint } from "./checkpoint";
import { ActivationSource } from "./sad";

export interface PromptRunOptions {
  arch: string;
  overrides?: ArchitectureOverrides;
  layers: number[];
  log: (s: string) => void;
  /** called with the prompts' count and the longest one's length before the forward pass, to refuse what cannot be used */
  check?: (batch: number, tokens: number) => void;
}

/** The forward pass's cost, for run.json (`forward`). */
export interface ForwardTiming {
  seconds: number;
  /** CPU seconds of this process (every thread) during the pass */
  cpu_seconds: number;
  threads: number;
  /** WebAssembly memory each thread held */
  memory_per_thread_bytes: number;
  /** why fewer threads than cores ran, when memory was the reason */
  threads_limited_by?: string;
  kernel: string;
  prompts: number;
  tokens: number;
}

export async function promptActivations(
  path: string, ckpt: Checkpoint, spec: string, o: PromptRunOptions,
): Promise<{ source: ActivationSource; forward: ForwardTiming }> {
  const tokenizer = loadTokenizer(path, o.arch, ckpt.config);
  const { tokens, meta } = resolvePrompts(spec, tokenizer);
  o.check?.(tokens.length, Math.max(...tokens.map((t) => t.length)));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await computeAttentionInputs(ckpt, tokens, { arch: o.arch, overrides: o.overrides, layers: o.layers });
  const cpu = process.cpuUsage(c0);
  const forward: ForwardTiming = {
    seconds: Math.round(performance.now() - t0) / 1000, cpu_seconds: Math.round((cpu.user + cpu.system) / 1000) / 1000,
    threads: r.kernel.threads, memory_per_thread_bytes: r.kernel.memoryPerThread,
    ...(r.kernel.limitedBy ? { threads_limited_by: r.kernel.limitedBy } : {}), kernel: r.kernel.name, prompts: r.batch, tokens: r.lengths.reduce((a, b) => a + b, 0),
  };
  o.log(`forward pass: ${r.batch} prompts (${Math.min(...r.lengths)}–${r.tokens} tokens), layers ${r.layers[0]}–${r.layers[r.layers.length - 1]}, ` +
    `${r.kernel.threads} thread(s) (${(r.kernel.memoryPerThread / 2 ** 20).toFixed(0)} MiB of WebAssembly memory each${r.kernel.limitedBy ? `; ${r.kernel.limitedBy}` : ""}), ` +
    `${forward.seconds.toFixed(1)} s`);
  const ioi = meta.ioi ? Int32Array.from(meta.ioi.flatMap((p) => [p.positions.IO, p.positions.S1, p.positions.S2, p.positions.END])) : undefined;
  const description: Record<string, unknown> = {
    spec: meta.kind === "ioi" ? meta.spec : basename(meta.spec),
    kind: meta.kind,
    ...(meta.seed !== undefined ? { seed: meta.seed } : {}),
    count: r.batch,
    tokenizer: meta.tokenizer === null ? null : basename(meta.tokenizer),
    bos: meta.bos,
    padding: r.padding,
    ...(meta.ioi ? { ioi_single_token_names: meta.ioi.filter((p) => p.single_token_names).length, ioi_roles: "ioi_positions [B, 4] = IO, S1, S2, END" } : {}),
  };
  return { source: ActivationSource.fromForward(r, ioi, description), forward };
}
