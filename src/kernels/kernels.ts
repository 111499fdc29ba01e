/**
 * @module kernels/kernels
 * The WebAssembly kernels as one object: one instance (instance.ts) shared by the SVD (svd.ts), SAD
 * (sad.ts), toy (toy.ts) and token-readout (readout.ts) parts of the boundary. These files are the only code that sees the
 * kernels' `exports` or `memory`.
 * @example const kernels = createKernels(wasmModule, "wasm-release"); kernels.factoredSvd(wQ, wK).S
 */
import { instantiate } from "./instance";
import { readoutKernels } from "./readout";
import { sadKernels } from "./sad";
import { svdKernels } from "./svd";
import { toyKernels } from "./toy";
import type { Kernels } from "./types";

export function createKernels(module: WebAssembly.Module, name = "wasm"): Kernels {
  const instance = instantiate(module);
  return { name, simd: instance.simd, ...svdKernels(instance), ...sadKernels(instance), ...toyKernels(instance), ...readoutKernels(instance) };
}
