/**
 * @module sad
 * Sparse attention decomposition of one head over a batch of prompts (method §4), with the
 * random-rotation null, never materialising more than one pair's R terms at a time.
 *
 * For prompt b with token vectors X [T_b, m] (m = factor rows, with the trailing 1 when augmented;
 * T_b = T, or the prompt's own length when prompts of different lengths are right-padded to T) and
 * the head's SVD Ω̃ = U diag(σ) Vᵀ (U, V [m, R]):
 *   a = (X U)·diag(σ), b = X V        t_k(d, s) = a[d, k]·b[s, k],  ℓ(d, s) = Σ_k t_k(d, s)
 *   relative terms over causal keys K(d) = {0..d}:
 *     t̃_k(d, s) = a[d, k]·(b[s, k] − (Σ_{s'≤d} b[s', k] − b[s, k]) / d)
 *   firing: A(d, s) ≥ 1/(d + 1) with A the causal softmax of scale·ℓ; queries d ≥ 1 (the relative
 *   score of d = 0 has no other key); source 0 skipped when EXCLUDE_FIRST is set.
 *   A firing pair with Σ_k t̃_k ≤ 0 is counted, not decomposed. Otherwise N_recon (select.ts) and the
 *   Rolls–Tovee sparseness (mean|t̃|)² / mean t̃² are recorded, and the selected indices are counted.
 *   Null, for each rotation Q (R×R orthogonal, row-major): ũ = U Q, and
 *     a_rot = (X U) Q,  b_rot = (X V diag(σ)) Q   (= ũ_kᵀ Ω̃ x_sᵀ, since UᵀU = I)
 *   with the same firing pairs (firing depends on ℓ, which the rotation keeps).
 *
 * The element-wise arithmetic follows shared/reference/make_reference.py operation for operation
 * (`a[d] * (b[s] - (bsum - b[s]) / d)`, bsum accumulated row by row, totals in numpy's pairwise order)
 * so that the counts and N_recon statistics match the reference exactly when the inputs agree.
 */
import { dot } from "../blas/dot";
import { STATUS_OK, STATUS_NON_FINITE, SAD_POSITIVE, SAD_NONPOSITIVE, SAD_UNREACHED, SAD_SELECTED, SAD_CANDIDATES, SAD_COUNTS_LENGTH,
  SAD_EXCLUDE_FIRST, SAD_RECORD_SELECTED, SAD_CONTINUE } from "../shared/status";
import { pairwiseSums3 } from "./pairwise";
import { packColumns4, packedSize, projectPacked } from "./project";
import { nRecon } from "./select";

/** f64 elements of workspace sadRun (and sadPairTerms, with its one rotation or none) needs for T tokens, m factor rows, rank R and nrot rotations. */
export function sadWorkspace(t: i32, r: i32, m: i32, nrot: i32): i32 {
  return scratchSize(t, r) + packedArea(m, r, nrot);
}

/**
 * f64 elements of the per-prompt scratch, the workspace's first part: XU, XV, XVσ, a, arot, brot
 * (T×R each), bsum, rel, sorted values (R each), sorted indices (R i32), sums (3), a score row (T),
 * firing flags (T×T bytes).
 */
// @ts-ignore: decorator
@inline
function scratchSize(t: i32, r: i32): i32 {
  return 6 * t * r + 4 * r + 3 + t + ((t * t + 7) >> 3) + 4;
}

/** f64 elements of the packed factors: U, V [m, R] and nrot rotations [R, R] (project.ts's panels). */
function packedArea(m: i32, r: i32, nrot: i32): i32 {
  return 2 * packedSize(m, r) + nrot * packedSize(r, r);
}

/** Where the packed factors start in sadWorkspace(t, r, m, nrot): after the scratch. */
// @ts-ignore: decorator
@inline
function packedAt(work: usize, t: i32, r: i32): usize {
  return work + (<usize>scratchSize(t, r) << 3);
}

/** Whether the (prompt, dest, src) triple at p comes before (b, d, s). */
// @ts-ignore: decorator
@inline
function tripleLess(p: usize, b: i32, d: i32, s: i32): bool {
  const pb = load<i32>(p), pd = load<i32>(p, 4);
  return pb < b || (pb == b && (pd < d || (pd == d && load<i32>(p, 8) < s)));
}

