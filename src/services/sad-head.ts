/**
 * @module services/sad-head
 * One head's sparse attention decomposition (method §4), end to end but without I/O: the head's SVD
 * (computed fresh in f64 from weights, or read from the stored F32 vectors), the token vectors of the
 * request checked and, when needed, given the trailing bias coordinate, the seeded rotations of the
 * null, the WebAssembly kernel, the aggregates, and the two things that get stored — the JSON summary
 * (which states every choice made) and, with detail=pairs, the per-pair safetensors file.
 * Routes call this; it never imports Hono or touches storage bindings.
 */
import { HAAR_NAME, RNG_NAME, seededRotations } from "../analysis/random";
import { aggregateSad, decomposeTerms, type SadAggregates } from "../analysis/sad-stats";
import { InvalidRequest, MissingTensor, NonFiniteInput, ShapeMismatch } from "../errors";
import { sadCandidatesPerPrompt } from "../kernels/sad";
import type { Kernels } from "../kernels/types";
import { ANALYSIS_LIMITS, SAD_TENSORS, type SadOptions } from "../wire/analysis-request";
import type { HeadPath, Variant } from "../wire/head-request";
import { decodeFloat, encodeSafetensors, type ParsedSafetensors } from "../wire/safetensors";
import type { SvdSummary } from "../wire/svd-result";
import { buildHeadFactors } from "./head-factors";
import type { HeadWeights } from "./head-weights";

/** One head's SVD as an analysis reads it, with where it came from. */
export interface HeadBasis {
  source: "computed_f64" | "stored_f32";
  U: Float64Array;
  S: Float64Array;
  V: Float64Array;
  /** factor rows: d_model, or d_model + 1 with the augmented bias coordinate */
  rows: number;
  k: number;
  dModel: number;
  dHead: number;
  variant: Variant;
  /** the stored result's input hash, when the SVD came from storage */
  storedSha256?: string;
  /** the kernel's own checks, when computed now */
  checks?: { core_residual: number; orthogonality_U: number; orthogonality_V: number };
}

/** The SVD computed now, in f64, from the weights in the body (preferred: no F32 rounding of U, V). */
export function basisFromWeights(kernels: Kernels, weights: HeadWeights, opts: { fold_ln?: boolean; bias?: "augmented" | "none"; scale?: number }): HeadBasis {
  const { a, b, variant } = buildHeadFactors(weights, opts);
  const svd = kernels.factoredSvd(a, b);
  return {
    source: "computed_f64",
    U: svd.U,
    S: svd.S,
    V: svd.V,
    rows: svd.m,
    k: svd.k,
    dModel: weights.dModel,
    dHead: weights.dHead,
    variant,
    checks: {
      core_residual: svd.diagnostics.coreResidual,
      orthogonality_U: svd.diagnostics.orthogonalityU,
      orthogonality_V: svd.diagnostics.orthogonalityV,
    },
  };
}

/** The SVD stored by POST …/{circuit}: U, V as F32 (widened to f64), S as F64. */
export function basisFromStored(summary: SvdSummary, vectors: ParsedSafetensors): HeadBasis {
  const get = (name: string) => {
    const t = vectors.tensors.get(name);
    if (!t) throw new MissingTensor(`stored vectors ${summary.vectors.key} lack ${name}`);
    return Float64Array.from(decodeFloat(t));
  };
  const U = get("U");
  const [rows, k] = vectors.tensors.get("U")!.shape;
  return {
    source: "stored_f32",
    U,
    S: get("S"),
    V: get("V"),
    rows,
    k,
    dModel: summary.d_model,
    dHead: summary.d_head,
    variant: summary.variant,
    storedSha256: summary.input.sha256,
  };
}

/** A head whose circuit is zero has nothing to decompose or align: an error, never a silent answer. */
export function requireNonzero(basis: HeadBasis, circuit: string): void {
  if (!(basis.S[0] > 0)) {
    throw new InvalidRequest(`the head's ${circuit} circuit is zero (σ_1 = ${basis.S[0]}): every score is 0 and there is nothing to decompose`, {
      reason: "zero-circuit",
    });
  }
}

export interface TokenBatch {
  X: Float32Array | Float64Array;
  batch: number;
  tokens: number;
  /** columns as sent */
  sentColumns: number;
  /** "appended": the caller sent d_model columns and the bias coordinate 1 was added here */
  biasCoordinate: "appended" | "sent" | "none";
  dtype: string;
}

const fmt = (s: number[]) => `[${s.join(", ")}]`;

