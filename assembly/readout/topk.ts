/**
 * @module readout/topk
 * Token readouts of singular vectors (Millidge & Black 2022): the scores of every row of a token
 * basis (embedding or unembedding rows, [n, d], F16 or F32) against m vectors, and per vector a
 * running top-k (descending) and bottom-k (ascending) over every row seen so far. The host streams the
 * basis chunk by chunk (one R2 object at a time) and keeps the running lists between calls.
 *
 * Scores: rows are taken in blocks of 64 (F16 rows widened to f32 into a scratch block first), the
 * block's scores Y [64, m] come from forward/linear.ts's tiled f32 product against the vectors packed
 * in panels of 8, then each score is offered to its vector's two lists. The SIMD build widens F16
 * rows four at a time straight into the product's packed layout (m a multiple of 8, as the scans
 * ask: 8 or 16 vectors): the scalar widening and the product's own packing were about half of a
 * pass over GPT-2's embedding (93 → 52 ms with 16 vectors, 78 → 37 ms with 8, in Node). Every score
 * is the same f32 either way, in both builds. Ties keep the smaller row id
 * (rows arrive in increasing id, and a score equal to the list's last never displaces it), so the
 * answer does not depend on the chunking.
 */
import { linearPackedF32, linearPackedGroupsF32, linearPackedWorkspace } from "../forward/linear";

const BLOCK: i32 = 64;

/** Bytes of scratch readoutChunk needs: a widened block of rows, its scores, the matmul's packed rows. */
export function readoutWorkspace(d: i32, m: i32): i32 {
  return (BLOCK * d + BLOCK * m) * 4 + 32 + linearPackedWorkspace(d);
}

/** IEEE binary16 bits → f32 (exact). */
// @ts-ignore: decorator
@inline
function halfToF32(h: u32): f32 {
  const sign: u32 = (h & 0x8000) << 16;
  const e: u32 = (h >> 10) & 0x1f;
  const m: u32 = h & 0x3ff;
  if (e == 0) {
    const v = <f32>m * <f32>5.9604644775390625e-8; // m · 2^-24: zero and subnormals
    return sign ? -v : v;
  }
  if (e == 31) return reinterpret<f32>(sign | 0x7f800000 | (m << 13));
  return reinterpret<f32>(sign | ((e + 112) << 23) | (m << 13));
}

/**
 * Four F16 values (u16 zero-extended in i32 lanes) → f32, exactly as halfToF32: the exponent and
 * mantissa bits moved into f32 position and scaled by 2^112 (exact for normal and subnormal halves
 * alike), ∞ and NaN (exponent 31) set apart with their mantissa, then the sign.
 */
