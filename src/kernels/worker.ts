/**
 * @module kernels/worker
 * The worker's kernels: the SIMD build, imported as a compiled WebAssembly.Module (Workers may not
 * compile bytes at run time) and instantiated once per isolate, on first use.
 */
import wasmModule from "../../build/kernels.release.wasm";
import { createKernels } from "./kernels";
import type { Kernels } from "./types";

let kernels: Kernels | undefined;

export function getKernels(): Kernels {
  kernels ??= createKernels(wasmModule, "wasm-release");
  return kernels;
}
