/**
 * @module kernels/instance
 * One instantiated kernels module and the one allocation rule every boundary part follows: `call`
 * resets the arena, runs the part's body (allocate everything, create views, copy in, call, copy out)
 * and resets again; `alloc` counts bytes and never returns 0. Workers forbid compiling bytes at run
 * time, so callers pass a compiled WebAssembly.Module (the worker imports one; Node compiles the file).
 */
import { KernelFault } from "../errors";

/** Every export of assembly/index.ts. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  reset(): void;
  alloc(bytes: number): number;
  simdEnabled(): number;
  svdJacobi(m: number, n: number, a: number, lda: number, s: number, v: number, ldv: number, work: number, diag: number): number;
  svdFactored(m: number, n: number, a: number, b: number, u: number, s: number, v: number, work: number, diag: number): number;
  svdFactoredWorkspace(m: number, n: number): number;
  transposeF64(rows: number, cols: number, src: number, dst: number): void;
  transposeF32ToF64(rows: number, cols: number, src: number, dst: number): void;
  widenHalfToF64(n: number, src: number, dst: number, bf16: number): void;
  foldFactor(
    d: number, h: number, w: number, transposed: number, gamma: number, beta: number, bias: number, centre: number, augment: number,
    out: number, scratch: number, info: number,
  ): void;
  sadWorkspace(t: number, r: number, m: number, nrot: number): number;
  sadRun(
    nb: number, b0: number, t: number, m: number, r: number, x: number, u: number, s: number, v: number, nrot: number,
    q: number, scale: number, tau: number, flags: number, work: number, cap: number, counts: number, pairs: number,
    nrec: number, rt: number, score: number, relTotal: number, usage: number, selected: number, nullHist: number,
    nullRt: number, lens: number, focus: number, nf: number,
  ): number;
  sadPairTerms(
    t: number, m: number, r: number, x: number, u: number, s: number, v: number, q: number, d: number, src: number,
    terms: number, rel: number, work: number,
  ): number;
  sadNRecon(t: number, r: number, total: number, tau: number, work: number): number;
  toyStepWorkspace(n: number, d: number, h: number, m: number): number;
  toyStep(
    n: number, d: number, h: number, m: number, reconTokens: number, rPtr: number, rIdx: number, rVal: number,
    samples: number, aPtr: number, aIdx: number, aVal: number, tplPtr: number, tplKey: number, tplVal: number,
    beta: number, lambda: number, c: number, e: number, w: number, b: number, wQ: number, wK: number,
    dW: number, db: number, dWQ: number, dWK: number, backward: number, work: number, out: number,
  ): number;
  linearWorkspace(k: number, m: number): number;
  linearF32(
    n: number, k: number, m: number, x: number, ldx: number, w: number, layout: number, bias: number, y: number, ldy: number,
    accumulate: number, work: number,
  ): void;
  linearPanelBytes(k: number, m: number): number;
  packLinearF32(k: number, m: number, w: number, layout: number, out: number): void;
  packLinearRowsF32(k: number, m: number, w: number, layout: number, out: number, from: number, count: number): void;
  linearPackedWorkspace(k: number): number;
  linearPackedF32(
    n: number, k: number, m: number, x: number, ldx: number, wp: number, bias: number, y: number, ldy: number, accumulate: number,
    xwork: number,
  ): void;
  normRowsF32(n: number, d: number, x: number, ldx: number, z: number, ldz: number, eps: number, rms: number): void;
  affineRowsF32(n: number, d: number, z: number, ldz: number, gamma: number, beta: number, out: number, ldo: number): void;
  activateF32(n: number, m: number, h: number, ldh: number, kind: number): void;
  gluF32(n: number, f: number, h: number, ldh: number, kind: number): void;
  attentionWorkspace(tMax: number, dh: number): number;
  attentionF32(
    nb: number, offsets: number, qkv: number, ld: number, nH: number, nKv: number, dh: number, scale: number, window: number,
    z: number, ldz: number, work: number,
  ): void;
  rotaryWorkspace(rot: number): number;
  rotaryF32(
    nb: number, offsets: number, qkv: number, ld: number, nH: number, nKv: number, dh: number, rot: number, base: number,
    posScale: number, work: number,
  ): void;
  readoutWorkspace(d: number, m: number): number;
  readoutChunk(
    n: number, d: number, m: number, rows: number, half: number, row0: number, wp: number, seen: number, k: number,
    top: number, topId: number, bottom: number, bottomId: number, work: number,
  ): number;
}

export interface KernelInstance {
  readonly exports: KernelExports;
  readonly simd: boolean;
  /** Allocates `bytes` bytes (16-byte aligned) in the current call; throws KernelFault when memory cannot grow. */
  alloc(bytes: number): number;
  /** Runs `body` between two arena resets (views must be created after the body's last `alloc`). */
  call<T>(body: () => T): T;
}

/** Instantiates a compiled kernels module. */
export function instantiate(module: WebAssembly.Module): KernelInstance {
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort(_msg: number, _file: number, line: number, column: number): never {
        throw new KernelFault(`WebAssembly abort at ${line}:${column}`);
      },
    },
  });
  const ex = instance.exports as unknown as KernelExports;
  return {
    exports: ex,
    simd: ex.simdEnabled() === 1,
    alloc(bytes: number): number {
      const ptr = ex.alloc(bytes) >>> 0; // a usize: pointers past 2 GiB come back as negative i32
      if (ptr === 0) throw new KernelFault(`WebAssembly memory could not grow to ${bytes} more bytes`);
      return ptr;
    },
    call<T>(body: () => T): T {
      ex.reset();
      try {
        return body();
      } finally {
        ex.reset();
      }
    },
  };
}

/** Throws KernelFault for any status but STATUS_OK (the statuses a kernel can only return on a bug). */
export function invalidArgument(status: number, kernel: string): never {
  throw new KernelFault(`${kernel}: invalid argument ${-status} (status ${status})`);
}