// @ts-ignore: decorator
@inline
function halfToF32x4(h: v128): v128 {
  const em = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  let o = f32x4.mul(em, f32x4.splat(5.192296858534828e33)); // 2^112
  const special = i32x4.eq(v128.and(h, i32x4.splat(0x7c00)), i32x4.splat(0x7c00));
  o = v128.bitselect(v128.or(em, i32x4.splat(0x70000000)), o, special);
  return v128.or(o, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/**
 * Rows r0 … r0 + 3 of F16 rows (row stride `rowBytes`) widened into packRows4's layout: out holds
 * row r's column i at (i·4 + r)·4 bytes. Four columns at a time: four rows widened, then transposed.
 */
function widenPack4(d: i32, src: usize, rowBytes: usize, out: usize): void {
  const s1 = src + rowBytes, s2 = s1 + rowBytes, s3 = s2 + rowBytes;
  let i = 0;
  for (; i + 4 <= d; i += 4) {
    const o = <usize>i << 1;
    const a = halfToF32x4(v128.load16x4_u(src + o));
    const b = halfToF32x4(v128.load16x4_u(s1 + o));
    const c = halfToF32x4(v128.load16x4_u(s2 + o));
    const e = halfToF32x4(v128.load16x4_u(s3 + o));
    const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
    const ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
    const ce0 = i32x4.shuffle(c, e, 0, 4, 1, 5);
    const ce1 = i32x4.shuffle(c, e, 2, 6, 3, 7);
    const p = out + (<usize>i << 4);
    v128.store(p, i32x4.shuffle(ab0, ce0, 0, 1, 4, 5));
    v128.store(p, i32x4.shuffle(ab0, ce0, 2, 3, 6, 7), 16);
    v128.store(p, i32x4.shuffle(ab1, ce1, 0, 1, 4, 5), 32);
    v128.store(p, i32x4.shuffle(ab1, ce1, 2, 3, 6, 7), 48);
  }
  for (; i < d; i++) {
    const o = <usize>i << 1;
    const p = out + (<usize>i << 4);
    store<f32>(p, halfToF32(<u32>load<u16>(src + o)));
    store<f32>(p, halfToF32(<u32>load<u16>(s1 + o)), 4);
    store<f32>(p, halfToF32(<u32>load<u16>(s2 + o)), 8);
    store<f32>(p, halfToF32(<u32>load<u16>(s3 + o)), 12);
  }
}

/** Inserts (s, id) into a list sorted by `desc ? descending : ascending`, holding `filled` of at most k entries (not inlined: rarely past its first test, and smaller). */
function offer(s: f32, id: i32, scores: usize, ids: usize, filled: i32, k: i32, desc: bool): void {
  let p = filled;
  if (filled == k) {
    const last = load<f32>(scores + (<usize>(k - 1) << 2));
    if (desc ? !(s > last) : !(s < last)) return;
    p = k - 1;
  }
  // shift the entries the new score beats (strictly) one place down
  while (p > 0) {
    const prev = load<f32>(scores + (<usize>(p - 1) << 2));
    if (desc ? !(s > prev) : !(s < prev)) break;
    store<f32>(scores + (<usize>p << 2), prev);
    store<i32>(ids + (<usize>p << 2), load<i32>(ids + (<usize>(p - 1) << 2)));
    p--;
  }
  store<f32>(scores + (<usize>p << 2), s);
  store<i32>(ids + (<usize>p << 2), id);
}

/**
 * Offers rows [row0, row0 + n) of a basis to the running lists of m vectors.
 * @param rows - n × d row-major, u16 (F16) when `half` is 1, else f32
 * @param wp - the vectors [d, m] packed in panels of 8 columns (forward/linear.ts's layout)
 * @param seen - rows offered before this call (the lists hold min(k, seen) entries each)
 * @param top,topId,bottom,bottomId - [m, k] f32 scores and i32 ids, vector-major
 * @returns the rows the lists now hold per vector, min(k, seen + n)
 */
export function readoutChunk(
  n: i32, d: i32, m: i32, rows: usize, half: i32, row0: i32, wp: usize, seen: i32, k: i32,
  top: usize, topId: usize, bottom: usize, bottomId: usize, work: usize,
): i32 {
  const xs = work;
  const ys = work + (<usize>(BLOCK * d) << 2);
  const listBytes = <usize>k << 2;
  let filled = min(k, seen);
  for (let t0 = 0; t0 < n; t0 += BLOCK) {
    const nb = min(BLOCK, n - t0);
    const xwork = ys + (<usize>(BLOCK * m) << 2) + 32;
    if (half) {
      const src = rows + (<usize>t0 * <usize>d << 1);
      let done = 0;
      if (ASC_FEATURE_SIMD && (m & 7) == 0) {
        // whole groups of 4 rows widened into the packed layout (xwork), the rest as below
        const groups = nb >> 2;
        const rowBytes = <usize>d << 1;
        for (let g = 0; g < groups; g++) widenPack4(d, src + <usize>(g << 2) * rowBytes, rowBytes, xwork + ((<usize>g * <usize>d) << 4));
        linearPackedGroupsF32(groups, d, m, xwork, wp, 0, ys, m, 0);
        done = groups << 2;
      }
      if (done < nb) {
        const from = src + (<usize>done * <usize>d << 1);
        const count = (nb - done) * d;
        for (let i = 0; i < count; i++) store<f32>(xs + (<usize>i << 2), halfToF32(<u32>load<u16>(from + (<usize>i << 1))));
        linearPackedF32(nb - done, d, m, xs, d, wp, 0, ys + (<usize>(done * m) << 2), m, 0, xwork);
      }
    } else linearPackedF32(nb, d, m, rows + (<usize>t0 * <usize>d << 2), d, wp, 0, ys, m, 0, xwork);
    for (let t = 0; t < nb; t++) {
      const id = row0 + t0 + t;
      const yr = ys + (<usize>(t * m) << 2);
      for (let j = 0; j < m; j++) {
        const s = load<f32>(yr + (<usize>j << 2));
        const off = <usize>j * listBytes;
        offer(s, id, top + off, topId + off, filled, k, true);
        offer(s, id, bottom + off, bottomId + off, filled, k, false);
      }
      if (filled < k) filled++;
    }
  }
  return filled;
}
