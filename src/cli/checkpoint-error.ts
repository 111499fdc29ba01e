/**
 * @module cli/checkpoint-error
 * The user-facing checkpoint problem (missing file, bad index, missing tensor), in a file of its own so
 * the architecture adapters carry no Node dependency: the worker runs them too, over R2 (server-side scans).
 */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}
