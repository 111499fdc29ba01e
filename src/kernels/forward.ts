/**
 * @module kernels/forward
 * The WebAssembly boundary of the forward pass (assembly/forward/): runs one transformer block on a
 * batch of prompts stacked without padding, weights as the checkpoint stores them (the matmul packs
 * them itself). Each call follows the boundary's one sequence: reset, allocate everything,
 * create views, copy in, call the kernels, copy out, reset. A block's weights, the residual stream of
 * its tokens and the block's activations are all that is in WebAssembly memory at once.
 */
import { ShapeMismatch } from "../errors";
import { instantiate, type KernelInstance } from "./instance";

export type Activation = "gelu_new" | "gelu" | "silu" | "relu";
const ACTIVATION_CODES: Record<Activation, number> = { gelu_new: 0, gelu: 1, silu: 2, relu: 3 };

/** How a weight matrix is stored: "in_out" is W [k, m] row-major (GPT-2's Conv1D), "out_in" is Wᵀ [m, k] (nn.Linear). */
export type WeightLayout = "in_out" | "out_in";
const LAYOUT_CODES: Record<WeightLayout, number> = { in_out: 0, out_in: 1 };

/**
 * A weight matrix W [k, m] (y = x·W + b) as the checkpoint stores it; the kernel packs it itself
 * (assembly/forward/linear.ts), so the host only reads it.
 */
export interface LinearWeights {
  k: number;
  m: number;
  layout: WeightLayout;
  /** k·m values in `layout` */
  weights: Float32Array;
  bias?: Float32Array;
}

/** Checks a matrix's size and its bias against k, m. */
export function linearWeights(k: number, m: number, layout: WeightLayout, weights: Float32Array, bias?: ArrayLike<number>): LinearWeights {
  if (weights.length !== k * m) throw new ShapeMismatch(`weight has ${weights.length} entries, expected ${k} × ${m}`);
  if (bias && bias.length !== m) throw new ShapeMismatch(`bias has ${bias.length} entries, expected ${m}`);
  return { k, m, layout, weights, bias: bias ? Float32Array.from(bias) : undefined };
}

/** A norm's parameters: γ, and β for LayerNorm. */
export interface NormParams {
  weight: Float32Array;
  bias?: Float32Array;
}

/** One transformer block, everything the kernels need. */
export interface BlockWeights {
  ln1: NormParams;
  /** x·W_qkv → [Q heads | K heads | V heads], [d_model, (n_heads + 2·n_kv)·d_head] */
  qkv: LinearWeights;
  /** [n_heads·d_head, d_model] */
  out: LinearWeights;
  ln2: NormParams;
  /** [d_model, ff], or [d_model, 2·ff] = [gate | up] when gated */
  up: LinearWeights;
  /** [ff, d_model] */
  down: LinearWeights;
}

/** What is fixed for the whole model. */
export interface BlockShape {
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  dHead: number;
  norm: "layernorm" | "rmsnorm";
  eps: number;
  /** softmax scale of q·k */
  scale: number;
  activation: Activation;
  /** SwiGLU: up holds [gate | up] */
  gated: boolean;
  /** GPT-NeoX's use_parallel_residual: r + attn(ln1 r) + mlp(ln2 r) */
  parallelResidual: boolean;
  rotary?: { dim: number; base: number; positionScale: number };
}

export interface BlockInput {
  shape: BlockShape;
  /** residual stream of every token, [N, d_model], prompts stacked; updated in place when a block runs */
  resid: Float32Array;
  /** prompt b owns rows offsets[b] … offsets[b+1] − 1; positions count from 0 in each prompt */
  offsets: Int32Array;
  /** the block to run after capturing its attention input; absent: capture only */
  block?: BlockWeights;
  /** GPT-Neo local attention: keys within this many positions (d − s < window); 0 or absent: global */
  window?: number;
}

export interface ForwardKernels {
  readonly name: string;
  readonly simd: boolean;
  /**
   * Writes the block's attention input (ln1.hook_normalized: the normalised residual without γ, β)
   * and, when `block` is given, runs the block, updating `resid` in place.
   * @returns the normalised residual [N, d_model]
   */
  runBlock(input: BlockInput): Float32Array;
}

/** The forward pass's kernels on their own instance (the CLI's forward pass; never the worker). */
export function createForwardKernels(module: WebAssembly.Module, name = "wasm"): ForwardKernels {
  return forwardKernels(instantiate(module), name);
}

