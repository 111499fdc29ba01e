/**
 * @module model/forward
 * The forward pass from token ids to every layer's attention input, as TransformerLens's
 * `blocks.{l}.ln1.hook_normalized` (method §3): LayerNorm's centred residual divided by its scale,
 * or RMSNorm's residual divided by its RMS, without γ or β.
 *
 * Prompts of different lengths are never padded inside the computation: their tokens are stacked,
 * attention only meets tokens of the same prompt (causal), and every prompt's positions start at 0,
 * so a prompt's activations are the same whatever else is in the batch. The result is returned
 * right-padded to the longest prompt, zeros at positions ≥ lengths[b]; `groupByLength` splits it
 * into dense groups of equal length for consumers that cannot skip padding.
 *
 * Memory: the main thread reads one block at a time into shared memory (the next block over the
 * current one once every thread has copied it in, while they run it); the residual stream of every token and the
 * captured attention inputs are in shared memory too; each thread holds one block's packed weights
 * and one chunk's activations in WebAssembly memory, so memory caps the number of threads
 * (threadsFor). The pass stops at the last block whose
 * attention input is asked for. Threads take chunks of prompts from a shared queue (model/chunks),
 * so a slower thread never holds the others up, and results do not depend on the number of threads:
 * every row is computed by the same kernels in the same order.
 */
import { availableParallelism, freemem } from "node:os";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Checkpoint, CheckpointError } from "../cli/checkpoint";
import type { ArchitectureFacts, ArchitectureOverrides } from "../cli/architectures";
import { linearDims, WASM_MEMORY_LIMIT, type BlockShape, type BlockWeights, type ForwardKernels } from "../kernels/forward";
import { loadForwardKernels } from "../kernels/forward-node";
import { kernelPath, type KernelBuild } from "../kernels/load-node";
import { forwardModel, type ForwardModel } from "./architectures";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./forward-worker";
import { abortQueue, chunkPlan, chunkQueue, takeChunks, type ChunkQueue } from "./chunks";

export interface ForwardOptions {
  /** force an architecture (as `scan --arch`) */
  arch?: string;
  /** head counts and rotary facts when config.json is missing (as the scan's flags) */
  overrides?: ArchitectureOverrides;
  /** layers whose attention input to return (default all); the pass stops after the largest */
  layers?: number[];
  /** worker threads (default: every core); 1 runs in this thread */
  threads?: number;
  /** kernel build (default release, the SIMD one) */
  kernel?: KernelBuild;
  /** called as each layer's attention input is ready, in layer order */
  onLayer?: (layer: number, activations: Float32Array) => void;
}

export interface AttentionInputs {
  /** the scan's architecture facts */
  facts: ArchitectureFacts;
  /** the forward layout read, for the record */
  layout: string;
  /** the layers returned, ascending */
  layers: number[];
  /** per returned layer, [batch, tokens, dModel] row-major F32; zeros at positions ≥ lengths[b] */
  activations: Float32Array[];
  batch: number;
  /** the longest prompt's length */
  tokens: number;
  dModel: number;
  /** each prompt's number of tokens */
  lengths: number[];
  /** how prompts of different lengths were handled, for the record */
  padding: string;
  kernel: {
    name: string;
    simd: boolean;
    threads: number;
    /** WebAssembly memory each thread holds (one block's packed weights, one chunk's activations) */
    memoryPerThread: number;
    /** why fewer threads than cores ran, when memory was the reason */
    limitedBy?: string;
  };
}

export const PADDING_NOTE =
  "no padding in the computation (prompts stacked, attention within a prompt, positions from 0); " +
  "the returned [B, T, d_model] is right-padded with zeros at positions >= lengths[b]";

/** One layer on one lane: `packed` once the lane has copied the block's weights in, `done` at its end. */
interface LaneRun {
  packed: Promise<void>;
  done: Promise<void>;
}

/** A thread that runs layers: this one, or a worker. */
interface Lane {
  /** runs chunks of `layer` from the shared queue until none is left */
  run(layer: number, block: BlockWeights | undefined, window: number): LaneRun;
  close(): Promise<void>;
}

