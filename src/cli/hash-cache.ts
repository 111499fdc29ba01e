/**
 * @module cli/hash-cache
 * Remembers the SHA-256 of each request body a scan sent, so a resume of a stored model reads no
 * weights at all: `DIR/hashes.json` maps a request (its URL path and query, which fix the head,
 * circuit, variant and options) to the hash of its body, valid for one exact checkpoint — every
 * file's path, size, modification time and inode — and one body encoding. A changed file, another
 * checkpoint or another version of the body format invalidates the whole cache; a request not in it
 * is read, encoded and hashed as usual. The hash only decides whether to read the stored summary
 * instead of uploading; what the report holds still comes from the worker.
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Bump when the bytes of a request body change for the same weights (encoding, tensor order, dtypes). */
const BODY_FORMAT = 2; // 2: BF16/F16 checkpoints' weights sent as their bits, no longer as F32

export class HashCache {
  private readonly entries = new Map<string, string>();
  private dirty = false;
  hits = 0;

  private constructor(private readonly file: string, private readonly fingerprint: string) {}

  /** Opens DIR/hashes.json for this checkpoint (empty when missing, unreadable or for other files). */
  static open(outDir: string, checkpointFiles: string[]): HashCache {
    const fingerprint = JSON.stringify({
      format: BODY_FORMAT,
      files: checkpointFiles.map((f) => {
        const s = statSync(f);
        return [resolve(f), s.size, s.mtimeMs, s.ino];
      }),
    });
    const cache = new HashCache(join(outDir, "hashes.json"), fingerprint);
    if (existsSync(cache.file)) {
      try {
        const saved = JSON.parse(readFileSync(cache.file, "utf8")) as { fingerprint?: string; bodies?: Record<string, string> };
        if (saved.fingerprint === fingerprint && saved.bodies) for (const [k, v] of Object.entries(saved.bodies)) cache.entries.set(k, v);
      } catch {
        /* a damaged cache is an empty one */
      }
    }
    return cache;
  }

  /** The body hash of a request (its URL without the endpoint), when known. */
  get(request: string): string | undefined {
    const v = this.entries.get(request);
    if (v !== undefined) this.hits++;
    return v;
  }

  set(request: string, sha256: string): void {
    if (this.entries.get(request) === sha256) return;
    this.entries.set(request, sha256);
    this.dirty = true;
  }

  /** Writes the cache (atomically: a temporary file renamed over the old one). */
  save(): void {
    if (!this.dirty) return;
    const tmp = `${this.file}.tmp`;
    const bodies = Object.fromEntries([...this.entries].sort(([a], [b]) => (a < b ? -1 : 1)));
    writeFileSync(tmp, JSON.stringify({ fingerprint: this.fingerprint, bodies }) + "\n");
    renameSync(tmp, this.file);
    this.dirty = false;
  }
}
