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
  /** [m, k], vector-major; top descending, bottom ascending, ties by smaller id */
  top: Float32Array;
  topId: Int32Array;
  bottom: Float32Array;
  bottomId: Int32Array;
}

export function readoutKernels(k: KernelInstance) {
  const ex = k.exports;
  return {
    /** Starts readouts of `m` vectors, vector-major [m, d], keeping `keep` tokens at each end. */
    readoutStart(vectors: ArrayLike<number>, d: number, m: number, keep: number): ReadoutState {
      if (vectors.length !== m * d) throw new ShapeMismatch(`readout vectors have ${vectors.length} entries, expected ${m} × ${d}`);
      if (!(keep >= 1)) throw new ShapeMismatch(`readout k must be at least 1, got ${keep}`);
      const panels = new Float32Array(Math.ceil(m / 8) * d * 8);
      for (let j = 0; j < m; j++) for (let i = 0; i < d; i++) panels[(j >> 3) * d * 8 + i * 8 + (j & 7)] = vectors[j * d + i];
      const n = m * keep;
      return { d, m, k: keep, seen: 0, filled: 0, panels, top: new Float32Array(n), topId: new Int32Array(n), bottom: new Float32Array(n), bottomId: new Int32Array(n) };
    },

    /** Offers the next rows of the basis ([rows, d] row-major; Uint16Array holds F16 bits). */
    readoutAdd(s: ReadoutState, rows: Uint16Array | Float32Array): void {
      if (rows.length % s.d !== 0) throw new ShapeMismatch(`a readout chunk of ${rows.length} values is not whole rows of ${s.d}`);
      const n = rows.length / s.d;
      if (n === 0) return;
      const half = rows instanceof Uint16Array;
      k.call(() => {
        const pRows = k.alloc(rows.byteLength);
        const pW = k.alloc(4 * s.panels.length);
        const lists = 4 * s.m * s.k;
        const pTop = k.alloc(lists), pTopId = k.alloc(lists), pBot = k.alloc(lists), pBotId = k.alloc(lists);
        const pWork = k.alloc(ex.readoutWorkspace(s.d, s.m));
        const buf = ex.memory.buffer;
        new Uint8Array(buf, pRows, rows.byteLength).set(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
        new Float32Array(buf, pW, s.panels.length).set(s.panels);
        const n4 = s.m * s.k;
        new Float32Array(buf, pTop, n4).set(s.top);
        new Int32Array(buf, pTopId, n4).set(s.topId);
        new Float32Array(buf, pBot, n4).set(s.bottom);
        new Int32Array(buf, pBotId, n4).set(s.bottomId);
        s.filled = ex.readoutChunk(n, s.d, s.m, pRows, half ? 1 : 0, s.seen, pW, s.seen, s.k, pTop, pTopId, pBot, pBotId, pWork);
        s.top.set(new Float32Array(buf, pTop, n4));
        s.topId.set(new Int32Array(buf, pTopId, n4));
        s.bottom.set(new Float32Array(buf, pBot, n4));
        s.bottomId.set(new Int32Array(buf, pBotId, n4));
      });
      s.seen += n;
    },
  };
}
