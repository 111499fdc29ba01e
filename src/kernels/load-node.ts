/**
 * @module kernels/load-node
 * Loads the compiled kernels from build/ for Node (CLI, tests, benchmarks). The worker imports the
 * same .wasm file through its bundler instead.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createKernels } from "./kernels";
import type { Kernels } from "./types";

export type KernelBuild = "release" | "scalar";

/** Path of a build's .wasm file (built by `npm run asbuild`). */
export function kernelPath(build: KernelBuild = "release"): string {
  return fileURLToPath(new URL(`../../build/kernels.${build}.wasm`, import.meta.url));
}

/** The kernels' module compiled from one .wasm file (every part of the boundary instantiates it). */
export function compileKernels(path: string): WebAssembly.Module {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`kernels not built: ${path} is missing (run \`npm run asbuild\`)`);
  }
  // the Workers runtime types (shared tsconfig) declare Module abstract; Node constructs it synchronously
  const Module = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;
  return new Module(bytes);
}

/** The kernels (SVD, SAD and the toy's passes) of one build, from its .wasm file. */
export function loadKernels(build: KernelBuild = "release", path = kernelPath(build)): Kernels {
  return createKernels(compileKernels(path), `wasm-${build}`);
}
