/**
 * @module kernels/instance
 * The worker's kernels: the SIMD build, imported as a compiled WebAssembly.Module (Workers may not
 * compile bytes at run time) and instantiated once per isolate, on first use.
 */
import wasmModule from "../../build/kernels.release.wasm";
import { createKernels } from "./kernels";

let kernels: ReturnType<typeof createKernels> | undefined;

export function getKernels(): ReturnType<typeof createKernels> {
  kernels ??= createKernels(wasmModule, "wasm-release");
  return kernels;
}
