/**
 * @module kernels/forward
 * The WebAssembly boundary of the forward pass (assembly/forward/): runs one transformer block on
 * shares ("chunks") of a batch of prompts stacked without padding, weights as the checkpoint stores
 * them (the kernels pack them, once per call). Each call follows the boundary's one sequence: reset,
 * allocate everything, create views, copy in, call the kernels, copy out, reset; the chunks are
 * copied in and out one after another inside it, so several threads can take chunks from one queue.
 * A block's packed weights and one chunk's rows and activations are all that is in WebAssembly
 * memory at once: the weights come in through a staging area of at most STAGE_VALUES floats, slab by
 * slab, so a 70B model's block (3.4 GB packed) fits in WebAssembly's 4 GiB.
 */
import { ShapeMismatch } from "../errors";
import { instantiate, type KernelInstance } from "./instance";

export type Activation = "gelu_new" | "gelu" | "silu" | "relu";
const ACTIVATION_CODES: Record<Activation, number> = { gelu_new: 0, gelu: 1, silu: 2, relu: 3 };

/** How a weight matrix is stored: "in_out" is W [k, m] row-major (GPT-2's Conv1D), "out_in" is Wᵀ [m, k] (nn.Linear). */
export type WeightLayout = "in_out" | "out_in";
const LAYOUT_CODES: Record<WeightLayout, number> = { in_out: 0, out_in: 1 };

/** Floats of a weight matrix staged at once while packing (4 MiB), unless one slab needs more. */
export const STAGE_VALUES = 1 << 20;
/** The most a WebAssembly (32-bit) memory can hold: 65,536 pages of 64 KiB. */
export const WASM_MEMORY_LIMIT = 2 ** 32;

/**
 * Rows of one packing slab: rows of W [k, m] for "in_out"; rows of Wᵀ [m, k] (W's columns) for
 * "out_in", a multiple of 8 (packLinearRowsF32 writes whole panels). At least one row or 8.
 */
function slabRows(k: number, m: number, layout: WeightLayout, stageValues: number): number {
  if (layout === "in_out") return Math.min(k, Math.max(1, Math.floor(stageValues / m)));
  return Math.min(m, Math.max(8, Math.floor(stageValues / k / 8) * 8));
}

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

/** A share of the prompts a block runs on: consecutive rows of the stacked residual stream. */
export interface BlockChunk {
  /** the share's residual rows [n, d_model], prompts stacked; updated in place when a block runs */
  resid: Float32Array;
  /** prompt b owns rows offsets[b] … offsets[b+1] − 1; positions count from 0 in each prompt */
  offsets: Int32Array;
  /** receives the share's attention input [n, d_model] */
  captured: Float32Array;
  /** called once the share's rows are written */
  done?(): void;
}

export interface BlockInput {
  shape: BlockShape;
  /** the block to run after capturing its attention input; absent: capture only */
  block?: BlockWeights;
  /** GPT-Neo local attention: keys within this many positions (d − s < window); 0 or absent: global */
  window?: number;
  /** the most rows, prompts and tokens of one prompt in any chunk `next` returns (sizes the workspace) */
  capacity: { rows: number; prompts: number; promptTokens: number };
  /** the next share to run, until undefined: called between shares, so several runners can share a queue */
  next(): BlockChunk | undefined;
  /** called once the block's weights are copied in, before the first chunk: the caller may reuse their arrays */
  packed?(): void;
}

export interface ForwardKernels {
  readonly name: string;
  readonly simd: boolean;
  /**
   * For every chunk `next` returns: writes its attention input (ln1.hook_normalized: the normalised
   * residual without γ, β) and, when `block` is given, runs the block on it, updating its rows in
   * place. The block's weights are copied in and packed once for all the chunks.
   * @returns the number of chunks run
   */
  runBlock(input: BlockInput): number;
  /**
   * An upper bound of the WebAssembly memory (bytes) runBlock needs for blocks of this shape with an
   * MLP of width `ff` (each half's, when gated) and chunks up to `capacity`.
   */
  memoryBytes(shape: BlockShape, ff: number, capacity: BlockInput["capacity"]): number;
}

/** [k, m] of the block's four matrices (qkv, out, up, down) for an MLP of width ff. */
export function linearDims(shape: BlockShape, ff: number): Array<[number, number]> {
  const { dModel: d, nHeads: nH, nKvHeads: nKv, dHead: dh } = shape;
  return [[d, (nH + 2 * nKv) * dh], [nH * dh, d], [d, shape.gated ? 2 * ff : ff], [ff, d]];
}

