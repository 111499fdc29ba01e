/**
 * @module services/summarize-model
 * The per-layer × per-head table of one model, built from the stored head summaries: top singular
 * values, effective rank, spectral decay and the checks, for every head, circuit and variant, and
 * the digest of any SAD analyses stored for a qk head in that variant. The
 * output depends only on what is stored (sorted, no timestamps), so it is byte-for-byte the same
 * JSON whenever it is asked for, across restarts. Never imports Hono or touches bindings directly.
 */
import { ResultNotFound } from "../errors";
import type { VariantName } from "../wire/head-request";
import type { SvdSummary } from "../wire/svd-result";
import type { ResultStore } from "../storage/result-store";

/**
 * What the service reads (ResultStore implements it): head listings carry the metadata stored beside
 * each summary (`summaryMetadata` of the summary, when present).
 */
export type SummarySource = Pick<ResultStore, "listModelHeads" | "getSummary" | "listModelAnalyses" | "getAnalysis">;

/** The digest of one stored SAD result (method §4), as the summary and the CLI's report show it. */
export interface SadDigest {
  id: string;
  tau: number;
  batch: number;
  tokens: number;
  firing_positive: number;
  n_recon_median: number | null;
  n_recon_p90: number | null;
  sparseness_median: number | null;
  null_n_recon_median_mean: number | null;
  n_recon_median_gap: number | null;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function sadDigest(a: Record<string, any>): SadDigest {
  return {
    id: String(a.id),
    tau: Number(a.choices?.tau),
    batch: Number(a.input?.batch),
    tokens: Number(a.input?.tokens),
    firing_positive: Number(a.pairs?.firing_positive ?? 0),
    n_recon_median: num(a.n_recon?.median),
    n_recon_p90: num(a.n_recon?.p90),
    sparseness_median: num(a.sparseness?.median),
    null_n_recon_median_mean: num(a.null?.n_recon_median_mean),
    n_recon_median_gap: num(a.n_recon_median_gap),
  };
}

/** Singular values listed per entry. */
export const TOP_K = 8;
/** KV reads in flight while building the table. */
const READ_BATCH = 32;

export interface ModelSummaryEntry {
  layer: number;
  head: number;
  circuit: "qk" | "ov";
  variant: VariantName;
  centred: boolean;
  factor_rows: number;
  d_model: number;
  d_head: number;
  top_singular_values: number[];
  effective_rank: number;
  numerical_rank: number;
  frobenius_norm: number;
  top_energy: number;
  spectral_decay: {
    /** σ₂/σ₁ */
    sigma2_over_sigma1: number;
    /** smallest k with Σ_{i≤k} σ_i² ≥ ½ Σσ² */
    half_energy_rank: number;
    /** smallest k with Σ_{i≤k} σ_i² ≥ 0.9 Σσ² */
    energy90_rank: number;
  };
  checks_passed: boolean;
  input_sha256: string;
  /** stored SAD analyses of this head in this variant (qk only), by id; absent when there are none */
  sad?: SadDigest[];
}

export interface ModelSummary {
  schema: "headscope.model-summary/v1";
  model: string;
  /** 1 + the largest layer and head index stored */
  n_layers: number;
  n_heads: number;
  count: number;
  variants: { qk: VariantName[]; ov: VariantName[] };
  entries: ModelSummaryEntry[];
}

function energyRank(s: number[], share: number): number {
  const total = s.reduce((a, x) => a + x * x, 0);
  if (total === 0) return 0;
  let acc = 0;
  for (let i = 0; i < s.length; i++) {
    acc += s[i] * s[i];
    if (acc >= share * total) return i + 1;
  }
  return s.length;
}

export function summaryEntry(s: SvdSummary): ModelSummaryEntry {
  const sv = s.singular_values;
  return {
    layer: s.layer, head: s.head, circuit: s.circuit, variant: s.variant.name, centred: s.variant.centred,
    factor_rows: s.variant.factor_rows, d_model: s.d_model, d_head: s.d_head,
    top_singular_values: sv.slice(0, TOP_K),
    effective_rank: s.effective_rank, numerical_rank: s.numerical_rank, frobenius_norm: s.frobenius_norm, top_energy: s.top_energy,
    spectral_decay: {
      sigma2_over_sigma1: sv.length > 1 && sv[0] > 0 ? sv[1] / sv[0] : 1,
      half_energy_rank: energyRank(sv, 0.5),
      energy90_rank: energyRank(sv, 0.9),
    },
    checks_passed: s.checks.every((c) => c.passed),
    input_sha256: s.input.sha256,
  };
}

/** The KV metadata stored beside a head's summary: its table row, so listing suffices. */
export const summaryMetadata = (s: SvdSummary) => ({ entry: summaryEntry(s) });

function entryFromMetadata(meta: unknown): ModelSummaryEntry | undefined {
  const e = (meta as { entry?: ModelSummaryEntry } | undefined)?.entry;
  return e && typeof e.layer === "number" && Array.isArray(e.top_singular_values) ? e : undefined;
}

const CIRCUIT_ORDER = { qk: 0, ov: 1 } as const;

/** @throws ResultNotFound when nothing is stored for the model */
export async function summarizeModel(source: SummarySource, model: string): Promise<ModelSummary> {
  const listed = await source.listModelHeads(model);
  const entries: ModelSummaryEntry[] = [];
  // rows come from the listing's metadata; only summaries stored without it are read one by one
  const unlisted: typeof listed = [];
  for (const k of listed) {
    const e = entryFromMetadata(k.metadata);
    if (e) entries.push(e);
    else unlisted.push(k);
  }
  for (let i = 0; i < unlisted.length; i += READ_BATCH) {
    const batch = await Promise.all(unlisted.slice(i, i + READ_BATCH).map((k) => source.getSummary(k.path, k.variant)));
    for (const s of batch) if (s && s.model === model) entries.push(summaryEntry(s));
  }
  if (entries.length === 0) throw new ResultNotFound(`nothing is stored for model ${model}`);
  const sads = (await source.listModelAnalyses(model, "sad")).sort(
    (a, b) => a.path.layer - b.path.layer || a.path.head - b.path.head || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  const byHead = new Map(entries.filter((e) => e.circuit === "qk").map((e) => [`${e.layer}/${e.head}/${e.variant}`, e]));
  for (let i = 0; i < sads.length; i += READ_BATCH) {
    const chunk = sads.slice(i, i + READ_BATCH);
    const batch = await Promise.all(chunk.map((a) => source.getAnalysis(a.path, a.kind, a.id)));
    batch.forEach((raw, j) => {
      const where = chunk[j].path;
      const s = raw as { choices?: { variant?: { name?: string } } } | undefined;
      if (!s) return;
      const e = byHead.get(`${where.layer}/${where.head}/${s.choices?.variant?.name}`);
      if (e) (e.sad ??= []).push(sadDigest(s as Record<string, unknown>));
    });
  }
  entries.sort(
    (a, b) => a.layer - b.layer || a.head - b.head || CIRCUIT_ORDER[a.circuit] - CIRCUIT_ORDER[b.circuit] || (a.variant < b.variant ? -1 : a.variant > b.variant ? 1 : 0),
  );
  const variantsOf = (c: "qk" | "ov") => [...new Set(entries.filter((e) => e.circuit === c).map((e) => e.variant))].sort();
  return {
    schema: "headscope.model-summary/v1",
    model,
    n_layers: Math.max(...entries.map((e) => e.layer)) + 1,
    n_heads: Math.max(...entries.map((e) => e.head)) + 1,
    count: entries.length,
    variants: { qk: variantsOf("qk"), ov: variantsOf("ov") },
    entries,
  };
}
