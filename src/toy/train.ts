/**
 * @module toy/train
 * The training loop of one toy run: seeded initialisation, fresh sparse batches each step, hand-derived
 * gradients (model.ts), AdamW with cosine decay (optimizer.ts), and a measurement (measure.ts) every
 * `measureEvery` steps. Everything random comes from one `Random(seed)` stream in a fixed order
 * (W, W_Q, W_K, e, then per step: reconstruction batch, attention batch), so a seed fixes the run.
 * Measurement never touches that stream. Returns curves in columnar form (one array per metric) and
 * the final snapshot; writing files is report.ts's job.
 */
import { createRng } from "../analysis/random";
import type { Kernels, ToyPasses } from "../kernels/types";
import type { ToyConfig } from "./config";
import type { AlignmentResult } from "../analysis/alignment";
import { decomposeHead, meanTokenCosine, measureSnapshot, methodAlignment, randomDirectionNull, type FullSnapshot, type HeadSvd, type PairAlignment, type PairOccupancy } from "./measure";
import { drawSharedDirection, effectiveFeatures, initParams, ToyModel, zeroParams, type Losses, type ToyParams } from "./model";
import { AdamW } from "./optimizer";
import { toySad, type ToySad } from "./sad";
import { sampleAttentionBatch, sampleReconBatch, TokenBuffer, type SparseTokens } from "./sampling";

/** Curves over training: entry t of every array belongs to `step[t]`. */
export interface ToyCurves {
  step: number[];
  learningRate: number[];
  reconLoss: number[];
  ceLoss: number[];
  totalLoss: number[];
  /** mean matched |cos| over template pairs */
  alignment: number[];
  matchedCount: number[];
  top1CosU: number[];
  top1CosV: number[];
  /** all singular values of Ω at each step: sigma[t][k] */
  sigma: number[][];
  gramOffDiagRms: number[];
  attendedMaxCosToOthers: number[];
  meanPairwiseCos: number[];
  whitenedMean: number[];
}

export interface ToyFinal {
  step: number;
  reconLoss: number;
  ceLoss: number;
  sigma: number[];
  sigmaRatio: number;
  top1CosU: number;
  top1CosV: number;
  pairs: PairAlignment[];
  matchedMean: number;
  matchedCount: number;
  /** matched counts at config.reportThresholds (0.9, 0.8) */
  matchedCounts: { threshold: number; count: number }[];
  /** own / shared / no singular index per template pair (the crowded case) */
  occupancy: PairOccupancy[];
  spearman: number | null;
  gramOffDiagRms: number;
  gramMaxAbsCos: number;
  meanPairwiseCos: number;
  attendedMaxCosToOthers: number;
  /** which attended feature is closest to which other feature, signed cosine (−1: antipodal) */
  attendedWorst: { attended: number; other: number; cos: number };
  /** every feature pair with |cos| ≥ 0.9, signed (−1: antipodal superposition) */
  collisions: { a: number; b: number; cos: number }[];
  /** mean pairwise cosine of 256 natural token vectors W_eff f (a separate seeded draw) */
  meanTokenCos: number;
  whitenedMean: number;
  whitenedVsFeatureCos: number;
  /** first measured step with alignment ≥ alignThreshold (null: never) */
  alignStep: number | null;
  /** first measured step with attendedMaxCosToOthers ≤ orthogonalThreshold (null: never) */
  orthogonalStep: number | null;
  /** random-direction null (method §5) for the matching statistics */
  nullMatchedMean: number;
  nullMatchedCount: number;
  /** method §5's report from the shared analysis/alignment module (per-side matchings over all features, null, theory) */
  method: AlignmentResult;
  /** SAD of the final head on its own token batches, one entry per τ (null: not asked or no SAD kernel) */
  sad: ToySad[] | null;
  /** the final parameters: w [D][N], b [N], wQ, wK [D][H] */
  params: { w: number[][]; b: number[]; wQ: number[][]; wK: number[][] };
  /** |cos| between every feature (rows) and every singular vector (columns): [N][k] */
  cosU: number[][];
  cosV: number[][];
}

