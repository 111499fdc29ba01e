/**
 * @module model/architectures/types
 * What the forward pass needs of a checkpoint, per architecture: the block shape (kernels/forward.ts),
 * the embedding of token ids, and each block's weights in kernel layout, read one block at a time.
 */
import type { ArchitectureFacts } from "../../cli/architectures";
import type { BlockShape, BlockWeights } from "../../kernels/forward";

/** Allocates the Float32Arrays weights are read into (the orchestrator passes shared memory, not zeroed). */
export type Allocate = (length: number) => Float32Array;

export interface ForwardModel {
  /** the scan's facts (heads, d_head, norm, rotary…), from src/cli/architectures */
  facts: ArchitectureFacts;
  shape: BlockShape;
  /** the MLP's width (each half's when gated), from the checkpoint's header */
  ff: number;
  /** rows of the token embedding */
  vocab: number;
  /** the most tokens a prompt may have, and why (learned positions, a sliding window) */
  maxTokens?: { tokens: number; why: string };
  /** residual stream before block 0 for each prompt's tokens, stacked: [Σ len, d_model] */
  embed(prompts: number[][]): Float32Array;
  /** block l's weights, read into arrays from `alloc` (every value overwritten) */
  block(layer: number, alloc: Allocate): BlockWeights;
  /** GPT-Neo local layers: the attention window; 0 for global */
  window(layer: number): number;
  /** how the forward pass reads this layout, for the record */
  layout: string;
}
