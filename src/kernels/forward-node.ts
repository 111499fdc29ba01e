/**
 * @module kernels/forward-node
 * Loads the forward-pass kernels for Node (the CLI's forward pass and its worker threads) from the
 * same .wasm files as the other kernels.
 */
import { readFileSync } from "node:fs";
import { createForwardKernels, type ForwardKernels } from "./forward";
import { kernelPath, type KernelBuild } from "./load-node";

export function loadForwardKernels(build: KernelBuild = "release", path = kernelPath(build)): ForwardKernels {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`kernels not built: ${path} is missing (run \`npm run asbuild\`)`);
  }
  const Module = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;
  return createForwardKernels(new Module(bytes), `wasm-${build}`);
}
