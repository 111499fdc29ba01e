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
import { rotateKeyRows } from "../analysis/rotary";
import { pairTermsPositional, sadPositional, type OffsetBasis, type PositionalGeometry, type PositionalSadInput } from "../analysis/sad-positional";
import { aggregateSad, decomposeTerms, type SadAggregates } from "../analysis/sad-stats";
import { InvalidRequest, MissingTensor, NonFiniteInput, ShapeMismatch, UnsupportedDtype, ZeroCircuit } from "../errors";
import { sadCandidatesPerPrompt } from "../kernels/sad";
import type { Kernels, SadRaw } from "../kernels/types";
import { ANALYSIS_LIMITS, SAD_TENSORS, type SadOptions } from "../wire/analysis-request";
import type { HeadPath, Variant } from "../wire/head-request";
import { decodeFloat, encodeSafetensors, firstNonFinite, type ParsedSafetensors, type TensorView } from "../wire/safetensors";
import type { SvdSummary } from "../wire/svd-result";
import { readLengths } from "./activation-files";
import { buildHeadFactors } from "./head-factors";
import type { HeadWeights } from "./head-weights";

/** One head's SVD as an analysis reads it, with where it came from. */
export interface HeadBasis {
  source: "computed_f64" | "stored_f32" | "stored_f16";
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
  /** the variant's factors Ω̃ = A Bᵀ ([rows, d_head] each), when computed from weights (rotary SAD needs them) */
  factors?: { a: Float64Array; b: Float64Array };
}

/** The SVD computed now, in f64, from the weights in the body (preferred: no F32 rounding of U, V). */
export function basisFromWeights(
  kernels: Kernels, weights: HeadWeights, opts: { fold_ln?: boolean; bias?: "augmented" | "none"; scale?: number; norm?: "layernorm" | "rmsnorm" },
): HeadBasis {
  const { a, b, variant } = buildHeadFactors(kernels, weights, opts);
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
    factors: { a: Float64Array.from(a.data), b: Float64Array.from(b.data) },
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
    if (!t) throw new MissingTensor(`stored vectors ${summary.vectors?.key} lack ${name}`);
    return Float64Array.from(decodeFloat(t));
  };
  const U = get("U");
  const [rows, k] = vectors.tensors.get("U")!.shape;
  return {
    source: summary.vectors?.dtype.U === "F16" ? "stored_f16" : "stored_f32",
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
    throw new ZeroCircuit(`the head's ${circuit} circuit is zero (σ_1 = ${basis.S[0]}): every score is 0 and there is nothing to decompose`);
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
  /** per-prompt lengths when prompts differ in length (right-padded; positions ≥ lengths[b] are never read) */
  lengths?: Int32Array;
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
  const lengthsTensor = parsed.tensors.get(SAD_TENSORS.lengths);
  const lengths = lengthsTensor ? readLengths(lengthsTensor, batch, tokens) : undefined;
  if (lengths?.some((n) => n < 2)) {
    throw new ShapeMismatch(`${SAD_TENSORS.lengths} holds a prompt of fewer than 2 tokens; SAD needs T ≥ 2`, { tensor: SAD_TENSORS.lengths, actual: lengthsTensor!.shape });
  }
  let candidates = 0;
  for (let b = 0; b < batch; b++) candidates += sadCandidatesPerPrompt(lengths ? lengths[b] : tokens, excludeFirstSource);
  if (candidates > ANALYSIS_LIMITS.maxCandidatePairs) {
    throw new ShapeMismatch(
      `${name} ${fmt(shape)} gives ${candidates} candidate pairs; one request may hold ${ANALYSIS_LIMITS.maxCandidatePairs} (split the batch)`,
      { tensor: name, actual: shape, limits: ANALYSIS_LIMITS },
    );
  }
  const ragged = lengths && lengths.some((n) => n !== tokens) ? { lengths } : {};
  const raw = decodeFloat(t);
  const bad = firstNonFinite(raw);
  if (bad >= 0) throw new NonFiniteInput(`${name} holds ${raw[bad]} at flat index ${bad}`, { tensor: name, index: bad });
  if (d === basis.rows) {
    return { X: raw, batch, tokens, sentColumns: d, biasCoordinate: augmented ? "sent" : "none", dtype: t.dtype, ...ragged };
  }
  const X = raw instanceof Float64Array ? new Float64Array(batch * tokens * basis.rows) : new Float32Array(batch * tokens * basis.rows);
  for (let r = 0; r < batch * tokens; r++) {
    X.set(raw.subarray(r * d, (r + 1) * d), r * basis.rows);
    X[r * basis.rows + d] = 1;
  }
  return { X, batch, tokens, sentColumns: d, biasCoordinate: "appended", dtype: t.dtype, ...ragged };
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
  prompt_lengths: string;
  /** rotary / windowed SAD (analysis/sad-positional.ts); null when the score does not depend on position */
  positional: { rotary_dim: number; rotary_base: number | null; rotary_convention: string | null; window: number | null; offsets: number[] } | null;
}

