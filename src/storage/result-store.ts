/**
 * @module storage/result-store
 * The only code that touches R2 and KV for results, analyses, activations and toy reports (checkpoints
 * and scan reports have their own stores beside it, checkpoint-store.ts and scan-store.ts); with keys.ts,
 * storage/ is the only code that knows a key. Callers speak in heads, variants, analysis kinds and ids;
 * listings come back parsed.
 * Writes are ordered so that nothing partial is ever visible: objects to R2 first, then the summary to
 * KV; a replaced result's old vectors are deleted only after the new summary is in place. Storage
 * failures become StorageUnavailable (503), which clients may retry.
 */
import type { Circuit, HeadPath, VariantName } from "../wire/head-request";
import { SvdSummarySchema, type SvdSummary } from "../wire/svd-result";
import type { ToyPointer } from "../wire/toy-report";
import {
  activationsKey, MODEL_MARKER_PREFIX, TOY_POINTER_PREFIX, analysisDetailKey, analysisPrefixForModel, analysisSummaryKey, modelFromMarkerKey,
  modelMarkerKey, parseAnalysisKey, parseSummaryKey, summaryKey, summaryPrefixForHead, summaryPrefixForModel, toyPointerKey,
  toyReportKey, vectorsKey, type AnalysisKind,
} from "./keys";
import { cachedObject } from "./blob-cache";
import { guard } from "./guard";

export type { AnalysisKind } from "./keys";

const KV_METADATA_LIMIT = 1024;

export interface StorageBindings {
  RESULTS: R2Bucket;
  JOBS: KVNamespace;
  /** MiB of immutable blobs (activation files here) kept in the isolate after a first read (storage/blob-cache.ts; default none) */
  READOUT_CACHE_MB?: string;
}

/** One stored head summary, as a listing returns it: where it is, and the metadata stored beside it. */
export interface StoredHeadEntry {
  path: HeadPath;
  variant: VariantName;
  metadata?: unknown;
}

/** One stored analysis, as a listing returns it. */
export interface StoredAnalysisEntry {
  path: HeadPath;
  kind: AnalysisKind;
  id: string;
}

/**
 * Models whose marker this isolate has seen stored, per KV namespace. Markers are never deleted, so
 * one read (or write) per model and isolate is enough, instead of a KV read with every result.
 */
const markedModels = new WeakMap<object, Set<string>>();

export class ResultStore {
  constructor(private readonly env: StorageBindings) {}

  // ── keys handed out for the summaries that record them (opaque to callers) ────────────────────

  /** Where the vectors of a head result computed from input `sha256` go (recorded in its summary). */
  vectorsKey(p: HeadPath, variant: VariantName, sha256: string, dtype: "F32" | "F16" = "F32"): string {
    return vectorsKey(p, variant, sha256, dtype);
  }

  /** Where the detail object of an analysis goes (recorded in its summary). */
  analysisDetailKey(p: HeadPath, kind: AnalysisKind, id: string): string {
    return analysisDetailKey(p, kind, id);
  }

  // ── reading and listing ────────────────────────────────────────────────────────────────────────

