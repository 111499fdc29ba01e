/**
 * @module index
 * The WebAssembly export list, and nothing else. The host (src/kernels/: instance.ts, svd.ts, sad.ts, toy.ts) owns all memory
 * traffic: reset, alloc, copy in, call, copy out.
 */
export { reset, alloc } from "./shared/arena";
export { transposeF64, transposeF32ToF64, widenHalfToF64 } from "./shared/layout";
export { svdJacobi } from "./svd/jacobi";
export { svdFactored, svdFactoredWorkspace } from "./svd/factored";
export { foldFactor } from "./svd/fold";
export { toyStep, toyStepWorkspace } from "./toy/step";

/** 1 when this build uses 128-bit SIMD, 0 for the scalar build. */
export function simdEnabled(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}
export { sadRun, sadWorkspace, sadPairTerms } from "./sparse/sad";
export { sadNRecon } from "./sparse/select";
export { linearF32, linearWorkspace, linearPanelBytes, packLinearF32, packLinearRowsF32, linearPackedF32, linearPackedWorkspace } from "./forward/linear";
export { normRowsF32, affineRowsF32 } from "./forward/norm";
export { activateF32, gluF32 } from "./forward/activation";
export { attentionF32, attentionWorkspace, rotaryF32, rotaryWorkspace } from "./forward/attention";
export { readoutChunk, readoutWorkspace } from "./readout/topk";
