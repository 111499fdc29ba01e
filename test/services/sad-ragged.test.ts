/**
 * SAD on prompts of different lengths (issue 11): a ragged batch (right-padded, with `lengths`) goes
 * through the WebAssembly kernel, which reads each prompt's own rows only. On a real GPT-2 small head
 * (L0H0, folded weights, augmented bias: what `scan --prompts` asks for) and 128 IOI prompts with their
 * real GPT-2 BPE lengths (15–21 tokens, in no particular order, so two kernel chunks of 64 prompts):
 * - the service's answer (decomposeAttention, as the worker runs it) equals what the positional
 *   TypeScript float64 path (analysis/sad-positional.ts), which handled every ragged batch before, gives
 *   for the same batch: per-pair records, terms, aggregates, N_recon against the null, Rolls–Tovee,
 *   firing counts, verdict, the singular index × prompt heatmap, the IOI END→IO / END→S2 focus, prompt
 *   indices in the original order; in both kernel builds, which agree with each other;
 * - padding never matters: pad rows of huge values (service) or NaN (kernel, where any read would
 *   poison the result) give the same bits as zero padding, and every prompt gives the same records in
 *   the batch as alone.
 *
 * Tolerances: integer outcomes (pairs, N_recon, selected indices, counts, histograms, heatmap, verdict)
 * must be equal. Floating-point ones are the same f64 formulas summed in another order (the kernel's
 * register-tiled projections and running key sums against the positional path's sequential loops), a
 * few ulp times R = 64 terms: 1e-10 relative to the pair's score magnitude for per-pair values, and
 * 1e-6 relative for aggregates, which include the null's sparseness stored as float32 by both paths
 * (one f32 ulp is 6e-8). A padded row leaking into a prompt would change values by O(1).
 */
import { describe, expect, test } from "vitest";
import { seededRotations } from "../../src/analysis/random";
import { pairTermsPositional, sadPositional, type PositionalSadInput } from "../../src/analysis/sad-positional";
import { sadHeadReport } from "../../src/analysis/sad-report";
import { aggregateSad } from "../../src/analysis/sad-stats";
import { loadKernels, type KernelBuild } from "../../src/kernels/load-node";
import type { SadInput, SadRaw } from "../../src/kernels/types";
import { basisFromWeights, decomposeAttention, readTokens, usageByPrompt } from "../../src/services/sad-head";
import { SadOptionsSchema } from "../../src/wire/analysis-request";
import { decodeFloat, encodeSafetensors, parseSafetensors } from "../../src/wire/safetensors";
import { D_HEAD, D_MODEL, gpt2Head } from "../support/gpt2";
import { ioiTokens } from "../support/ioi-tokens";

const NB = 128;
const SEEDS = [0, 1, 2, 3, 4, 5, 6, 7];
const data = ioiTokens(NB);
const T = data.tokens;
const w = gpt2Head(0, 0);
const weights = { circuit: "qk" as const, dModel: D_MODEL, dHead: D_HEAD, read: w.W_Q, other: w.W_K, bQ: w.b_Q, bK: w.b_K, lnW: w.ln_w, lnB: w.ln_b, dtypes: {} };
const release = loadKernels("release");
const kernelsOf: Record<string, ReturnType<typeof loadKernels>> = { release, scalar: loadKernels("scalar") };
// one basis for every run, so the paths differ only in how they decompose
const basis = basisFromWeights(release, weights, { fold_ln: true, bias: "augmented" });
const M = basis.rows;
const path = { model: "m", layer: 0, head: 0, circuit: "qk" as const };

// the shortest and the longest prompt, for the terms option
const shortest = data.lengths.indexOf(Math.min(...data.lengths));
const longest = data.lengths.indexOf(T);
const f = (b: number) => data.focus.subarray(6 * b, 6 * b + 6); // b, END, IO, b, END, S2
const termPairs = [[shortest, f(shortest)[1], f(shortest)[2]], [shortest, f(shortest)[1], 0], [longest, T - 1, f(longest)[5]], [shortest, 1, 1]];
const options = SadOptionsSchema.parse({ detail: "pairs", terms: termPairs.map((p) => p.join(":")).join(",") });