/** runBlock over one instance. */
export function forwardKernels(k: KernelInstance, name = "wasm"): ForwardKernels {
  const ex = k.exports;
  const alloc = (bytes: number): number => k.alloc(Math.max(16, bytes));
  const layout = (l: LinearWeights): number => LAYOUT_CODES[l.layout];
  return {
    name,
    simd: k.simd,
    runBlock({ shape, resid, offsets, block, window = 0 }: BlockInput): Float32Array {
      const d = shape.dModel;
      const n = resid.length / d;
      const nb = offsets.length - 1;
      if (!Number.isInteger(n) || offsets[0] !== 0 || offsets[nb] !== n) {
        throw new ShapeMismatch(`residual of ${resid.length} values does not hold the ${offsets[nb]} tokens of width ${d} the offsets describe`);
      }
      const rms = shape.norm === "rmsnorm" ? 1 : 0;
      return k.call(() => {
        const f32 = (count: number) => alloc(4 * count);
        const pResid = f32(n * d);
        const pZ = f32(n * d);
        const pOffsets = alloc(4 * (nb + 1));
        if (!block) {
          const mem = ex.memory.buffer;
          new Float32Array(mem, pResid, n * d).set(resid);
          new Int32Array(mem, pOffsets, nb + 1).set(offsets);
          ex.normRowsF32(n, d, pResid, d, pZ, d, shape.eps, rms);
          return new Float32Array(ex.memory.buffer, pZ, n * d).slice();
        }
        const { nHeads: nH, nKvHeads: nKv, dHead: dh } = shape;
        const wq = (nH + 2 * nKv) * dh;
        const ff = shape.gated ? block.up.m / 2 : block.up.m;
        if (block.qkv.k !== d || block.qkv.m !== wq || block.out.k !== nH * dh || block.out.m !== d || block.up.k !== d ||
          block.down.k !== ff || block.down.m !== d) {
          throw new ShapeMismatch(`block weights do not match d_model ${d}, ${nH}/${nKv} heads of ${dh}, ff ${ff}`);
        }
        let tMax = 0;
        for (let b = 0; b < nb; b++) tMax = Math.max(tMax, offsets[b + 1] - offsets[b]);
        const vec = (v: Float32Array | undefined) => (v ? f32(v.length) : 0);
        const pLn1w = vec(block.ln1.weight), pLn1b = vec(block.ln1.bias);
        const pLn2w = vec(block.ln2.weight), pLn2b = vec(block.ln2.bias);
        const lin = (l: LinearWeights) => ({ w: f32(l.weights.length), b: vec(l.bias) });
        const pQkv = lin(block.qkv), pOut = lin(block.out), pUp = lin(block.up), pDown = lin(block.down);
        const pX = f32(n * d); // the block's input after γ, β
        const pX2 = shape.parallelResidual ? f32(n * d) : pX;
        const pQ = f32(n * wq);
        const pAttn = f32(n * nH * dh);
        const pH = f32(n * block.up.m);
        const rot = shape.rotary?.dim ?? 0;
        const pWork = alloc(8 * Math.max(ex.attentionWorkspace(tMax, dh), ex.rotaryWorkspace(rot)));
        const pLinWork = alloc(Math.max(...[block.qkv, block.out, block.up, block.down].map((l) => ex.linearWorkspace(l.k, l.m))));

        const mem = ex.memory.buffer;
        const put = (p: number, v: Float32Array | undefined) => v && new Float32Array(mem, p, v.length).set(v);
        put(pResid, resid);
        new Int32Array(mem, pOffsets, nb + 1).set(offsets);
        put(pLn1w, block.ln1.weight); put(pLn1b, block.ln1.bias);
        put(pLn2w, block.ln2.weight); put(pLn2b, block.ln2.bias);
        for (const [p, l] of [[pQkv, block.qkv], [pOut, block.out], [pUp, block.up], [pDown, block.down]] as const) {
          put(p.w, l.weights); put(p.b, l.bias);
        }

        // attention input (captured), then the block
        ex.normRowsF32(n, d, pResid, d, pZ, d, shape.eps, rms);
        const captured = new Float32Array(mem, pZ, n * d).slice();
        ex.affineRowsF32(n, d, pZ, d, pLn1w, pLn1b, pX, d);
        if (shape.parallelResidual) {
          ex.normRowsF32(n, d, pResid, d, pX2, d, shape.eps, rms);
          ex.affineRowsF32(n, d, pX2, d, pLn2w, pLn2b, pX2, d);
        }
        ex.linearF32(n, d, wq, pX, d, pQkv.w, layout(block.qkv), pQkv.b, pQ, wq, 0, pLinWork);
        if (rot > 0) ex.rotaryF32(nb, pOffsets, pQ, wq, nH, nKv, dh, rot, shape.rotary!.base, shape.rotary!.positionScale, pWork);
        ex.attentionF32(nb, pOffsets, pQ, wq, nH, nKv, dh, shape.scale, window, pAttn, nH * dh, pWork);
        ex.linearF32(n, nH * dh, d, pAttn, nH * dh, pOut.w, layout(block.out), pOut.b, pResid, d, 1, pLinWork);
        if (!shape.parallelResidual) {
          ex.normRowsF32(n, d, pResid, d, pX2, d, shape.eps, rms);
          ex.affineRowsF32(n, d, pX2, d, pLn2w, pLn2b, pX2, d);
        }
        const act = ACTIVATION_CODES[shape.activation];
        ex.linearF32(n, d, block.up.m, pX2, d, pUp.w, layout(block.up), pUp.b, pH, block.up.m, 0, pLinWork);
        if (shape.gated) ex.gluF32(n, ff, pH, block.up.m, act);
        else ex.activateF32(n, ff, pH, ff, act);
        ex.linearF32(n, ff, d, pH, block.up.m, pDown.w, layout(block.down), pDown.b, pResid, d, 1, pLinWork);
        resid.set(new Float32Array(ex.memory.buffer, pResid, n * d));
        return captured;
      });
    },
  };
}