export interface ToyRun {
  config: ToyConfig;
  seed: number;
  /** where the per-sample passes ran: "wasm" (kernel name) or "ts" (the TypeScript reference) */
  backend: string;
  curves: ToyCurves;
  final: ToyFinal;
  timing: { wallSeconds: number; trainSeconds: number; measureSeconds: number; stepsPerSecond: number };
}

/** Called after each step's batches are drawn, before its gradient: the parameters the gradient is taken at and the batches (replay tools stream these to an independent implementation; nothing may be modified). */
export type BatchHook = (step: number, params: ToyParams, recon: SparseTokens, attn: SparseTokens, e: Float64Array) => void;

export interface ProgressEvent {
  step: number;
  losses: Losses;
  snapshot: FullSnapshot;
}

function emptyCurves(): ToyCurves {
  return {
    step: [],
    learningRate: [],
    reconLoss: [],
    ceLoss: [],
    totalLoss: [],
    alignment: [],
    matchedCount: [],
    top1CosU: [],
    top1CosV: [],
    sigma: [],
    gramOffDiagRms: [],
    attendedMaxCosToOthers: [],
    meanPairwiseCos: [],
    whitenedMean: [],
  };
}

function toRows(x: Float64Array, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from(x.subarray(i * cols, (i + 1) * cols)));
}

/**
 * Trains one toy model.
 * @param kernels - SVD kernels for the measurements
 * @param onMeasure - called at every measurement (progress printing)
 * @param passes - the WebAssembly per-sample passes; without them the TypeScript reference runs
 * @param onBatch - sees every step's parameters and batches (bench/toy-compare.ts replays them in numpy)
 */
