/**
 * Rotary and windowed SAD (analysis/sad-positional.ts) in float64 against independent dense
 * computations, on a synthetic GPT-NeoX checkpoint (partial rotary, biases) read by the real adapter:
 * - RoPE's per-offset decomposition: U diag(σ) Vᵀ of each Ω_Δ equals the dense W̃_Q R_Δ W̃_Kᵀ, with R_Δ
 *   built from Hugging Face's apply_rotary_pos_emb at positions (d, s), to 1e-12;
 * - every pair's terms sum to the rotary score q̂_d·k̂_s (1e-10 relative), its relative terms to the
 *   relative score over the keys, in raw and folded variants, in rotated null bases too;
 * - without rotary or window the module reproduces the WebAssembly kernel's figures exactly;
 * - GPT-Neo-style windows restrict keys, candidates and the relative mean;
 * - a focus set gives exactly the focus pairs' records of the full run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { seededRotations } from "../../src/analysis/random";
import { rotateKeyRows } from "../../src/analysis/rotary";
import { pairTermsPositional, sadPositional, type PositionalSadInput } from "../../src/analysis/sad-positional";
import { detectArchitecture, floatsOf } from "../../src/cli/architectures";
import { Checkpoint } from "../../src/cli/checkpoint";
import { loadKernels } from "../../src/kernels/load-node";
import { buildHeadFactors } from "../../src/services/head-factors";
import { writeCheckpoint, type RawTensor } from "../support/checkpoints";
import { gaussian, rng } from "../support/matrices";

const D = 24, NH = 3, DH = 8, RD = 4, BASE = 10000, T = 10, B = 3;
const tmp = mkdtempSync(join(tmpdir(), "headscope-sadrot-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const r = rng(5);
const rand = (scale: number, ...shape: number[]): RawTensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * gaussian(r)) });
const path = writeCheckpoint(join(tmp, "neox"), {
  "gpt_neox.layers.0.attention.query_key_value.weight": rand(0.4, 3 * D, D),
  "gpt_neox.layers.0.attention.query_key_value.bias": rand(0.3, 3 * D),
  "gpt_neox.layers.0.attention.dense.weight": rand(0.3, D, D),
  "gpt_neox.layers.0.input_layernorm.weight": { shape: [D], data: Float64Array.from({ length: D }, () => 1 + 0.2 * gaussian(r)) },
  "gpt_neox.layers.0.input_layernorm.bias": rand(0.1, D),
}, { dtype: "F32", config: { model_type: "gpt_neox", num_attention_heads: NH, rotary_pct: RD / DH, rotary_emb_base: BASE } });
const ckpt = Checkpoint.open(path);
const arch = detectArchitecture(ckpt);
const w = arch.head(0, 1);
const kernels = loadKernels("release");

/** Hugging Face apply_rotary_pos_emb (rotate_half, partial: the first RD dims) on one head vector at position p. */
function hfRope(v: Float64Array, p: number): Float64Array {
  const out = Float64Array.from(v);
  const half = RD / 2;
  for (let i = 0; i < half; i++) {
    const invFreq = 1 / BASE ** ((2 * i) / RD); // inv_freq = 1 / base^(arange(0, rd, 2) / rd)
    const c = Math.cos(p * invFreq), s = Math.sin(p * invFreq);
    out[i] = v[i] * c - v[i + half] * s; // x·cos + rotate_half(x)·sin, rotate_half(x) = [−x2, x1]
    out[i + half] = v[i + half] * c + v[i] * s;
  }
  return out;
}

/** Token vectors: normalised residuals z (centred, unit variance) per prompt, and x = γ∘z + β for raw variants. */
const Z = new Float64Array(B * T * D);
for (let t = 0; t < B * T; t++) {
  const row = Float64Array.from({ length: D }, () => gaussian(r) * 2);
  const mean = row.reduce((a, b) => a + b, 0) / D;
  const sd = Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / D);
  for (let i = 0; i < D; i++) Z[t * D + i] = (row[i] - mean) / sd;
}
const gamma = w.ln_w!, beta = w.ln_b!;
const Xraw = Z.map((z, i) => gamma[i % D] * z + beta[i % D]);
const augment = (X: Float64Array) => {
  const out = new Float64Array(B * T * (D + 1));
  for (let t = 0; t < B * T; t++) {
    out.set(X.subarray(t * D, (t + 1) * D), t * (D + 1));
    out[t * (D + 1) + D] = 1;
  }
  return out;
};