/** X [T, d] or [B, T, d] from the body, checked against the basis (d = rows, or rows − 1 when augmented). */
export function readTokens(parsed: ParsedSafetensors, basis: HeadBasis, excludeFirstSource: boolean): TokenBatch {
  const name = SAD_TENSORS.tokens;
  const t = parsed.tensors.get(name);
  if (!t) throw new MissingTensor(`the body needs tensor ${name} [T, d] or [B, T, d] (token vectors as the head reads them)`, { tensor: name });
  const augmented = basis.variant.bias === "augmented";
  const shape = t.shape;
  if (shape.length !== 2 && shape.length !== 3) {
    throw new ShapeMismatch(`${name} must be [T, d] or [B, T, d], got ${fmt(shape)}`, { tensor: name, actual: shape });
  }
  const [batch, tokens, d] = shape.length === 3 ? shape : [1, shape[0], shape[1]];
  const allowed = augmented ? [basis.rows, basis.rows - 1] : [basis.rows];
  if (!allowed.includes(d)) {
    throw new ShapeMismatch(
      `${name} has ${d} columns; the ${basis.variant.name} SVD has ${basis.rows} rows, so X needs ${allowed.join(" or ")} ` +
        `(${augmented ? "d_model, or d_model + 1 with the trailing 1 already appended" : "d_model"})`,
      { tensor: name, expected: allowed, actual: shape },
    );
  }
  if (batch < 1) throw new ShapeMismatch(`${name} is an empty batch: ${fmt(shape)}`, { tensor: name, actual: shape });
  if (tokens < 2) {
    throw new ShapeMismatch(`${name} has ${tokens} token(s) per prompt; SAD needs T ≥ 2 (a query's relative score needs another key)`, {
      tensor: name,
      actual: shape,
    });
  }
  if (tokens > ANALYSIS_LIMITS.maxTokens) {
    throw new ShapeMismatch(`${name} has ${tokens} tokens per prompt; the limit is ${ANALYSIS_LIMITS.maxTokens}`, {
      tensor: name, actual: shape, limits: ANALYSIS_LIMITS,
    });
  }
  const candidates = batch * sadCandidatesPerPrompt(tokens, excludeFirstSource);
  if (candidates > ANALYSIS_LIMITS.maxCandidatePairs) {
    throw new ShapeMismatch(
      `${name} ${fmt(shape)} gives ${candidates} candidate pairs; one request may hold ${ANALYSIS_LIMITS.maxCandidatePairs} (split the batch)`,
      { tensor: name, actual: shape, limits: ANALYSIS_LIMITS },
    );
  }
  const raw = decodeFloat(t);
  for (let i = 0; i < raw.length; i++) {
    if (!Number.isFinite(raw[i])) throw new NonFiniteInput(`${name} holds ${raw[i]} at flat index ${i}`, { tensor: name, index: i });
  }
  if (d === basis.rows) {
    return { X: raw, batch, tokens, sentColumns: d, biasCoordinate: augmented ? "sent" : "none", dtype: t.dtype };
  }
  const X = raw instanceof Float64Array ? new Float64Array(batch * tokens * basis.rows) : new Float32Array(batch * tokens * basis.rows);
  for (let r = 0; r < batch * tokens; r++) {
    X.set(raw.subarray(r * d, (r + 1) * d), r * basis.rows);
    X[r * basis.rows + d] = 1;
  }
  return { X, batch, tokens, sentColumns: d, biasCoordinate: "appended", dtype: t.dtype };
}

export interface SadChoices {
  svd_source: HeadBasis["source"];
  svd_stored_sha256: string | null;
  variant: Variant;
  tau: number;
  exclude_first_source: boolean;
  scale: number;
  scale_source: "query" | "variant";
  queries: string;
  firing: string;
  relative: string;
  n_recon_rule: string;
  sparseness: string;
  x_bias_coordinate: TokenBatch["biasCoordinate"];
  null: { kind: string; seeds: number[]; generator: string; haar: string } | null;
}

export interface SadResult {
  summary: Record<string, unknown> & { schema: "headscope.sad/v1"; id: string } & SadAggregates;
  detail?: Uint8Array;
}

/**
 * Runs SAD for one head.
 * @param id - the analysis id (hash of body, options and SVD), used for the detail key
 */
