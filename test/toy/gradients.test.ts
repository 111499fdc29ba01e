import { describe, expect, it } from "vitest";
import type { ToyPasses } from "../../src/kernels/types";
import { loadKernels } from "../../src/kernels/load-node";
import { drawSharedDirection, initParams, PARAM_NAMES, ToyModel, zeroParams } from "../../src/toy/model";
import { createRng } from "../../src/analysis/random";
import { sampleAttentionBatch, sampleReconBatch, TokenBuffer } from "../../src/toy/sampling";
import { naiveLoss, TINY } from "./support";

const BACKENDS: [string, ToyPasses | undefined][] = [
  ["ts", undefined],
  ["wasm-release", loadKernels("release")],
  ["wasm-scalar", loadKernels("scalar")],
];

function setup(seed: number, passes?: ToyPasses) {
  const rng = createRng(seed);
  const params = initParams(TINY, rng);
  for (let i = 0; i < params.b.length; i++) params.b[i] = 0.2 * rng.normal();
  const e = drawSharedDirection(TINY.dModel, rng);
  const recon = new TokenBuffer(TINY.reconBatch, 10);
  const attn = new TokenBuffer(TINY.attentionBatch * (TINY.keysPerQuery + 1), 10);
  sampleReconBatch(recon, TINY, TINY.reconBatch, rng);
  sampleAttentionBatch(attn, TINY, TINY.attentionBatch, rng);
  return { params, e, recon, attn, model: new ToyModel(TINY, e, passes) };
}

describe.each(BACKENDS)("toy model gradients (%s passes)", (_name, passes) => {
  it("the factored forward pass equals the definition", () => {
    for (const seed of [1, 2, 3]) {
      const { params, e, recon, attn, model } = setup(seed, passes);
      const fast = model.lossAndGradients(params, recon, attn);
      const slow = naiveLoss(TINY, params, e, recon, attn);
      expect(fast.recon).toBeCloseTo(slow.recon, 12);
      expect(fast.ce).toBeCloseTo(slow.ce, 12);
      expect(fast.total).toBeCloseTo(slow.recon + TINY.lambda * slow.ce, 12);
    }
  });

  for (const name of PARAM_NAMES) {
    it(`matches central finite differences for every entry of ${name}`, () => {
      for (const seed of [11, 12]) {
        const { params, recon, attn, model } = setup(seed, passes);
        const grads = zeroParams(TINY);
        model.lossAndGradients(params, recon, attn, grads);
        expect(Math.max(...grads[name].map(Math.abs))).toBeGreaterThan(1e-3); // the check is not vacuous
        const x = params[name];
        const step = 1e-6;
        let worst = 0;
        for (let i = 0; i < x.length; i++) {
          const keep = x[i];
          x[i] = keep + step;
          const up = model.lossAndGradients(params, recon, attn).total;
          x[i] = keep - step;
          const down = model.lossAndGradients(params, recon, attn).total;
          x[i] = keep;
          const fd = (up - down) / (2 * step);
          worst = Math.max(worst, Math.abs(fd - grads[name][i]) / Math.max(1, Math.abs(fd)));
        }
        expect(worst).toBeLessThan(1e-7);
      }
    });
  }
});

describe("WebAssembly passes against the TypeScript reference", () => {
  it("give the same losses and gradients on a realistic batch (many-pairs shapes)", async () => {
    const { MANY_PAIRS } = await import("../../src/toy/config");
    const cfg = { ...MANY_PAIRS, attentionBatch: 64, reconBatch: 64, anisotropy: 0.5 };
    const rng = createRng(99);
    const params = initParams(cfg, rng);
    const e = drawSharedDirection(cfg.dModel, rng);
    const recon = new TokenBuffer(64, 64 * 30);
    const attn = new TokenBuffer(64 * 9, 64 * 9 * 30);
    sampleReconBatch(recon, cfg, 64, rng);
    sampleAttentionBatch(attn, cfg, 64, rng);
    const gTs = zeroParams(cfg);
    const gWasm = zeroParams(cfg);
    const lTs = new ToyModel(cfg, e).lossAndGradients(params, recon, attn, gTs);
    const lWasm = new ToyModel(cfg, e, loadKernels("release")).lossAndGradients(params, recon, attn, gWasm);
    expect(lWasm.recon).toBeCloseTo(lTs.recon, 12);
    expect(lWasm.ce).toBeCloseTo(lTs.ce, 12);
    for (const name of PARAM_NAMES) {
      const scale = Math.max(...gTs[name].map(Math.abs));
      const diff = Math.max(...gTs[name].map((x, i) => Math.abs(x - gWasm[name][i])));
      expect(diff / scale).toBeLessThan(1e-12);
    }
  });
});