/** The model's q̂_d·k̂_s straight from the Hugging Face tensors: q = (γ∘z + β)W_Q + b_Q, RoPE at each position. */
function hfScore(b: number, d: number, s: number): number {
  const proj = (W: Float32Array | Float64Array, bias: Float32Array | Float64Array, t: number) => {
    const v = new Float64Array(DH);
    for (let j = 0; j < DH; j++) {
      let acc = bias[j];
      for (let i = 0; i < D; i++) acc += Xraw[(b * T + t) * D + i] * W[i * DH + j];
      v[j] = acc;
    }
    return v;
  };
  const q = hfRope(proj(floatsOf(w.W_Q), w.b_Q!, d), d), k = hfRope(proj(floatsOf(w.W_K), w.b_K!, s), s);
  return q.reduce((a, x, j) => a + x * k[j], 0);
}

function inputFor(fold: boolean, geometry: PositionalSadInput["geometry"], extra: Partial<PositionalSadInput> = {}): PositionalSadInput {
  const { a, b } = buildHeadFactors(kernels, 
    { circuit: "qk", dModel: D, dHead: DH, read: floatsOf(w.W_Q), other: floatsOf(w.W_K), bQ: w.b_Q, bK: w.b_K, lnW: w.ln_w, lnB: w.ln_b, dtypes: {} },
    { fold_ln: fold, bias: "augmented" },
  );
  const m = D + 1;
  const cache = new Map<number, ReturnType<typeof kernels.factoredSvd>>();
  return {
    rows: m, k: DH, dHead: DH, X: augment(fold ? Z : Xraw), batch: B, tokens: T, geometry,
    factors: { a: a.data as Float64Array, b: b.data as Float64Array },
    basisOf: (delta) => {
      if (!cache.has(delta)) {
        const bd = rotateKeyRows(b.data as Float64Array, m, DH, geometry.rotaryDim, geometry.rotaryBase, delta) as Float64Array;
        cache.set(delta, kernels.factoredSvd(a, { rows: m, cols: DH, data: bd }));
      }
      return cache.get(delta)!;
    },
    rotations: seededRotations(DH, [0, 1, 2]), rotationCount: 3, scale: 1 / Math.sqrt(DH), tau: 1, excludeFirstSource: true,
    ...extra,
  };
}
const ROTARY = { rotaryDim: RD, rotaryBase: BASE, window: null };
const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);
const sum = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0);

