/**
 * @module analysis/null-band
 * The Gaussian null band of a head's spectrum: what the singular values of A Bᵀ look like when the
 * factors carry no structure. For factors of shape [rows, d_head], draw Â, B̂ with i.i.d. standard
 * normal entries, scale each to unit Frobenius norm, and take the factored SVD of Â B̂ᵀ; over
 * `draws` seeded draws, the band is the 5 %, 50 % and 95 % quantiles (numpy "linear") of σ_k at
 * each k. σ(c·Â (c'·B̂)ᵀ) = c·c'·σ(Â B̂ᵀ), so the band of a head with factor norms ‖A‖_F, ‖B‖_F is
 * this band times ‖A‖_F·‖B‖_F: one band per shape serves every head of that shape. The draws are not
 * centred (folded variants centre the real factors; for d_model ≫ d_head that changes the band by
 * about 1/d_model). Pure TS around the factored-SVD kernel (the CLI's, or the page's in a Web Worker).
 */
import type { Kernels } from "../kernels/types";
import { createRng, normals, RNG_NAME } from "./random";
import { percentileSorted } from "./sad-stats";

export interface NullBand {
  rows: number;
  d_head: number;
  draws: number;
  seed: number;
  /** per singular index k (1-based in the text, 0-based here), for unit-norm factors */
  q05: number[];
  median: number[];
  q95: number[];
  definition: string;
}

export const NULL_BAND_DRAWS = 8;
export const nullBandKey = (rows: number, dHead: number) => `${rows}x${dHead}`;

export const NULL_BAND_DEFINITION =
  "σ_k of Â B̂ᵀ for Gaussian factors Â, B̂ of the head's shape [rows, d_head], each scaled to unit Frobenius norm, " +
  `5–95 % quantiles over ${NULL_BAND_DRAWS} seeded draws (${RNG_NAME}), times the head's ‖A‖_F·‖B‖_F`;

/** The normalised band for factors of shape [rows, dHead]. */
export function gaussianNullBand(kernels: Pick<Kernels, "factoredSvd">, rows: number, dHead: number, draws = NULL_BAND_DRAWS, seed = 0): NullBand {
  const rng = createRng(seed + 7919 * rows + dHead);
  const k = Math.min(rows, dHead);
  const perK: number[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < draws; t++) {
    const a = unit(normals(rng, rows * dHead));
    const b = unit(normals(rng, rows * dHead));
    const { S } = kernels.factoredSvd({ rows, cols: dHead, data: a }, { rows, cols: dHead, data: b });
    for (let i = 0; i < k; i++) perK[i].push(S[i]);
  }
  const q = (p: number) => perK.map((xs) => percentileSorted([...xs].sort((x, y) => x - y), p));
  return { rows, d_head: dHead, draws, seed, q05: q(0.05), median: q(0.5), q95: q(0.95), definition: NULL_BAND_DEFINITION };
}

function unit(x: Float64Array): Float64Array {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  const f = 1 / Math.sqrt(s);
  for (let i = 0; i < x.length; i++) x[i] *= f;
  return x;
}

/** The band of one head: the normalised band times ‖A‖_F·‖B‖_F. */
export function scaleNullBand(band: Pick<NullBand, "q05" | "median" | "q95">, norms: { a: number; b: number }) {
  const c = norms.a * norms.b;
  return { q05: band.q05.map((x) => x * c), median: band.median.map((x) => x * c), q95: band.q95.map((x) => x * c) };
}
