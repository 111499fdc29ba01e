/**
 * @module cli/profile
 * Where a scan's time goes, for run.json's `profile`. The CLI's own phases are timed as they run:
 * `read` (checkpoint bytes to decoded head tensors), `encode` (safetensors request bodies), `hash`
 * (SHA-256 of each body), `check` (the stored-result reads that let a stored head skip its upload)
 * `http` (POST round trips: upload, the worker's parse, fold, SVD and store, the answer) and
 * `readout_basis` (building, hashing and uploading the model's token readout basis, cli/readout-basis.ts). The
 * worker's clock does not advance while it computes (workerd freezes timers between I/O, as on
 * Cloudflare), so its split is measured by running the worker's own code — parse, fold, SVD, encode
 * of the vectors — on one sampled body of each circuit in this process (`sampled`, per circuit), and
 * its total CPU time is read from /proc. Sums over concurrent requests exceed the wall time.
 */
export type Phase = "read" | "encode" | "hash" | "check" | "http" | "readout_basis";

export interface SampledCosts {
  /** seconds per circuit of one sampled body: parse + validate, fold (factors), SVD, vectors encoding */
  parse: number;
  /** the variant's plan only: the folding itself runs in the SVD's kernel call, so `svd` counts it */
  fold: number;
  svd: number;
  encode_vectors: number;
  d_model: number;
  circuit: string;
}

export class Profile {
  private readonly ms: Record<Phase, number> = { read: 0, encode: 0, hash: 0, check: 0, http: 0, readout_basis: 0 };
  private readonly counts: Record<Phase, number> = { read: 0, encode: 0, hash: 0, check: 0, http: 0, readout_basis: 0 };
  bytesUploaded = 0;
  bytesHashed = 0;
  sampled: SampledCosts[] = [];

  /** Times a synchronous step. */
  time<T>(phase: Phase, fn: () => T): T {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.add(phase, performance.now() - t0);
    }
  }

  /** Times an asynchronous step (its wall time, which overlaps other requests' steps). */
  async timeAsync<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(phase, performance.now() - t0);
    }
  }

  add(phase: Phase, ms: number): void {
    this.ms[phase] += ms;
    this.counts[phase]++;
  }

  toJSON(extra: { wallSeconds: number; cliCpuSeconds: number; workerCpuSeconds?: number; workerProcessCpuSeconds?: number[]; bytesRead: number; startSeconds?: number; hashCacheHits: number }) {
    const s = (x: number) => Math.round(x) / 1000;
    return {
      /** seconds summed over steps (concurrent steps overlap, so the sum can exceed wall_seconds) */
      seconds: Object.fromEntries((Object.keys(this.ms) as Phase[]).map((p) => [p, s(this.ms[p])])),
      steps: { ...this.counts },
      wall_seconds: extra.wallSeconds,
      ...(extra.startSeconds !== undefined ? { worker_start_seconds: extra.startSeconds } : {}),
      cpu_seconds: {
        cli: extra.cliCpuSeconds,
        ...(extra.workerCpuSeconds !== undefined ? { worker: extra.workerCpuSeconds } : {}),
        // per workerd process of the local worker, the storage-owning primary first
        ...(extra.workerProcessCpuSeconds && extra.workerProcessCpuSeconds.length > 1 ? { worker_processes: extra.workerProcessCpuSeconds } : {}),
      },
      bytes: { read: extra.bytesRead, hashed: this.bytesHashed, uploaded: this.bytesUploaded },
      /** requests whose body hash came from DIR/hashes.json (no weights read for them) */
      hash_cache_hits: extra.hashCacheHits,
      /** the worker's code timed in this process on one body per circuit (seconds per circuit) */
      worker_sampled: this.sampled,
    };
  }
}
