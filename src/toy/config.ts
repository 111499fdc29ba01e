/**
 * @module toy/config
 * The toy model's configuration (method §6) and the named experiments. Every choice the method page
 * leaves open is a field here, with the default the method page measured in its float64 numpy
 * implementation (p, m, λ, β, steps, batch, AdamW with lr 3e-3, 200 warm-up steps and cosine decay to
 * 5 %, weight decay 1e-2 on W_Q and W_K, W ~ N(0, 1/D), head factors ~ N(0, (0.3/√D)²), co-occurrence in
 * half the samples, reconstruction summed over features). Fields the method page does not state (Adam
 * β's and ε, the "matched" thresholds, measurement cadence) are this implementation's choices, marked
 * "(chosen here)".
 * A result records the whole object, so nothing about a run is implicit.
 * This module holds data only: no sampling, no training.
 */

/** One template entry `T[query][key] = value`: feature `query` in the query token attends to `key`. */
export interface TemplatePair {
  query: number;
  key: number;
  value: number;
}

export interface ToyConfig {
  /** experiment name (`single-pair`, `many-pairs`, `anisotropy`, `crowded`) */
  name: string;
  /** number of features N */
  nFeatures: number;
  /** residual width D */
  dModel: number;
  /** head width H */
  dHead: number;
  /** the template T (all other entries 0) */
  template: TemplatePair[];
  /** probability p that a feature is on; its value is then uniform on [0, 1] */
  featureProbability: number;
  /** keys per query m */
  keysPerQuery: number;
  /** λ: weight of the attention cross-entropy */
  lambda: number;
  /** β: softmax temperature on the target logits, target = softmax(β ℓ*) */
  targetTemperature: number;
  /** optimisation steps */
  steps: number;
  /** attention samples (one query, m keys) per step */
  attentionBatch: number;
  /** reconstruction samples per step (the autoencoder's own natural batch) */
  reconBatch: number;
  /** fraction of attention samples in which one template pair is switched on (query feature in the query, partner in one random key) */
  cooccurrenceFraction: number;
  /** AdamW peak learning rate, decayed by a cosine to `lr · minLrFraction` */
  learningRate: number;
  /** the cosine's floor as a fraction of the peak (method §6: 0.05) */
  minLrFraction: number;
  /** linear warm-up steps before the cosine (method §6: 200) */
  warmupSteps: number;
  /** (chosen here: PyTorch's defaults 0.9, 0.999, 1e-8) */
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  /** decoupled weight decay on W_Q and W_K (W and b have none) */
  weightDecay: number;
  /** W ~ N(0, (initScaleW/√D)²): feature columns start with norm ≈ initScaleW (method §6: 1) */
  initScaleW: number;
  /** W_Q, W_K ~ N(0, (initScaleHead/√D)²) (method §6: 0.3) */
  initScaleHead: number;
  /**
   * c: strength of the shared unit direction e added to every feature column on the token side only
   * (method §6): the head reads r = (W + c e 1ᵀ) f, the decoder reconstructs from W f, so the shift is
   * never penalised and cannot be trained away; W is unconstrained. 0: isotropic.
   */
  anisotropy: number;
  /** measure every this many steps (and at step 0 and the last step) (chosen here: 10 single-pair, 50 many-pairs) */
  measureEvery: number;
  /** a template pair counts as matched when its Hungarian-assigned singular index (among the top #pairs) has |cos| ≥ this on both sides (chosen here: 0.8; the checks use it) */
  matchThreshold: number;
  /** thresholds at which matched counts are reported besides (chosen here: 0.9 and 0.8) */
  reportThresholds: number[];
  /**
   * crowded case: a pair "shares" a singular index when that index is the best one (by the matching
   * score) of two or more pairs whose score reaches this; below it a pair is "not represented"
   * (chosen here: 0.4; the best of 10 random |cos| in 50 dimensions is about 0.25)
   */
  representedThreshold: number;
  /** alignment threshold for the "alignment rises" step */
  alignThreshold: number;
  /** orthogonality threshold (max |cos| of attended features to the others) for the "orthogonal" step */
  orthogonalThreshold: number;
  /** attention samples for SAD (method §4) on the final model (0: no SAD; chosen here: 1,024 for single-pair) */
  sadSamples: number;
  /** Haar rotations for the SAD null */
  sadNullSeeds: number;
  /** τ values for SAD's N_recon */
  sadTaus: number[];
}

const SHARED = {
  keysPerQuery: 8,
  attentionBatch: 1024,
  reconBatch: 1024,
  cooccurrenceFraction: 0.5,
  learningRate: 3e-3,
  minLrFraction: 0.05,
  warmupSteps: 200,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  weightDecay: 1e-2,
  initScaleW: 1,
  initScaleHead: 0.3,
  anisotropy: 0,
  matchThreshold: 0.8,
  reportThresholds: [0.9, 0.8],
  representedThreshold: 0.4,
  alignThreshold: 0.95,
  orthogonalThreshold: 0.1,
  sadSamples: 0,
  sadNullSeeds: 8,
  sadTaus: [1, 0.9],
} satisfies Partial<ToyConfig>;

/** single pair: N 20, D 10, H 10, T_01 = 1 (method §6: p 0.05, λ 1, β 5, 3,000 steps). */
export const SINGLE_PAIR: ToyConfig = {
  ...SHARED,
  name: "single-pair",
  nFeatures: 20,
  dModel: 10,
  dHead: 10,
  template: [{ query: 0, key: 1, value: 1 }],
  featureProbability: 0.05,
  lambda: 1,
  targetTemperature: 5,
  steps: 3000,
  measureEvery: 10,
  sadSamples: 1024,
};

/** Template values 1, 0.95, …, 0.05 for pairs (i, i + 20), i = 0..19. */
function decayingPairs(count: number, offset: number): TemplatePair[] {
  return Array.from({ length: count }, (_, i) => ({ query: i, key: i + offset, value: 1 - i / count }));
}

/** many pairs: N 100, D = H = 50, 20 pairs T_{i,i+20} decaying linearly (p 0.2, λ 30, β 10, 5,000 steps). */
export const MANY_PAIRS: ToyConfig = {
  ...SHARED,
  name: "many-pairs",
  nFeatures: 100,
  dModel: 50,
  dHead: 50,
  template: decayingPairs(20, 20),
  featureProbability: 0.2,
  lambda: 30,
  targetTemperature: 10,
  steps: 5000,
  measureEvery: 50,
};

/**
 * The crowded case (the paper's Appendix E): more attended features than the head has dimensions.
 * Many pairs with H = 10: 20 pairs (40 attended features) compete for 10 singular vectors.
 */
export const CROWDED: ToyConfig = { ...MANY_PAIRS, name: "crowded", dHead: 10 };

/** The anisotropy sweep: many pairs with c = 0, 0.25, 0.5, 0.75, 1. */
export const ANISOTROPY_SWEEP = [0, 0.25, 0.5, 0.75, 1];

export const EXPERIMENTS = ["single-pair", "many-pairs", "anisotropy", "crowded"] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number];

/** The configurations an experiment runs (one per anisotropy value for the sweep). */
export function experimentConfigs(name: ExperimentName): ToyConfig[] {
  switch (name) {
    case "single-pair":
      return [SINGLE_PAIR];
    case "many-pairs":
      return [MANY_PAIRS];
    case "anisotropy":
      return ANISOTROPY_SWEEP.map((c) => ({ ...MANY_PAIRS, name: "anisotropy", anisotropy: c }));
    case "crowded":
      return [CROWDED];
  }
}
