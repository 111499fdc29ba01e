/**
 * @module storage/result-store
 * The only code that touches the R2 bucket and the KV namespace. Writes are ordered so that nothing
 * partial is ever visible: vectors to R2 first, then the summary to KV; a replaced result's old
 * vectors are deleted only after the new summary is in place. Storage failures become
 * StorageUnavailable (503), which clients may retry.
 */
import { StorageUnavailable } from "../errors";
import type { HeadPath, VariantName } from "../wire/head-request";
import { SvdSummarySchema, type SvdSummary } from "../wire/svd-result";
import type { ToyPointer } from "../wire/toy-report";
import { activationsKey, MODEL_MARKER_PREFIX, TOY_POINTER_PREFIX, analysisPrefixForModel, modelMarkerKey, parseSummaryKey, toyPointerKey, toyReportKey, summaryKey, summaryPrefixForHead, summaryPrefixForModel } from "./keys";

const KV_METADATA_LIMIT = 1024;

export interface StorageBindings {
  RESULTS: R2Bucket;
  JOBS: KVNamespace;
}

async function guard<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw new StorageUnavailable(`${what} failed: ${(e as Error).message}`);
  }
}

export class ResultStore {
  constructor(private readonly env: StorageBindings) {}

  async getSummary(p: HeadPath, variant: VariantName): Promise<SvdSummary | undefined> {
    const raw = await guard("KV read", () => this.env.JOBS.get(summaryKey(p, variant), "text"));
    return raw === null ? undefined : SvdSummarySchema.parse(JSON.parse(raw));
  }

  /** Variants stored for one head and circuit. */
  async listVariants(p: HeadPath): Promise<VariantName[]> {
    const keys = await this.listKeys(summaryPrefixForHead(p));
    return keys.map((k) => parseSummaryKey(k)?.variant).filter((v): v is VariantName => v !== undefined);
  }