export interface SadResult {
  summary: Record<string, unknown> & { schema: "headscope.sad/v1"; id: string } & SadAggregates;
  detail?: Uint8Array;
}

/** SAD's positional setting from the options: rotary dimensions and base, local window (method §1, §3). */
export function sadGeometry(options: SadOptions, basis: HeadBasis): PositionalGeometry | null {
  const rotaryDim = options.rotary_dim ?? 0;
  const window = options.window ?? null;
  if (options.rotary_base !== undefined && rotaryDim === 0) {
    throw new InvalidRequest("rotary_base= needs rotary_dim= (the number of rotated dimensions of the head)", { parameter: "rotary_base" });
  }
  if (rotaryDim === 0 && window === null) return null;
  if (rotaryDim % 2 !== 0 || rotaryDim > basis.dHead) {
    throw new InvalidRequest(`rotary_dim must be even and at most d_head = ${basis.dHead}, got ${rotaryDim}`, { parameter: "rotary_dim" });
  }
  if (rotaryDim > 0 && !basis.factors) {
    throw new InvalidRequest(
      "rotary SAD decomposes each pair in the SVD of its own Ω_Δ, which needs the head's weights: send W_Q, W_K (and b_Q, b_K, ln_w, ln_b) in the body",
      { parameter: "rotary_dim" },
    );
  }
  return { rotaryDim, rotaryBase: options.rotary_base ?? 10000, window };
}

/** The per-offset SVDs of Ω_Δ = A R_Δ Bᵀ (Δ = 0 is the basis itself), each computed when first asked for. */
function offsetBases(kernels: Kernels, basis: HeadBasis, g: PositionalGeometry): (delta: number) => OffsetBasis {
  return (delta) => {
    if (delta === 0 || g.rotaryDim === 0) return basis;
    const { a, b } = basis.factors!;
    const h = basis.dHead;
    const svd = kernels.factoredSvd(
      { rows: basis.rows, cols: h, data: a },
      { rows: basis.rows, cols: h, data: rotateKeyRows(b, basis.rows, h, g.rotaryDim, g.rotaryBase, delta) },
    );
    return { U: svd.U, S: svd.S, V: svd.V };
  };
}

/** focus I32 [F, 3] rows (prompt, dest, src), each inside the batch with src ≤ dest. */
export function readFocus(t: TensorView | undefined, batch: TokenBatch): Int32Array | undefined {
  if (!t) return undefined;
  const name = SAD_TENSORS.focus;
  if (t.dtype !== "I32") throw new UnsupportedDtype(`${name} must be I32 [F, 3] rows (prompt, dest, src), got ${t.dtype}`, { tensor: name, dtype: t.dtype });
  if (t.shape.length !== 2 || t.shape[1] !== 3 || t.shape[0] < 1) {
    throw new ShapeMismatch(`${name} must be [F, 3] with F ≥ 1 (prompt, dest, src), got ${fmt(t.shape)}`, { tensor: name, actual: t.shape });
  }
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Int32Array(t.shape[0] * 3);
  for (let i = 0; i < out.length; i++) out[i] = dv.getInt32(4 * i, true);
  for (let i = 0; i < out.length; i += 3) {
    const [b, d, s] = [out[i], out[i + 1], out[i + 2]];
    if (!(b >= 0 && b < batch.batch && d >= 0 && d < (batch.lengths ? batch.lengths[b] : batch.tokens) && s >= 0 && s <= d)) {
      throw new InvalidRequest(`${name} row ${i / 3} (${b}, ${d}, ${s}) is outside the batch (${batch.batch} prompts × ${batch.tokens} tokens, src ≤ dest)`, { tensor: name });
    }
  }
  return out;
}