function inlineLane(kernels: ForwardKernels, shape: BlockShape, queue: ChunkQueue): Lane {
  return {
    run(layer, block, window) {
      try {
        kernels.runBlock({ shape, block, window, capacity: queue.plan.capacity, next: takeChunks(queue, layer) });
        return { packed: Promise.resolve(), done: Promise.resolve() };
      } catch (e) {
        const failed = Promise.reject(e);
        return { packed: failed, done: failed };
      }
    },
    close: async () => {},
  };
}

function workerScript(): string {
  const path = fileURLToPath(new URL("../../build/forward-worker.mjs", import.meta.url));
  if (!existsSync(path)) throw new Error(`forward worker not built: ${path} is missing (run \`npm run build\`)`);
  return path;
}

function workerLane(script: string, init: WorkerInit): Lane {
  const worker = new Worker(script, { workerData: init });
  // runs are posted ahead (the worker queues them) and answered by layer
  const runs = new Map<number, { packed: Deferred; done: Deferred }>();
  let failed: Error | undefined;
  const fail = (e: Error) => {
    failed ??= e;
    for (const r of runs.values()) {
      r.packed.reject(e);
      r.done.reject(e);
    }
    runs.clear();
  };
  worker.on("message", (m: WorkerReply) => {
    const r = runs.get(m.layer);
    if (!r) return;
    if ("packed" in m) return r.packed.resolve();
    runs.delete(m.layer);
    const error = m.ok ? undefined : new Error(m.message);
    for (const d of [r.packed, r.done]) {
      if (error) d.reject(error);
      else d.resolve();
    }
  });
  worker.on("error", fail);
  worker.on("exit", (code) => code !== 0 && fail(new Error(`forward worker exited with code ${code}`)));
  return {
    run(layer, block, window) {
      if (failed) return { packed: Promise.reject(failed), done: Promise.reject(failed) };
      const r = { packed: deferred(), done: deferred() };
      runs.set(layer, r);
      worker.postMessage({ layer, block, window } satisfies WorkerRequest);
      return { packed: r.packed.promise, done: r.done.promise };
    },
    close: async () => {
      await worker.terminate();
    },
  };
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function deferred(): Deferred {
  const d = {} as Deferred;
  d.promise = new Promise<void>((resolve, reject) => Object.assign(d, { resolve, reject }));
  return d;
}

/**
 * Shared memory for a block's weights, reused block after block, so reading a model leaves no
 * block-sized garbage behind. Every block of a model has the same shapes, so the n-th allocation of
 * a block reuses the n-th buffer.
 */
function sharedArena(): { reset(): void; alloc(length: number): Float32Array } {
  const buffers: Float32Array[] = [];
  let next = 0;
  return {
    reset: () => void (next = 0),
    alloc(length) {
      const b = buffers[next];
      if (b && b.length === length) {
        next++;
        return b; // every value is overwritten: readers fill all of what they allocate
      }
      const fresh = new Float32Array(new SharedArrayBuffer(4 * length));
      buffers[next++] = fresh;
      return fresh;
    },
  };
}

/**
 * Every requested layer's attention input for token-id prompts.
 * @param checkpoint - a path (safetensors file, sharded index or directory, as `scan`) or an open Checkpoint
 * @param prompts - token ids per prompt (each at least one token)
 * @throws CheckpointError for an unusable checkpoint, bad token ids or too-long prompts
 */
export async function computeAttentionInputs(
  checkpoint: string | Checkpoint, prompts: number[][], opts: ForwardOptions = {},
): Promise<AttentionInputs> {
  const ckpt = typeof checkpoint === "string" ? Checkpoint.open(checkpoint) : checkpoint;
  try {
    const model = forwardModel(ckpt, opts.arch, opts.overrides);
    return await run(model, prompts, opts);
  } finally {
    if (typeof checkpoint === "string") ckpt.close();
  }
}

async function run(model: ForwardModel, prompts: number[][], opts: ForwardOptions): Promise<AttentionInputs> {
  const { facts, shape } = model;
  const d = shape.dModel;
  if (prompts.length === 0) throw new CheckpointError("no prompts");
  const lengths = prompts.map((p, b) => {
    if (!Array.isArray(p) || p.length === 0) throw new CheckpointError(`prompt ${b} has no tokens`);
    if (model.maxTokens && p.length > model.maxTokens.tokens) {
      throw new CheckpointError(`prompt ${b} has ${p.length} tokens; at most ${model.maxTokens.tokens} (${model.maxTokens.why})`);
    }
    return p.length;
  });
  const layers = [...new Set(opts.layers ?? Array.from({ length: facts.n_layers }, (_, l) => l))].sort((a, b) => a - b);
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= facts.n_layers) throw new CheckpointError(`layer ${l} is outside 0..${facts.n_layers - 1}`);
  }
  if (layers.length === 0) throw new CheckpointError("no layers requested");
  const last = layers[layers.length - 1];
  const T = Math.max(...lengths);
  const B = prompts.length;
  const build = opts.kernel ?? "release";
  const wasm = kernelPath(build);
  const kernels = loadForwardKernels(build, wasm);
  const { threads, memoryPerThread, limitedBy } = threadsFor(model, kernels, lengths, layers.length, opts.threads);

  const plan = chunkPlan(lengths, threads);
  const queue = chunkQueue(plan, d, last + 1);
  const lanes: Lane[] = [];
  try {
    // workers start (and compile the kernels) while this thread embeds the prompts and reads block 0
    if (threads > 1) {
      const script = workerScript();
      for (let i = 0; i < threads; i++) lanes.push(workerLane(script, { build, wasm, shape, queue }));
    } else {
      lanes.push(inlineLane(kernels, shape, queue));
    }
    queue.resid.set(model.embed(prompts));
    const wanted = new Set(layers);
    const activations: Float32Array[] = [];
    const arena = sharedArena();
    const read = (l: number): BlockWeights | undefined => {
      if (l >= last) return undefined; // the last layer only captures its attention input
      arena.reset();
      return model.block(l, arena.alloc);
    };
    await runLayers(lanes, queue, last, read, (l) => model.window(l), (l) => {
      if (!wanted.has(l)) return;
      const captured = queue.captures[l % 2];
      const out = new Float32Array(B * T * d);
      for (let b = 0; b < B; b++) out.set(captured.subarray(plan.offsets[b] * d, plan.offsets[b + 1] * d), b * T * d);
      opts.onLayer?.(l, out);
      activations.push(out);
    });
    return {
      facts, layout: model.layout, layers, activations, batch: B, tokens: T, dModel: d, lengths, padding: PADDING_NOTE,
      kernel: { name: kernels.name, simd: kernels.simd, threads: lanes.length, memoryPerThread, limitedBy },
    };
  } finally {
    await Promise.all(lanes.map((l) => l.close()));
  }
}

