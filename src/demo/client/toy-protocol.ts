/**
 * @module demo/client/toy-protocol
 * The live toy run of the demo page: its configuration (method §6 single pair, shortened so that it
 * trains in a few seconds in a browser) and the messages between the page and its Web Worker
 * (toy-worker.ts, served at /assets/toy-worker.js).
 */
import { SINGLE_PAIR, type ToyConfig } from "../../toy/config";
import type { NullBand } from "../../analysis/null-band";
import type { ToyRun } from "../../toy/train";

/** What the form may ask for. */
export const LIVE_LIMITS = { steps: { min: 200, max: 3000, default: 2000 }, anisotropy: { min: 0, max: 1 } } as const;

/**
 * The live run's configuration: single pair (N 20, D = H = 10, T_01 = 1, p 0.05, λ 1, β 5, AdamW 3e-3
 * with cosine decay) with batches of 512 instead of 1,024, 2,000 steps by default instead of 3,000,
 * and no SAD. c adds the shared direction on the token side only (method §6); c = 0 is plain single pair.
 */
export function liveConfig(o: { anisotropy: number; steps: number }): ToyConfig {
  return {
    ...SINGLE_PAIR,
    attentionBatch: 512,
    reconBatch: 512,
    sadSamples: 0,
    steps: o.steps,
    anisotropy: o.anisotropy,
  };
}

export interface LiveRequest {
  seed: number;
  anisotropy: number;
  steps: number;
}

/** One measurement of the live run. */
export interface LiveProgress {
  kind: "progress";
  step: number;
  top1CosU: number;
  top1CosV: number;
  alignment: number;
  attendedMaxCosToOthers: number;
  sigmaRatio: number;
}

export type LiveMessage =
  | { kind: "started"; kernels: string; simd: boolean; config: ToyConfig }
  | LiveProgress
  | { kind: "done"; run: ToyRun; seconds: number }
  | { kind: "null-band"; band: NullBand }
  | { kind: "error"; message: string };

/** The head page's request for the Gaussian null band of factors [rows, dHead] (answered with kind "null-band"). */
export interface NullBandRequest {
  kind: "null-band";
  rows: number;
  dHead: number;
}