// @ts-ignore: decorator
@inline
function relTerms(r: i32, ad: usize, bs: usize, bsum: usize, dd: f64, rel: usize): void {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const dv = f64x2.splat(dd);
    for (; k + 2 <= r; k += 2) {
      const o = <usize>k << 3;
      const bv = v128.load(bs + o);
      v128.store(rel + o, f64x2.mul(v128.load(ad + o), f64x2.sub(bv, f64x2.div(f64x2.sub(v128.load(bsum + o), bv), dv))));
    }
  }
  for (; k < r; k++) {
    const o = <usize>k << 3;
    const bv = load<f64>(bs + o);
    store<f64>(rel + o, load<f64>(ad + o) * (bv - (load<f64>(bsum + o) - bv) / dd));
  }
}

/**
 * SAD of one head on a batch.
 *
 * @param nb - prompts B ≥ 1 in this call; @param b0 - index of the first of them in the whole batch; @param t - tokens per prompt T ≥ 2; @param m - factor rows; @param r - rank R ≥ 1
 * @param x - [B, T, m] row-major f64 token vectors
 * @param u - [m, R] row-major f64 left singular vectors; @param s - R f64 σ; @param v - [m, R] row-major f64
 * @param nrot - rotations ≥ 0; @param q - [nrot, R, R] row-major f64 orthogonal matrices
 * @param scale - softmax scale of ℓ; @param tau - 0 < τ ≤ 1; @param flags - SAD_EXCLUDE_FIRST | SAD_RECORD_SELECTED
 * @param work - sadWorkspace(T, R, m, nrot) f64
 * @param cap - capacity of the per-pair outputs (≥ the number of candidate pairs)
 * @param counts - SAD_COUNTS_LENGTH + 2·nrot i32, written (per rotation: positive, unreached)
 * @param pairs - 3·cap i32 (b, d, s) per decomposed pair; @param nrec - cap i32 N_recon
 * @param rt - cap f64 sparseness; @param score - cap f64 ℓ(d, s); @param relTotal - cap f64 Σ_k t̃_k
 * @param usage - R i32, written: times each singular index was selected
 * @param selected - cap·R u16 selected indices (pair after pair), or 0
 * @param nullHist - nrot·(R + 1) i32, written: N_recon histogram per rotation
 * @param nullRt - nrot·cap f32, written: sparseness per rotation, pair after pair
 * @param lens - nb i32 per-prompt lengths 2 ≤ lens[b] ≤ T (right-padded prompts: queries and keys of
 *   prompt b are its positions 0..lens[b]−1, rows past them are never read), or 0: every prompt has T
 * @param focus - nf·3 i32 (prompt, dest, src) pairs, prompts numbered in the whole batch, strictly
 *   increasing in that order: only these pairs are candidates (firing still uses the query's whole softmax),
 *   prompts and queries without one are skipped; or 0: every pair (method §4's restriction, e.g. IOI's END→IO)
 * @param nf - pairs in focus
 * @returns STATUS_OK; STATUS_NON_FINITE when a score is not finite; −i for bad argument i
 */
