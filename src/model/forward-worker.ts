/**
 * @module model/forward-worker
 * A worker thread of the forward pass (bundled to build/forward-worker.mjs): holds the residual
 * stream of its share of the prompts and runs each block the main thread sends (weights in shared
 * memory, read once by the main thread), answering with that block's attention input.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { BlockShape, BlockWeights } from "../kernels/forward";
import { loadForwardKernels } from "../kernels/forward-node";

export interface WorkerInit {
  wasm: string;
  shape: BlockShape;
  offsets: Int32Array;
  resid: Float32Array;
}
export interface WorkerRequest {
  block?: BlockWeights;
  window: number;
}
export type WorkerReply = { ok: true; captured: Float32Array } | { ok: false; message: string };

const init = workerData as WorkerInit;
const kernels = loadForwardKernels("release", init.wasm);
parentPort!.on("message", (req: WorkerRequest) => {
  try {
    const captured = kernels.runBlock({ shape: init.shape, resid: init.resid, offsets: init.offsets, block: req.block, window: req.window });
    parentPort!.postMessage({ ok: true, captured } satisfies WorkerReply, [captured.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ ok: false, message: (e as Error).message } satisfies WorkerReply);
  }
});