function body(X: Float32Array) {
  return encodeSafetensors({
    X: { dtype: "F32", shape: [NB, T, D_MODEL], data: X },
    lengths: { dtype: "I32", shape: [NB], data: data.lengths },
    focus: { dtype: "I32", shape: [data.focus.length / 3, 3], data: data.focus },
  });
}

function serve(build: KernelBuild, X: Float32Array = data.X) {
  const parsed = parseSafetensors(body(X));
  const batch = readTokens(parsed, basis, options.exclude_first_source);
  const { summary, detail } = decomposeAttention(kernelsOf[build], path, basis, batch, options, { sha256: "0".repeat(64), bytes: 1 }, "id", "key", parsed.tensors.get("focus"));
  return { summary: summary as Record<string, any>, detail: detail!, batch };
}

// the positional float64 path, exactly as the service called it for every ragged batch before
const batch0 = serve("release").batch;
const positional: PositionalSadInput = {
  rows: M, k: basis.k, dHead: basis.dHead, X: batch0.X, batch: NB, tokens: T, geometry: { rotaryDim: 0, rotaryBase: 10000, window: null },
  basisOf: () => basis, rotations: seededRotations(basis.k, SEEDS), rotationCount: SEEDS.length,
  scale: basis.variant.scale, tau: options.tau, excludeFirstSource: options.exclude_first_source, lengths: data.lengths,
};
const refFull = sadPositional(positional);
const refFocus = sadPositional({ ...positional, focus: data.focus });
const reference = {
  ...aggregateSad(refFull, basis.k, SEEDS),
  usage_by_prompt: usageByPrompt(refFull, NB, basis.k),
  focus: { pairs_listed: NB * 2, ...aggregateSad(refFocus, basis.k, SEEDS), usage_by_prompt: usageByPrompt(refFocus, NB, basis.k) },
};

/** Equal structure; numbers equal when integers (both sides), else within `tol` relative (NaN = NaN). */
function expectClose(actual: unknown, expected: unknown, tol: number, where = "answer"): void {
  if (typeof expected === "number") {
    expect(typeof actual, where).toBe("number");
    const a = actual as number;
    if (Number.isNaN(expected) || Number.isInteger(expected)) expect(a, where).toBe(expected);
    else expect(Math.abs(a - expected), `${where}: ${a} vs ${expected}`).toBeLessThanOrEqual(tol * Math.abs(expected));
  } else if (expected !== null && typeof expected === "object") {
    expect(actual, where).toBeTypeOf("object");
    const keys = Object.keys(expected as object);
    expect(Object.keys(actual as object).filter((k) => keys.includes(k)).length, `${where} keys`).toBe(keys.length);
    for (const k of keys) expectClose((actual as any)[k], (expected as any)[k], tol, `${where}.${k}`);
  } else expect(actual, where).toEqual(expected);
}

/** Per-pair records of one raw run against another: integers equal, f64 values to 1e-10 of the score. */
function expectSamePairs(a: SadRaw, b: SadRaw): void {
  expect(a.positive).toBe(b.positive);
  expect(a.nonpositive).toBe(b.nonpositive);
  expect(a.unreached).toBe(b.unreached);
  expect(a.candidates).toBe(b.candidates);
  expect(Array.from(a.pairs)).toEqual(Array.from(b.pairs));
  expect(Array.from(a.nRecon)).toEqual(Array.from(b.nRecon));
  expect(Array.from(a.usage)).toEqual(Array.from(b.usage));
  expect(Array.from(a.selected!)).toEqual(Array.from(b.selected!));
  for (let i = 0; i < a.positive; i++) {
    const scale = Math.max(1, Math.abs(b.score[i]));
    expect(Math.abs(a.score[i] - b.score[i])).toBeLessThanOrEqual(1e-10 * scale);
    expect(Math.abs(a.relativeTotal[i] - b.relativeTotal[i])).toBeLessThanOrEqual(1e-10 * scale);
    expect(Math.abs(a.sparseness[i] - b.sparseness[i])).toBeLessThanOrEqual(1e-10 * b.sparseness[i]);
  }
  a.null.forEach((n, r) => {
    expect(n.positive).toBe(b.null[r].positive);
    expect(n.unreached).toBe(b.null[r].unreached);
    expect(Array.from(n.histogram)).toEqual(Array.from(b.null[r].histogram));
    for (let i = 0; i < n.positive; i++) expect(Math.abs(n.sparseness[i] - b.null[r].sparseness[i])).toBeLessThanOrEqual(1e-6 * b.null[r].sparseness[i]);
  });
}