  /** Every entry under a KV prefix, page after page (KV lists at most 1,000 keys per call). */
  private async list(prefix: string): Promise<Array<{ name: string; metadata?: unknown }>> {
    const out: Array<{ name: string; metadata?: unknown }> = [];
    let cursor: string | undefined;
    do {
      const page = await guard("KV list", () => this.env.JOBS.list({ prefix, cursor }));
      for (const k of page.keys) out.push({ name: k.name, metadata: k.metadata ?? undefined });
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return out;
  }

  private async readJson(key: string): Promise<unknown | undefined> {
    const raw = await guard("KV read", () => this.env.JOBS.get(key, "text"));
    return raw === null ? undefined : JSON.parse(raw);
  }

  async getSummary(p: HeadPath, variant: VariantName): Promise<SvdSummary | undefined> {
    const raw = await this.readJson(summaryKey(p, variant));
    return raw === undefined ? undefined : SvdSummarySchema.parse(raw);
  }

  /** Variants stored for one head and circuit. */
  async listVariants(p: HeadPath): Promise<VariantName[]> {
    const entries = await this.list(summaryPrefixForHead(p));
    return entries.map((k) => parseSummaryKey(k.name)?.variant).filter((v): v is VariantName => v !== undefined);
  }

  /**
   * Every head summary of a model with the metadata stored beside it (see `put`): a model's table can
   * then be built from list calls (1,000 keys each) instead of one read per head, which keeps large
   * models under the Workers limit of KV operations per request.
   */
  async listModelHeads(model: string): Promise<StoredHeadEntry[]> {
    const out: StoredHeadEntry[] = [];
    for (const k of await this.list(summaryPrefixForModel(model))) {
      const w = parseSummaryKey(k.name);
      if (w) out.push({ path: { model: w.model, layer: w.layer, head: w.head, circuit: w.circuit as Circuit }, variant: w.variant, metadata: k.metadata });
    }
    return out;
  }

  /** Every stored analysis of one kind for a whole model (the model summary's SAD column). */
  async listModelAnalyses(model: string, kind: AnalysisKind): Promise<StoredAnalysisEntry[]> {
    const out: StoredAnalysisEntry[] = [];
    for (const k of await this.list(analysisPrefixForModel(model, kind))) {
      const w = parseAnalysisKey(k.name);
      if (w) out.push({ path: { model: w.model, layer: w.layer, head: w.head, circuit: w.circuit }, kind: w.kind, id: w.id });
    }
    return out;
  }

  /** A stored analysis summary (SAD, alignment), as JSON. */
  async getAnalysis(p: HeadPath, kind: AnalysisKind, id: string): Promise<unknown | undefined> {
    return this.readJson(analysisSummaryKey(p, kind, id));
  }

  /** An R2 object a stored summary points at (its `vectors.key` or `detail.key`). */
  async getObject(key: string): Promise<R2ObjectBody | null> {
    return guard("R2 read", () => this.env.RESULTS.get(key));
  }

  // ── writing ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Stores an analysis: its detail object in R2 first (when there is one, at the key the summary
   * records), then the summary in KV, so a summary never points at a missing object. Analyses are
   * content-addressed: an existing id is only ever rewritten with the same content.
   */
  async putAnalysis(
    p: HeadPath,
    kind: AnalysisKind,
    id: string,
    summary: object,
    detail?: { key: string; bytes: Uint8Array; sha256: string },
  ): Promise<void> {
    if (detail) {
      await guard("R2 write", () =>
        this.env.RESULTS.put(detail.key, detail.bytes, {
          httpMetadata: { contentType: "application/octet-stream" },
          customMetadata: { sha256: detail.sha256 },
        }),
      );
    }
    await guard("KV write", () => this.env.JOBS.put(analysisSummaryKey(p, kind, id), JSON.stringify(summary)));
  }

  /**
   * Stores a head result: vectors, then summary (with `metadata`, a small digest readers can list
   * without reading the summary). If a previous summary for the same head, circuit and variant
   * pointed at other vectors, those are deleted last.
   */
  async put(p: HeadPath, summary: SvdSummary, vectors: Uint8Array | undefined, previous?: SvdSummary, metadata?: object): Promise<void> {
    const key = summary.vectors?.key;
    if (key !== undefined && vectors) {
      await guard("R2 write", () =>
        this.env.RESULTS.put(key, vectors, {
          httpMetadata: { contentType: "application/octet-stream" },
          customMetadata: { sha256: summary.input.sha256 },
        }),
      );
    }
    // KV metadata is limited to 1,024 bytes; a digest that does not fit is simply not attached
    const meta = metadata && JSON.stringify(metadata).length <= KV_METADATA_LIMIT ? { metadata } : undefined;
    await guard("KV write", () => this.env.JOBS.put(summaryKey(p, summary.variant.name), JSON.stringify(summary), meta));
    const old = previous?.vectors?.key;
    if (old !== undefined && old !== key) await guard("R2 delete", () => this.env.RESULTS.delete(old));
    // written once per model (KV allows one write per second per key, so never on every result)
    let marked = markedModels.get(this.env.JOBS);
    if (!marked) markedModels.set(this.env.JOBS, (marked = new Set()));
    if (marked.has(p.model)) return;
    const marker = modelMarkerKey(p.model);
    if ((await this.readJson(marker)) === undefined) {
      await guard("KV write", () => this.env.JOBS.put(marker, JSON.stringify({ model: p.model })));
    }
    marked.add(p.model);
  }

