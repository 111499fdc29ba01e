/**
 * @module gemm
 * The level-3 shapes the factored SVD needs, register-blocked for f64x2: C ← C − A·B (dgemm,
 * TRANSA = TRANSB = 'N'), C = Aᵀ·B (TRANSA = 'T') and the Gram matrix G = AᵀA (dsyrk, upper triangle). Everything is
 * column-major with explicit leading dimensions. Edge rows and columns that do not fill a register
 * block fall back to the level-1 kernels, so any shape works; only the block interiors are fast.
 *
 * Why blocking pays here: WebAssembly has no FMA, so a multiply-add is two instructions, and the
 * level-1 loops (dot2/axpy2) spend about as many loads as arithmetic ops. A 4×4 block of C held in
 * eight f64x2 registers needs 2 loads of A and 4 splat loads of B for 16 arithmetic ops, which is
 * what lets the SIMD build approach the machine's add/multiply throughput. Eight accumulators plus six
 * operands fit in the 16 vector registers V8 has on x64.
 * see: Goto & van de Geijn, "Anatomy of high-performance matrix multiplication", ACM TOMS 34(3), 2008
 * (the register-block idea only; the matrices here are small enough to need no packing).
 */
import { dot } from "./dot";
import { axpy } from "./axpy";

/**
 * C[0:4, 0:4] −= A[0:4, 0:p]·B[0:p, 0:4], the block held in eight f64x2 accumulators.
 * @param ap - &A[i, 0]; b0 - &B[0, j]; cp - &C[i, j]; col* - column strides in bytes
 */
// @ts-ignore: decorator
@inline
function block4x4(p: i32, ap: usize, colA: usize, b0: usize, colB: usize, cp: usize, colC: usize): void {
  const b1 = b0 + colB;
  const b2 = b1 + colB;
  const b3 = b2 + colB;
  let c00 = f64x2.splat(0), c10 = f64x2.splat(0);
  let c01 = f64x2.splat(0), c11 = f64x2.splat(0);
  let c02 = f64x2.splat(0), c12 = f64x2.splat(0);
  let c03 = f64x2.splat(0), c13 = f64x2.splat(0);
  for (let l = 0; l < p; l++) {
    const a0 = v128.load(ap);
    const a1 = v128.load(ap, 16);
    const o = <usize>l << 3;
    let bv = v128.load64_splat(b0 + o);
    c00 = f64x2.add(c00, f64x2.mul(a0, bv));
    c10 = f64x2.add(c10, f64x2.mul(a1, bv));
    bv = v128.load64_splat(b1 + o);
    c01 = f64x2.add(c01, f64x2.mul(a0, bv));
    c11 = f64x2.add(c11, f64x2.mul(a1, bv));
    bv = v128.load64_splat(b2 + o);
    c02 = f64x2.add(c02, f64x2.mul(a0, bv));
    c12 = f64x2.add(c12, f64x2.mul(a1, bv));
    bv = v128.load64_splat(b3 + o);
    c03 = f64x2.add(c03, f64x2.mul(a0, bv));
    c13 = f64x2.add(c13, f64x2.mul(a1, bv));
    ap += colA;
  }
  v128.store(cp, f64x2.sub(v128.load(cp), c00));
  v128.store(cp, f64x2.sub(v128.load(cp, 16), c10), 16);
  const cq = cp + colC;
  v128.store(cq, f64x2.sub(v128.load(cq), c01));
  v128.store(cq, f64x2.sub(v128.load(cq, 16), c11), 16);
  const cr = cq + colC;
  v128.store(cr, f64x2.sub(v128.load(cr), c02));
  v128.store(cr, f64x2.sub(v128.load(cr, 16), c12), 16);
  const cs = cr + colC;
  v128.store(cs, f64x2.sub(v128.load(cs), c03));
  v128.store(cs, f64x2.sub(v128.load(cs, 16), c13), 16);
}