export function sadRun(
  nb: i32, b0: i32, t: i32, m: i32, r: i32, x: usize, u: usize, s: usize, v: usize, nrot: i32, q: usize,
  scale: f64, tau: f64, flags: i32, work: usize, cap: i32, counts: usize, pairs: usize, nrec: usize,
  rt: usize, score: usize, relTotal: usize, usage: usize, selected: usize, nullHist: usize, nullRt: usize, lens: usize,
  focus: usize, nf: i32,
): i32 {
  if (nb < 1) return -1;
  if (b0 < 0) return -2;
  if (t < 2) return -3;
  if (m < 1) return -4;
  if (r < 1) return -5;
  if (nrot < 0) return -10;
  if (!(scale > 0) || !isFinite(scale)) return -12;
  if (!(tau > 0) || !(tau <= 1)) return -13;
  const excludeFirst = (flags & SAD_EXCLUDE_FIRST) != 0;
  const recordSelected = (flags & SAD_RECORD_SELECTED) != 0 && selected != 0;
  if (lens != 0) {
    for (let b = 0; b < nb; b++) {
      const tb = load<i32>(lens + (<usize>b << 2));
      if (tb < 2 || tb > t) return -27;
    }
  }
  if (focus != 0) {
    if (nf < 0) return -29;
    for (let i = 1; i < nf; i++) {
      const p = focus + <usize>(i - 1) * 12;
      if (!tripleLess(p, load<i32>(p, 12), load<i32>(p, 16), load<i32>(p, 20))) return -28;
    }
  }

  const tr = <usize>t * <usize>r << 3;
  // U, V and the rotations packed once per call (each prompt's products read them)
  const up = packedAt(work, t, r);
  const vp = up + (<usize>packedSize(m, r) << 3);
  const qp = vp + (<usize>packedSize(m, r) << 3);
  const qBytes = <usize>packedSize(r, r) << 3;
  packColumns4(m, r, u, up);
  packColumns4(m, r, v, vp);
  for (let rr = 0; rr < nrot; rr++) packColumns4(r, r, q + ((<usize>rr * <usize>r * <usize>r) << 3), qp + <usize>rr * qBytes);
  const xu = work;
  const xv = xu + tr;
  const xvs = xv + tr;
  const a = xvs + tr;
  const ar = a + tr;
  const br = ar + tr;
  const bsum = br + tr;
  const rel = bsum + (<usize>r << 3);
  const sv = rel + (<usize>r << 3);
  const si = sv + (<usize>r << 3);
  const sums = si + (<usize>r << 3);
  const row = sums + 24;
  const fire = row + (<usize>t << 3);

  if ((flags & SAD_CONTINUE) == 0) {
    const nc = SAD_COUNTS_LENGTH + 2 * nrot;
    for (let i = 0; i < nc; i++) store<i32>(counts + (<usize>i << 2), 0);
    for (let k = 0; k < r; k++) store<i32>(usage + (<usize>k << 2), 0);
    for (let i = 0; i < nrot * (r + 1); i++) store<i32>(nullHist + (<usize>i << 2), 0);
  }
  let pos = load<i32>(counts + (<usize>SAD_POSITIVE << 2));
  let nonpos = load<i32>(counts + (<usize>SAD_NONPOSITIVE << 2));
  let unreached = load<i32>(counts + (<usize>SAD_UNREACHED << 2));
  let nsel = load<i32>(counts + (<usize>SAD_SELECTED << 2));
  let cand = load<i32>(counts + (<usize>SAD_CANDIDATES << 2));
  const s0 = excludeFirst ? 1 : 0;
  const xStride = (<usize>t * <usize>m) << 3;

  let fc = 0; // focus cursor: the first listed pair not yet passed
  for (let b = 0; b < nb; b++) {
    const pb = b0 + b;
    if (focus != 0) {
      while (fc < nf && load<i32>(focus + <usize>fc * 12) < pb) fc++;
      if (fc >= nf || load<i32>(focus + <usize>fc * 12) != pb) continue; // no listed pair in this prompt
    }
    const xb = x + <usize>b * xStride;
    // this prompt's own length: every loop below stops at tb, so padding rows are never read
    const tb = lens != 0 ? load<i32>(lens + (<usize>b << 2)) : t;
    projectPacked(tb, m, r, xb, up, xu);
    projectPacked(tb, m, r, xb, vp, xv);
    for (let i = 0; i < tb; i++) {
      for (let k = 0; k < r; k++) {
        const o = ((<usize>i * <usize>r + <usize>k) << 3);
        const sk = load<f64>(s + (<usize>k << 3));
        store<f64>(a + o, load<f64>(xu + o) * sk);
        store<f64>(xvs + o, load<f64>(xv + o) * sk);
      }
    }
    for (let k = 0; k < r; k++) store<f64>(bsum + (<usize>k << 3), 0.0);

    // singular basis, query by query; the firing flags are kept for the null
    for (let d = 0; d < tb; d++) {
      const ad = a + <usize>d * <usize>r * 8;
      const bd = xv + <usize>d * <usize>r * 8;
      for (let k = 0; k < r; k++) {
        const o = <usize>k << 3;
        store<f64>(bsum + o, load<f64>(bsum + o) + load<f64>(bd + o));
      }
      const fireRow = fire + <usize>d * <usize>t;
      for (let j = 0; j <= d; j++) store<u8>(fireRow + <usize>j, 0);
      if (focus != 0) {
        while (fc < nf && tripleLess(focus + <usize>fc * 12, pb, d, 0)) fc++;
        const f = focus + <usize>fc * 12;
        if (!(fc < nf && load<i32>(f) == pb && load<i32>(f, 4) == d)) continue; // no listed pair for this query
      }
      // causal softmax of scale·ℓ over s = 0..d
      let mx = -Infinity;
      for (let j = 0; j <= d; j++) {
        const l = dot(r, ad, xv + <usize>j * <usize>r * 8);
        store<f64>(row + (<usize>j << 3), l);
        const z = l * scale;
        if (z > mx) mx = z;
      }
      if (!isFinite(mx)) return STATUS_NON_FINITE;
      let den: f64 = 0;
      for (let j = 0; j <= d; j++) den += Math.exp(load<f64>(row + (<usize>j << 3)) * scale - mx);
      if (d == 0) continue;
      const thr = 1.0 / <f64>(d + 1);
      const dd = <f64>d;
      for (let j = s0; j <= d; j++) {
        if (focus != 0) {
          while (fc < nf && tripleLess(focus + <usize>fc * 12, pb, d, j)) fc++;
          const f = focus + <usize>fc * 12;
          if (!(fc < nf && load<i32>(f) == pb && load<i32>(f, 4) == d && load<i32>(f, 8) == j)) continue;
        }
        cand++;
        if (pos >= cap) return -16;
        const l = load<f64>(row + (<usize>j << 3));
        if (!(Math.exp(l * scale - mx) / den >= thr)) continue;
        store<u8>(fireRow + <usize>j, 1);
        relTerms(r, ad, xv + <usize>j * <usize>r * 8, bsum, dd, rel);
        pairwiseSums3(rel, r, sums);
        const total = load<f64>(sums);
        if (!(total > 0)) {
          nonpos++;
          continue;
        }
        let n = nRecon(rel, r, total, tau, sv, si, true);
        if (n < 0) {
          n = -n; // every positive term, counted apart
          unreached++;
        }
        const meanAbs = load<f64>(sums, 8) / <f64>r;
        const meanSq = load<f64>(sums, 16) / <f64>r;
        const pp = <usize>pos;
        store<i32>(pairs + pp * 12, pb);
        store<i32>(pairs + pp * 12, d, 4);
        store<i32>(pairs + pp * 12, j, 8);
        store<i32>(nrec + (pp << 2), n);
        store<f64>(rt + (pp << 3), (meanAbs * meanAbs) / meanSq);
        store<f64>(score + (pp << 3), l);
        store<f64>(relTotal + (pp << 3), total);
        for (let i = 0; i < n; i++) {
          const k = load<i32>(si + (<usize>i << 2));
          const uk = usage + (<usize>k << 2);
          store<i32>(uk, load<i32>(uk) + 1);
          if (recordSelected) store<u16>(selected + ((<usize>nsel + <usize>i) << 1), <u16>k);
        }
        nsel += n;
        pos++;
      }
    }

    // null: the same firing pairs in rotated bases
    for (let rr = 0; rr < nrot; rr++) {
      const qr = qp + <usize>rr * qBytes;
      projectPacked(tb, r, r, xu, qr, ar);
      projectPacked(tb, r, r, xvs, qr, br);
      for (let k = 0; k < r; k++) store<f64>(bsum + (<usize>k << 3), 0.0);
      const hist = nullHist + ((<usize>rr * <usize>(r + 1)) << 2);
      const cPos = counts + (<usize>(SAD_COUNTS_LENGTH + 2 * rr) << 2);
      let npos = load<i32>(cPos);
      let nun = load<i32>(cPos, 4);
      const rtOut = nullRt + ((<usize>rr * <usize>cap) << 2);
      for (let d = 0; d < tb; d++) {
        const ad = ar + <usize>d * <usize>r * 8;
        const bd = br + <usize>d * <usize>r * 8;
        for (let k = 0; k < r; k++) {
          const o = <usize>k << 3;
          store<f64>(bsum + o, load<f64>(bsum + o) + load<f64>(bd + o));
        }
        if (d == 0) continue;
        const fireRow = fire + <usize>d * <usize>t;
        const dd = <f64>d;
        for (let j = s0; j <= d; j++) {
          if (load<u8>(fireRow + <usize>j) == 0) continue;
          relTerms(r, ad, br + <usize>j * <usize>r * 8, bsum, dd, rel);
          pairwiseSums3(rel, r, sums);
          const total = load<f64>(sums);
          if (!(total > 0)) continue;
          let n = nRecon(rel, r, total, tau, sv, si, false);
          if (n < 0) {
            n = -n;
            nun++;
          }
          const hk = hist + (<usize>n << 2);
          store<i32>(hk, load<i32>(hk) + 1);
          const meanAbs = load<f64>(sums, 8) / <f64>r;
          const meanSq = load<f64>(sums, 16) / <f64>r;
          store<f32>(rtOut + (<usize>npos << 2), <f32>((meanAbs * meanAbs) / meanSq));
          npos++;
        }
      }
      store<i32>(cPos, npos);
      store<i32>(cPos, nun, 4);
    }
  }
  store<i32>(counts + (<usize>SAD_POSITIVE << 2), pos);
  store<i32>(counts + (<usize>SAD_NONPOSITIVE << 2), nonpos);
  store<i32>(counts + (<usize>SAD_UNREACHED << 2), unreached);
  store<i32>(counts + (<usize>SAD_SELECTED << 2), nsel);
  store<i32>(counts + (<usize>SAD_CANDIDATES << 2), cand);
  return STATUS_OK;
}

