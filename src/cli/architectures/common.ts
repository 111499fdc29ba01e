/**
 * @module cli/architectures/common
 * Checks shared by the adapters: which layers a checkpoint holds, and that every tensor a scan will
 * read exists with the expected shape, all before any request is sent.
 */
import { CheckpointError } from "../checkpoint-error";
import type { TensorSource as Checkpoint } from "../tensor-source";

/** Layer indices found by a pattern with one capture group, required to be 0..n−1 without gaps. */
export function countLayers(ckpt: Checkpoint, pattern: RegExp, what: string): number {
  const layers = new Set<number>();
  for (const n of ckpt.names()) {
    const m = pattern.exec(n);
    if (m) layers.add(Number(m[1]));
  }
  if (layers.size === 0) throw new CheckpointError(`no ${what} tensors found`);
  const n = Math.max(...layers) + 1;
  for (let l = 0; l < n; l++) {
    if (!layers.has(l)) throw new CheckpointError(`missing tensors: layer ${l} has no ${what} (layers 0..${n - 1} expected)`);
  }
  return n;
}

const FLOAT_DTYPES: readonly string[] = ["F32", "F16", "BF16", "F64"];

/** Every tensor must exist with exactly this shape and a float dtype (checked from the headers: no weights are read). */
export function expectShapes(ckpt: Checkpoint, expected: Array<[string, number[]]>): void {
  const missing = expected.filter(([name]) => !ckpt.has(name)).map(([n]) => n);
  if (missing.length) {
    throw new CheckpointError(
      `missing tensors: ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ` and ${missing.length - 8} more` : ""}`,
    );
  }
  for (const [name, shape] of expected) {
    const { dtype } = ckpt.info(name);
    if (!FLOAT_DTYPES.includes(dtype)) {
      throw new CheckpointError(`tensor ${name} has dtype ${dtype}; a scan reads ${FLOAT_DTYPES.join(", ")}`);
    }
    const got = ckpt.info(name).shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`tensor ${name} has shape ${JSON.stringify(got)}, expected ${JSON.stringify(shape)}`);
    }
  }
}

/** n_heads from config.json, a flag, or a stated inference; otherwise a clear error. */
export function resolveHeadCount(
  fromConfig: number | undefined,
  fromFlag: number | undefined,
  dModel: number,
  inferred: number | undefined,
  arch: string,
): { nHeads: number; source: "config.json" | "flag" | "inferred" } {
  const [nHeads, source] =
    fromFlag !== undefined ? [fromFlag, "flag" as const]
    : fromConfig !== undefined ? [fromConfig, "config.json" as const]
    : inferred !== undefined ? [inferred, "inferred" as const]
    : [undefined, undefined];
  if (nHeads === undefined || source === undefined) {
    throw new CheckpointError(`${arch}: the number of attention heads is unknown: put config.json beside the checkpoint or pass --n-heads`);
  }
  if (!Number.isInteger(nHeads) || nHeads < 1 || dModel % nHeads !== 0) {
    throw new CheckpointError(`${arch}: n_heads ${nHeads} (${source}) does not divide d_model ${dModel}`);
  }
  return { nHeads, source };
}
