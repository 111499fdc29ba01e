/**
 * @module cli/estimate
 * What a scan will cost before it starts: the bytes it will add to storage (per result: the vectors
 * file — U and V [rows, k] in the chosen dtype, S [k] F64 — and the JSON summary) and a rough time,
 * from the worker's own code timed on one sampled body per circuit in this process plus the local
 * store's cost per byte, divided over the worker processes. A local scan whose estimate exceeds the
 * free disk of its state directory is refused before anything is sent.
 */
import { existsSync, statfsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { ArchitectureFacts } from "./architectures";
import type { VectorsPolicy, ScanTask } from "./plan";
import type { SampledCosts } from "./profile";

/** The stored summary's JSON: about 1.3 KB of fields plus ~21 bytes per singular value (measured on GPT-2 and 8B-shaped results). */
const SUMMARY_BYTES = 1300;
const SUMMARY_BYTES_PER_SIGMA = 21;
/** The vectors file's header and metadata. */
const VECTORS_HEADER_BYTES = 700;
/**
 * Local R2 and KV (Miniflare's simulators in workerd) cost CPU per write and per byte: measured here
 * (2-core machine, workerd 2026-04): about 4 ms + 15 ms per MiB for an R2 put, 2.5 ms for a KV put.
 */
const LOCAL_STORE_MS_FIXED = 7;
const LOCAL_STORE_MS_PER_MIB = 15;

export const VECTOR_BYTES: Record<VectorsPolicy, number> = { f32: 4, f16: 2, none: 0 };

/** Rows and singular values of one result. */
export function resultShape(facts: ArchitectureFacts, task: Pick<ScanTask, "variant">) {
  const rows = facts.d_model + (task.variant.endsWith("_augmented") ? 1 : 0);
  return { rows, k: Math.min(rows, facts.d_head) };
}

/** Bytes one result adds to storage. */
export function resultBytes(facts: ArchitectureFacts, task: Pick<ScanTask, "variant">, vectors: VectorsPolicy): number {
  const { rows, k } = resultShape(facts, task);
  const summary = SUMMARY_BYTES + SUMMARY_BYTES_PER_SIGMA * k;
  if (vectors === "none") return summary;
  return summary + VECTORS_HEADER_BYTES + 2 * rows * k * VECTOR_BYTES[vectors] + 8 * k;
}

export interface Estimate {
  results: number;
  bytes: number;
  /** seconds of worker CPU per result (sampled compute + local store) */
  secondsPerResult?: number;
  seconds?: number;
}

export function estimateScan(
  facts: ArchitectureFacts, tasks: ScanTask[], vectors: VectorsPolicy, sampled: SampledCosts[], processes: number, local: boolean,
): Estimate {
  const bytes = tasks.reduce((s, t) => s + resultBytes(facts, t, vectors), 0);
  if (sampled.length === 0 || tasks.length === 0) return { results: tasks.length, bytes };
  const compute = sampled.reduce((s, c) => s + c.parse + c.fold + c.svd + c.encode_vectors, 0) / sampled.length;
  const perResult = bytes / tasks.length;
  const store = local ? (LOCAL_STORE_MS_FIXED + (LOCAL_STORE_MS_PER_MIB * perResult) / 2 ** 20) / 1000 : 0;
  const secondsPerResult = compute + store;
  return { results: tasks.length, bytes, secondsPerResult, seconds: (secondsPerResult * tasks.length) / Math.max(1, processes) };
}

/** Free bytes on the file system that holds `dir` (or its nearest existing parent). */
export function freeDiskBytes(dir: string): number {
  let d = resolve(dir);
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  const s = statfsSync(d);
  return s.bavail * s.bsize;
}

export const formatBytes = (b: number) =>
  b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 10).toFixed(0)} KiB`;

export const formatSeconds = (s: number) =>
  s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 90 ? `${(s / 60).toFixed(0)} min` : `${s.toFixed(s < 10 ? 1 : 0)} s`;
