/**
 * @module kernels/readout
 * The token-readout part of the WebAssembly boundary (assembly/readout/topk.ts): m vectors against a
 * token basis streamed in chunks of rows (F16 or F32), keeping per vector the k highest and k lowest
 * scores with their row ids. The running lists live here between chunks; each chunk is one call.
 */
import { ShapeMismatch } from "../errors";
import type { KernelInstance } from "./instance";

/** The running top-k and bottom-k of m vectors over the rows offered so far. */
export interface ReadoutState {
  d: number;
  m: number;
  k: number;
  /** rows offered so far (the next chunk's first row id) */
  seen: number;
  /** entries each list holds: min(k, seen) */
  filled: number;
  /** the vectors [d, m] in forward/linear.ts's panels of 8 */
  panels: Float32Array;
  /** [2, m, k]: the top lists (descending), then the bottom lists (ascending); ties by smaller id */
  scores: Float32Array;
  ids: Int32Array;
}

export function readoutKernels(k: KernelInstance) {
  const ex = k.exports;
  return {
    /** Starts readouts of `m` vectors, vector-major [m, d], keeping `keep` tokens at each end. */
    readoutStart(vectors: ArrayLike<number>, d: number, m: number, keep: number): ReadoutState {
      if (vectors.length !== m * d || !(keep >= 1)) throw new ShapeMismatch("readout: bad vectors or k");
      const panels = new Float32Array(Math.ceil(m / 8) * d * 8);
      for (let j = 0; j < m; j++) for (let i = 0; i < d; i++) panels[(j >> 3) * d * 8 + i * 8 + (j & 7)] = vectors[j * d + i];
      return { d, m, k: keep, seen: 0, filled: 0, panels, scores: new Float32Array(2 * m * keep), ids: new Int32Array(2 * m * keep) };
    },

    /** Offers the next rows of the basis ([rows, d] row-major; Uint16Array holds F16 bits). */
    readoutAdd(s: ReadoutState, rows: Uint16Array | Float32Array): void {
      const n = rows.length / s.d;
      if (!Number.isInteger(n)) throw new ShapeMismatch("readout: a chunk of partial rows");
      k.call(() => {
        const pRows = k.alloc(rows.byteLength);
        const pW = k.alloc(4 * s.panels.length);
        const pS = k.alloc(4 * s.scores.length);
        const pI = k.alloc(4 * s.ids.length);
        const pWork = k.alloc(ex.readoutWorkspace(s.d, s.m));
        const buf = ex.memory.buffer;
        new Uint8Array(buf, pRows, rows.byteLength).set(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
        new Float32Array(buf, pW, s.panels.length).set(s.panels);
        const scores = new Float32Array(buf, pS, s.scores.length);
        const ids = new Int32Array(buf, pI, s.ids.length);
        scores.set(s.scores);
        ids.set(s.ids);
        const half = s.m * s.k * 4;
        s.filled = ex.readoutChunk(n, s.d, s.m, pRows, rows instanceof Uint16Array ? 1 : 0, s.seen, pW, s.seen, s.k, pS, pI, pS + half, pI + half, pWork);
        s.scores.set(scores);
        s.ids.set(ids);
      });
      s.seen += n;
    },
  };
}