/** A chunk's number of rows, after checking it against its offsets and the workspace's capacity. */
function checkChunk({ resid, offsets, captured }: BlockChunk, d: number, capacity: BlockInput["capacity"]): number {
  const rows = resid.length / d;
  const nb = offsets.length - 1;
  if (!Number.isInteger(rows) || offsets[0] !== 0 || offsets[nb] !== rows || captured.length !== resid.length) {
    throw new ShapeMismatch(`residual of ${resid.length} values does not hold the ${offsets[nb]} tokens of width ${d} the offsets describe`);
  }
  let tMax = 0;
  for (let b = 0; b < nb; b++) tMax = Math.max(tMax, offsets[b + 1] - offsets[b]);
  if (rows > capacity.rows || nb > capacity.prompts || tMax > capacity.promptTokens) {
    throw new ShapeMismatch(
      `chunk of ${rows} rows, ${nb} prompts of up to ${tMax} tokens exceeds the capacity ${capacity.rows}, ${capacity.prompts}, ${capacity.promptTokens}`,
    );
  }
  return rows;
}

/** The forward pass's kernels on their own instance (the CLI's forward pass; never the worker). */
export function createForwardKernels(module: WebAssembly.Module, name = "wasm"): ForwardKernels {
  return forwardKernels(instantiate(module), name);
}

/**
 * runBlock over one instance.
 * @param stageValues - floats staged at once while packing (tests make it small to run many slabs)
 */
