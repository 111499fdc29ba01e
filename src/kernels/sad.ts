/**
 * @module kernels/sad
 * The sparse attention decomposition part of the WebAssembly boundary (assembly/sparse/*). The token
 * vectors go in by chunks of prompts (SAD_CONTINUE), so that a large batch never sits in linear memory
 * as f64 all at once, while outputs and counts stay allocated across the chunks. Prompts of different
 * lengths (right-padded) go in whole with their lengths; the kernel reads only each prompt's own rows.
 */
import { NonFiniteInput, ShapeMismatch } from "../errors";
import { invalidArgument, type KernelInstance } from "./instance";
import * as st from "./status";
import type { PairTerms, SadInput, SadRaw } from "./types";

/** f64 elements of token vectors per chunk: 1 Mi elements (8 MiB) keeps linear memory small. */
const SAD_CHUNK_ELEMENTS = 1 << 20;

/** Candidate (d, s) pairs per prompt: queries d ≥ 1, sources s ≤ d (s ≥ 1 when source 0 is excluded). */
export function sadCandidatesPerPrompt(tokens: number, excludeFirstSource: boolean): number {
  return (tokens * (tokens - 1)) / 2 + (excludeFirstSource ? 0 : tokens - 1);
}

/** Focus pairs (prompt, dest, src) sorted in that order without repeats, as sadRun walks them. */
function sortedFocus(focus: Int32Array): Int32Array {
  const n = focus.length / 3;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (x, y) => focus[3 * x] - focus[3 * y] || focus[3 * x + 1] - focus[3 * y + 1] || focus[3 * x + 2] - focus[3 * y + 2],
  );
  const out: number[] = [];
  for (const i of order) {
    const o = out.length;
    if (o && out[o - 3] === focus[3 * i] && out[o - 2] === focus[3 * i + 1] && out[o - 1] === focus[3 * i + 2]) continue;
    out.push(focus[3 * i], focus[3 * i + 1], focus[3 * i + 2]);
  }
  return Int32Array.from(out);
}

function sadStatus(status: number, kernel: string): void {
  if (status === st.STATUS_OK) return;
  if (status === st.STATUS_NON_FINITE) throw new NonFiniteInput(`${kernel}: an attention score is not finite`);
  invalidArgument(status, kernel);
}