const kernelInput = (X: Float32Array | Float64Array = batch0.X): SadInput => ({
  U: basis.U, S: basis.S, V: basis.V, rows: M, k: basis.k, X, batch: NB, tokens: T, rotations: positional.rotations, rotationCount: SEEDS.length,
  scale: basis.variant.scale, tau: options.tau, excludeFirstSource: options.exclude_first_source, recordSelected: true, lengths: data.lengths,
});

test("the batch is ragged in no particular order, large enough for two kernel chunks, and the IOI focus fires", () => {
  expect(new Set(data.lengths).size).toBeGreaterThan(3);
  expect(Array.from(data.lengths).some((n, i) => i > 0 && n < data.lengths[i - 1])).toBe(true);
  expect(Array.from(data.lengths).some((n, i) => i > 0 && n > data.lengths[i - 1])).toBe(true);
  expect(NB * T * M).toBeGreaterThan(1 << 20); // SAD_CHUNK_ELEMENTS
  expect(refFull.positive).toBeGreaterThan(1000);
  expect(refFocus.positive).toBeGreaterThan(20);
  expect(refFocus.positive).toBeLessThan(NB * 2);
  expect(refFull.null[0].positive).toBeGreaterThan(1000);
});

for (const build of ["release", "scalar"] as KernelBuild[]) {
  describe(`${build} build: the WebAssembly path gives the positional path's answer`, () => {
    const { summary, detail } = serve(build);

    test("the answer says which path ran and how prompt lengths were handled", () => {
      expect(summary.kernel).toEqual({ name: `wasm-${build}`, simd: build === "release" });
      expect(summary.choices.prompt_lengths).toMatch(/^per prompt \(lengths tensor\): queries and keys of prompt b are positions 0\.\.lengths\[b\]−1/);
      expect(summary.choices.positional).toBeNull();
      expect(summary.input).toMatchObject({ batch: NB, tokens: T });
    });

    test("aggregates, null, Rolls–Tovee, firing counts, heatmap and the IOI focus equal the positional path's", () => {
      expectClose(summary, reference, 1e-6);
      expect(summary.usage_by_prompt).toEqual(reference.usage_by_prompt);
      expect(summary.focus.usage_by_prompt).toEqual(reference.focus.usage_by_prompt);
      expect(summary.focus.pairs.candidates).toBe(refFocus.candidates);
      // the report's figures and verdicts, whole batch and focus
      // the positional path's answer differed only in its aggregates (the id, choices and input are the request's)
      const mine = sadHeadReport(summary), theirs = sadHeadReport({ id: summary.id, choices: summary.choices, input: summary.input, ...reference });
      expectClose(mine, theirs, 1e-6, "report");
      expect(mine.verdict).toBe(theirs.verdict);
      expect(mine.focus!.verdict).toBe(theirs.focus!.verdict);
    });

    test("per-pair detail: the same pairs in the original prompt order, N_recon, selected sets; values to 1e-10", () => {
      const t = parseSafetensors(detail).tensors;
      const get = (n: string) => t.get(n)!;
      const ints = (n: string) => Array.from(new Int32Array(get(n).bytes.slice().buffer));
      expect(ints("pairs")).toEqual(Array.from(refFull.pairs));
      expect(ints("n_recon")).toEqual(Array.from(refFull.nRecon));
      expect(Array.from(new Uint16Array(get("selected").bytes.slice().buffer))).toEqual(Array.from(refFull.selected));
      const score = decodeFloat(get("score")), total = decodeFloat(get("relative_total")), rt = decodeFloat(get("sparseness"));
      for (let i = 0; i < refFull.positive; i++) {
        const scale = Math.max(1, Math.abs(refFull.score[i]));
        expect(Math.abs(score[i] - refFull.score[i])).toBeLessThanOrEqual(1e-10 * scale);
        expect(Math.abs(total[i] - refFull.relativeTotal[i])).toBeLessThanOrEqual(1e-10 * scale);
        expect(Math.abs(rt[i] - refFull.sparseness[i])).toBeLessThanOrEqual(1e-10 * refFull.sparseness[i]);
      }
      // prompt indices are the request's: prompt b's pairs lie inside its own length
      const prompts = ints("pairs").filter((_, i) => i % 3 === 0);
      expect(new Set(prompts).size).toBe(NB);
      const pairs = ints("pairs");
      for (let i = 0; i < refFull.positive; i++) expect(pairs[3 * i + 1]).toBeLessThan(data.lengths[prompts[i]]);
    });

    test("raw records and the null, pair by pair, whole batch and focus", () => {
      const k = kernelsOf[build];
      expectSamePairs(k.sad(kernelInput()), refFull);
      expectSamePairs(k.sad({ ...kernelInput(), focus: data.focus }), refFocus);
    });

    test("terms of listed pairs (the shortest prompt, the longest) equal the positional path's", () => {
      expect(summary.terms).toHaveLength(termPairs.length);
      summary.terms.forEach((got: any, i: number) => {
        const [b, d, s] = termPairs[i];
        const want = pairTermsPositional(positional, b, d, s);
        expect([got.prompt, got.dest, got.src]).toEqual([b, d, s]);
        const scale = Math.max(1, Math.abs(want.score));
        got.terms.forEach((x: number, j: number) => expect(Math.abs(x - want.terms[j])).toBeLessThanOrEqual(1e-10 * scale));
        got.relative_terms.forEach((x: number, j: number) => expect(Math.abs(x - want.relative[j])).toBeLessThanOrEqual(1e-10 * scale));
        expect(Math.abs(got.score - want.score)).toBeLessThanOrEqual(1e-10 * scale);
      });
    });
  });
}

