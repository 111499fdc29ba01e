/**
 * @module model/forward-worker
 * A worker thread of the forward pass (bundled to build/forward-worker.mjs): for each layer the main
 * thread sends (the block's weights in shared memory, read once by the main thread), takes chunks of
 * that layer from the shared queue and runs them until none is left, then answers.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { BlockShape, BlockWeights } from "../kernels/forward";
import { loadForwardKernels } from "../kernels/forward-node";
import { takeChunks, type ChunkQueue } from "./chunks";

export interface WorkerInit {
  wasm: string;
  shape: BlockShape;
  queue: ChunkQueue;
}
export interface WorkerRequest {
  layer: number;
  block?: BlockWeights;
  window: number;
}
export type WorkerReply = { ok: true } | { ok: false; message: string };

const { wasm, shape, queue } = workerData as WorkerInit;
const kernels = loadForwardKernels("release", wasm);
parentPort!.on("message", ({ layer, block, window }: WorkerRequest) => {
  try {
    kernels.runBlock({ shape, block, window, capacity: queue.plan.capacity, next: takeChunks(queue, layer) });
    parentPort!.postMessage({ ok: true } satisfies WorkerReply);
  } catch (e) {
    parentPort!.postMessage({ ok: false, message: (e as Error).message } satisfies WorkerReply);
  }
});
