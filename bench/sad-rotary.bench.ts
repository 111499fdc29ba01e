/**
 * Rotary SAD benchmark: one GPT-2 small head's weights (layer 0 head 1, augmented bias) read as a
 * Pythia-style rotary head (rotary_dim 16 of 64, base 10000) on 128 prompts × 20 tokens with 8 null
 * rotations, through the positional float64 path (analysis/sad-positional.ts: one SVD per offset,
 * every firing pair in its own Ω_Δ), against the same head and tokens without rotary through the
 * WebAssembly kernel, measured in the same run. Run: npm run bench:sad-rotary
 */
import { createRng, seededRotations } from "../src/analysis/random";
import { rotateKeyRows } from "../src/analysis/rotary";
import { sadPositional } from "../src/analysis/sad-positional";
import { loadKernels } from "../src/kernels/load-node";
import { buildHeadFactors } from "../src/services/head-factors";
import { gpt2Head, tensor } from "../test/support/gpt2";
import { handleUsage } from "../scripts/usage.mjs";

handleUsage(`npm run bench:sad-rotary

Rotary (positional) SAD in the worker's TypeScript float64 path, timed on a GPT-2-sized head.`, { flags: {}, positionals: 0 });

const B = 128, T = 20, D = 768, M = D + 1, H = 64, RD = 16, SEEDS = [0, 1, 2, 3, 4, 5, 6, 7];
const kernels = loadKernels("release");
const w = gpt2Head(0, 1);
const { a, b } = buildHeadFactors(kernels, { circuit: "qk", dModel: D, dHead: H, read: w.W_Q, other: w.W_K, bQ: w.b_Q, bK: w.b_K, dtypes: {} }, { fold_ln: false, bias: "augmented" });
const wpe = tensor("wpe.weight");
const rng = createRng(1);
const X = new Float64Array(B * T * M);
for (let p = 0; p < B; p++) {
  for (let t = 0; t < T; t++) {
    const row = Float64Array.from({ length: D }, (_, i) => wpe[t * D + i] + 0.5 * rng.normal());
    const mean = row.reduce((x, y) => x + y, 0) / D;
    const sd = Math.sqrt(row.reduce((x, y) => x + (y - mean) ** 2, 0) / D + 1e-5);
    for (let i = 0; i < D; i++) X[(p * T + t) * M + i] = (row[i] - mean) / sd;
    X[(p * T + t) * M + D] = 1;
  }
}
const rotations = seededRotations(H, SEEDS);
const A = Float64Array.from(a.data), Bf = Float64Array.from(b.data);
const svd0 = kernels.factoredSvd(a, b);

let t0 = performance.now();
const ker = kernels.sad({ U: svd0.U, S: svd0.S, V: svd0.V, rows: M, k: H, X, batch: B, tokens: T, rotations, rotationCount: 8, scale: 0.125, tau: 1, excludeFirstSource: true, recordSelected: true });
const tKernel = performance.now() - t0;

let svdCalls = 0, svdMs = 0;
t0 = performance.now();
const pos = sadPositional({
  rows: M, k: H, dHead: H, X, batch: B, tokens: T, geometry: { rotaryDim: RD, rotaryBase: 10000, window: null }, factors: { a: A, b: Bf },
  basisOf: (delta) => {
    const s0 = performance.now();
    svdCalls++;
    const s = delta === 0 ? svd0 : kernels.factoredSvd(a, { rows: M, cols: H, data: rotateKeyRows(Bf, M, H, RD, 10000, delta) });
    svdMs += performance.now() - s0;
    return s;
  },
  rotations, rotationCount: 8, scale: 0.125, tau: 1, excludeFirstSource: true,
});
const tPos = performance.now() - t0;

console.log(`SAD of one head, ${B} prompts × ${T} tokens, 8 null rotations`);
console.log(`  WebAssembly kernel, no rotary: ${tKernel.toFixed(0)} ms, ${ker.positive} pairs decomposed (${(1e3 * tKernel / ker.positive).toFixed(1)} µs/pair)`);
console.log(`  positional f64, rotary_dim ${RD}: ${tPos.toFixed(0)} ms, ${pos.positive} pairs decomposed (${(1e3 * tPos / pos.positive).toFixed(1)} µs/pair), ` +
  `${svdCalls} offsets (SVDs ${svdMs.toFixed(0)} ms)`);
console.log(`  ratio positional / kernel per decomposed pair: ${((tPos / pos.positive) / (tKernel / ker.positive)).toFixed(1)}×`);
