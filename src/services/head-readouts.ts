/**
 * @module services/head-readouts
 * Token readouts of one head's leading singular vectors (Millidge & Black 2022), at analysis time:
 * the model's readout basis (wire/readout-basis.ts) is streamed from R2 chunk by chunk into the
 * WebAssembly top/bottom-k kernel (kernels/readout.ts), never held whole. The basis holds the
 * normalised embedding rows z once per model; each variant's difference is applied to the vectors:
 * unfolded heads read x = γ∘z + β, so x·u = z·(γ∘u) + β·u; the augmented bias coordinate adds u[d]
 * ([x, 1]·u = x·u[:d] + u[d]). OV's output side v is read against the unembedding rows. No Hono.
 */
import { ResultNotFound } from "../errors";
import type { Kernels, ReadoutState, Svd } from "../kernels/types";
import type { ReadoutBasisStore } from "../storage/readout-basis-store";
import type { Circuit, Variant } from "../wire/head-request";
import type { BasisMatrix, ReadoutBasisAnswer } from "../wire/readout-basis";
import type { Readouts } from "../wire/svd-result";
import type { HeadWeights } from "./head-weights";

/** What a request asks for: the leading N vectors per side ("all": every one; 0: none) and k tokens at each end. */
export interface ReadoutAsk {
  vectors: number | "all";
  k: number;
}

export const DEFAULT_READOUTS: ReadoutAsk = { vectors: 8, k: 10 };

/** The readout definition recorded with every result (the README says the same). */
export function readoutDefinition(circuit: Circuit, variant: Variant, norm: string, eps: number, raw: boolean): string {
  const x = variant.bias === "augmented" ? "[x_t, 1]" : "x_t";
  const emb = `${x}·w, x_t = ${raw ? "γ∘z_t + β" : "z_t"}, z_t = ${norm === "rmsnorm" ? "e_t/√(mean e_t² + ε)" : "(e_t − mean e_t)/√(var e_t + ε)"}, ε = ${eps}, e_t token t's embedding row`;
  return `score(t) = ${circuit === "qk" ? `${emb}, w = u_i or v_i` : `${emb}, w = u_i; v: v_i·w_t, w_t = γ_f∘(unembedding of t)${norm === "rmsnorm" ? "" : " centred"}`}; top/bottom: k highest/lowest, ties: lower id (README)`;
}

/** Streams one basis matrix through the kernel, prefetching the next chunk while the current one is scored. */
async function scanMatrix(store: ReadoutBasisStore, kernels: Kernels, model: string, m: BasisMatrix, vecs: Float32Array, count: number, d: number, k: number) {
  const st = kernels.readoutStart(vecs, d, count, k);
  const get = (i: number) =>
    store.getBlob(model, m.chunks[i].sha256).then((b) => {
      if (!b) throw new ResultNotFound(`readout basis chunk ${m.chunks[i].sha256} of ${model} is missing`);
      return b;
    });
  let next = get(0);
  for (let i = 0; i < m.chunks.length; i++) {
    const buf = await next;
    if (i + 1 < m.chunks.length) {
      next = get(i + 1);
      next.catch(() => undefined);
    }
    kernels.readoutAdd(st, new Uint16Array(buf));
  }
  return st;
}

/**
 * Token strings of the last few bases, by their blob's SHA-256: blobs are content-addressed, so an
 * entry is never stale. Read and parsed once instead of once per head (GPT-2's 50257 strings: ~10 ms
 * of a head's request in workerd); a few MB, far under an isolate's memory.
 */
const TOKEN_LISTS_KEPT = 2;
const tokenLists = new Map<string, Array<string | null>>();

async function tokenStrings(store: ReadoutBasisStore, model: string, sha256: string): Promise<Array<string | null> | undefined> {
  const kept = tokenLists.get(sha256);
  if (kept) return kept;
  const raw = await store.getBlob(model, sha256);
  if (!raw) return undefined;
  const list = JSON.parse(new TextDecoder().decode(raw)) as Array<string | null>;
  tokenLists.set(sha256, list);
  if (tokenLists.size > TOKEN_LISTS_KEPT) tokenLists.delete(tokenLists.keys().next().value!);
  return list;
}

