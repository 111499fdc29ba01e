/**
 * SAD benchmark: one GPT-2 small head (layer 0 head 1, unfolded weights, augmented bias) on 256 prompts
 * × 24 tokens with 8 null rotations, WebAssembly (SIMD and scalar builds) against the vectorised numpy
 * implementation of the same definitions (bench/sad_numpy.py, run when python3 with numpy is present).
 * Token vectors are x = ln_1(wpe[p] + g) with a Gaussian "token" g scaled to the typical residual norm,
 * so firing patterns are neither purely positional nor random. Prints times, the ratio and a
 * cross-check of the aggregates.
 * Ragged case: one head's SAD as `scan --prompts ioi:128` asks the worker for it (decomposeAttention,
 * folded weights, augmented bias, 8 null rotations, the IOI END→IO / END→S2 focus) on 128 IOI prompts
 * of their real GPT-2 BPE lengths (test/support/ioi-tokens.ts), through the WebAssembly kernel (both
 * builds), against the positional TypeScript float64 path that took every ragged batch before, in the
 * same run, cross-checked. Run: npm run bench:sad
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRng, seededRotations } from "../src/analysis/random";
import { sadPositional } from "../src/analysis/sad-positional";
import { aggregateSad } from "../src/analysis/sad-stats";
import { loadKernels } from "../src/kernels/load-node";
import type { SadInput } from "../src/kernels/types";
import { buildHeadFactors } from "../src/services/head-factors";
import { basisFromWeights, decomposeAttention, readTokens } from "../src/services/sad-head";
import { SadOptionsSchema } from "../src/wire/analysis-request";
import { encodeSafetensors, parseSafetensors } from "../src/wire/safetensors";
import { gpt2Head, tensor } from "../test/support/gpt2";
import { ioiTokens } from "../test/support/ioi-tokens";
import { PROJECT_ROOT } from "../test/support/paths";
import { handleUsage } from "../scripts/usage.mjs";

handleUsage(`npm run bench:sad

SAD of one GPT-2 head on 256 prompts x 24 tokens with 8 null rotations (SIMD and scalar builds)
against numpy (bench/sad_numpy.py, when python3 and numpy are present), cross-checked; then one head on
128 IOI prompts of different lengths with the IOI focus, WebAssembly against the positional TS float64 path.`, { flags: {}, positionals: 0 });

const B = 256;
const T = 24;
const SEEDS = [0, 1, 2, 3, 4, 5, 6, 7];
const D = 768;
const M = D + 1;
const LAYER = 0;
const HEAD = 1;

function tokens(): Float64Array {
  const wpe = tensor("wpe.weight");
  const g = tensor(`h.${LAYER}.ln_1.weight`);
  const beta = tensor(`h.${LAYER}.ln_1.bias`);
  const rng = createRng(2024);
  const x = new Float64Array(B * T * M);
  const r = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < T; p++) {
      let norm = 0;
      for (let i = 0; i < D; i++) norm += wpe[p * D + i] ** 2;
      const amp = Math.sqrt(norm / D);
      for (let i = 0; i < D; i++) r[i] = wpe[p * D + i] + amp * rng.normal();
      let mean = 0;
      for (let i = 0; i < D; i++) mean += r[i];
      mean /= D;
      let v = 0;
      for (let i = 0; i < D; i++) v += (r[i] - mean) ** 2;
      const sd = Math.sqrt(v / D + 1e-5);
      const o = (b * T + p) * M;
      for (let i = 0; i < D; i++) x[o + i] = ((r[i] - mean) / sd) * g[i] + beta[i];
      x[o + D] = 1;
    }
  }
  return x;
}

function time<T>(runs: number, f: () => T): { best: number; result: T } {
  let best = Infinity;
  let result!: T;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = f();
    best = Math.min(best, performance.now() - t0);
  }
  return { best: best / 1000, result };
}

const root = PROJECT_ROOT;
const simd = loadKernels("release", join(root, "build/kernels.release.wasm"));
const scalar = loadKernels("scalar", join(root, "build/kernels.scalar.wasm"));
const w = gpt2Head(LAYER, HEAD);
const { a, b } = buildHeadFactors(simd, 
  { circuit: "qk", dModel: D, dHead: 64, read: w.W_Q, other: w.W_K, bQ: w.b_Q, bK: w.b_K, dtypes: {} },
  { fold_ln: false, bias: "augmented" },
);
const svd = simd.factoredSvd(a, b);
const X = tokens();
const rotations = seededRotations(svd.k, SEEDS);
const input: SadInput = {
  U: svd.U, S: svd.S, V: svd.V, rows: M, k: svd.k, X, batch: B, tokens: T, rotations, rotationCount: SEEDS.length,
  scale: 1 / 8, tau: 1, excludeFirstSource: true, recordSelected: false,
};

console.log(`SAD of GPT-2 small L${LAYER}H${HEAD}: ${B} prompts × ${T} tokens, d = ${M}, R = ${svd.k}, ${SEEDS.length} null rotations`);
const fast = time(5, () => simd.sad(input));
const slow = time(2, () => scalar.sad(input));
const agg = aggregateSad(fast.result, svd.k, SEEDS);
console.log(
  `  pairs: ${agg.pairs.candidates} candidates, ${agg.pairs.firing_positive} firing positive, ${agg.pairs.firing_nonpositive} non-positive; ` +
    `N_recon median ${agg.n_recon.median}, p90 ${agg.n_recon.p90}; null median ${agg.null!.n_recon_median_mean.toFixed(2)}`,
);
console.log(`  wasm SIMD   ${(fast.best * 1000).toFixed(1)} ms per head`);
console.log(`  wasm scalar ${(slow.best * 1000).toFixed(1)} ms per head`);
console.log(`  target < 500 ms per head: ${fast.best < 0.5 ? "met" : "NOT met"}`);

let numpy: { seconds: number; numpy: string; pairs_positive: number; n_recon_median: number; n_recon_p90: number; null_n_recon_median_mean: number } | undefined;
try {
  const dir = mkdtempSync(join(tmpdir(), "sad-bench-"));
  const file = join(dir, "input.bin");
  const parts = [Float64Array.from([B, T, M, svd.k, SEEDS.length, 1 / 8]), X, svd.U, svd.S, svd.V, rotations];
  writeFileSync(file, Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
  const out = execFileSync("python3", [join(root, "bench/sad_numpy.py"), file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  numpy = JSON.parse(out);
} catch (e) {
  console.log(`  numpy: not run (${(e as Error).message.split("\n")[0]})`);
}
if (numpy) {
  console.log(`  numpy ${numpy.numpy} vectorised ${(numpy.seconds * 1000).toFixed(1)} ms per head`);
  console.log(`  ratio numpy / wasm SIMD = ${(numpy.seconds / fast.best).toFixed(2)}× (${numpy.seconds > fast.best ? "wasm faster" : "numpy faster"})`);
  const same = numpy.pairs_positive === agg.pairs.firing_positive && numpy.n_recon_median === agg.n_recon.median && numpy.n_recon_p90 === agg.n_recon.p90;
  console.log(
    `  cross-check: numpy ${numpy.pairs_positive} pairs, N_recon median ${numpy.n_recon_median}, p90 ${numpy.n_recon_p90} — ${same ? "identical" : "DIFFERENT"}; ` +
      `null ${numpy.null_n_recon_median_mean.toFixed(2)} (its own rotations)`,
  );
}

// ---- ragged: one head's SAD on 128 IOI prompts of different lengths, as `scan --prompts ioi:128` sends them ----
{
  const NB = 128;
  const RAGGED_HEAD = 0; // L0H0: its IOI END→IO / END→S2 pairs fire on these inputs, so the focus is exercised
  const { X: Xr, lengths, tokens: TR, focus } = ioiTokens(NB);
  const w = gpt2Head(LAYER, RAGGED_HEAD);
  const weights = { circuit: "qk" as const, dModel: D, dHead: 64, read: w.W_Q, other: w.W_K, bQ: w.b_Q, bK: w.b_K, lnW: w.ln_w, lnB: w.ln_b, dtypes: {} };
  const opts = SadOptionsSchema.parse({});
  const basis = basisFromWeights(simd, weights, { fold_ln: true, bias: "augmented" });
  const body = encodeSafetensors({
    X: { dtype: "F32", shape: [NB, TR, D], data: Xr },
    lengths: { dtype: "I32", shape: [NB], data: lengths },
    focus: { dtype: "I32", shape: [focus.length / 3, 3], data: focus },
  });
  const parsed = parseSafetensors(body);
  const batch = readTokens(parsed, basis, opts.exclude_first_source);
  const path = { model: "bench", layer: LAYER, head: RAGGED_HEAD, circuit: "qk" as const };
  const run = (k: typeof simd) =>
    decomposeAttention(k, path, basis, batch, opts, { sha256: "", bytes: body.byteLength }, "bench", "bench", parsed.tensors.get("focus")).summary;
  // the positional float64 path every ragged batch took before (the whole batch, then the IOI focus)
  const seeds = Array.from({ length: opts.null_seeds }, (_, i) => i);
  const positional = {
    rows: basis.rows, k: basis.k, dHead: basis.dHead, X: batch.X, batch: NB, tokens: TR, geometry: { rotaryDim: 0, rotaryBase: 10000, window: null },
    basisOf: () => basis, rotations: seededRotations(basis.k, seeds), rotationCount: seeds.length,
    scale: basis.variant.scale, tau: opts.tau, excludeFirstSource: opts.exclude_first_source, lengths: batch.lengths,
  };
  console.log(`\nRagged: GPT-2 small L${LAYER}H${RAGGED_HEAD} (folded, augmented), ${NB} IOI prompts of ${Math.min(...lengths)}–${TR} tokens (GPT-2 BPE), ${seeds.length} null rotations, with the IOI focus`);
  const before = time(2, () => {
    const full = sadPositional(positional);
    const part = sadPositional({ ...positional, focus });
    return { full: aggregateSad(full, basis.k, seeds), focus: aggregateSad(part, basis.k, seeds) };
  });
  const after = time(5, () => run(simd));
  const afterScalar = time(2, () => run(scalar));
  const a = after.result as unknown as { pairs: { firing_positive: number }; n_recon: { median: number; p90: number }; null: { n_recon_median_mean: number }; focus: { pairs: { firing_positive: number }; n_recon: { median: number } } };
  console.log(`  pairs: ${a.pairs.firing_positive} decomposed; N_recon median ${a.n_recon.median}, p90 ${a.n_recon.p90}; null ${a.null.n_recon_median_mean.toFixed(2)}; IOI focus ${a.focus.pairs.firing_positive} pairs decomposed, median ${a.focus.n_recon.median}`);
  console.log(`  before: positional TS float64  ${(before.best * 1000).toFixed(0)} ms per head`);
  console.log(`  after:  wasm SIMD (service)    ${(after.best * 1000).toFixed(1)} ms per head (${(before.best / after.best).toFixed(1)}× faster)`);
  console.log(`  after:  wasm scalar (service)  ${(afterScalar.best * 1000).toFixed(1)} ms per head`);
  const same = before.result.full.pairs.firing_positive === a.pairs.firing_positive && Object.is(before.result.full.n_recon.median, a.n_recon.median) &&
    Object.is(before.result.full.n_recon.p90, a.n_recon.p90) && Object.is(before.result.focus.n_recon.median, a.focus.n_recon.median) &&
    before.result.focus.pairs.firing_positive === a.focus.pairs.firing_positive;
  console.log(`  cross-check against the positional path: ${same ? "identical" : "DIFFERENT"} pair counts and N_recon median/p90 (whole batch and focus)`);
}