/**
 * Terms of one pair (d, s) of one prompt, in the singular basis (q = 0) or in the rotated basis
 * ũ = U Q: t_k, and the relative terms t̃_k over causal keys (d ≥ 1).
 * @param x - [T, m] row-major; @param terms - R f64, written; @param relOut - R f64, written (zeros when d = 0)
 * @param work - sadWorkspace(T, R, m, 1) f64
 * @returns STATUS_OK or −i for bad argument i
 */
export function sadPairTerms(
  t: i32, m: i32, r: i32, x: usize, u: usize, s: usize, v: usize, q: usize, d: i32, src: i32,
  terms: usize, relOut: usize, work: usize,
): i32 {
  if (t < 1) return -1;
  if (m < 1) return -2;
  if (r < 1) return -3;
  if (d < 0 || d >= t) return -9;
  if (src < 0 || src > d) return -10;
  const tr = <usize>t * <usize>r << 3;
  const xu = work;
  const xv = xu + tr;
  const a = xv + tr;
  const b = a + tr;
  const bsum = b + tr;
  const up = packedAt(work, t, r);
  const vp = up + (<usize>packedSize(m, r) << 3);
  const qp = vp + (<usize>packedSize(m, r) << 3);
  packColumns4(m, r, u, up);
  packColumns4(m, r, v, vp);
  projectPacked(t, m, r, x, up, xu);
  projectPacked(t, m, r, x, vp, xv);
  for (let i = 0; i < t; i++) {
    for (let k = 0; k < r; k++) {
      const o = ((<usize>i * <usize>r + <usize>k) << 3);
      const sk = load<f64>(s + (<usize>k << 3));
      store<f64>(xv + o, load<f64>(xv + o) * (q == 0 ? 1.0 : sk));
      if (q == 0) store<f64>(xu + o, load<f64>(xu + o) * sk);
    }
  }
  if (q == 0) {
    memory.copy(a, xu, tr);
    memory.copy(b, xv, tr);
  } else {
    packColumns4(r, r, q, qp);
    projectPacked(t, r, r, xu, qp, a);
    projectPacked(t, r, r, xv, qp, b);
  }
  for (let k = 0; k < r; k++) store<f64>(bsum + (<usize>k << 3), 0.0);
  for (let j = 0; j <= d; j++) {
    for (let k = 0; k < r; k++) {
      const o = <usize>k << 3;
      store<f64>(bsum + o, load<f64>(bsum + o) + load<f64>(b + ((<usize>j * <usize>r) << 3) + o));
    }
  }
  const ad = a + ((<usize>d * <usize>r) << 3);
  const bs = b + ((<usize>src * <usize>r) << 3);
  for (let k = 0; k < r; k++) {
    const o = <usize>k << 3;
    store<f64>(terms + o, load<f64>(ad + o) * load<f64>(bs + o));
  }
  if (d == 0) {
    for (let k = 0; k < r; k++) store<f64>(relOut + (<usize>k << 3), 0.0);
  } else {
    relTerms(r, ad, bs, bsum, <f64>d, relOut);
  }
  return STATUS_OK;
}
