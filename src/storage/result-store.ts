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
import { parseSummaryKey, summaryKey, summaryPrefixForHead, summaryPrefixForModel } from "./keys";

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

  /** Every summary key of a model (paginated KV list, followed to the end). */
  async listModelKeys(model: string): Promise<string[]> {
    return this.listKeys(summaryPrefixForModel(model));
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
   * Stores a result: vectors, then summary. If a previous summary for the same head, circuit and
   * variant pointed at other vectors, those are deleted last.
   */
  async put(p: HeadPath, summary: SvdSummary, vectors: Uint8Array, previous?: SvdSummary): Promise<void> {
    await guard("R2 write", () =>
      this.env.RESULTS.put(summary.vectors.key, vectors, {
        httpMetadata: { contentType: "application/octet-stream" },
        customMetadata: { sha256: summary.input.sha256 },
      }),
    );
    await guard("KV write", () => this.env.JOBS.put(summaryKey(p, summary.variant.name), JSON.stringify(summary)));
    if (previous && previous.vectors.key !== summary.vectors.key) {
      await guard("R2 delete", () => this.env.RESULTS.delete(previous.vectors.key));
    }
  }
}