  // ── toy reports ────────────────────────────────────────────────────────────────────────────────

  /**
   * Publishes a toy report: the JSON to R2 (content-addressed), then the experiment's pointer in KV;
   * the report it replaces is deleted last. Identical content is not written again.
   */
  async putToyReport(experiment: string, sha256: string, body: Uint8Array, facts: Pick<ToyPointer, "seeds" | "passed" | "runs">) {
    const pointerKey = toyPointerKey(experiment);
    const previous = (await this.readJson(pointerKey)) as ToyPointer | undefined;
    const key = toyReportKey(experiment, sha256);
    const pointer: ToyPointer = { experiment, sha256, key, ...facts };
    if (previous?.sha256 === sha256) return { pointer: previous, computed: false };
    await guard("R2 write", () => this.env.RESULTS.put(key, body, { httpMetadata: { contentType: "application/json" }, customMetadata: { sha256 } }));
    await guard("KV write", () => this.env.JOBS.put(pointerKey, JSON.stringify(pointer)));
    if (previous && previous.key !== key) await guard("R2 delete", () => this.env.RESULTS.delete(previous.key));
    return { pointer, computed: true };
  }

  async getToyReport(experiment: string): Promise<R2ObjectBody | null> {
    const pointer = (await this.readJson(toyPointerKey(experiment))) as ToyPointer | undefined;
    return pointer === undefined ? null : this.getObject(pointer.key);
  }

  async listToyReports(): Promise<ToyPointer[]> {
    const entries = await this.list(TOY_POINTER_PREFIX);
    const values = await Promise.all(entries.map((k) => this.readJson(k.name)));
    return values.filter((v): v is ToyPointer => v !== undefined);
  }

  /**
   * Stores an activation file under its content hash, unless it is already there (one R2 put: the
   * object appears whole or not at all). Returns true when this call wrote it.
   */
  async putActivations(sha256: string, bytes: Uint8Array): Promise<boolean> {
    const key = activationsKey(sha256);
    if (await guard("R2 head", () => this.env.RESULTS.head(key))) return false;
    await guard("R2 write", () =>
      this.env.RESULTS.put(key, bytes, {
        httpMetadata: { contentType: "application/octet-stream" },
        customMetadata: { sha256 },
      }),
    );
    return true;
  }

  /** A stored activation file, or null. */
  async getActivations(sha256: string): Promise<R2ObjectBody | null> {
    return guard("R2 read", () => this.env.RESULTS.get(activationsKey(sha256)));
  }

  /**
   * A stored activation file's bytes, or null. The files are content-addressed, so the bytes are kept
   * in the isolate after a first read, within the READOUT_CACHE_MB budget (storage/blob-cache.ts): a
   * scan's SAD requests each read their layer's file. Callers must not modify the bytes.
   */
  async activationBytes(sha256: string): Promise<ArrayBuffer | null> {
    return cachedObject(this.env.RESULTS, activationsKey(sha256), this.env.READOUT_CACHE_MB);
  }

  /** Names of the models with stored results, sorted. */
  async listModels(): Promise<string[]> {
    const entries = await this.list(MODEL_MARKER_PREFIX);
    return entries.map((k) => modelFromMarkerKey(k.name)).sort();
  }
}
