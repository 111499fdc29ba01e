/**
 * @module cli/checkpoint
 * Reads Hugging Face safetensors checkpoints from disk for the CLI: one file, or a sharded
 * checkpoint described by `model.safetensors.index.json`. Only headers are read up front (and
 * validated with the same code that validates request bodies, wire/safetensors.ts); tensors, or row
 * ranges of 2-D tensors, are read on demand with positioned reads, so a model never has to fit in
 * memory. F32, F16, BF16 and F64 decode to floats; anything else is an error naming the tensor.
 * A `config.json` beside the checkpoint is read when present.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { MalformedSafetensors } from "../errors";
import {
  DTYPE_BYTES, LITTLE_ENDIAN, decodeFloat, decodeHalfInto, parseSafetensorsHeader, readHeaderLength, type Dtype, type TensorEntry, type TensorView,
} from "../wire/safetensors";

/** The safetensors format's own header limit (100 MB); request bodies use a smaller one. */
export const MAX_FILE_HEADER_BYTES = 100_000_000;
/** Bytes of half-precision rows readRowsInto reads at once (4 MiB): the forward pass reads BF16 and F16 blocks through it. */
const HALF_SCRATCH_BYTES = 4 * 2 ** 20;

export interface CheckpointTensor {
  name: string;
  dtype: Dtype;
  shape: number[];
  file: string;
  /** absolute byte offset of the tensor's first byte in `file` */
  offset: number;
  bytes: number;
}

import { CheckpointError } from "./checkpoint-error";
import type { TensorSource } from "./tensor-source";

/** A user-facing checkpoint problem (missing file, bad index, missing tensor): exit non-zero with the message. */
export { CheckpointError };

function readAt(fd: number, position: number, length: number, into?: Uint8Array): Uint8Array {
  const out = into ?? new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, length - done, position + done);
    if (n === 0) throw new MalformedSafetensors(`file ended ${length - done} bytes early at offset ${position + done}`);
    done += n;
  }
  return out;
}

/** Reads and validates one safetensors file's header; the data is not read. */
export function readFileHeader(file: string): { entries: TensorEntry[]; dataStart: number; metadata: Record<string, string> } {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const prefix = readAt(fd, 0, Math.min(16, size)); // 9+ bytes: the ninth tells another format from a lying length
    const what = `file ${basename(file)}`;
    const n = readHeaderLength(prefix, size, MAX_FILE_HEADER_BYTES, what);
    const json = readAt(fd, 8, n);
    try {
      return parseSafetensorsHeader(json, size - 8 - n);
    } catch (e) {
      if (e instanceof MalformedSafetensors) throw new MalformedSafetensors(`${what}: ${e.detail}`);
      throw e;
    }
  } finally {
    closeSync(fd);
  }
}

export class Checkpoint implements TensorSource {
  private readonly fds = new Map<string, number>();

  private constructor(
    /** the path the user gave */
    readonly path: string,
    /** the files holding tensors */
    readonly files: string[],
    private readonly tensors: Map<string, CheckpointTensor>,
    /** config.json beside the checkpoint, when there is one */
    readonly config: Record<string, unknown> | undefined,
  ) {}

