/**
 * @module cli/sample-costs
 * Times the worker's own per-head code — safetensors parse and validation, the variant's plan
 * (fold), the factored SVD with the folding it runs in the same kernel call, the vectors file's
 * encoding — on one request body, in this process with
 * the same WebAssembly kernels. The local worker cannot time these itself (workerd's clock stands
 * still between I/O), so this is how the profile splits the worker's time and how the estimate
 * predicts a scan's. The scan times them on a thread of their own (sample-worker.ts), beside the
 * local worker's start.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { kernelPath, loadKernels } from "../kernels/load-node";
import { planHeadFactors } from "../services/head-factors";
import { readHeadWeights } from "../services/head-weights";
import { HeadOptionsSchema, type Circuit } from "../wire/head-request";
import { encodeSafetensors, parseSafetensors } from "../wire/safetensors";
import type { SampledCosts } from "./profile";

let kernels: ReturnType<typeof loadKernels> | undefined;

/**
 * Seconds of each step for one body: the fastest of up to ten runs (at least two, then while
 * under ~0.3 s of runs), so compilation and JIT warm-up are not counted — the worker runs the same
 * code hundreds of times. (Two runs were not enough: the second still showed the fold of a GPT-2
 * head at 18 ms against 0.8 ms once warm. The scan samples beside the local worker's start, on
 * busy cores: up to five runs still showed the OV steps of a GPT-2 head 2–10× above their time
 * alone, where ten of its ~10 ms runs mostly keep them near it.)
 */
export function sampleCosts(body: Uint8Array, url: string, circuit: Circuit, wasm = kernelPath("release")): SampledCosts {
  kernels ??= loadKernels("release", wasm);
  const options = HeadOptionsSchema.parse(Object.fromEntries(new URL(url).searchParams));
  let out: SampledCosts | undefined;
  const started = performance.now();
  for (let run = 0; run < 10 && (run < 2 || performance.now() - started < 300); run++) {
    const t0 = performance.now();
    const weights = readHeadWeights(circuit, parseSafetensors(body));
    const t1 = performance.now();
    const { a, b } = planHeadFactors(weights, options);
    const t2 = performance.now();
    const { svd } = kernels.foldedSvd(a, b);
    const t3 = performance.now();
    if (!svd) throw new Error("a factor folds to zeros");
    encodeSafetensors({
      U: { dtype: "F32", shape: [svd.m, svd.k], data: svd.U },
      S: { dtype: "F64", shape: [svd.k], data: svd.S },
      V: { dtype: "F32", shape: [svd.m, svd.k], data: svd.V },
    });
    const t4 = performance.now();
    const these = { parse: (t1 - t0) / 1000, fold: (t2 - t1) / 1000, svd: (t3 - t2) / 1000, encode_vectors: (t4 - t3) / 1000 };
    if (run === 0) continue; // the first run compiles
    out = out
      ? { ...out, parse: Math.min(out.parse, these.parse), fold: Math.min(out.fold, these.fold), svd: Math.min(out.svd, these.svd), encode_vectors: Math.min(out.encode_vectors, these.encode_vectors) }
      : { circuit, d_model: weights.dModel, ...these };
  }
  return out!;
}

/** What the sampling thread is given. */
export interface SampleThreadData {
  jobs: SampleJob[];
  /** the release kernels' .wasm */
  wasm: string;
}

/** One body to time: the request body, its URL (the options are read from it) and its circuit. */
export interface SampleJob {
  body: Uint8Array;
  url: string;
  circuit: Circuit;
}

/**
 * sampleCosts of each job on a worker thread (build/sample-worker.mjs), so this thread stays free
 * meanwhile. A job whose body the worker's code refuses gives undefined: the sampling is optional
 * (the fan-out reports such a head as usual, the estimate goes without a time).
 * @throws Error when the thread's bundle is missing or the thread fails
 */
export function sampleCostsOffThread(jobs: SampleJob[]): Promise<Array<SampledCosts | undefined>> {
  const script = fileURLToPath(new URL("../../build/sample-worker.mjs", import.meta.url));
  if (!existsSync(script)) return Promise.reject(new Error(`${script} is missing (run \`npm run build:cli\`)`));
  return new Promise((resolve, reject) => {
    // the kernels' path is resolved here: the thread's bundle lies elsewhere in build/
    const worker = new Worker(script, { workerData: { jobs, wasm: kernelPath("release") } satisfies SampleThreadData });
    worker.once("message", (out: Array<SampledCosts | undefined>) => resolve(out));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the sampling thread exited with code ${code} before answering`)));
  });
}
