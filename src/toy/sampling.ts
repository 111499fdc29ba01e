/**
 * @module toy/sampling
 * Draws the toy model's data (method §6): sparse non-negative feature vectors (each of N features on
 * with probability p, then uniform on [0, 1]) stored as compressed sparse rows, one row per token.
 * The reconstruction batch is the natural distribution; the attention batch is one query plus m keys
 * per sample, and in a `cooccurrenceFraction` of samples one template pair is switched on (its query
 * feature in the query token, its partner in one uniformly chosen key), because with sparse features a
 * template pair would otherwise almost never appear together. This module only draws: it knows
 * nothing of the model's parameters.
 */
import type { ToyConfig } from "./config";
import type { Random } from "../analysis/random";

/** Tokens as compressed sparse rows: token t holds features `idx[ptr[t] .. ptr[t+1])` with values `val[…]`. */
export interface SparseTokens {
  tokens: number;
  ptr: Int32Array;
  idx: Int32Array;
  val: Float64Array;
}

/** A reusable, growable buffer for one batch of sparse tokens. */
export class TokenBuffer implements SparseTokens {
  tokens = 0;
  ptr: Int32Array;
  idx: Int32Array;
  val: Float64Array;
  private nnz = 0;

  constructor(maxTokens: number, expectedNnz: number) {
    this.ptr = new Int32Array(maxTokens + 1);
    const cap = Math.max(16, Math.ceil(expectedNnz * 1.5));
    this.idx = new Int32Array(cap);
    this.val = new Float64Array(cap);
  }

  clear(): void {
    this.tokens = 0;
    this.nnz = 0;
    this.ptr[0] = 0;
  }

  /** Appends an entry to the token being written. */
  push(feature: number, value: number): void {
    if (this.nnz === this.idx.length) this.grow();
    this.idx[this.nnz] = feature;
    this.val[this.nnz] = value;
    this.nnz++;
  }

  /** Sets `feature` of the token being written to `value`, whether or not it is already on. */
  set(feature: number, value: number): void {
    for (let e = this.ptr[this.tokens]; e < this.nnz; e++) {
      if (this.idx[e] === feature) {
        this.val[e] = value;
        return;
      }
    }
    this.push(feature, value);
  }

  /** Closes the token being written. */
  endToken(): void {
    this.tokens++;
    this.ptr[this.tokens] = this.nnz;
  }

  private grow(): void {
    const idx = new Int32Array(this.idx.length * 2);
    idx.set(this.idx);
    const val = new Float64Array(this.val.length * 2);
    val.set(this.val);
    this.idx = idx;
    this.val = val;
  }
}

/** Draws one token's natural features into the buffer's current token (not closed). */
function drawNatural(buf: TokenBuffer, n: number, logOneMinusP: number, rng: Random): void {
  let i = rng.geometricGap(logOneMinusP);
  while (i < n) {
    buf.push(i, rng.uniform());
    i += 1 + rng.geometricGap(logOneMinusP);
  }
}

/** Draws `count` natural tokens. */
export function sampleReconBatch(buf: TokenBuffer, cfg: ToyConfig, count: number, rng: Random): void {
  const logOneMinusP = Math.log1p(-cfg.featureProbability);
  buf.clear();
  for (let t = 0; t < count; t++) {
    drawNatural(buf, cfg.nFeatures, logOneMinusP, rng);
    buf.endToken();
  }
}

/**
 * Draws `samples` attention samples: tokens `s·(m+1)` is sample s's query, `s·(m+1) + 1 + j` its key j.
 * With probability `cooccurrenceFraction` a sample gets one template pair (uniform over pairs) switched
 * on with fresh uniform values: its query feature in the query, its key feature in one uniform key.
 */
export function sampleAttentionBatch(buf: TokenBuffer, cfg: ToyConfig, samples: number, rng: Random): void {
  const logOneMinusP = Math.log1p(-cfg.featureProbability);
  const m = cfg.keysPerQuery;
  const pairs = cfg.template;
  buf.clear();
  for (let s = 0; s < samples; s++) {
    let pair = -1;
    let keyAt = -1;
    if (pairs.length > 0 && rng.uniform() < cfg.cooccurrenceFraction) {
      pair = rng.int(pairs.length);
      keyAt = rng.int(m);
    }
    drawNatural(buf, cfg.nFeatures, logOneMinusP, rng);
    if (pair >= 0) buf.set(pairs[pair].query, rng.uniform());
    buf.endToken();
    for (let j = 0; j < m; j++) {
      drawNatural(buf, cfg.nFeatures, logOneMinusP, rng);
      if (j === keyAt) buf.set(pairs[pair].key, rng.uniform());
      buf.endToken();
    }
  }
}