/** sad and pairTerms over one instance. */
export function sadKernels(k: KernelInstance) {
  const ex = k.exports;
  return {
    sad(input: SadInput): SadRaw {
      const { rows: m, k: r, batch: nb, tokens: t, rotationCount: nrot } = input;
      if (input.X.length !== nb * t * m) throw new ShapeMismatch(`X has ${input.X.length} values, expected [${nb}, ${t}, ${m}]`);
      if (input.U.length !== m * r || input.V.length !== m * r || input.S.length !== r) {
        throw new ShapeMismatch(`U, V must be [${m}, ${r}] and S [${r}]`);
      }
      if (input.rotations.length !== nrot * r * r) throw new ShapeMismatch(`rotations must be [${nrot}, ${r}, ${r}]`);
      const lengths = input.lengths;
      if (lengths && lengths.length !== nb) throw new ShapeMismatch(`lengths has ${lengths.length} values, expected ${nb}`);
      let cap = 0;
      for (let b = 0; b < nb; b++) {
        const tb = lengths ? lengths[b] : t;
        if (lengths && !(Number.isInteger(tb) && tb >= 2 && tb <= t)) throw new ShapeMismatch(`lengths[${b}] = ${tb} is outside 2..${t}`);
        cap += sadCandidatesPerPrompt(tb, input.excludeFirstSource);
      }
      if (input.focus && input.focus.length % 3 !== 0) throw new ShapeMismatch(`focus must hold (prompt, dest, src) triples, got ${input.focus.length} values`);
      const focus = input.focus ? sortedFocus(input.focus) : undefined;
      if (focus) {
        for (let i = 0; i < focus.length; i += 3) {
          const [b, d, s] = [focus[i], focus[i + 1], focus[i + 2]];
          if (!(b >= 0 && b < nb && d >= 0 && d < (lengths ? lengths[b] : t) && s >= 0 && s <= d)) {
            throw new ShapeMismatch(`focus pair (${b}, ${d}, ${s}) is outside the batch (${nb} prompts × ${t} tokens, src ≤ dest)`);
          }
        }
        cap = Math.max(1, Math.min(cap, focus.length / 3));
      }
      const chunk = Math.max(1, Math.min(nb, Math.floor(SAD_CHUNK_ELEMENTS / (t * m))));
      const flags = (input.excludeFirstSource ? st.SAD_EXCLUDE_FIRST : 0) | (input.recordSelected ? st.SAD_RECORD_SELECTED : 0);
      const nc = st.SAD_COUNTS_LENGTH + 2 * nrot;
      return k.call(() => {
        // every allocation first (memory.grow detaches views)
        const px = k.alloc(8 * chunk * t * m);
        const pu = k.alloc(8 * m * r);
        const ps = k.alloc(8 * r);
        const pv = k.alloc(8 * m * r);
        const pq = k.alloc(8 * Math.max(1, nrot * r * r));
        const pw = k.alloc(8 * ex.sadWorkspace(t, r, m, nrot));
        const pCounts = k.alloc(4 * nc);
        const pPairs = k.alloc(4 * 3 * cap);
        const pNrec = k.alloc(4 * cap);
        const pRt = k.alloc(8 * cap);
        const pScore = k.alloc(8 * cap);
        const pTotal = k.alloc(8 * cap);
        const pUsage = k.alloc(4 * r);
        const pSel = input.recordSelected ? k.alloc(2 * cap * r) : 0;
        const pHist = k.alloc(4 * Math.max(1, nrot * (r + 1)));
        const pNullRt = k.alloc(4 * Math.max(1, nrot * cap));
        const pLens = lengths ? k.alloc(4 * nb) : 0;
        const pFocus = focus ? k.alloc(4 * Math.max(1, focus.length)) : 0;
        const mem = new Float64Array(ex.memory.buffer);
        if (lengths) new Int32Array(ex.memory.buffer, pLens, nb).set(lengths);
        if (focus) new Int32Array(ex.memory.buffer, pFocus, focus.length).set(focus);
        mem.set(input.U, pu / 8);
        mem.set(input.S, ps / 8);
        mem.set(input.V, pv / 8);
        mem.set(input.rotations, pq / 8);
        for (let b0 = 0; b0 < nb; b0 += chunk) {
          const n = Math.min(chunk, nb - b0);
          mem.set(input.X.subarray(b0 * t * m, (b0 + n) * t * m), px / 8);
          const status = ex.sadRun(
            n, b0, t, m, r, px, pu, ps, pv, nrot, pq, input.scale, input.tau, flags | (b0 > 0 ? st.SAD_CONTINUE : 0), pw, cap,
            pCounts, pPairs, pNrec, pRt, pScore, pTotal, pUsage, pSel, pHist, pNullRt, lengths ? pLens + 4 * b0 : 0,
            pFocus, focus ? focus.length / 3 : 0,
          );
          sadStatus(status, "sadRun");
        }
        const buf = ex.memory.buffer;
        const counts = new Int32Array(buf, pCounts, nc).slice();
        const p = counts[st.SAD_POSITIVE];
        const nsel = counts[st.SAD_SELECTED];
        const hist = new Int32Array(buf, pHist, nrot * (r + 1));
        return {
          positive: p,
          nonpositive: counts[st.SAD_NONPOSITIVE],
          unreached: counts[st.SAD_UNREACHED],
          candidates: counts[st.SAD_CANDIDATES],
          pairs: new Int32Array(buf, pPairs, 3 * p).slice(),
          nRecon: new Int32Array(buf, pNrec, p).slice(),
          sparseness: new Float64Array(buf, pRt, p).slice(),
          score: new Float64Array(buf, pScore, p).slice(),
          relativeTotal: new Float64Array(buf, pTotal, p).slice(),
          usage: new Int32Array(buf, pUsage, r).slice(),
          ...(input.recordSelected ? { selected: new Uint16Array(buf, pSel, nsel).slice() } : {}),
          null: Array.from({ length: nrot }, (_, i) => {
            const positive = counts[st.SAD_COUNTS_LENGTH + 2 * i];
            return {
              positive,
              unreached: counts[st.SAD_COUNTS_LENGTH + 2 * i + 1],
              histogram: hist.slice(i * (r + 1), (i + 1) * (r + 1)),
              sparseness: new Float32Array(buf, pNullRt + 4 * i * cap, positive).slice(),
            };
          }),
        };
      });
    },

    pairTerms(
      svd: Pick<SadInput, "U" | "S" | "V" | "rows" | "k">,
      x: Float32Array | Float64Array,
      t: number,
      dest: number,
      src: number,
      rotation?: Float64Array,
    ): PairTerms {
      const { rows: m, k: r } = svd;
      if (x.length !== t * m) throw new ShapeMismatch(`X has ${x.length} values, expected [${t}, ${m}]`);
      if (rotation && rotation.length !== r * r) throw new ShapeMismatch(`rotation must be [${r}, ${r}]`);
      return k.call(() => {
        const px = k.alloc(8 * t * m);
        const pu = k.alloc(8 * m * r);
        const ps = k.alloc(8 * r);
        const pv = k.alloc(8 * m * r);
        const pq = rotation ? k.alloc(8 * r * r) : 0;
        const pt = k.alloc(8 * r);
        const pr = k.alloc(8 * r);
        const pw = k.alloc(8 * ex.sadWorkspace(t, r, m, 1));
        const mem = new Float64Array(ex.memory.buffer);
        mem.set(x, px / 8);
        mem.set(svd.U, pu / 8);
        mem.set(svd.S, ps / 8);
        mem.set(svd.V, pv / 8);
        if (rotation) mem.set(rotation, pq / 8);
        sadStatus(ex.sadPairTerms(t, m, r, px, pu, ps, pv, pq, dest, src, pt, pr, pw), "sadPairTerms");
        return { terms: mem.slice(pt / 8, pt / 8 + r), relative: mem.slice(pr / 8, pr / 8 + r) };
      });
    },
  };
}
