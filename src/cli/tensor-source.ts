/**
 * @module cli/tensor-source
 * What the architecture adapters read a checkpoint through: tensor names and shapes up front, tensors
 * and row ranges on demand. Implemented by the CLI's Checkpoint (positioned file reads) and by the
 * worker's R2 checkpoint (ranged R2 reads, services/r2-checkpoint.ts), so both run the same adapters.
 */
import type { Dtype, TensorView } from "../wire/safetensors";

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
}

export interface TensorSource {
  /** config.json beside the checkpoint, when there is one */
  readonly config: Record<string, unknown> | undefined;
  names(): string[];
  has(name: string): boolean;
  /** @throws CheckpointError when absent */
  info(name: string): TensorInfo;
  /** The whole tensor, decoded (F32/F16/BF16 → Float32Array exactly, F64 → Float64Array). */
  read(name: string): Float32Array | Float64Array;
  /** The whole tensor's bytes as stored (decode parts of it with architectures/layout.ts rawCols). */
  readRaw(name: string): TensorView;
  /** Rows [r0, r1) of a 2-D tensor, decoded. */
  readRows(name: string, r0: number, r1: number): Float32Array | Float64Array;
  /**
   * Rows [r0, r1) of a 2-D tensor, their bytes as stored (architectures/layout.ts readRowsT keeps
   * half-precision as bits). A source that reads synchronously may read them into `into` (when it
   * is large enough), and the view then aliases it: for callers that are done with them before
   * `into` is used again.
   */
  readRowsRaw(name: string, r0: number, r1: number, into?: Uint8Array): TensorView;
}