  /**
   * Every summary key of a model with the metadata stored beside it (see `put`): a model's table can
   * then be built from list calls (1,000 keys each) instead of one read per head, which keeps large
   * models under the Workers limit of KV operations per request.
   */
  async listModelKeysWithMetadata(model: string): Promise<Array<{ name: string; metadata?: unknown }>> {
    const out: Array<{ name: string; metadata?: unknown }> = [];
    let cursor: string | undefined;
    do {
      const page = await guard("KV list", () => this.env.JOBS.list({ prefix: summaryPrefixForModel(model), cursor }));
      for (const k of page.keys) out.push({ name: k.name, metadata: k.metadata ?? undefined });
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return out;
  }

  async getSummaryByKey(key: string): Promise<SvdSummary | undefined> {
    const raw = await guard("KV read", () => this.env.JOBS.get(key, "text"));
    return raw === null ? undefined : SvdSummarySchema.parse(JSON.parse(raw));
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await guard("KV list", () => this.env.JOBS.list({ prefix, cursor }));
      for (const k of page.keys) out.push(k.name);
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return out;
  }

  /** Every SAD summary key of a model. */
  async listModelSadKeys(model: string): Promise<string[]> {
    return this.listKeys(analysisPrefixForModel(model, "sad"));
  }

  /** A stored analysis summary (SAD, alignment) by its KV key, as JSON. */
  async getAnalysis(kvKey: string): Promise<unknown | undefined> {
    const raw = await guard("KV read", () => this.env.JOBS.get(kvKey, "text"));
    return raw === null ? undefined : JSON.parse(raw);
  }

  /**
   * Stores an analysis: its detail object in R2 first (when there is one), then the summary in KV, so
   * a summary never points at a missing object. Analyses are content-addressed: an existing key is
   * only ever rewritten with the same content.
   */
  async putAnalysis(kvKey: string, summary: object, detail?: { key: string; bytes: Uint8Array; sha256: string }): Promise<void> {
    if (detail) {
      await guard("R2 write", () =>
        this.env.RESULTS.put(detail.key, detail.bytes, {
          httpMetadata: { contentType: "application/octet-stream" },
          customMetadata: { sha256: detail.sha256 },
        }),
      );
    }
    await guard("KV write", () => this.env.JOBS.put(kvKey, JSON.stringify(summary)));
  }

  async getVectors(key: string): Promise<R2ObjectBody | null> {
    return guard("R2 read", () => this.env.RESULTS.get(key));
  }

  /**
   * Stores a result: vectors, then summary (with `metadata`, a small digest readers can list without
   * reading the summary). If a previous summary for the same head, circuit and variant pointed at other
   * vectors, those are deleted last.
   */
  async put(p: HeadPath, summary: SvdSummary, vectors: Uint8Array, previous?: SvdSummary, metadata?: object): Promise<void> {
    await guard("R2 write", () =>
      this.env.RESULTS.put(summary.vectors.key, vectors, {
        httpMetadata: { contentType: "application/octet-stream" },
        customMetadata: { sha256: summary.input.sha256 },
      }),
    );
    // KV metadata is limited to 1,024 bytes; a digest that does not fit is simply not attached
    const meta = metadata && JSON.stringify(metadata).length <= KV_METADATA_LIMIT ? { metadata } : undefined;
    await guard("KV write", () => this.env.JOBS.put(summaryKey(p, summary.variant.name), JSON.stringify(summary), meta));
    if (previous && previous.vectors.key !== summary.vectors.key) {
      await guard("R2 delete", () => this.env.RESULTS.delete(previous.vectors.key));
    }
    // written once per model (KV allows one write per second per key, so never on every result)
    const marker = modelMarkerKey(p.model);
    if ((await guard("KV read", () => this.env.JOBS.get(marker, "text"))) === null) {
      await guard("KV write", () => this.env.JOBS.put(marker, JSON.stringify({ model: p.model })));
    }
  }

  /**
   * Publishes a toy report: the JSON to R2 (content-addressed), then the experiment's pointer in KV;
   * the report it replaces is deleted last. Identical content is not written again.
   */
  async putToyReport(experiment: string, sha256: string, body: Uint8Array, facts: Pick<ToyPointer, "seeds" | "passed" | "runs">) {
    const pointerKey = toyPointerKey(experiment);
    const raw = await guard("KV read", () => this.env.JOBS.get(pointerKey, "text"));
    const previous = raw === null ? undefined : (JSON.parse(raw) as ToyPointer);
    const key = toyReportKey(experiment, sha256);
    const pointer: ToyPointer = { experiment, sha256, key, ...facts };
    if (previous?.sha256 === sha256) return { pointer: previous, computed: false };
    await guard("R2 write", () => this.env.RESULTS.put(key, body, { httpMetadata: { contentType: "application/json" }, customMetadata: { sha256 } }));
    await guard("KV write", () => this.env.JOBS.put(pointerKey, JSON.stringify(pointer)));
    if (previous && previous.key !== key) await guard("R2 delete", () => this.env.RESULTS.delete(previous.key));
    return { pointer, computed: true };
  }

  async getToyReport(experiment: string): Promise<R2ObjectBody | null> {
    const raw = await guard("KV read", () => this.env.JOBS.get(toyPointerKey(experiment), "text"));
    if (raw === null) return null;
    return guard("R2 read", () => this.env.RESULTS.get((JSON.parse(raw) as ToyPointer).key));
  }

  async listToyReports(): Promise<ToyPointer[]> {
    const keys = await this.listKeys(TOY_POINTER_PREFIX);
    const values = await Promise.all(keys.map((k) => guard("KV read", () => this.env.JOBS.get(k, "text"))));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as ToyPointer);
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

  /** Names of the models with stored results, sorted. */
  async listModels(): Promise<string[]> {
    const keys = await this.listKeys(MODEL_MARKER_PREFIX);
    return keys.map((k) => k.slice(MODEL_MARKER_PREFIX.length)).sort();
  }
}