/**
 * C ← C − A·B.
 * @param m - rows of A and C
 * @param n - columns of B and C
 * @param p - columns of A, rows of B
 * @param a - [m, p] column-major, leading dimension lda
 * @param b - [p, n] column-major, leading dimension ldb
 * @param c - [m, n] column-major, leading dimension ldc; must not overlap a or b
 */
export function gemmSub(m: i32, n: i32, p: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  const colA = <usize>lda << 3;
  const colB = <usize>ldb << 3;
  const colC = <usize>ldc << 3;
  let j4 = 0; // columns [0, j4) are done by the blocked loop
  if (ASC_FEATURE_SIMD) {
    const m4 = m & ~3;
    j4 = n & ~3;
    // row blocks outermost: the 4×p sliver of A (p cache lines) stays in L1 while it meets every
    // column block of B; columns outermost streamed all of A from L2 once per column block
    for (let i = 0; i < m4; i += 4) {
      const ap = a + (<usize>i << 3);
      const cp = c + (<usize>i << 3);
      for (let j = 0; j < j4; j += 4) block4x4(p, ap, colA, b + <usize>j * colB, colB, cp + <usize>j * colC, colC);
    }
    // leftover rows m4..m−1 of the blocked columns
    for (let j = 0; j < j4; j++) {
      const bj = b + <usize>j * colB;
      const cj = c + <usize>j * colC;
      for (let i = m4; i < m; i++) {
        let acc: f64 = 0;
        for (let l = 0; l < p; l++) acc += load<f64>(a + <usize>l * colA + (<usize>i << 3)) * load<f64>(bj + (<usize>l << 3));
        store<f64>(cj + (<usize>i << 3), load<f64>(cj + (<usize>i << 3)) - acc);
      }
    }
  }
  // remaining columns (all of them in the scalar build): c_j −= Σ_l b_lj · a_l
  for (let j = j4; j < n; j++) {
    const bj = b + <usize>j * colB;
    const cj = c + <usize>j * colC;
    for (let l = 0; l < p; l++) axpy(m, -load<f64>(bj + (<usize>l << 3)), a + <usize>l * colA, cj);
  }
}

/** Sum of the two lanes. */
// @ts-ignore: decorator
@inline
function hsum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/**
 * The 2×4 block of inner products a_{p0}, a_{p1} against b_{q0..q0+3} over m rows, stored to
 * g[0..1, 0..3] (column stride colG bytes): 6 loads feed 8 multiply-adds per pair of rows.
 */
// @ts-ignore: decorator
@inline
function dotBlock2x4(m: i32, ap0: usize, ap1: usize, bq0: usize, colB: usize, g: usize, colG: usize): void {
  const bq1 = bq0 + colB;
  const bq2 = bq1 + colB;
  const bq3 = bq2 + colB;
  const m2 = m & ~1;
  let s00 = f64x2.splat(0), s01 = f64x2.splat(0), s02 = f64x2.splat(0), s03 = f64x2.splat(0);
  let s10 = f64x2.splat(0), s11 = f64x2.splat(0), s12 = f64x2.splat(0), s13 = f64x2.splat(0);
  for (let i = 0; i < m2; i += 2) {
    const o = <usize>i << 3;
    const x0 = v128.load(ap0 + o);
    const x1 = v128.load(ap1 + o);
    let y = v128.load(bq0 + o);
    s00 = f64x2.add(s00, f64x2.mul(x0, y));
    s10 = f64x2.add(s10, f64x2.mul(x1, y));
    y = v128.load(bq1 + o);
    s01 = f64x2.add(s01, f64x2.mul(x0, y));
    s11 = f64x2.add(s11, f64x2.mul(x1, y));
    y = v128.load(bq2 + o);
    s02 = f64x2.add(s02, f64x2.mul(x0, y));
    s12 = f64x2.add(s12, f64x2.mul(x1, y));
    y = v128.load(bq3 + o);
    s03 = f64x2.add(s03, f64x2.mul(x0, y));
    s13 = f64x2.add(s13, f64x2.mul(x1, y));
  }
  let r00 = hsum(s00), r01 = hsum(s01), r02 = hsum(s02), r03 = hsum(s03);
  let r10 = hsum(s10), r11 = hsum(s11), r12 = hsum(s12), r13 = hsum(s13);
  if (m2 < m) {
    const o = <usize>m2 << 3;
    const x0 = load<f64>(ap0 + o);
    const x1 = load<f64>(ap1 + o);
    r00 += x0 * load<f64>(bq0 + o); r10 += x1 * load<f64>(bq0 + o);
    r01 += x0 * load<f64>(bq1 + o); r11 += x1 * load<f64>(bq1 + o);
    r02 += x0 * load<f64>(bq2 + o); r12 += x1 * load<f64>(bq2 + o);
    r03 += x0 * load<f64>(bq3 + o); r13 += x1 * load<f64>(bq3 + o);
  }
  store<f64>(g, r00); store<f64>(g, r10, 8);
  store<f64>(g + colG, r01); store<f64>(g + colG, r11, 8);
  store<f64>(g + 2 * colG, r02); store<f64>(g + 2 * colG, r12, 8);
  store<f64>(g + 3 * colG, r03); store<f64>(g + 3 * colG, r13, 8);
}

