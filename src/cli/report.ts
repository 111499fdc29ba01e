/**
 * @module cli/report
 * report.json: the model's facts and one entry per head, circuit, variant (and rotary offset), built
 * from the worker's answers. It holds no timings or counts of this run (those go to run.json), so a
 * resumed scan writes the same bytes as an uninterrupted one.
 */
import type { SvdAnswer } from "../wire/svd-result";
import type { ArchitectureFacts } from "./architectures";
import type { ScanTask } from "./plan";

export interface ReportEntry {
  layer: number;
  head: number;
  circuit: "qk" | "ov";
  variant: string;
  kv_head: number;
  rotary_offset: number;
  singular_values: number[];
  effective_rank: number;
  numerical_rank: number;
  frobenius_norm: number;
  top_energy: number;
  /** σ_2/σ_1 (1 when σ_1 = 0) */
  sigma_ratio_2_1: number;
  factor_rows: number;
  centred: boolean;
  scale: number;
  checks_passed: boolean;
  /** the kernel's checks: measured value, limit, passed (method §2) */
  checks: Array<{ name: string; value: number; limit: number; passed: boolean }>;
  /** ‖A‖_F, ‖B‖_F of the variant's factors (the null band's scale); absent for results stored before they were recorded */
  factor_norms?: { a: number; b: number };
  input_sha256: string;
  /** the vectors' URL path; null when the scan stored none (--vectors none) */
  vectors: string | null;
  /** token readouts of the leading singular vectors (absent with --readouts 0; null when the model has no readout basis) */
  readouts?: import("../wire/svd-result").Readouts | null;
  /** with --activations or --prompts, qk only: the sparse attention decomposition's report (method §4) */
  sad?: import("../analysis/sad-report").SadHeadReport;
}

export interface ScanReadouts {
  vectors: number | "all";
  k: number;
  basis: { sha256: string; bytes: number; vocab: number; embedding: string; unembedding: string | null; tokens: string | null };
}

export interface Report {
  schema: "headscope.scan-report/v1";
  model: string;
  checkpoint: { files: string[]; dtypes: string[] };
  facts: ArchitectureFacts & { kv_head_of: number[] };
  scan: {
    circuits: string[]; variants: string[]; layers: number[]; heads: number[]; rotary_offsets: number[]; endpoint: string;
    /** how U and V were stored (--vectors): f32, f16 or none (spectra only) */
    vectors: "f32" | "f16" | "none";
    /** token readouts asked for (--readouts, --readout-k) and the basis they were read against; absent without a basis */
    readouts?: ScanReadouts;
    sad?: {
      tau: number; batch: number; tokens: number; prompt_lengths: string; prompts: Record<string, unknown> | null; focus: string | null;
      /** the stored activation files per layer and form ("{layer}/normalised", "{layer}/affine") */
      activations: Record<string, string>;
      verdict_rule: string;
    };
  };
  kernel?: { name: string; simd: boolean };
  entries: ReportEntry[];
  /** across heads: per-head median N_recon against the null's (the paper's Fig. 9a), and verdict counts */
  sad_overview?: ReturnType<typeof import("../analysis/sad-report").medianDistribution>;
  failures?: ReportFailure[];
}

export interface ReportFailure {
  layer: number; head: number; circuit: "qk" | "ov"; variant: string; rotary_offset: number; type: string; status?: number; detail: string;
}

/**
 * The report of a scan from its parts, in one place for the client-coordinated scan (cli/scan.ts) and
 * the server-side job (jobs/scan-job.ts), so the two write the same document for the same heads.
 */
export function assembleReport(r: {
  model: string;
  checkpoint: { files: string[]; dtypes: string[] };
  facts: ArchitectureFacts;
  kvHeadOf: number[];
  scan: {
    circuits: string[]; variants: string[]; layers: number[]; heads: number[]; offsets: number[]; endpoint: string;
    /** how U and V were stored (default f32) */
    vectors?: Report["scan"]["vectors"];
    readouts?: ScanReadouts;
    sad?: Report["scan"]["sad"];
  };
  /** the distinct kernels that answered (recorded when there is exactly one) */
  kernels: Array<{ name: string; simd: boolean }>;
  entries: ReportEntry[];
  sadOverview?: Report["sad_overview"];
  failures: ReportFailure[];
}): Report {
  const { facts: f, scan: s } = r;
  return {
    schema: "headscope.scan-report/v1",
    model: r.model,
    checkpoint: r.checkpoint,
    facts: { ...f, kv_head_of: r.kvHeadOf },
    scan: {
      circuits: s.circuits, variants: s.variants, layers: s.layers, heads: s.heads, rotary_offsets: f.rotary_dim ? s.offsets : [0], endpoint: s.endpoint, vectors: s.vectors ?? "f32",
      ...(s.readouts ? { readouts: s.readouts } : {}),
      ...(s.sad ? { sad: s.sad } : {}),
    },
    ...(r.kernels.length === 1 ? { kernel: r.kernels[0] } : {}),
    entries: [...r.entries].sort(compareEntries),
    ...(r.sadOverview ? { sad_overview: r.sadOverview } : {}),
    ...(r.failures.length ? { failures: [...r.failures].sort(compareEntries) } : {}),
  };
}

export function reportEntry(task: ScanTask, a: SvdAnswer, kvHead: number): ReportEntry {
  const s = a.singular_values;
  return {
    layer: task.layer, head: task.head, circuit: task.circuit, variant: a.variant.name, kv_head: kvHead, rotary_offset: task.offset,
    singular_values: s,
    effective_rank: a.effective_rank, numerical_rank: a.numerical_rank, frobenius_norm: a.frobenius_norm, top_energy: a.top_energy,
    sigma_ratio_2_1: s.length > 1 && s[0] > 0 ? s[1] / s[0] : 1,
    factor_rows: a.variant.factor_rows, centred: a.variant.centred, scale: a.variant.scale,
    checks_passed: a.checks.every((c) => c.passed),
    checks: a.checks.map(({ name, value, limit, passed }) => ({ name, value, limit, passed })),
    ...(a.factor_norms ? { factor_norms: { a: a.factor_norms.a, b: a.factor_norms.b } } : {}),
    input_sha256: a.input.sha256,
    vectors: a.links.vectors ?? null,
    ...(a.readouts !== undefined ? { readouts: a.readouts } : {}),
  };
}

const ORDER = { qk: 0, ov: 1 } as const;
export const compareEntries = (x: Pick<ReportEntry, "layer" | "head" | "circuit" | "variant" | "rotary_offset">, y: typeof x) =>
  x.layer - y.layer || x.head - y.head || ORDER[x.circuit] - ORDER[y.circuit] || (x.variant < y.variant ? -1 : x.variant > y.variant ? 1 : 0) ||
  x.rotary_offset - y.rotary_offset;