/** How often each singular index was selected, per prompt: [B][R] from the decomposed pairs' selected sets. */
export function usageByPrompt(raw: Pick<SadRaw, "pairs" | "nRecon"> & { selected?: Uint16Array }, batch: number, k: number): number[][] {
  const out = Array.from({ length: batch }, () => new Array<number>(k).fill(0));
  if (!raw.selected) return out;
  let o = 0;
  for (let i = 0; i < raw.nRecon.length; i++) {
    const row = out[raw.pairs[3 * i]];
    for (let j = 0; j < raw.nRecon[i]; j++) row[raw.selected[o + j]]++;
    o += raw.nRecon[i];
  }
  return out;
}

/**
 * Runs SAD for one head.
 * @param id - the analysis id (hash of body, options and SVD), used for the detail key
 * @param focusTensor - optional `focus` I32 [F, 3]: the same aggregates restricted to these pairs, with their own null
 */
export function decomposeAttention(
  kernels: Kernels,
  path: HeadPath,
  basis: HeadBasis,
  batch: TokenBatch,
  options: SadOptions,
  input: { sha256: string; bytes: number; activations?: { id: string; tensor: string } },
  id: string,
  /** where the detail object will be stored (ResultStore.analysisDetailKey), recorded in the summary */
  detailKey: string,
  focusTensor?: TensorView,
): SadResult {
  requireNonzero(basis, "qk");
  const seeds = Array.from({ length: options.null_seeds }, (_, i) => i);
  const scale = options.scale ?? basis.variant.scale;
  const wantPairs = options.detail === "pairs";
  // rotary heads and local windows take the positional path; every other head, prompts of different
  // lengths included, the WebAssembly kernel (it reads each prompt's own length and never its padding)
  const geometry = sadGeometry(options, basis);
  const focus = readFocus(focusTensor, batch);
  const rotations = seededRotations(basis.k, seeds);
  const positionalInput = (g: PositionalGeometry): PositionalSadInput => ({
    rows: basis.rows, k: basis.k, dHead: basis.dHead, X: batch.X, batch: batch.batch, tokens: batch.tokens, geometry: g,
    factors: basis.factors, basisOf: offsetBases(kernels, basis, g), rotations, rotationCount: seeds.length,
    scale, tau: options.tau, excludeFirstSource: options.exclude_first_source, lengths: batch.lengths,
  });
  const run = (pairs?: Int32Array): SadRaw & { offsets?: number[] } => {
    try {
      return geometry
        ? sadPositional({ ...positionalInput(geometry), ...(pairs ? { focus: pairs } : {}) })
        : kernels.sad({
            U: basis.U, S: basis.S, V: basis.V, rows: basis.rows, k: basis.k,
            X: batch.X, batch: batch.batch, tokens: batch.tokens,
            rotations, rotationCount: seeds.length,
            scale, tau: options.tau, excludeFirstSource: options.exclude_first_source, recordSelected: true,
            ...(batch.lengths ? { lengths: batch.lengths } : {}),
            ...(pairs ? { focus: pairs } : {}),
          });
    } catch (e) {
      if (e instanceof RangeError) throw new NonFiniteInput(e.message);
      throw e;
    }
  };
  const raw = run();
  const agg = aggregateSad(raw, basis.k, seeds);
  const focusRaw = focus ? run(focus) : undefined;
  const window = geometry?.window ?? null;
  const choices: SadChoices = {
    svd_source: basis.source,
    svd_stored_sha256: basis.storedSha256 ?? null,
    variant: basis.variant,
    tau: options.tau,
    exclude_first_source: options.exclude_first_source,
    scale,
    scale_source: options.scale === undefined ? "variant" : "query",
    queries: "d = 1..T−1 (the relative score of d = 0 has no other key)",
    firing: window === null
      ? "A(d,s) ≥ 1/(d+1), A = causal softmax over s ≤ d of scale·ℓ(d,s)" + (options.exclude_first_source ? ", s ≠ 0" : "")
      : `A(d,s) ≥ 1/|K(d)|, A = softmax over the window K(d) = {s : 0 ≤ d − s < ${window}} of scale·ℓ(d,s)` + (options.exclude_first_source ? ", s ≠ 0" : ""),
    relative: geometry?.rotaryDim
      ? "t̃_k(d,s) = (x̃_d·u_k^Δ)(u_k^Δ·(y_s − mean_{s'∈K(d), s'≠s} y_s')), y_s' = Ω_{d−s'} x̃_s'ᵀ, (u^Δ, σ^Δ, v^Δ) the SVD of Ω_Δ, Δ = d − s; firing pairs with Σ_k t̃_k ≤ 0 are counted, not decomposed"
      : `t̃_k(d,s) = σ_k (x̃_d·u_k)(v_k·(x̃_s − mean_{s'∈K(d), s'≠s} x̃_s'))${window === null ? ", K(d) = {0..d}" : ""}; firing pairs with Σ_k t̃_k ≤ 0 are counted, not decomposed`,
    n_recon_rule: "smallest n with Σ_{i≤n} t̃_(i) ≥ τ·Σt̃ − 1e-12·|Σt̃| (terms sorted descending; totals in numpy's pairwise order); when rounding keeps it out of reach, n = the number of positive terms, counted in pairs.n_recon_unreached",
    sparseness: "Rolls–Tovee (mean_k |t̃_k|)² / mean_k t̃_k²",
    x_bias_coordinate: batch.biasCoordinate,
    null: seeds.length
      ? {
          kind: geometry?.rotaryDim
            ? "random rotation of each Ω_Δ's query-side basis, ũ^Δ = U^Δ Q, t_k = (x̃_d·ũ_k)(ũ_k·y); same firing pairs"
            : "random rotation of the query-side basis, ũ = U Q, t_k = (x̃_d·ũ_k)(ũ_kᵀ Ω̃ x̃_sᵀ); same firing pairs",
          seeds, generator: RNG_NAME, haar: HAAR_NAME,
        }
      : null,
    prompt_lengths: batch.lengths ? "per prompt (lengths tensor): queries and keys of prompt b are positions 0..lengths[b]−1" : "all T",
    positional: geometry
      ? {
          rotary_dim: geometry.rotaryDim,
          rotary_base: geometry.rotaryDim ? geometry.rotaryBase : null,
          rotary_convention: geometry.rotaryDim ? "Hugging Face rotate_half: dims i and i + r/2 rotate by p·base^(−2i/r) at position p; Ω_Δ = W̃_Q R_Δ W̃_Kᵀ" : null,
          window,
          offsets: raw.offsets ?? [0],
        }
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
    if (prompt >= batch.batch || dest >= (batch.lengths ? batch.lengths[prompt] : batch.tokens) || src > dest) {
      throw new InvalidRequest(
        `terms pair ${prompt}:${dest}:${src} is outside the batch (${batch.batch} prompts × ${batch.tokens} tokens, src ≤ dest)`,
        { parameter: "terms" },
      );
    }
    let terms: Float64Array, relative: Float64Array;
    if (geometry) {
      if (window !== null && dest - src >= window) {
        throw new InvalidRequest(`terms pair ${prompt}:${dest}:${src} is outside the window (d − s < ${window})`, { parameter: "terms" });
      }
      ({ terms, relative } = pairTermsPositional(positionalInput(geometry), prompt, dest, src));
    } else {
      // the prompt's own rows only (0..lengths[prompt]−1): padding is never read
      const t = batch.lengths ? batch.lengths[prompt] : batch.tokens;
      const x = batch.X.subarray(prompt * batch.tokens * basis.rows, (prompt * batch.tokens + t) * basis.rows);
      ({ terms, relative } = kernels.pairTerms(basis, x, t, dest, src));
    }
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
    input: { sha256: input.sha256, bytes: input.bytes, ...(input.activations ? { activations: input.activations } : {}), batch: batch.batch, tokens: batch.tokens, columns: batch.sentColumns, dtype: batch.dtype },
    ...agg,
    usage_by_prompt: usageByPrompt(raw, batch.batch, basis.k),
    focus: focusRaw
      ? { pairs_listed: focus!.length / 3, ...aggregateSad(focusRaw, basis.k, seeds), usage_by_prompt: usageByPrompt(focusRaw, batch.batch, basis.k) }
      : null,
    kernel: geometry ? { name: "ts-f64-positional", simd: false } : { name: kernels.name, simd: kernels.simd ?? false },
    detail: detailInfo,
    terms: termVectors.length ? termVectors : null,
  };
  return { summary, detail };
}