const GB = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;

/**
 * How many threads to run: every core (at most one per prompt) unless asked, and by default no more
 * than `available` (the memory this process may use: its cgroup's limit, or what the system has
 * free) holds; each thread holds a block's packed weights in its own WebAssembly memory. A block
 * that cannot fit in one WebAssembly memory (4 GiB) is refused here, before any weight is read.
 */
export function threadsFor(
  model: ForwardModel, kernels: ForwardKernels, lengths: number[], layers: number, asked?: number,
  available = (process as { availableMemory?: () => number }).availableMemory?.() || freemem(),
): { threads: number; memoryPerThread: number; limitedBy?: string } {
  const cores = Math.max(1, Math.min(asked ?? availableParallelism(), lengths.length));
  const perThread = (threads: number) => kernels.memoryBytes(model.shape, model.ff, chunkPlan(lengths, threads).capacity);
  const need = perThread(1); // one thread's chunks are the largest
  if (need > WASM_MEMORY_LIMIT) {
    throw new CheckpointError(
      `a block of this model (d_model ${model.shape.dModel}, MLP ${model.ff}) needs ${GB(need)} of WebAssembly memory for its packed F32 ` +
      `weights and one chunk of activations, more than the ${GB(WASM_MEMORY_LIMIT)} a WebAssembly memory can hold`,
    );
  }
  if (asked !== undefined) return { threads: cores, memoryPerThread: perThread(cores) };
  // what this thread holds besides: the block as read (F32), the residual stream and two layers'
  // captures, the results
  const d = model.shape.dModel;
  const tokens = lengths.reduce((a, b) => a + b, 0);
  const block = linearDims(model.shape, model.ff).reduce((sum, [k, m]) => sum + k * m, 0);
  const kept = 4 * (block + 3 * tokens * d + layers * lengths.length * Math.max(...lengths) * d);
  const fit = Math.max(1, Math.floor((0.8 * available - kept) / need));
  if (fit >= cores) return { threads: cores, memoryPerThread: perThread(cores) };
  return {
    threads: fit, memoryPerThread: perThread(fit),
    limitedBy: `${fit} of ${cores} threads: each holds ${GB(need)} of WebAssembly memory and this process may use ${GB(available)}`,
  };
}