export function decomposeAttention(
  kernels: Kernels,
  path: HeadPath,
  basis: HeadBasis,
  batch: TokenBatch,
  options: SadOptions,
  input: { sha256: string; bytes: number },
  id: string,
  /** where the detail object will be stored (ResultStore.analysisDetailKey), recorded in the summary */
  detailKey: string,
): SadResult {
  requireNonzero(basis, "qk");
  const seeds = Array.from({ length: options.null_seeds }, (_, i) => i);
  const scale = options.scale ?? basis.variant.scale;
  const wantPairs = options.detail === "pairs";
  const raw = kernels.sad({
    U: basis.U, S: basis.S, V: basis.V, rows: basis.rows, k: basis.k,
    X: batch.X, batch: batch.batch, tokens: batch.tokens,
    rotations: seededRotations(basis.k, seeds), rotationCount: seeds.length,
    scale, tau: options.tau, excludeFirstSource: options.exclude_first_source, recordSelected: wantPairs,
  });
  const agg = aggregateSad(raw, basis.k, seeds);
  const choices: SadChoices = {
    svd_source: basis.source,
    svd_stored_sha256: basis.storedSha256 ?? null,
    variant: basis.variant,
    tau: options.tau,
    exclude_first_source: options.exclude_first_source,
    scale,
    scale_source: options.scale === undefined ? "variant" : "query",
    queries: "d = 1..T−1 (the relative score of d = 0 has no other key)",
    firing: "A(d,s) ≥ 1/(d+1), A = causal softmax over s ≤ d of scale·ℓ(d,s)" + (options.exclude_first_source ? ", s ≠ 0" : ""),
    relative: "t̃_k(d,s) = σ_k (x̃_d·u_k)(v_k·(x̃_s − mean_{s'≤d, s'≠s} x̃_s')); firing pairs with Σ_k t̃_k ≤ 0 are counted, not decomposed",
    n_recon_rule: "smallest n with Σ_{i≤n} t̃_(i) ≥ τ·Σt̃ − 1e-12·|Σt̃| (terms sorted descending; totals in numpy's pairwise order); when rounding keeps it out of reach, n = the number of positive terms, counted in pairs.n_recon_unreached",
    sparseness: "Rolls–Tovee (mean_k |t̃_k|)² / mean_k t̃_k²",
    x_bias_coordinate: batch.biasCoordinate,
    null: seeds.length
      ? { kind: "random rotation of the query-side basis, ũ = U Q, t_k = (x̃_d·ũ_k)(ũ_kᵀ Ω̃ x̃_sᵀ); same firing pairs", seeds, generator: RNG_NAME, haar: HAAR_NAME }
      : null,
  };

  let detail: Uint8Array | undefined;
  let detailInfo: Record<string, unknown> | null = null;
  if (wantPairs) {
    const P = raw.positive;
    const offsets = new Int32Array(P + 1);
    for (let i = 0; i < P; i++) offsets[i + 1] = offsets[i] + raw.nRecon[i];
    const key = detailKey;
    detail = encodeSafetensors(
      {
        pairs: { dtype: "I32", shape: [P, 3], data: raw.pairs },
        n_recon: { dtype: "I32", shape: [P], data: raw.nRecon },
        sparseness: { dtype: "F64", shape: [P], data: raw.sparseness },
        score: { dtype: "F64", shape: [P], data: raw.score },
        relative_total: { dtype: "F64", shape: [P], data: raw.relativeTotal },
        selected_offsets: { dtype: "I32", shape: [P + 1], data: offsets },
        selected: { dtype: "U16", shape: [raw.selected!.length], data: raw.selected! },
      },
      {
        schema: "headscope.sad-pairs/v1",
        model: path.model, layer: String(path.layer), head: String(path.head), id,
        convention:
          "pairs rows are (prompt, dest, src) of the decomposed firing pairs; selected[selected_offsets[i]:selected_offsets[i+1]] " +
          "are pair i's singular indices (0-based) in descending order of t̃",
      },
    );
    const inline = P <= ANALYSIS_LIMITS.maxInlinePairs
      ? Array.from({ length: P }, (_, i) => ({
          prompt: raw.pairs[3 * i], dest: raw.pairs[3 * i + 1], src: raw.pairs[3 * i + 2],
          n_recon: raw.nRecon[i], sparseness: raw.sparseness[i], score: raw.score[i], relative_total: raw.relativeTotal[i],
          selected: Array.from(raw.selected!.subarray(offsets[i], offsets[i + 1])),
        }))
      : null;
    detailInfo = {
      key,
      format: "safetensors",
      pairs: P,
      tensors: { pairs: [P, 3], n_recon: [P], sparseness: [P], score: [P], relative_total: [P], selected_offsets: [P + 1], selected: [raw.selected!.length] },
      inline,
    };
  }

  const termVectors = (options.terms ?? []).map(([prompt, dest, src]) => {
    if (prompt >= batch.batch || dest >= batch.tokens || src > dest) {
      throw new InvalidRequest(
        `terms pair ${prompt}:${dest}:${src} is outside the batch (${batch.batch} prompts × ${batch.tokens} tokens, src ≤ dest)`,
        { parameter: "terms" },
      );
    }
    const x = batch.X.subarray(prompt * batch.tokens * basis.rows, (prompt + 1) * batch.tokens * basis.rows);
    const { terms, relative } = kernels.pairTerms(basis, x, batch.tokens, dest, src);
    const d = decomposeTerms(relative, options.tau);
    let score = 0;
    for (const t of terms) score += t;
    return {
      prompt, dest, src, score, terms: Array.from(terms), relative_terms: Array.from(relative),
      relative_total: d.total, n_recon: dest === 0 ? null : d.n_recon, selected: dest === 0 ? [] : d.selected, sparseness: d.sparseness,
    };
  });

  const summary = {
    schema: "headscope.sad/v1" as const,
    id,
    model: path.model,
    layer: path.layer,
    head: path.head,
    circuit: "qk",
    choices,
    d_model: basis.dModel,
    d_head: basis.dHead,
    rank: basis.k,
    singular_values: Array.from(basis.S),
    ...(basis.checks ? { svd_checks: basis.checks } : {}),
    input: { sha256: input.sha256, bytes: input.bytes, batch: batch.batch, tokens: batch.tokens, columns: batch.sentColumns, dtype: batch.dtype },
    ...agg,
    kernel: { name: kernels.name, simd: kernels.simd ?? false },
    detail: detailInfo,
    terms: termVectors.length ? termVectors : null,
  };
  return { summary, detail };
}
