/**
 * @module services/r2-checkpoint
 * A checkpoint in R2 as a TensorSource, so the worker runs the CLI's architecture adapters on it.
 * Opening reads each shard's header with two ranged reads (length, then JSON) and validates it with
 * the same code as request bodies; tensors and row ranges are then read with one ranged read each, at
 * their safetensors offsets, so no shard is ever held whole (the worker has 128 MB).
 *
 * The adapters are synchronous and R2 is not. `run(fn)` bridges them: a read of bytes not yet fetched
 * throws a private `Fetch` request; `run` fetches those bytes, then calls `fn` again, until it
 * completes. What was fetched is dropped when `run` returns (the adapters keep their own layer cache),
 * and concurrent runs (a consumer's messages in flight together) never see each other's fetches.
 */
import { MalformedSafetensors } from "../errors";
import { CheckpointError } from "../cli/checkpoint-error";
import type { TensorInfo, TensorSource } from "../cli/tensor-source";
import type { CheckpointStore } from "../storage/checkpoint-store";
import { CHECKPOINT_LIMITS, type CheckpointManifestInput } from "../wire/checkpoint";
import { DTYPE_BYTES, decodeFloat, parseSafetensorsHeader, readHeaderLength, type TensorView } from "../wire/safetensors";

interface R2Tensor extends TensorInfo {
  /** the shard's SHA-256 (its R2 key) and file name */
  sha256: string;
  file: string;
  /** absolute byte offset of the first byte in the shard */
  offset: number;
  bytes: number;
}

/** At most this many decoded bytes per read, well inside the worker's 128 MB. */
export const MAX_READ_BYTES = 64 * 1024 * 1024;

class Fetch {
  constructor(readonly key: string, readonly name: string, readonly r0?: number, readonly r1?: number, readonly raw = false) {}
}

/** What a reader fetched: decoded values, or a tensor's bytes as stored (readRaw). */
type Fetched = Float32Array | Float64Array | TensorView;

export class R2Checkpoint implements TensorSource {
  /** what the running reader may use: its own fetches (runs may interleave at awaits), and what was kept */
  private active: Map<string, Fetched> | undefined;
  private kept = new Map<string, Fetched>();

  private constructor(
    private readonly store: CheckpointStore,
    readonly manifest: CheckpointManifestInput,
    private readonly tensors: Map<string, R2Tensor>,
    readonly config: Record<string, unknown> | undefined,
  ) {}