describe("rotary SAD", () => {
  test("the adapter reads partial rotary from config.json", () => {
    expect(arch.facts).toMatchObject({ architecture: "gpt-neox", rotary_dim: RD, rotary_base: BASE, d_head: DH });
  });

  test("per-offset decomposition: U diag(σ) Vᵀ of Ω_Δ equals the dense W̃_Q R_Δ W̃_Kᵀ built from apply_rotary_pos_emb", () => {
    const inp = inputFor(false, ROTARY);
    const A = inp.factors!.a, Bf = inp.factors!.b, m = D + 1;
    for (const [d, s] of [[0, 0], [3, 1], [9, 0], [7, 7], [9, 4]]) {
      // R_Δ as the matrix with rope(q, d)·rope(k, s) = q R kᵀ: column j is rope(e_j, d)·rope(·, s) per basis vector
      const R = new Float64Array(DH * DH);
      for (let i = 0; i < DH; i++) {
        const ei = new Float64Array(DH); ei[i] = 1;
        const qi = hfRope(ei, d);
        for (let j = 0; j < DH; j++) {
          const ej = new Float64Array(DH); ej[j] = 1;
          R[i * DH + j] = qi.reduce((a, x, l) => a + x * hfRope(ej, s)[l], 0);
        }
      }
      const svd = inp.basisOf(d - s);
      let maxErr = 0, maxAbs = 0;
      for (let x = 0; x < m; x++) {
        for (let y = 0; y < m; y++) {
          let dense = 0;
          for (let i = 0; i < DH; i++) for (let j = 0; j < DH; j++) dense += A[x * DH + i] * R[i * DH + j] * Bf[y * DH + j];
          let fact = 0;
          for (let k = 0; k < DH; k++) fact += svd.U[x * DH + k] * svd.S[k] * svd.V[y * DH + k];
          maxErr = Math.max(maxErr, Math.abs(dense - fact));
          maxAbs = Math.max(maxAbs, Math.abs(dense));
        }
      }
      expect(maxErr / maxAbs).toBeLessThan(1e-12);
    }
  });

  test("terms of every pair sum to the rotary score q̂_d·k̂_s (1e-10), relative terms to the relative score", () => {
    for (const fold of [false, true]) {
      const inp = inputFor(fold, ROTARY);
      let worst = 0, worstRel = 0;
      for (let b = 0; b < B; b++) {
        for (let d = 0; d < T; d++) {
          const scores = Array.from({ length: d + 1 }, (_, s) => hfScore(b, d, s));
          for (let s = 0; s <= d; s++) {
            const p = pairTermsPositional(inp, b, d, s);
            worst = Math.max(worst, rel(sum(p.terms), scores[s]), rel(p.score, scores[s]));
            if (d > 0) {
              const want = scores[s] - (sum(scores) - scores[s]) / d;
              worstRel = Math.max(worstRel, Math.abs(sum(p.relative) - want) / Math.max(Math.abs(want), 1e-3 * Math.abs(scores[s])));
            }
          }
        }
      }
      expect(worst).toBeLessThan(1e-10);
      expect(worstRel).toBeLessThan(1e-10);
    }
  });

  test("the run: pairs, offsets once each, null in rotated bases keeps every pair's total", () => {
    const inp = inputFor(true, ROTARY);
    const asked: number[] = [];
    const run = sadPositional({ ...inp, basisOf: (dl) => (asked.push(dl), inp.basisOf(dl)) });
    expect(run.candidates).toBe((B * T * (T - 1)) / 2); // d = 1..T−1, s = 1..d (source 0 excluded)
    expect(run.positive).toBeGreaterThan(0);
    expect(new Set(asked).size).toBe(asked.length); // each offset once
    expect(run.offsets).toEqual([...asked].sort((x, y) => x - y));
    for (let i = 0; i < run.positive; i++) expect(run.offsets).toContain(run.pairs[3 * i + 1] - run.pairs[3 * i + 2]);
    const nrec = Array.from(run.nRecon);
    expect(run.usage.reduce((a, b) => a + b, 0)).toBe(nrec.reduce((a, b) => a + b, 0));
    expect(run.selected.length).toBe(nrec.reduce((a, b) => a + b, 0));
    for (const n of run.null) expect(n.positive).toBe(run.positive); // the total is basis-independent
    // scores recorded are the model's
    for (let i = 0; i < run.positive; i++) {
      const [b, d, s] = [run.pairs[3 * i], run.pairs[3 * i + 1], run.pairs[3 * i + 2]];
      expect(rel(run.score[i], hfScore(b, d, s))).toBeLessThan(1e-10);
    }
  });

  test("without rotary or window the module reproduces the WebAssembly kernel", () => {
    const inp = inputFor(true, { rotaryDim: 0, rotaryBase: BASE, window: null });
    const svd = inp.basisOf(0);
    const mine = sadPositional(inp);
    const ker = kernels.sad({
      U: svd.U, S: svd.S, V: svd.V, rows: D + 1, k: DH, X: inp.X, batch: B, tokens: T, rotations: inp.rotations, rotationCount: 3,
      scale: inp.scale, tau: 1, excludeFirstSource: true, recordSelected: true,
    });
    expect(mine.candidates).toBe(ker.candidates);
    expect(mine.positive).toBe(ker.positive);
    expect(mine.nonpositive).toBe(ker.nonpositive);
    expect(Array.from(mine.pairs)).toEqual(Array.from(ker.pairs));
    expect(Array.from(mine.nRecon)).toEqual(Array.from(ker.nRecon));
    expect(Array.from(mine.usage)).toEqual(Array.from(ker.usage));
    for (let i = 0; i < 3; i++) expect(Array.from(mine.null[i].histogram)).toEqual(Array.from(ker.null[i].histogram));
    for (let i = 0; i < mine.positive; i++) expect(rel(mine.relativeTotal[i], ker.relativeTotal[i])).toBeLessThan(1e-10);
  });

  test("a local window (GPT-Neo) restricts keys, candidates and the relative mean", () => {
    const W = 4;
    const inp = inputFor(false, { rotaryDim: 0, rotaryBase: BASE, window: W });
    const run = sadPositional(inp);
    let cand = 0;
    for (let d = 1; d < T; d++) for (let s = Math.max(1, d - W + 1); s <= d; s++) cand++;
    expect(run.candidates).toBe(B * cand);
    for (let i = 0; i < run.positive; i++) expect(run.pairs[3 * i + 1] - run.pairs[3 * i + 2]).toBeLessThan(W);
    // relative terms sum to ℓ(d,s) − mean of the other keys in the window (unrotated score x̃Ωx̃ᵀ)
    const d = 8, s = 6, lo = d - W + 1;
    const p = pairTermsPositional(inp, 1, d, s);
    const sc = (j: number) => pairTermsPositional(inp, 1, d, j).score;
    let others = 0;
    for (let j = lo; j <= d; j++) if (j !== s) others += sc(j);
    const want = sc(s) - others / (W - 1);
    expect(Math.abs(sum(p.relative) - want) / Math.abs(want)).toBeLessThan(1e-10);
  });

  test("a focus set gives exactly the focus pairs' records of the full run", () => {
    const inp = inputFor(true, ROTARY);
    const full = sadPositional(inp);
    const chosen = [0, 2, 5].filter((i) => i < full.positive);
    const focus = Int32Array.from(chosen.flatMap((i) => [full.pairs[3 * i], full.pairs[3 * i + 1], full.pairs[3 * i + 2]]));
    const part = sadPositional({ ...inp, focus });
    expect(part.candidates).toBe(chosen.length);
    expect(Array.from(part.pairs)).toEqual(Array.from(focus));
    expect(Array.from(part.nRecon)).toEqual(chosen.map((i) => full.nRecon[i]));
  });
});

