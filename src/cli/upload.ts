/**
 * @module cli/upload
 * `headscope upload CHECKPOINT`: puts a checkpoint's safetensors shards into the worker's R2 with
 * multipart uploads, then registers its manifest (shards by SHA-256, the index's weight map,
 * config.json). Content-addressed: a shard the worker already holds is not sent again. Resumable: the
 * upload id and the parts already sent are kept in the state directory, so an interrupted upload
 * sends only the missing parts when run again.
 */
import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Checkpoint } from "./checkpoint";
import { ServerApi, ServerProblem } from "./server-api";
import type { CheckpointManifest } from "../wire/checkpoint";

export interface UploadResult {
  manifest: CheckpointManifest;
  /** shards sent now, and shards the worker already had */
  sent: string[];
  skipped: string[];
  bytesSent: number;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

interface ResumeState {
  upload_id: string;
  part_bytes: number;
  parts: Record<string, string>;
}

function readSlice(file: string, offset: number, length: number): Uint8Array {
  const fd = openSync(file, "r");
  try {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw new Error(`${file} ended early`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Sends one shard unless the worker has it; resumes an interrupted upload of it. Returns bytes sent. */
async function uploadShard(api: ServerApi, file: string, sha256: string, stateDir: string, log: (s: string) => void): Promise<number | undefined> {
  const statePath = join(stateDir, `${sha256}-${createHash("sha256").update(api.endpoint).digest("hex").slice(0, 12)}.json`);
  const size = statSync(file).size;
  let state: ResumeState | undefined = existsSync(statePath) ? (JSON.parse(readFileSync(statePath, "utf8")) as ResumeState) : undefined;
  if (!state) {
    const start = (await api.call("POST", `/v1/checkpoints/blobs/${sha256}/uploads`)).body;
    if (start.exists) return undefined;
    state = { upload_id: start.upload_id, part_bytes: start.part_bytes, parts: {} };
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(statePath, JSON.stringify(state));
  } else {
    log(`  ${basename(file)}: resuming (${Object.keys(state.parts).length} part(s) already sent)`);
  }
  const nParts = Math.max(1, Math.ceil(size / state.part_bytes));
  let sent = 0;
  try {
    for (let n = 1; n <= nParts; n++) {
      if (state.parts[n]) continue;
      const off = (n - 1) * state.part_bytes;
      const part = readSlice(file, off, Math.min(state.part_bytes, size - off));
      state.parts[n] = (await api.call("PUT", `/v1/checkpoints/blobs/${sha256}/uploads/${encodeURIComponent(state.upload_id)}/parts/${n}`, part)).body.etag;
      sent += part.length;
      writeFileSync(statePath, JSON.stringify(state));
    }
    const parts = Object.entries(state.parts).map(([n, etag]) => ({ part_number: Number(n), etag })).sort((a, b) => a.part_number - b.part_number);
    const timeoutsBefore = api.timeouts;
    try {
      // the worker re-reads the whole shard to verify its SHA-256: the deadline grows with it
      await api.call("POST", `/v1/checkpoints/blobs/${sha256}/uploads/${encodeURIComponent(state.upload_id)}/complete`, { parts }, { bytes: size });
    } catch (e) {
      // an attempt that passed its deadline may have completed the upload after all, and the retry
      // then finds no such upload: the shard is stored when the worker says it exists
      const stored = e instanceof ServerProblem && e.status === 400 && api.timeouts > timeoutsBefore
        && (await api.call("POST", `/v1/checkpoints/blobs/${sha256}/uploads`)).body.exists === true;
      if (!stored) throw e;
    }
  } catch (e) {
    // an upload the worker no longer knows (expired, aborted) starts again from scratch next time
    if (e instanceof ServerProblem && e.status === 400) rmSync(statePath, { force: true });
    throw e;
  }
  rmSync(statePath, { force: true });
  return sent;
}

/** Uploads and registers a checkpoint (validated locally first, so a bad one sends nothing). */
export async function uploadCheckpoint(
  path: string, name: string, api: ServerApi, stateDir: string, log: (s: string) => void,
): Promise<UploadResult> {
  const ckpt = Checkpoint.open(path); // validates every header and the index before anything is sent
  const files = ckpt.files;
  ckpt.close();
  const p = resolve(path);
  const indexFile = p.endsWith(".json") ? p : existsSync(join(p, "model.safetensors.index.json")) ? join(p, "model.safetensors.index.json") : undefined;
  const weightMap = indexFile ? (JSON.parse(readFileSync(indexFile, "utf8")).weight_map as Record<string, string>) : undefined;
  const configPath = join(dirname(files[0]), "config.json");
  const config = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>) : undefined;
  const listed = [];
  const sent: string[] = [];
  const skipped: string[] = [];
  let bytesSent = 0;
  for (const file of files) {
    const sha256 = await sha256File(file);
    const n = await uploadShard(api, file, sha256, stateDir, log);
    if (n === undefined) skipped.push(basename(file));
    else {
      sent.push(basename(file));
      bytesSent += n;
    }
    listed.push({ name: basename(file), sha256, bytes: statSync(file).size });
  }
  const manifest = (await api.call<CheckpointManifest>("POST", "/v1/checkpoints", { name, files: listed, ...(weightMap ? { weight_map: weightMap } : {}), ...(config ? { config } : {}) })).body;
  return { manifest, sent, skipped, bytesSent };
}