export function trainToy(cfg: ToyConfig, seed: number, kernels: Pick<Kernels, "factoredSvd">, onMeasure?: (e: ProgressEvent) => void, passes?: ToyPasses, onBatch?: BatchHook): ToyRun {
  const t0 = performance.now();
  let measureMs = 0;
  const rng = createRng(seed);
  const params = initParams(cfg, rng);
  const e = drawSharedDirection(cfg.dModel, rng);
  const model = new ToyModel(cfg, e, passes);
  const grads = zeroParams(cfg);
  const opt = new AdamW<"w" | "b" | "wQ" | "wK">(
    {
      learningRate: cfg.learningRate,
      minLrFraction: cfg.minLrFraction,
      warmupSteps: cfg.warmupSteps,
      totalSteps: cfg.steps,
      beta1: cfg.adamBeta1,
      beta2: cfg.adamBeta2,
      epsilon: cfg.adamEpsilon,
      weightDecay: cfg.weightDecay,
    },
    new Set(["wQ", "wK"] as const),
  );
  const nnz = cfg.featureProbability * cfg.nFeatures + 2;
  const recon = new TokenBuffer(cfg.reconBatch, cfg.reconBatch * nnz);
  const tokensPerSample = cfg.keysPerQuery + 1;
  const attn = new TokenBuffer(cfg.attentionBatch * tokensPerSample, cfg.attentionBatch * tokensPerSample * nnz);
  const curves = emptyCurves();
  const wEff = new Float64Array(cfg.dModel * cfg.nFeatures);

  let last: FullSnapshot | undefined;
  let lastSvd: HeadSvd | undefined;
  let lastLosses: Losses = { recon: NaN, ce: NaN, total: NaN };
  const measure = (step: number, losses: Losses, lr: number) => {
    const m0 = performance.now();
    effectiveFeatures(params.w, e, cfg.anisotropy, cfg.nFeatures, wEff);
    lastSvd = decomposeHead(cfg, kernels, params.wQ, params.wK); // the measurement's one decomposition of Ω
    const s = measureSnapshot(cfg, lastSvd, wEff);
    curves.step.push(step);
    curves.learningRate.push(lr);
    curves.reconLoss.push(losses.recon);
    curves.ceLoss.push(losses.ce);
    curves.totalLoss.push(losses.total);
    curves.alignment.push(s.matchedMean);
    curves.matchedCount.push(s.matchedCount);
    curves.top1CosU.push(s.top1CosU);
    curves.top1CosV.push(s.top1CosV);
    curves.sigma.push(s.sigma);
    curves.gramOffDiagRms.push(s.gramOffDiagRms);
    curves.attendedMaxCosToOthers.push(s.attendedMaxCosToOthers);
    curves.meanPairwiseCos.push(s.meanPairwiseCos);
    curves.whitenedMean.push(s.whitenedMean);
    last = s;
    measureMs += performance.now() - m0;
    onMeasure?.({ step, losses, snapshot: s });
  };

  let lr = cfg.learningRate;
  for (let step = 0; step < cfg.steps; step++) {
    sampleReconBatch(recon, cfg, cfg.reconBatch, rng);
    sampleAttentionBatch(attn, cfg, cfg.attentionBatch, rng);
    onBatch?.(step, params, recon, attn, e);
    // losses are those of the batch before this step's update
    lastLosses = model.lossAndGradients(params, recon, attn, grads);
    if (step % cfg.measureEvery === 0) measure(step, lastLosses, lr);
    lr = opt.step(params, grads);
  }
  measure(cfg.steps, lastLosses, lr);
  const snap = last as FullSnapshot;
  const omega = lastSvd as HeadSvd; // the final parameters' decomposition, shared by null, §5 report and SAD

  const firstStep = (values: number[], pass: (v: number) => boolean) => {
    const i = values.findIndex(pass);
    return i >= 0 ? curves.step[i] : null;
  };
  const nul = randomDirectionNull(cfg, omega, seed ^ 0x5eed);
  const probe = new TokenBuffer(256, 256 * nnz);
  sampleReconBatch(probe, cfg, 256, createRng(seed ^ 0x70c3));
  effectiveFeatures(params.w, e, cfg.anisotropy, cfg.nFeatures, wEff);
  const tokenCos = meanTokenCosine(wEff, cfg.dModel, cfg.nFeatures, probe);
  const method = methodAlignment(cfg, omega, wEff, seed);
  const sad = (cfg.sadSamples ?? 0) > 0 ? toySad(cfg, omega, wEff, seed, { samples: cfg.sadSamples, nullSeeds: cfg.sadNullSeeds, taus: cfg.sadTaus }) : null;
  const wall = (performance.now() - t0) / 1000;
  const measureSeconds = measureMs / 1000;
  const n = cfg.nFeatures;
  return {
    config: cfg,
    seed,
    backend: passes ? `${passes.name}${passes.simd ? "-simd" : ""}` : "ts",
    curves,
    final: {
      step: cfg.steps,
      reconLoss: lastLosses.recon,
      ceLoss: lastLosses.ce,
      sigma: snap.sigma,
      sigmaRatio: snap.sigmaRatio,
      top1CosU: snap.top1CosU,
      top1CosV: snap.top1CosV,
      pairs: snap.pairs,
      matchedMean: snap.matchedMean,
      matchedCount: snap.matchedCount,
      matchedCounts: snap.matchedCounts,
      occupancy: snap.occupancy,
      spearman: snap.spearman,
      gramOffDiagRms: snap.gramOffDiagRms,
      gramMaxAbsCos: snap.gramMaxAbsCos,
      meanPairwiseCos: snap.meanPairwiseCos,
      attendedMaxCosToOthers: snap.attendedMaxCosToOthers,
      attendedWorst: snap.attendedWorst,
      collisions: snap.collisions,
      meanTokenCos: tokenCos,
      whitenedMean: snap.whitenedMean,
      whitenedVsFeatureCos: snap.whitenedVsFeatureCos,
      alignStep: firstStep(curves.alignment, (v) => v >= cfg.alignThreshold),
      orthogonalStep: firstStep(curves.attendedMaxCosToOthers, (v) => v <= cfg.orthogonalThreshold),
      nullMatchedMean: nul.matchedMean,
      nullMatchedCount: nul.matchedCount,
      method,
      sad,
      params: {
        w: toRows(params.w, cfg.dModel, n),
        b: Array.from(params.b),
        wQ: toRows(params.wQ, cfg.dModel, cfg.dHead),
        wK: toRows(params.wK, cfg.dModel, cfg.dHead),
      },
      cosU: toRows(snap.cosU, n, snap.k),
      cosV: toRows(snap.cosV, n, snap.k),
    },
    timing: {
      wallSeconds: wall,
      trainSeconds: wall - measureSeconds,
      measureSeconds,
      stepsPerSecond: cfg.steps / (wall - measureSeconds),
    },
  };
}
