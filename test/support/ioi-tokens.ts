/**
 * @module test/support/ioi-tokens
 * IOI-shaped attention inputs for SAD tests and benchmarks, from the real GPT-2 position embeddings
 * and tokenizer.
 */
import { createRng } from "../../src/analysis/random";
import { resolvePrompts } from "../../src/model/prompts";
import { gpt2Tokenizer } from "../../src/model/tokenizer";
import { D_MODEL, tensor } from "./gpt2";

/**
 * Attention inputs shaped like `scan --prompts ioi:N` sends them (the shared GPT-2 file holds no token
 * embedding): N seeded IOI prompts tokenised by GPT-2's BPE (their real, different lengths), each token
 * z = LayerNorm(wpe[p] + e_id) without γ, β (the folded variant's input), with e_id a fixed Gaussian
 * vector per token id (std 0.15), so that a repeated name gives similar vectors at different positions.
 * X is F32 [N, T, 768] right-padded with zeros to T = the longest prompt; `focus` lists IOI's END→IO and
 * END→S2 pairs (prompt, dest, src), as cli/sad.ts sends them.
 */
export function ioiTokens(n: number): { X: Float32Array; lengths: Int32Array; tokens: number; focus: Int32Array; ids: number[][] } {
  const prompts = resolvePrompts(`ioi:${n}`, gpt2Tokenizer());
  const lengths = Int32Array.from(prompts.tokens.map((p) => p.length));
  const T = Math.max(...lengths);
  const wpe = tensor("wpe.weight");
  const emb = new Map<number, Float64Array>();
  const X = new Float32Array(n * T * D_MODEL);
  const row = new Float64Array(D_MODEL);
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < lengths[b]; p++) {
      const id = prompts.tokens[b][p];
      if (!emb.has(id)) {
        const r = createRng(id);
        emb.set(id, Float64Array.from({ length: D_MODEL }, () => 0.15 * r.normal()));
      }
      const e = emb.get(id)!;
      for (let i = 0; i < D_MODEL; i++) row[i] = wpe[p * D_MODEL + i] + e[i];
      let mean = 0;
      for (let i = 0; i < D_MODEL; i++) mean += row[i];
      mean /= D_MODEL;
      let v = 0;
      for (let i = 0; i < D_MODEL; i++) v += (row[i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / D_MODEL + 1e-5);
      for (let i = 0; i < D_MODEL; i++) X[(b * T + p) * D_MODEL + i] = (row[i] - mean) * inv;
    }
  }
  const focus = Int32Array.from(prompts.meta.ioi!.flatMap((m, b) => [b, m.positions.END, m.positions.IO, b, m.positions.END, m.positions.S2]));
  return { X, lengths, tokens: T, focus, ids: prompts.tokens };
}
