/**
 * @module demo/client/api
 * The worker's read endpoints the page uses, and the few fields it reads from each (the full
 * schemas live in src/wire and src/services; the page stays dependency-free).
 */
import { getJson } from "./dom";

export interface SummaryEntry {
  layer: number;
  head: number;
  circuit: "qk" | "ov";
  variant: string;
  top_singular_values: number[];
  effective_rank: number;
  top_energy: number;
  checks_passed: boolean;
  spectral_decay: { sigma2_over_sigma1: number };
  sad?: Array<{ id: string; tau: number; n_recon_median: number | null; null_n_recon_median_mean: number | null; firing_positive: number }>;
}

export interface ModelSummary {
  model: string;
  n_layers: number;
  n_heads: number;
  variants: { qk: string[]; ov: string[] };
  entries: SummaryEntry[];
}

export interface HeadResult {
  singular_values: number[];
  effective_rank: number;
  numerical_rank: number;
  frobenius_norm: number;
  top_energy: number;
  d_model: number;
  d_head: number;
  variant: { name: string; factor_rows: number };
  checks: Array<{ name: string; value: number; limit: number; passed: boolean }>;
  /** absent in results stored before it was recorded */
  factor_norms?: { a: number; b: number };
  /** token readouts of the singular vectors: absent when not computed, null without an embedding */
  readouts?: import("../../view/head-page").Readouts | null;
  links: { self: string; vectors?: string };
}

export interface SadFiguresView {
  pairs: { candidates: number; firing_positive: number; firing_nonpositive: number };
  n_recon: { median: number; p90: number; histogram: number[] };
  sparseness: { median: number };
  null: { n_recon_median_mean: number; sparseness_median_mean: number; n_recon_histogram: number[]; seeds: number[]; per_seed: Array<{ n_recon_p90: number }> } | null;
  /** [prompt][singular index] selection counts (results stored before it existed lack it) */
  usage_by_prompt?: number[][];
}

export interface SadResult extends SadFiguresView {
  input: { batch: number; tokens: number; activations?: { id: string; tensor: string } };
  choices: { tau: number; variant: { name: string }; positional?: { rotary_dim: number; window: number | null; offsets: number[] } | null };
  /** the same figures on the requested focus pairs (IOI: END→IO and END→S2) */
  focus?: (SadFiguresView & { pairs_listed: number }) | null;
}

const enc = encodeURIComponent;
export const listModels = () => getJson<{ models: string[] }>("/v1/models");
export const modelSummary = (m: string) => getJson<ModelSummary>(`/v1/models/${enc(m)}/summary`);
export const headResult = (m: string, l: number, h: number, circuit: string, variant: string) =>
  getJson<HeadResult>(`/v1/models/${enc(m)}/layers/${l}/heads/${h}/${circuit}?variant=${enc(variant)}`);
export const sadResult = (m: string, l: number, h: number, id: string) =>
  getJson<SadResult>(`/v1/models/${enc(m)}/layers/${l}/heads/${h}/qk/sad/${enc(id)}`);

/** The variant shown when several are stored: folded and augmented first (what a scan stores by default). */
export function preferredVariant(stored: string[]): string | undefined {
  for (const v of ["folded_augmented", "folded", "raw_augmented", "raw"]) if (stored.includes(v)) return v;
  return stored[0];
}

/** The model shown first: GPT-2 small when present. */
export const preferredModel = (models: string[]) => (models.includes("gpt2-small") ? "gpt2-small" : models[0]);

/** A published toy experiment (GET /v1/toy/reports). */
export interface ToyPointer {
  experiment: string;
  seeds: number[];
  passed: number;
  runs: number;
}

/** The fields of a headscope.toy/v1 run the page reads (src/toy/report.ts documents the whole shape). */
export interface ToyRunView {
  seed: number;
  config: { name: string; steps: number; nFeatures: number; dModel: number; dHead: number; attentionBatch: number; reconBatch: number; anisotropy: number; lambda: number; featureProbability: number; targetTemperature: number };
  curves: { step: number[]; top1CosU: number[]; top1CosV: number[]; alignment: number[]; attendedMaxCosToOthers: number[] };
  final: {
    sigmaRatio: number;
    top1CosU: number;
    top1CosV: number;
    matchedMean: number;
    attendedMaxCosToOthers: number;
    /** the attended feature closest to another feature, signed cosine (−1: antipodal) */
    attendedWorst?: { attended: number; other: number; cos: number };
    alignStep: number | null;
    orthogonalStep: number | null;
    cosU: number[][];
    cosV: number[][];
  };
  acceptance?: { pass: boolean };
  timing?: { wallSeconds: number };
}

export interface ToyReportView {
  schema: string;
  experiment: string;
  generatedAt: string;
  kernels: { name: string; simd: boolean };
  runs: ToyRunView[];
}

export const listToyReports = () => getJson<{ reports: ToyPointer[] }>("/v1/toy/reports");
export const toyReport = (experiment: string) => getJson<ToyReportView>(`/v1/toy/reports/${enc(experiment)}`);
