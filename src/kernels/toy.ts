/**
 * @module kernels/toy
 * The toy model part of the WebAssembly boundary (assembly/toy/step.ts): one call per training step
 * with the parameters and the batch (compressed sparse rows) in, the losses and gradients out; see
 * assembly/toy/step.ts for the arithmetic and src/toy/model.ts for the TypeScript reference it is
 * tested against.
 */
import { ShapeMismatch } from "../errors";
import { invalidArgument, type KernelInstance } from "./instance";
import * as st from "./status";

/** Tokens as compressed sparse rows (the shape src/toy/sampling.ts produces). */
export interface ToySparseTokens {
  tokens: number;
  ptr: Int32Array;
  idx: Int32Array;
  val: Float64Array;
}

export interface ToyStepInput {
  /** features N, width D, head H, keys per query m */
  n: number;
  d: number;
  h: number;
  m: number;
  beta: number;
  lambda: number;
  /** anisotropy c and the unit direction e [D] (tokens read W + c e 1ᵀ) */
  c: number;
  e: Float64Array;
  /** parameters, row-major: w [D, N], b [N], wQ, wK [D, H] */
  w: Float64Array;
  b: Float64Array;
  wQ: Float64Array;
  wK: Float64Array;
  recon: ToySparseTokens;
  attn: ToySparseTokens;
  template: { ptr: Int32Array; key: Int32Array; value: Float64Array };
}

/** Where the gradients go (overwritten), shaped like the parameters. */
export interface ToyStepGradients {
  w: Float64Array;
  b: Float64Array;
  wQ: Float64Array;
  wK: Float64Array;
}

const check = (status: number, kernel: string) => {
  if (status !== st.STATUS_OK) invalidArgument(status, kernel);
};

/** toyStep over one instance. */
export function toyKernels(k: KernelInstance) {
  const ex = k.exports;
  return {
    /** Loss of one step and, with `grads`, its gradient; returns the mean reconstruction loss and mean CE. */
    toyStep(input: ToyStepInput, grads?: ToyStepGradients): { recon: number; ce: number } {
      const { n, d, h, m, recon, attn, template } = input;
      const reconNnz = recon.ptr[recon.tokens];
      const attnNnz = attn.ptr[attn.tokens];
      const samples = attn.tokens / (m + 1);
      if (!Number.isInteger(samples)) throw new ShapeMismatch(`attention tokens ${attn.tokens} are not a multiple of m + 1 = ${m + 1}`);
      if (input.w.length !== d * n || input.b.length !== n || input.wQ.length !== d * h || input.wK.length !== d * h || input.e.length !== d) {
        throw new ShapeMismatch(`expected W [${d}, ${n}], b [${n}], W_Q, W_K [${d}, ${h}], e [${d}]`);
      }
      return k.call(() => {
        const i32 = (a: Int32Array, len: number) => {
          const p = k.alloc(4 * Math.max(1, len));
          return { p, set: () => new Int32Array(ex.memory.buffer, p, len).set(a.subarray(0, len)) };
        };
        const f64 = (a: Float64Array, len = a.length) => {
          const p = k.alloc(8 * Math.max(1, len));
          return { p, set: () => new Float64Array(ex.memory.buffer, p, len).set(a.subarray(0, len)) };
        };
        const inputs = [
          i32(recon.ptr, recon.tokens + 1), i32(recon.idx, reconNnz), f64(recon.val, reconNnz),
          i32(attn.ptr, attn.tokens + 1), i32(attn.idx, attnNnz), f64(attn.val, attnNnz),
          i32(template.ptr, n + 1), i32(template.key, template.key.length), f64(template.value),
          f64(input.e), f64(input.w), f64(input.b), f64(input.wQ), f64(input.wK),
        ];
        const [pRPtr, pRIdx, pRVal, pAPtr, pAIdx, pAVal, pTPtr, pTKey, pTVal, pE, pW, pB, pWQ, pWK] = inputs.map((x) => x.p);
        const pdW = k.alloc(8 * d * n);
        const pdb = k.alloc(8 * n);
        const pdWQ = k.alloc(8 * d * h);
        const pdWK = k.alloc(8 * d * h);
        const pWork = k.alloc(8 * ex.toyStepWorkspace(n, d, h, m));
        const pOut = k.alloc(16);
        for (const x of inputs) x.set(); // views after the last alloc: memory may have grown
        check(
          ex.toyStep(
            n, d, h, m, recon.tokens, pRPtr, pRIdx, pRVal, samples, pAPtr, pAIdx, pAVal, pTPtr, pTKey, pTVal,
            input.beta, input.lambda, input.c, pE, pW, pB, pWQ, pWK, pdW, pdb, pdWQ, pdWK, grads ? 1 : 0, pWork, pOut,
          ),
          "toyStep",
        );
        const buf = ex.memory.buffer;
        if (grads) {
          grads.w.set(new Float64Array(buf, pdW, d * n));
          grads.b.set(new Float64Array(buf, pdb, n));
          grads.wQ.set(new Float64Array(buf, pdWQ, d * h));
          grads.wK.set(new Float64Array(buf, pdWK, d * h));
        }
        const out = new Float64Array(buf, pOut, 2);
        return { recon: out[0], ce: out[1] };
      });
    },
  };
}
