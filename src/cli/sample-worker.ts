/**
 * @module cli/sample-worker
 * The thread (bundled to build/sample-worker.mjs) that times the worker's per-head code on the scan's
 * first bodies (cli/sample-costs.ts) while the main thread starts the local worker: timed on the main
 * thread, the sampling (about 1.3 s at d_model 4096) held up Miniflare's start, whose steps wait for
 * that thread's event loop. Answers once, with one result per job (undefined for a body the worker's
 * code refuses), and exits.
 */
import { parentPort, workerData } from "node:worker_threads";
import { sampleCosts, type SampleThreadData } from "./sample-costs";

const { jobs, wasm } = workerData as SampleThreadData;
parentPort!.postMessage(jobs.map((j) => {
  try {
    return sampleCosts(j.body, j.url, j.circuit, wasm);
  } catch {
    return undefined; // see sampleCostsOffThread
  }
}));