describe("padding is never read", () => {
  const padded = <A extends Float32Array | Float64Array>(fill: (i: number) => number, X: A): A => {
    const out = X.slice() as A;
    const m = X.length / (NB * T);
    for (let b = 0; b < NB; b++) for (let i = data.lengths[b] * m; i < T * m; i++) out[b * T * m + i] = fill(i);
    return out;
  };

  test("pad rows of huge values give the same answer and detail, to the bit, in both builds", () => {
    const garbage = padded((i) => (i % 2 ? 3e37 : -1e30), data.X);
    for (const build of ["release", "scalar"] as KernelBuild[]) {
      const clean = serve(build), dirty = serve(build, garbage);
      expect(JSON.stringify(dirty.summary)).toBe(JSON.stringify(clean.summary));
      expect(Buffer.from(dirty.detail).equals(Buffer.from(clean.detail))).toBe(true);
    }
  });

  test("NaN padding (which any read would spread) changes no bit of the kernel's output", () => {
    const nan = padded(() => NaN, batch0.X);
    for (const build of ["release", "scalar"] as KernelBuild[]) {
      const k = kernelsOf[build];
      expect(k.sad(kernelInput(nan))).toEqual(k.sad(kernelInput()));
      expect(k.sad({ ...kernelInput(nan), focus: data.focus })).toEqual(k.sad({ ...kernelInput(), focus: data.focus }));
    }
  });

  test("every prompt gives the same records in the batch as alone", () => {
    const all = release.sad(kernelInput());
    let at = 0;
    const nullPositive = new Array(SEEDS.length).fill(0);
    for (let b = 0; b < NB; b++) {
      const n = data.lengths[b];
      const one = release.sad({ ...kernelInput(), X: batch0.X.subarray(b * T * M, (b * T + n) * M), batch: 1, tokens: n, lengths: undefined });
      const mine = Array.from({ length: one.positive }, (_, i) => at + i);
      expect(mine.map((i) => all.pairs[3 * i])).toEqual(new Array(one.positive).fill(b));
      expect(mine.map((i) => [all.pairs[3 * i + 1], all.pairs[3 * i + 2], all.nRecon[i], all.score[i], all.sparseness[i]])).toEqual(
        Array.from({ length: one.positive }, (_, i) => [one.pairs[3 * i + 1], one.pairs[3 * i + 2], one.nRecon[i], one.score[i], one.sparseness[i]]),
      );
      one.null.forEach((x, r) => (nullPositive[r] += x.positive));
      at += one.positive;
    }
    expect(at).toBe(all.positive);
    expect(all.null.map((x) => x.positive)).toEqual(nullPositive);
  });
});

