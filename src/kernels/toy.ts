/**
 * @module kernels/toy
 * The toy model part of the WebAssembly boundary (assembly/toy/passes.ts). The toy trainer
 * (src/toy/model.ts) calls it once per step with the batch as compressed sparse rows and the per-step
 * feature-space products; see assembly/toy/passes.ts for the arithmetic.
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

export interface ToyPassInput {
  /** features N */
  n: number;
  /** keys per query m */
  m: number;
  beta: number;
  lambda: number;
  /** G = W_effᵀ W_eff [N, N] */
  gram: Float64Array;
  b: Float64Array;
  /** M = W_effᵀ Ω W_eff [N, N] */
  mOmega: Float64Array;
  recon: ToySparseTokens;
  attn: ToySparseTokens;
  template: { ptr: Int32Array; key: Int32Array; value: Float64Array };
}

/** Where the passes' gradients go (overwritten): dG [N, N], db [N], dM [N, N]. */
export interface ToyPassGradients {
  dGram: Float64Array;
  db: Float64Array;
  dM: Float64Array;
}

const check = (status: number, kernel: string) => {
  if (status !== st.STATUS_OK) invalidArgument(status, kernel);
};

/** toyPasses over one instance. */
export function toyKernels(k: KernelInstance) {
  const ex = k.exports;
  return {
    /** Both per-sample passes; returns the mean reconstruction loss and mean CE, gradients into `grads`. */
    toyPasses(input: ToyPassInput, grads?: ToyPassGradients): { recon: number; ce: number } {
      const { n, m, recon, attn, template } = input;
      const reconNnz = recon.ptr[recon.tokens];
      const attnNnz = attn.ptr[attn.tokens];
      const samples = attn.tokens / (m + 1);
      if (!Number.isInteger(samples)) throw new ShapeMismatch(`attention tokens ${attn.tokens} are not a multiple of m + 1 = ${m + 1}`);
      if (input.gram.length !== n * n || input.mOmega.length !== n * n || input.b.length !== n) {
        throw new ShapeMismatch(`expected G, M [${n}, ${n}] and b [${n}]; got ${input.gram.length}, ${input.mOmega.length}, ${input.b.length} entries`);
      }
      return k.call(() => {
        const pRPtr = k.alloc(4 * (recon.tokens + 1));
        const pRIdx = k.alloc(4 * Math.max(1, reconNnz));
        const pRVal = k.alloc(8 * Math.max(1, reconNnz));
        const pAPtr = k.alloc(4 * (attn.tokens + 1));
        const pAIdx = k.alloc(4 * Math.max(1, attnNnz));
        const pAVal = k.alloc(8 * Math.max(1, attnNnz));
        const pTPtr = k.alloc(4 * (n + 1));
        const pTKey = k.alloc(4 * Math.max(1, template.key.length));
        const pTVal = k.alloc(8 * Math.max(1, template.value.length));
        const pG = k.alloc(8 * n * n);
        const pB = k.alloc(8 * n);
        const pM = k.alloc(8 * n * n);
        const pdG = k.alloc(8 * n * n);
        const pdb = k.alloc(8 * n);
        const pdM = k.alloc(8 * n * n);
        const pWork = k.alloc(8 * (3 * n + 2 * m));
        const pOut = k.alloc(16);
        const buf = ex.memory.buffer;
        new Int32Array(buf, pRPtr, recon.tokens + 1).set(recon.ptr.subarray(0, recon.tokens + 1));
        new Int32Array(buf, pRIdx, reconNnz).set(recon.idx.subarray(0, reconNnz));
        new Float64Array(buf, pRVal, reconNnz).set(recon.val.subarray(0, reconNnz));
        new Int32Array(buf, pAPtr, attn.tokens + 1).set(attn.ptr.subarray(0, attn.tokens + 1));
        new Int32Array(buf, pAIdx, attnNnz).set(attn.idx.subarray(0, attnNnz));
        new Float64Array(buf, pAVal, attnNnz).set(attn.val.subarray(0, attnNnz));
        new Int32Array(buf, pTPtr, n + 1).set(template.ptr);
        new Int32Array(buf, pTKey, template.key.length).set(template.key);
        new Float64Array(buf, pTVal, template.value.length).set(template.value);
        new Float64Array(buf, pG, n * n).set(input.gram);
        new Float64Array(buf, pB, n).set(input.b);
        new Float64Array(buf, pM, n * n).set(input.mOmega);
        const backward = grads ? 1 : 0;
        const out = new Float64Array(buf, pOut, 2);
        check(ex.toyReconPass(n, recon.tokens, pRPtr, pRIdx, pRVal, pG, pB, pdG, pdb, backward, pWork, pOut), "toyReconPass");
        check(
          ex.toyAttentionPass(n, m, samples, pAPtr, pAIdx, pAVal, pM, pTPtr, pTKey, pTVal, input.beta, input.lambda, pdM, backward, pWork, pOut + 8),
          "toyAttentionPass",
        );
        if (grads) {
          grads.dGram.set(new Float64Array(buf, pdG, n * n));
          grads.db.set(new Float64Array(buf, pdb, n));
          grads.dM.set(new Float64Array(buf, pdM, n * n));
        }
        return { recon: out[0], ce: out[1] };
      });
    },
  };
}