export function forwardKernels(k: KernelInstance, name = "wasm", stageValues = STAGE_VALUES): ForwardKernels {
  const ex = k.exports;
  const alloc = (bytes: number): number => k.alloc(Math.max(16, bytes));
  const heapBase = k.call(() => alloc(16)); // the arena's first byte: static data lies below
  const stageOf = (dims: Array<[number, number, WeightLayout]>) =>
    Math.max(0, ...dims.map(([kk, m, layout]) => slabRows(kk, m, layout, stageValues) * (layout === "in_out" ? m : kk)));
  return {
    name,
    simd: k.simd,
    memoryBytes(shape, ff, capacity) {
      const a16 = (bytes: number) => Math.ceil(Math.max(16, bytes) / 16) * 16;
      const n = capacity.rows, d = shape.dModel;
      const dims = linearDims(shape, ff);
      const [[, wq], [attn], [, up]] = dims;
      // runBlock's allocations, in its order, each bias, norm vector and the parallel residual's
      // second input counted as present, and staging at the larger of the two layouts'
      const staged = Math.max(stageOf(dims.map(([kk, m]) => [kk, m, "in_out"])), stageOf(dims.map(([kk, m]) => [kk, m, "out_in"])));
      return heapBase + 2 * a16(4 * n * d) + a16(4 * (capacity.prompts + 1)) + 4 * a16(4 * d) +
        // linearPanelBytes in doubles: a 405B model's matrices overflow its i32
        dims.reduce((sum, [kk, m]) => sum + a16(Math.ceil(m / 8) * 32 * kk) + a16(4 * m), 0) + a16(4 * staged) +
        2 * a16(4 * n * d) + a16(4 * n * wq) + a16(4 * n * attn) + a16(4 * n * up) +
        a16(8 * Math.max(ex.attentionWorkspace(capacity.promptTokens, shape.dHead), ex.rotaryWorkspace(shape.rotary?.dim ?? 0))) +
        a16(Math.max(...dims.map(([kk]) => ex.linearPackedWorkspace(kk))));
    },
    runBlock({ shape, block, window = 0, capacity, next, packed: onPacked }: BlockInput): number {
      const d = shape.dModel;
      const { nHeads: nH, nKvHeads: nKv, dHead: dh } = shape;
      const rms = shape.norm === "rmsnorm" ? 1 : 0;
      const wq = (nH + 2 * nKv) * dh;
      const linears = block ? [block.qkv, block.out, block.up, block.down] : [];
      if (block) {
        const ff = block.down.k;
        if (linearDims(shape, ff).some(([kk, m], i) => linears[i].k !== kk || linears[i].m !== m)) {
          throw new ShapeMismatch(`block weights do not match d_model ${d}, ${nH}/${nKv} heads of ${dh}, ff ${ff}`);
        }
      }
      return k.call(() => {
        const f32 = (count: number) => alloc(4 * count);
        const n = capacity.rows;
        // one chunk's rows
        const pResid = f32(n * d);
        const pZ = f32(n * d);
        const pOffsets = alloc(4 * (capacity.prompts + 1));
        // the block: norms, biases, each W packed into panels once (slab by slab through one staging area)
        const vec = (v: Float32Array | undefined) => (v ? f32(v.length) : 0);
        const pLn1w = vec(block?.ln1.weight), pLn1b = vec(block?.ln1.bias);
        const pLn2w = vec(block?.ln2.weight), pLn2b = vec(block?.ln2.bias);
        const packed = linears.map((l) => ({ l, w: alloc(ex.linearPanelBytes(l.k, l.m)), b: vec(l.bias) }));
        const pStage = block ? f32(stageOf(linears.map((l) => [l.k, l.m, l.layout]))) : 0;
        const up = block?.up.m ?? 0;
        const pX = block ? f32(n * d) : 0; // the block's input after γ, β
        const pX2 = block && shape.parallelResidual ? f32(n * d) : pX;
        const pQ = block ? f32(n * wq) : 0;
        const pAttn = block ? f32(n * nH * dh) : 0;
        const pH = block ? f32(n * up) : 0;
        const rot = shape.rotary?.dim ?? 0;
        const pWork = block ? alloc(8 * Math.max(ex.attentionWorkspace(capacity.promptTokens, dh), ex.rotaryWorkspace(rot))) : 0;
        const pXWork = block ? alloc(Math.max(...linears.map((l) => ex.linearPackedWorkspace(l.k)))) : 0;

        const mem = ex.memory.buffer;
        const put = (p: number, v: Float32Array | undefined) => v && new Float32Array(mem, p, v.length).set(v);
        put(pLn1w, block?.ln1.weight); put(pLn1b, block?.ln1.bias);
        put(pLn2w, block?.ln2.weight); put(pLn2b, block?.ln2.bias);
        for (const { l, w, b } of packed) {
          const rows = slabRows(l.k, l.m, l.layout, stageValues);
          const [total, width] = l.layout === "in_out" ? [l.k, l.m] : [l.m, l.k];
          for (let from = 0; from < total; from += rows) {
            const count = Math.min(rows, total - from);
            put(pStage, l.weights.subarray(from * width, (from + count) * width));
            ex.packLinearRowsF32(l.k, l.m, pStage, LAYOUT_CODES[l.layout], w, from, count);
          }
          put(b, l.bias);
        }
        onPacked?.();
        const [qkv, out, upW, down] = packed;
        const linear = (rows: number, p: (typeof packed)[number], x: number, ldx: number, y: number, ldy: number, accumulate: number) =>
          ex.linearPackedF32(rows, p.l.k, p.l.m, x, ldx, p.w, p.b, y, ldy, accumulate, pXWork);

        let chunks = 0;
        for (let c = next(); c; c = next(), chunks++) {
          const { resid, offsets, captured } = c;
          const rows = checkChunk(c, d, capacity);
          const nb = offsets.length - 1;
          put(pResid, resid);
          new Int32Array(mem, pOffsets, nb + 1).set(offsets);

          // attention input (captured), then the block
          ex.normRowsF32(rows, d, pResid, d, pZ, d, shape.eps, rms);
          captured.set(new Float32Array(mem, pZ, rows * d));
          if (block) {
            ex.affineRowsF32(rows, d, pZ, d, pLn1w, pLn1b, pX, d);
            if (shape.parallelResidual) {
              ex.normRowsF32(rows, d, pResid, d, pX2, d, shape.eps, rms);
              ex.affineRowsF32(rows, d, pX2, d, pLn2w, pLn2b, pX2, d);
            }
            linear(rows, qkv, pX, d, pQ, wq, 0);
            if (rot > 0) ex.rotaryF32(nb, pOffsets, pQ, wq, nH, nKv, dh, rot, shape.rotary!.base, shape.rotary!.positionScale, pWork);
            ex.attentionF32(nb, pOffsets, pQ, wq, nH, nKv, dh, shape.scale, window, pAttn, nH * dh, pWork);
            linear(rows, out, pAttn, nH * dh, pResid, d, 1);
            if (!shape.parallelResidual) {
              ex.normRowsF32(rows, d, pResid, d, pX2, d, shape.eps, rms);
              ex.affineRowsF32(rows, d, pX2, d, pLn2w, pLn2b, pX2, d);
            }
            const act = ACTIVATION_CODES[shape.activation];
            linear(rows, upW, pX2, d, pH, up, 0);
            if (shape.gated) ex.gluF32(rows, up / 2, pH, up, act);
            else ex.activateF32(rows, up, pH, up, act);
            linear(rows, down, pH, up, pResid, d, 1);
            resid.set(new Float32Array(mem, pResid, rows * d));
          }
          c.done?.();
        }
        return chunks;
      });
    },
  };
}
