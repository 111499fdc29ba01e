/**
 * @module kernels/forward-node
 * Loads the forward-pass kernels for Node (the CLI's forward pass and its worker threads) from the
 * same .wasm files as the other kernels.
 */
import { createForwardKernels, type ForwardKernels } from "./forward";
import { compileKernels, kernelPath, type KernelBuild } from "./load-node";

export function loadForwardKernels(build: KernelBuild = "release", path = kernelPath(build)): ForwardKernels {
  return createForwardKernels(compileKernels(path), `wasm-${build}`);
}
