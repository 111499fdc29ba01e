/**
 * @module model/chunks
 * How the forward pass shares its prompts between threads: the prompts are cut into chunks of about
 * equal token counts (many more than threads), and for each layer every thread takes the next chunk
 * from a counter in shared memory until none is left. A thread that runs ahead is never idle at a
 * layer's end while another finishes its share: it takes more chunks, and it may start the next layer
 * as soon as that block is read, taking there only chunks that have been through the previous layer
 * (a counter of layers done per chunk). Every row is computed by the same kernels whichever thread
 * takes it, so results do not depend on the number of threads or on which thread ran what.
 */
import type { BlockChunk } from "../kernels/forward";

/** Chunks per thread: enough that the last chunks of a layer leave a thread little to wait for. */
const CHUNKS_PER_THREAD = 8;
/** The fewest rows worth a chunk (the matmul packs rows 64 at a time). */
const MIN_CHUNK_ROWS = 64;

export interface ChunkPlan {
  /** prompt b owns global rows offsets[b] … offsets[b+1] − 1 */
  offsets: Int32Array;
  /** chunk c holds prompts prompts[c] … prompts[c+1] − 1 */
  prompts: Int32Array;
  /** what one chunk can hold at most, for the kernels' workspace */
  capacity: { rows: number; prompts: number; promptTokens: number };
}

/** Cuts the prompts into consecutive chunks of about total ÷ (threads × 8) tokens (at least 64, whole prompts). */
export function chunkPlan(lengths: number[], threads: number): ChunkPlan {
  const offsets = new Int32Array(lengths.length + 1);
  lengths.forEach((n, b) => (offsets[b + 1] = offsets[b] + n));
  const total = offsets[lengths.length];
  const target = Math.max(MIN_CHUNK_ROWS, Math.ceil(total / (threads * CHUNKS_PER_THREAD)));
  const starts = [0];
  for (let b = 1; b < lengths.length; b++) {
    if (offsets[b] - offsets[starts[starts.length - 1]] >= target) starts.push(b);
  }
  starts.push(lengths.length);
  const capacity = { rows: 0, prompts: 0, promptTokens: Math.max(...lengths) };
  for (let c = 0; c + 1 < starts.length; c++) {
    capacity.rows = Math.max(capacity.rows, offsets[starts[c + 1]] - offsets[starts[c]]);
    capacity.prompts = Math.max(capacity.prompts, starts[c + 1] - starts[c]);
  }
  return { offsets, prompts: Int32Array.from(starts), capacity };
}

/** The shared state of one forward pass: created by the main thread, posted to every worker. */
export interface ChunkQueue {
  plan: ChunkPlan;
  dModel: number;
  /** the residual stream of every token [N, d_model] (shared memory), updated chunk by chunk */
  resid: Float32Array;
  /** layer l's attention inputs [N, d_model] go to captures[l % 2] (shared memory) */
  captures: [Float32Array, Float32Array];
  /** [abort flag | next chunk, per layer | layers done, per chunk] (shared memory) */
  sync: Int32Array;
  layers: number;
}

const ABORT = 0;

/** A queue for `layers` layers, its residual stream zero (the caller writes the embeddings in). */
export function chunkQueue(plan: ChunkPlan, dModel: number, layers: number): ChunkQueue {
  const rows = plan.offsets[plan.offsets.length - 1];
  const shared = (n: number) => new Float32Array(new SharedArrayBuffer(4 * n));
  const resid = shared(rows * dModel);
  const chunks = plan.prompts.length - 1;
  return {
    plan, dModel, resid, captures: [shared(rows * dModel), shared(rows * dModel)], layers,
    sync: new Int32Array(new SharedArrayBuffer(4 * (1 + layers + chunks))),
  };
}

/** Makes every thread's `next` throw from its next call on, and wakes any thread waiting for a chunk. */
export function abortQueue(q: ChunkQueue): void {
  Atomics.store(q.sync, ABORT, 1);
  for (let i = 1 + q.layers; i < q.sync.length; i++) Atomics.notify(q.sync, i);
}

/**
 * The chunks of `layer` left for this thread, one per call, as the kernels' `next` wants them; a
 * chunk still in the previous layer on another thread is waited for.
 */
export function takeChunks(q: ChunkQueue, layer: number): () => BlockChunk | undefined {
  const { plan, dModel: d, sync } = q;
  const chunks = plan.prompts.length - 1;
  const captured = q.captures[layer % 2];
  const aborted = () => {
    if (Atomics.load(sync, ABORT)) throw new Error("forward pass aborted: another thread failed");
  };
  return () => {
    aborted();
    const c = Atomics.add(sync, 1 + layer, 1);
    if (c >= chunks) return undefined;
    const slot = 1 + q.layers + c;
    for (let done = Atomics.load(sync, slot); done < layer; done = Atomics.load(sync, slot)) {
      Atomics.wait(sync, slot, done, 100);
      aborted();
    }
    const p0 = plan.prompts[c], p1 = plan.prompts[c + 1];
    const r0 = plan.offsets[p0], r1 = plan.offsets[p1];
    return {
      resid: q.resid.subarray(r0 * d, r1 * d),
      offsets: plan.offsets.slice(p0, p1 + 1).map((r) => r - r0),
      captured: captured.subarray(r0 * d, r1 * d),
      done() {
        Atomics.store(sync, slot, layer + 1);
        Atomics.notify(sync, slot);
      },
    };
  };
}