interface Side {
  /** column indices (0-based singular index) into the SVD's U or V */
  from: "U" | "V";
  offsets: Float64Array;
  at: number;
}

/**
 * The readouts of a head's SVD against its model's stored basis; null when the model has none (or a
 * basis of another width is stored under its name).
 */
export async function headReadouts(
  store: ReadoutBasisStore, kernels: Kernels, model: string, circuit: Circuit, variant: Variant, weights: HeadWeights, svd: Svd, ask: ReadoutAsk,
  basis?: ReadoutBasisAnswer,
): Promise<Readouts | null> {
  basis ??= await store.getBasis(model);
  if (!basis || basis.d_model !== weights.dModel) return null;
  const d = basis.d_model;
  const R = svd.k;
  const n = ask.vectors === "all" ? R : Math.min(ask.vectors, R);
  const k = Math.min(ask.k, basis.vocab);
  const raw = !variant.fold_ln;
  const gamma = raw ? weights.lnW : undefined;
  const beta = raw ? weights.lnB : undefined;
  const augmented = svd.m > d;
  /** the embedding-side vector i of U or V, adjusted to the variant, and its constant */
  const embeddingSide = (M: Float64Array, into: Float32Array, row: number, offsets: Float64Array) => {
    for (let i = 0; i < n; i++) {
      let c = augmented ? M[d * R + i] : 0;
      for (let r = 0; r < d; r++) {
        const x = M[r * R + i];
        into[(row + i) * d + r] = gamma ? gamma[r] * x : x;
        if (beta) c += beta[r] * x;
      }
      offsets[i] = c;
    }
  };
  const sides: Array<Side & { basis: "embedding" | "unembedding" }> = [];
  const embVecs = new Float32Array((circuit === "qk" ? 2 : 1) * n * d);
  const uOff = new Float64Array(n);
  embeddingSide(svd.U, embVecs, 0, uOff);
  sides.push({ from: "U", offsets: uOff, at: 0, basis: "embedding" });
  if (circuit === "qk") {
    const vOff = new Float64Array(n);
    embeddingSide(svd.V, embVecs, n, vOff);
    sides.push({ from: "V", offsets: vOff, at: n, basis: "embedding" });
  }
  const states: Array<ReadoutState | undefined> = [];
  if (n > 0) {
    const emb = await scanMatrix(store, kernels, model, basis.embedding, embVecs, embVecs.length / d, d, k);
    states.push(emb, circuit === "qk" ? emb : undefined);
    if (circuit === "ov" && basis.unembedding) {
      const vv = new Float32Array(n * d);
      for (let i = 0; i < n; i++) for (let r = 0; r < d; r++) vv[i * d + r] = svd.V[r * R + i];
      states[1] = await scanMatrix(store, kernels, model, basis.unembedding, vv, n, d, k);
    }
  }
  if (circuit === "ov") sides.push({ from: "V", offsets: new Float64Array(n), at: 0, basis: "unembedding" });
  const tokens = basis.tokens && n > 0 ? await tokenStrings(store, model, basis.tokens.sha256) : undefined;
  const itemsOf = (s: (typeof sides)[number], st: ReadoutState | undefined) => {
    if (!st) return [];
    /** list `end` (0 top, 1 bottom) of vector j */
    const list = (end: number, j: number, c: number) =>
      Array.from({ length: st.filled }, (_, p) => {
        const at = (end * st.m + j) * st.k + p;
        return { id: st.ids[at], token: tokens?.[st.ids[at]] ?? null, score: st.scores[at] + c };
      });
    return Array.from({ length: n }, (_, i) => ({ index: i + 1, top: list(0, s.at + i, s.offsets[i]), bottom: list(1, s.at + i, s.offsets[i]) }));
  };
  const [u, v] = sides;
  return {
    k,
    vectors: n,
    definition: readoutDefinition(circuit, variant, basis.norm, basis.eps, raw),
    sides: {
      u: { basis: "embedding", items: itemsOf(u, states[0]) },
      v: { basis: v.basis, items: itemsOf(v, states[1]) },
    },
  };
}