  /**
   * Reads and validates every shard's header (and the index's weight map against them).
   * @throws MalformedSafetensors, CheckpointError
   */
  static async open(store: CheckpointStore, manifest: CheckpointManifestInput): Promise<R2Checkpoint> {
    const names = new Set(manifest.files.map((f) => f.name));
    if (names.size !== manifest.files.length) throw new CheckpointError("two files of the checkpoint have the same name");
    const wanted = new Map<string, Set<string>>();
    if (manifest.weight_map) {
      for (const [tensor, shard] of Object.entries(manifest.weight_map)) {
        if (!names.has(shard)) throw new CheckpointError(`the index maps ${tensor} to ${shard}, which is not one of the uploaded files`);
        if (!wanted.has(shard)) wanted.set(shard, new Set());
        wanted.get(shard)!.add(tensor);
      }
    } else if (manifest.files.length !== 1) {
      throw new CheckpointError("a checkpoint of several files needs the index's weight_map");
    }
    const tensors = new Map<string, R2Tensor>();
    const headers = await Promise.all(
      [...manifest.files].sort((a, b) => (a.name < b.name ? -1 : 1)).map(async (f) => {
        const what = `file ${f.name}`;
        const n = readHeaderLength(await store.readRange(f.sha256, 0, Math.min(16, f.bytes)), f.bytes, CHECKPOINT_LIMITS.maxShardHeaderBytes, what);
        try {
          return { f, n, h: parseSafetensorsHeader(await store.readRange(f.sha256, 8, n), f.bytes - 8 - n) };
        } catch (e) {
          if (e instanceof MalformedSafetensors) throw new MalformedSafetensors(`${what}: ${e.detail}`);
          throw e;
        }
      }),
    );
    for (const { f, h } of headers) {
      const only = manifest.weight_map ? wanted.get(f.name) : undefined;
      if (manifest.weight_map && !only) continue;
      for (const e of h.entries) {
        if (only && !only.has(e.name)) continue;
        if (tensors.has(e.name)) throw new CheckpointError(`tensor ${e.name} appears in two shards`);
        tensors.set(e.name, {
          name: e.name, dtype: e.dtype, shape: e.shape, sha256: f.sha256, file: f.name, offset: h.dataStart + e.begin, bytes: e.end - e.begin,
        });
      }
    }
    for (const [shard, set] of wanted) {
      for (const t of set) if (!tensors.has(t)) throw new CheckpointError(`the index maps ${t} to ${shard}, which does not hold it`);
    }
    return new R2Checkpoint(store, manifest, tensors, manifest.config);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): R2Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointError(`the checkpoint has no tensor ${name}`);
    return t;
  }

  /** Dtypes present, for the report (as the CLI's Checkpoint.dtypes). */
  dtypes(): string[] {
    return [...new Set([...this.tensors.values()].map((t) => t.dtype))].sort();
  }

  /** Bytes of all shards. */
  bytes(): number {
    return this.manifest.files.reduce((a, f) => a + f.bytes, 0);
  }

  read(name: string): Float32Array | Float64Array {
    const key = name;
    const hit = this.active?.get(key) ?? this.kept.get(key);
    if (hit) return hit as Float32Array | Float64Array;
    this.info(name);
    throw new Fetch(key, name);
  }

  /** The whole tensor's bytes as stored (the adapters decode only the columns a head needs). */
  readRaw(name: string): TensorView {
    const key = `${name}#raw`;
    const hit = this.active?.get(key) ?? this.kept.get(key);
    if (hit) return hit as TensorView;
    this.info(name);
    throw new Fetch(key, name, undefined, undefined, true);
  }

  readRows(name: string, r0: number, r1: number): Float32Array | Float64Array {
    return this.rows(name, r0, r1, false) as Float32Array | Float64Array;
  }

  /** Rows [r0, r1) of a 2-D tensor, their bytes as stored (fetched once per run, as readRows; never into another buffer). */
  readRowsRaw(name: string, r0: number, r1: number): TensorView {
    return this.rows(name, r0, r1, true) as TensorView;
  }

  private rows(name: string, r0: number, r1: number, raw: boolean): Fetched {
    const t = this.info(name);
    if (t.shape.length !== 2) throw new CheckpointError(`${name} is ${JSON.stringify(t.shape)}, not 2-D`);
    if (r0 < 0 || r1 > t.shape[0] || r0 > r1) throw new CheckpointError(`rows [${r0}, ${r1}) outside ${name} ${JSON.stringify(t.shape)}`);
    const key = `${name}#${raw ? "raw" : ""}${r0}:${r1}`;
    const hit = this.active?.get(key) ?? this.kept.get(key);
    if (hit) return hit;
    throw new Fetch(key, name, r0, r1, raw);
  }

  /**
   * Runs a synchronous reader (an adapter call), fetching the bytes it asks for until it completes.
   * With `keep`, what was fetched stays until `release()`, for code that must not see a fetch request
   * (planTasks probes head 0 inside a try).
   */
  async run<T>(fn: () => T, keep = false): Promise<T> {
    const mine = new Map<string, Fetched>();
    for (;;) {
      // fn is synchronous, so no other run can see or clear `mine` while it runs
      this.active = mine;
      try {
        const out = fn();
        if (keep) for (const [k, v] of mine) this.kept.set(k, v);
        return out;
      } catch (e) {
        if (!(e instanceof Fetch)) throw e;
        this.active = undefined;
        mine.set(e.key, await this.fetch(e));
      } finally {
        this.active = undefined;
      }
    }
  }

  release(): void {
    this.kept.clear();
  }

  private async fetch(f: Fetch): Promise<Fetched> {
    const t = this.info(f.name);
    let offset = t.offset;
    let length = t.bytes;
    let shape = t.shape;
    if (f.r0 !== undefined && f.r1 !== undefined) {
      const width = DTYPE_BYTES[t.dtype] * t.shape[1];
      offset = t.offset + f.r0 * width;
      length = (f.r1 - f.r0) * width;
      shape = [f.r1 - f.r0, t.shape[1]];
    }
    if (f.raw) {
      if (length > MAX_READ_BYTES) {
        throw new CheckpointError(
          `reading ${f.name}${f.r0 !== undefined ? ` rows ${f.r0}-${f.r1}` : ""} would take ${length} bytes in the worker (limit ${MAX_READ_BYTES}); ` +
            "scan this model with the client-coordinated scan",
        );
      }
      return { name: f.name, dtype: t.dtype, shape, bytes: await this.store.readRange(t.sha256, offset, length) };
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const decoded = count * (t.dtype === "F64" ? 8 : 4);
    if (decoded > MAX_READ_BYTES) {
      throw new CheckpointError(
        `reading ${f.name}${f.r0 !== undefined ? ` rows ${f.r0}-${f.r1}` : ""} would take ${decoded} bytes in the worker (limit ${MAX_READ_BYTES}); ` +
          "scan this model with the client-coordinated scan",
      );
    }
    return decodeFloat({ name: f.name, dtype: t.dtype, shape, bytes: await this.store.readRange(t.sha256, offset, length) });
  }
}