test("SIMD and scalar builds agree on the ragged batch and its focus", () => {
  const scalar = kernelsOf.scalar;
  for (const focus of [undefined, data.focus]) {
    const a = release.sad({ ...kernelInput(), focus }), b = scalar.sad({ ...kernelInput(), focus });
    expect(Array.from(a.pairs)).toEqual(Array.from(b.pairs));
    expect(Array.from(a.nRecon)).toEqual(Array.from(b.nRecon));
    expect(Array.from(a.selected!)).toEqual(Array.from(b.selected!));
    expect(a.candidates).toBe(b.candidates);
    for (let i = 0; i < a.positive; i++) expect(Math.abs(a.sparseness[i] - b.sparseness[i])).toBeLessThan(1e-12);
    a.null.forEach((n, i) => expect(Array.from(n.histogram)).toEqual(Array.from(b.null[i].histogram)));
  }
});

test("bad lengths and focus pairs are refused at the kernel boundary", () => {
  expect(() => release.sad({ ...kernelInput(), lengths: data.lengths.subarray(1) })).toThrow(/lengths has 127 values/);
  expect(() => release.sad({ ...kernelInput(), lengths: Int32Array.from(data.lengths, (n, i) => (i === 5 ? T + 1 : n)) })).toThrow(/lengths\[5\]/);
  expect(() => release.sad({ ...kernelInput(), lengths: Int32Array.from(data.lengths, (n, i) => (i === 5 ? 1 : n)) })).toThrow(/lengths\[5\]/);
  const outside = Int32Array.from([shortest, data.lengths[shortest], 0]);
  expect(() => release.sad({ ...kernelInput(), focus: outside })).toThrow(/focus pair .* outside the batch/);
});

test("equal lengths: a focus set through the kernel equals the positional path's focus too", () => {
  const n = Math.min(...data.lengths);
  const X = new Float64Array(NB * n * M);
  for (let b = 0; b < NB; b++) X.set(batch0.X.subarray(b * T * M, (b * T + n) * M), b * n * M);
  // each prompt's last token reading its IO and S2 (when they lie inside the truncated prompt), listed twice and out of order
  const rows: number[] = [];
  for (let b = NB - 1; b >= 0; b--) for (const s of [f(b)[5], f(b)[2], f(b)[2]]) if (s < n) rows.push(b, n - 1, s);
  const focus = Int32Array.from(rows);
  const equal = { ...positional, X, tokens: n, lengths: undefined, focus };
  const want = sadPositional(equal);
  expect(want.positive).toBeGreaterThan(20);
  for (const build of ["release", "scalar"]) {
    expectSamePairs(kernelsOf[build].sad({ ...kernelInput(X), tokens: n, lengths: undefined, focus }), want);
  }
});
