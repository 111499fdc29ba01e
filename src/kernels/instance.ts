/**
 * @module kernels/instance
 * The worker's kernels: the SIMD build, imported as a compiled WebAssembly.Module (Workers may not
 * compile bytes at run time) and instantiated once per isolate, on first use.
 */
import wasmModule from "../../build/kernels.release.wasm";
import { createKernels, type WasmKernels } from "./kernels";

let kernels: WasmKernels | undefined;

export function getKernels(): WasmKernels {
  kernels ??= createKernels(wasmModule, "wasm-release");
  return kernels;
}
