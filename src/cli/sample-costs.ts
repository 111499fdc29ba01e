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

/** Seconds of each step for one body (the second of two runs, so compilation and warm-up are not counted). */
export function sampleCosts(body: Uint8Array, url: string, circuit: Circuit): SampledCosts {
  kernels ??= loadKernels("release");
  const options = HeadOptionsSchema.parse(Object.fromEntries(new URL(url).searchParams));
  let out: SampledCosts | undefined;
  for (let run = 0; run < 2; run++) {
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
    out = {
      circuit, d_model: weights.dModel,
      parse: (t1 - t0) / 1000, fold: (t2 - t1) / 1000, svd: (t3 - t2) / 1000, encode_vectors: (t4 - t3) / 1000,
    };
  }
  return out!;
}
