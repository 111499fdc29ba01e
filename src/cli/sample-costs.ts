/**
 * @module cli/sample-costs
 * Times the worker's own per-head code — safetensors parse and validation, the variant's factors
 * (fold), the factored SVD, the vectors file's encoding — on one request body, in this process with
 * the same WebAssembly kernels. The local worker cannot time these itself (workerd's clock stands
 * still between I/O), so this is how the profile splits the worker's time and how the estimate
 * predicts a scan's.
 */
import { loadKernels } from "../kernels/load-node";
import { buildHeadFactors } from "../services/head-factors";
import { readHeadWeights } from "../services/head-weights";
import { HeadOptionsSchema, type Circuit } from "../wire/head-request";
import { encodeSafetensors, parseSafetensors } from "../wire/safetensors";
import type { SampledCosts } from "./profile";

let kernels: ReturnType<typeof loadKernels> | undefined;

/**
 * Seconds of each step for one body: the fastest of up to five runs (at most ~0.3 s of runs), so
 * compilation and JIT warm-up are not counted — the worker runs the same code hundreds of times.
 * (Two runs were not enough: the second still showed the fold of a GPT-2 head at 18 ms against
 * 0.8 ms once warm.)
 */
export function sampleCosts(body: Uint8Array, url: string, circuit: Circuit): SampledCosts {
  kernels ??= loadKernels("release");
  const options = HeadOptionsSchema.parse(Object.fromEntries(new URL(url).searchParams));
  let out: SampledCosts | undefined;
  const started = performance.now();
  for (let run = 0; run < 5 && (run < 2 || performance.now() - started < 300); run++) {
    const t0 = performance.now();
    const weights = readHeadWeights(circuit, parseSafetensors(body));
    const t1 = performance.now();
    const { a, b } = buildHeadFactors(weights, options);
    const t2 = performance.now();
    const svd = kernels.factoredSvd(a, b);
    const t3 = performance.now();
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