/**
 * c[p, q] = a_pᵀ b_q for p < n1 and q < n2, or only for q ≥ p when `upper` (then entries below the
 * diagonal inside diagonal register blocks are written too, with their symmetric values).
 */
function innerProducts(
  m: i32, n1: i32, n2: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, upper: bool,
): void {
  const colA = <usize>lda << 3;
  const colB = <usize>ldb << 3;
  const colC = <usize>ldc << 3;
  let p = 0;
  if (ASC_FEATURE_SIMD) {
    // 2 columns p × 4 columns q per block (for `upper`, from the 4-block holding the diagonal)
    for (; p + 2 <= n1; p += 2) {
      const ap0 = a + <usize>p * colA;
      let q = upper ? p & ~3 : 0;
      for (; q + 4 <= n2; q += 4) {
        dotBlock2x4(m, ap0, ap0 + colA, b + <usize>q * colB, colB, c + <usize>q * colC + (<usize>p << 3), colC);
      }
      // leftover q columns (n2 not a multiple of 4)
      for (; q < n2; q++) {
        const bq = b + <usize>q * colB;
        const cq = c + <usize>q * colC + (<usize>p << 3);
        store<f64>(cq, dot(m, ap0, bq));
        store<f64>(cq, dot(m, ap0 + colA, bq), 8);
      }
    }
  }
  // leftover p column (odd n1), or everything in the scalar build
  for (; p < n1; p++) {
    const ap = a + <usize>p * colA;
    for (let q = upper ? p : 0; q < n2; q++) store<f64>(c + <usize>q * colC + (<usize>p << 3), dot(m, ap, b + <usize>q * colB));
  }
}

/**
 * C = Aᵀ·B (dgemm, TRANSA = 'T', TRANSB = 'N'; C is overwritten), every entry an inner product of
 * two columns.
 * @param m - rows of A and B
 * @param n1 - columns of A, rows of C
 * @param n2 - columns of B and C
 * @param a - [m, n1] column-major, leading dimension lda
 * @param b - [m, n2] column-major, leading dimension ldb
 * @param c - [n1, n2] column-major, leading dimension ldc
 */
export function gemmTN(m: i32, n1: i32, n2: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  innerProducts(m, n1, n2, a, lda, b, ldb, c, ldc, false);
}

/**
 * Upper triangle of the Gram matrix, G[p, q] = a_pᵀ a_q for p ≤ q (dsyrk, UPLO = 'U', TRANS = 'T').
 * Entries below the diagonal are left untouched, except inside diagonal register blocks, where they
 * receive the (symmetric) products too.
 * @param m - rows of A
 * @param n - columns of A
 * @param a - [m, n] column-major, leading dimension lda
 * @param g - [n, n] column-major, leading dimension ldg
 */
export function gramUpper(m: i32, n: i32, a: usize, lda: i32, g: usize, ldg: i32): void {
  innerProducts(m, n, n, a, lda, a, lda, g, ldg, true);
}
