/**
 * @module model/forward-worker
 * A worker thread of the forward pass (bundled to build/forward-worker.mjs): for each layer the main
 * thread sends (the block's weights in shared memory, read once by the main thread), copies the
 * weights in and says so (the main thread then reads the next block over them), takes chunks of that
 * layer from the shared queue and runs them until none is left, then answers.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { BlockShape, BlockWeights } from "../kernels/forward";
import { loadForwardKernels } from "../kernels/forward-node";
import type { KernelBuild } from "../kernels/load-node";
import { takeChunks, type ChunkQueue } from "./chunks";

export interface WorkerInit {
  build: KernelBuild;
  wasm: string;
  shape: BlockShape;
  queue: ChunkQueue;
}
export interface WorkerRequest {
  layer: number;
  block?: BlockWeights;
  window: number;
}
/** Per layer: `packed` once its weights are copied in, then its end, ok or not. */
export type WorkerReply = { layer: number; packed: true } | { layer: number; ok: true } | { layer: number; ok: false; message: string };

const { build, wasm, shape, queue } = workerData as WorkerInit;
const kernels = loadForwardKernels(build, wasm);
parentPort!.on("message", ({ layer, block, window }: WorkerRequest) => {
  const reply = (m: WorkerReply) => parentPort!.postMessage(m);
  try {
    kernels.runBlock({
      shape, block, window, capacity: queue.plan.capacity, next: takeChunks(queue, layer), packed: () => reply({ layer, packed: true }),
    });
    reply({ layer, ok: true });
  } catch (e) {
    reply({ layer, ok: false, message: (e as Error).message });
  }
});
