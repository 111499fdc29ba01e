/**
 * Reads heads of the real GPT-2 small attention weights (../shared/models, never copied into the
 * project) in TransformerLens orientation, through the project's own safetensors parser.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { decodeFloat, encodeSafetensors, parseSafetensors, type ParsedSafetensors } from "../../src/wire/safetensors";

export const GPT2_PATH = fileURLToPath(new URL("../../../shared/models/gpt2-small-attn.safetensors", import.meta.url));
export const SPECTRA_PATH = fileURLToPath(new URL("../../../shared/reference/gpt2-small-spectra.json", import.meta.url));
export const SAD_REFERENCE_PATH = fileURLToPath(new URL("../../../shared/reference/gpt2-small-sad-L0-positions.json", import.meta.url));
export const D_MODEL = 768;
export const D_HEAD = 64;

let cached: ParsedSafetensors | undefined;
export function gpt2(): ParsedSafetensors {
  cached ??= parseSafetensors(new Uint8Array(readFileSync(GPT2_PATH)));
  return cached;
}

export function tensor(name: string): Float32Array {
  const t = gpt2().tensors.get(name);
  if (!t) throw new Error(`GPT-2 file has no ${name}`);
  return decodeFloat(t) as Float32Array;
}

export interface Gpt2Head {
  W_Q: Float32Array; W_K: Float32Array; W_V: Float32Array; W_O: Float32Array;
  b_Q: Float32Array; b_K: Float32Array; ln_w: Float32Array; ln_b: Float32Array;
}

/** Head h of layer l: W_Q, W_K, W_V [768, 64], W_O [64, 768], biases [64], ln_1 [768]. */
export function gpt2Head(l: number, h: number): Gpt2Head {
  const w = tensor(`h.${l}.attn.c_attn.weight`);
  const b = tensor(`h.${l}.attn.c_attn.bias`);
  const o = tensor(`h.${l}.attn.c_proj.weight`);
  const block = (part: number) => {
    const out = new Float32Array(D_MODEL * D_HEAD);
    for (let i = 0; i < D_MODEL; i++) {
      for (let j = 0; j < D_HEAD; j++) out[i * D_HEAD + j] = w[i * 3 * D_MODEL + part * D_MODEL + h * D_HEAD + j];
    }
    return out;
  };
  return {
    W_Q: block(0), W_K: block(1), W_V: block(2),
    W_O: o.slice(h * D_HEAD * D_MODEL, (h + 1) * D_HEAD * D_MODEL),
    b_Q: b.slice(h * D_HEAD, (h + 1) * D_HEAD),
    b_K: b.slice(D_MODEL + h * D_HEAD, D_MODEL + (h + 1) * D_HEAD),
    ln_w: tensor(`h.${l}.ln_1.weight`),
    ln_b: tensor(`h.${l}.ln_1.bias`),
  };
}

/** A request body for the per-head endpoint. */
export function headBody(head: Gpt2Head, circuit: "qk" | "ov", opts: { ln?: boolean; bias?: boolean } = {}): Uint8Array {
  const t: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  if (circuit === "qk") {
    t.W_Q = { dtype: "F32", shape: [D_MODEL, D_HEAD], data: head.W_Q };
    t.W_K = { dtype: "F32", shape: [D_MODEL, D_HEAD], data: head.W_K };
    if (opts.bias ?? true) {
      t.b_Q = { dtype: "F32", shape: [D_HEAD], data: head.b_Q };
      t.b_K = { dtype: "F32", shape: [D_HEAD], data: head.b_K };
    }
  } else {
    t.W_V = { dtype: "F32", shape: [D_MODEL, D_HEAD], data: head.W_V };
    t.W_O = { dtype: "F32", shape: [D_HEAD, D_MODEL], data: head.W_O };
  }
  if (opts.ln ?? true) {
    t.ln_w = { dtype: "F32", shape: [D_MODEL], data: head.ln_w };
    t.ln_b = { dtype: "F32", shape: [D_MODEL], data: head.ln_b };
  }
  return encodeSafetensors(t);
}

export interface SpectraReference {
  heads: Array<{
    layer: number;
    head: number;
    qk: { raw: number[]; folded: number[]; folded_augmented: number[] };
    ov: { raw: number[]; folded: number[] };
  }>;
}
export const spectraReference = (): SpectraReference => JSON.parse(readFileSync(SPECTRA_PATH, "utf8"));

/** Layer l's ln_1 applied to the position embeddings: x_p = ln_1(wpe[p]), p < count, f64, with a trailing 1
 * when `augment` ([count, 769]) — the SAD reference's input (shared/reference/make_reference.py). */
export function positionTokens(l: number, count: number, augment = true): Float64Array {
  const wpe = tensor("wpe.weight");
  const g = tensor(`h.${l}.ln_1.weight`);
  const b = tensor(`h.${l}.ln_1.bias`);
  const w = D_MODEL + (augment ? 1 : 0);
  const out = new Float64Array(count * w);
  for (let p = 0; p < count; p++) {
    let mean = 0;
    for (let i = 0; i < D_MODEL; i++) mean += wpe[p * D_MODEL + i];
    mean /= D_MODEL;
    let v = 0;
    for (let i = 0; i < D_MODEL; i++) v += (wpe[p * D_MODEL + i] - mean) ** 2;
    v /= D_MODEL;
    const inv = Math.sqrt(v + 1e-5);
    for (let i = 0; i < D_MODEL; i++) out[p * w + i] = ((wpe[p * D_MODEL + i] - mean) / inv) * g[i] + b[i];
    if (augment) out[p * w + D_MODEL] = 1;
  }
  return out;
}

export interface SadReference {
  heads: Array<{
    head: number;
    pairs_firing_positive: number;
    pairs_firing_nonpositive: number;
    n_recon_median: number;
    n_recon_p90: number;
    rolls_tovee_median: number;
    null_rotation_n_recon_median_mean8: number;
    null_rotation_rolls_tovee_median_mean8: number;
  }>;
  examples: Array<{ head: number; dest: number; src: number; score: number; terms: number[]; relative_terms: number[]; n_recon: number; rolls_tovee: number }>;
}
export const sadReference = (): SadReference => JSON.parse(readFileSync(SAD_REFERENCE_PATH, "utf8"));