  /**
   * Opens a checkpoint: a `.safetensors` file, a `model.safetensors.index.json`, or a directory
   * holding either. Every header is validated before anything else happens.
   * @throws CheckpointError, MalformedSafetensors
   */
  static open(path: string): Checkpoint {
    const p = resolve(path);
    if (!existsSync(p)) throw new CheckpointError(`no such file or directory: ${path}`);
    let indexFile: string | undefined;
    let single: string | undefined;
    if (statSync(p).isDirectory()) {
      if (existsSync(join(p, "model.safetensors.index.json"))) indexFile = join(p, "model.safetensors.index.json");
      else if (existsSync(join(p, "model.safetensors"))) single = join(p, "model.safetensors");
      else throw new CheckpointError(`${path} holds neither model.safetensors nor model.safetensors.index.json`);
    } else if (p.endsWith(".json")) indexFile = p;
    else single = p;

    const tensors = new Map<string, CheckpointTensor>();
    const files: string[] = [];
    const addFile = (file: string, only?: Set<string>) => {
      const h = readFileHeader(file);
      files.push(file);
      for (const e of h.entries) {
        if (only && !only.has(e.name)) continue;
        if (tensors.has(e.name)) throw new CheckpointError(`tensor ${e.name} appears in two shards`);
        tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, file, offset: h.dataStart + e.begin, bytes: e.end - e.begin });
      }
    };
    if (indexFile) {
      let index: { weight_map?: Record<string, string> };
      try {
        index = JSON.parse(readFileSync(indexFile, "utf8"));
      } catch (e) {
        throw new CheckpointError(`${basename(indexFile)} is not JSON: ${(e as Error).message}`);
      }
      const map = index.weight_map;
      if (!map || typeof map !== "object") throw new CheckpointError(`${basename(indexFile)} has no weight_map`);
      const byShard = new Map<string, Set<string>>();
      for (const [name, shard] of Object.entries(map)) {
        if (typeof shard !== "string" || shard !== basename(shard)) {
          throw new CheckpointError(`${basename(indexFile)}: shard of ${name} must be a file name in the same directory, got ${JSON.stringify(shard)}`);
        }
        if (!byShard.has(shard)) byShard.set(shard, new Set());
        byShard.get(shard)!.add(name);
      }
      for (const [shard, names] of [...byShard].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const file = join(dirname(indexFile), shard);
        if (!existsSync(file)) throw new CheckpointError(`shard ${shard} listed in ${basename(indexFile)} is missing`);
        addFile(file, names);
        for (const n of names) {
          if (!tensors.has(n)) throw new CheckpointError(`${basename(indexFile)} maps ${n} to ${shard}, which does not hold it`);
        }
      }
    } else {
      addFile(single!);
    }
    const configPath = join(indexFile ? dirname(indexFile) : dirname(single!), "config.json");
    let config: Record<string, unknown> | undefined;
    if (existsSync(configPath)) {
      try {
        config = JSON.parse(readFileSync(configPath, "utf8"));
      } catch (e) {
        throw new CheckpointError(`config.json beside the checkpoint is not JSON: ${(e as Error).message}`);
      }
    }
    return new Checkpoint(path, files, tensors, config);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): CheckpointTensor {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointError(`the checkpoint has no tensor ${name}`);
    return t;
  }

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = openSync(file, "r");
      this.fds.set(file, fd);
    }
    return fd;
  }

  /** The whole tensor, decoded (F32/F16/BF16 → Float32Array exactly, F64 → Float64Array). */
  read(name: string): Float32Array | Float64Array {
    return decodeFloat(this.readRaw(name));
  }

  /** The whole tensor's bytes as stored (decode parts of it with architectures/layout.ts rawCols). */
  readRaw(name: string): TensorView {
    const t = this.info(name);
    this.bytesRead += t.bytes;
    return { name, dtype: t.dtype, shape: t.shape, bytes: readAt(this.fd(t.file), t.offset, t.bytes) };
  }

  /** Bytes of tensor data read so far (for the scan's profile). */
  bytesRead = 0;

  /** Rows [r0, r1) of a 2-D tensor [rows, cols], decoded; reads only those bytes. */
  readRows(name: string, r0: number, r1: number): Float32Array | Float64Array {
    return decodeFloat(this.readRowsRaw(name, r0, r1));
  }

  /** Rows [r0, r1) of a 2-D tensor [rows, cols], their bytes as stored (fresh and aligned, or in `into`); reads only those bytes. */
  readRowsRaw(name: string, r0: number, r1: number, into?: Uint8Array): TensorView {
    const t = this.info(name);
    if (t.shape.length !== 2) throw new CheckpointError(`${name} is ${JSON.stringify(t.shape)}, not 2-D`);
    const [rows, cols] = t.shape;
    if (r0 < 0 || r1 > rows || r0 > r1) throw new CheckpointError(`rows [${r0}, ${r1}) outside ${name} ${JSON.stringify(t.shape)}`);
    const width = DTYPE_BYTES[t.dtype] * cols;
    const length = (r1 - r0) * width;
    const bytes = readAt(this.fd(t.file), t.offset + r0 * width, length, into && into.byteLength >= length ? into.subarray(0, length) : undefined);
    this.bytesRead += bytes.byteLength;
    return { name, dtype: t.dtype, shape: [r1 - r0, cols], bytes };
  }

  /**
   * Rows [r0, r1) of a 2-D tensor, decoded into `into` from index `at` (an F32 tensor is read
   * straight into it, no copy; the forward pass reads weights into shared memory this way).
   */
  readRowsInto(name: string, r0: number, r1: number, into: Float32Array, at: number): void {
    const t = this.info(name);
    const cols = t.shape[1];
    const half = t.dtype === "BF16" || t.dtype === "F16";
    if ((t.dtype !== "F32" && !half) || !LITTLE_ENDIAN || t.shape.length !== 2 || r0 < 0 || r1 > t.shape[0] || r0 > r1) {
      into.set(this.readRows(name, r0, r1), at);
      return;
    }
    if ((at + (r1 - r0) * cols) > into.length) throw new RangeError(`${name}: ${r1 - r0} rows do not fit at ${at}`);
    if (half) {
      // through one reused buffer of raw rows, widened straight into `into`
      const step = Math.max(1, Math.floor(HALF_SCRATCH_BYTES / (2 * cols)));
      this.halfScratch ??= new Uint8Array(Math.max(HALF_SCRATCH_BYTES, 2 * cols));
      for (let r = r0; r < r1; r += step) {
        const n = Math.min(step, r1 - r);
        const raw = this.readRowsRaw(name, r, r + n, this.halfScratch);
        decodeHalfInto(t.dtype as "BF16" | "F16", new Uint16Array(raw.bytes.buffer, raw.bytes.byteOffset, n * cols), into, at + (r - r0) * cols);
      }
      return;
    }
    const length = (r1 - r0) * cols * 4;
    readAt(this.fd(t.file), t.offset + r0 * cols * 4, length, new Uint8Array(into.buffer, into.byteOffset + 4 * at, length));
    this.bytesRead += length;
  }

  /** readRowsInto's buffer of raw half-precision rows, reused call after call. */
  private halfScratch?: Uint8Array;

  /** Dtypes present, for the report. */
  dtypes(): string[] {
    return [...new Set([...this.tensors.values()].map((t) => t.dtype))].sort();
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