/**
 * Runs layers 0 … last on every lane. Block l + 1 is read over block l (one shared buffer, `read`)
 * once every lane has copied block l in, and every lane is sent layer l + 1 then, if layer l − 1's
 * captures, which layer l + 1 overwrites, are through `layerDone`. So each lane nearly always has
 * the next layer queued: it goes on as soon as it is done, taking that layer's chunks as they come
 * through, and never waits for this thread. `layerDone` is called in layer order.
 */
async function runLayers(
  lanes: Lane[], queue: ChunkQueue, last: number, read: (l: number) => BlockWeights | undefined, window: (l: number) => number,
  layerDone: (l: number) => void,
): Promise<void> {
  const started: Array<Promise<void> | undefined> = [];
  const finished: Promise<void>[] = []; // layer l done by every lane, and through layerDone
  // the first failure wakes the lanes waiting for a chunk that will never come; their "aborted"
  // errors follow it, and it is what the pass throws
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
    abortQueue(queue);
  };
  const start = (l: number) => {
    const block = read(l);
    const runs = lanes.map((lane) => lane.run(l, block, window(l)));
    finished[l] = Promise.all([...runs.map((r) => r.done), finished[l - 1]]).then(() => layerDone(l));
    if (l < last) started[l + 1] = Promise.all([...runs.map((r) => r.packed), finished[l - 1]]).then(() => start(l + 1));
    else for (const r of runs) r.packed.catch(() => {}); // its failure is done's
    for (const p of [finished[l], started[l + 1]]) p?.catch(fail);
  };
  try {
    start(0);
    for (let l = 0; l <= last; l++) {
      await started[l];
      await finished[l];
    }
  } catch (e) {
    throw failure ? failure.error : e;
  }
}

/** Prompts of equal length, with their rows of every returned layer as dense [count, length, dModel]. */
export interface LengthGroup {
  length: number;
  /** indices into the original prompts, ascending */
  prompts: number[];
  activations: Float32Array[];
}

/** Splits a right-padded result into groups of equal length (ascending), dropping every padded position. */
export function groupByLength(inputs: AttentionInputs): LengthGroup[] {
  const { tokens: T, dModel: d, lengths } = inputs;
  const byLength = new Map<number, number[]>();
  lengths.forEach((n, b) => byLength.set(n, [...(byLength.get(n) ?? []), b]));
  return [...byLength.entries()].sort(([a], [b]) => a - b).map(([length, idx]) => ({
    length,
    prompts: idx,
    activations: inputs.activations.map((layer) => {
      const out = new Float32Array(idx.length * length * d);
      idx.forEach((b, i) => out.set(layer.subarray(b * T * d, (b * T + length) * d), i * length * d));
      return out;
    }),
  }));
}