describe("prompts of different lengths", () => {
  test("a right-padded prompt gives exactly the figures of the same prompt alone", () => {
    const inp = inputFor(true, ROTARY);
    const m = D + 1;
    const short = 6;
    // prompt 1 truncated to 6 tokens, padded with garbage that must never be read
    const X = Float64Array.from(inp.X);
    for (let t = short; t < T; t++) for (let i = 0; i < m; i++) X[(T + t) * m + i] = 1e6 * (i + 1);
    const ragged = sadPositional({ ...inp, X, lengths: Int32Array.from([T, short, T]) });
    const alone = sadPositional({ ...inp, X: inp.X.subarray(T * m, (T + short) * m), batch: 1, tokens: short });
    const mine = [...Array(ragged.positive).keys()].filter((i) => ragged.pairs[3 * i] === 1);
    expect(mine.map((i) => [ragged.pairs[3 * i + 1], ragged.pairs[3 * i + 2], ragged.nRecon[i]])).toEqual(
      [...Array(alone.positive).keys()].map((i) => [alone.pairs[3 * i + 1], alone.pairs[3 * i + 2], alone.nRecon[i]]),
    );
    expect(ragged.candidates).toBe((2 * T * (T - 1)) / 2 + (short * (short - 1)) / 2);
  });
});
