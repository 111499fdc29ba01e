/**
 * @module layout
 * Transposes between the host's row-major matrices and the kernels' column-major float64 ones.
 * The host copies a matrix in as it is (a typed-array `set`: a memcpy, or a native widening for
 * float32), and these put it in the kernel's layout; results go out the same way in reverse.
 * Measured in workerd: the same transpose as a JavaScript loop took 14.8 ms for a 4096 × 128 float64
 * matrix, where the strided stores miss the cache; here it is done in 16 × 16 tiles.
 *
 * Pure copies (and a float32 → float64 widening, which is exact): the scalar and SIMD builds give the
 * same bits by construction.
 */

const TILE = 16;

/**
 * dst[j·rows + i] = src[i·cols + j]: the [rows, cols] row-major matrix of T values at `src` as
 * [cols, rows] row-major float64 (that is, column-major [rows, cols]) at `dst`, each value widened
 * exactly to float64. The regions must not overlap.
 */
// @ts-ignore: decorator
@inline
function transposeToF64<T>(rows: i32, cols: i32, src: usize, dst: usize): void {
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = min(i0 + TILE, rows);
    for (let j0 = 0; j0 < cols; j0 += TILE) {
      const j1 = min(j0 + TILE, cols);
      for (let j = j0; j < j1; j++) {
        const out = dst + ((<usize>j * rows) << 3);
        for (let i = i0; i < i1; i++) store<f64>(out + (<usize>i << 3), <f64>load<T>(src + (<usize>i * cols + j) * sizeof<T>()));
      }
    }
  }
}

/** transposeToF64 of float64 values: a pure copy. */
export function transposeF64(rows: i32, cols: i32, src: usize, dst: usize): void {
  transposeToF64<f64>(rows, cols, src, dst);
}

/** transposeToF64 of float32 values. */
export function transposeF32ToF64(rows: i32, cols: i32, src: usize, dst: usize): void {
  transposeToF64<f32>(rows, cols, src, dst);
}

/** The float64 value of the BF16 bits h: the float32 whose upper half they are (exact). */
// @ts-ignore: decorator
@inline
function bf16ToF64(h: u32): f64 {
  return <f64>reinterpret<f32>(h << 16);
}

/** The float64 value of the IEEE binary16 bits h (exact): zeros, subnormals, normals, ±∞ and NaN. */
// @ts-ignore: decorator
@inline
function f16ToF64(h: u32): f64 {
  const sign = <u64>(h & 0x8000) << 48;
  const e = (h >> 10) & 0x1f;
  const m = <u64>(h & 0x3ff);
  // subnormals and zeros: m · 2⁻²⁴, exact in float64
  if (e == 0) return reinterpret<f64>(sign | reinterpret<u64>(<f64>m * 5.9604644775390625e-8));
  if (e == 31) return reinterpret<f64>(sign | 0x7ff0000000000000 | (m << 42));
  return reinterpret<f64>(sign | (<u64>(e + 1008) << 52) | (m << 42));
}

/**
 * The n half-precision values at src (BF16 bits when `bf16`, else IEEE F16) as float64 at dst, each
 * exactly, front to back: src may be the last quarter of dst's own 8·n bytes (dst + 6n), since
 * value i is stored over bytes [8i, 8i + 8) while the values still unread start at 6n + 2(i + 1).
 */
export function widenHalfToF64(n: i32, src: usize, dst: usize, bf16: i32): void {
  if (bf16) for (let i = 0; i < n; i++) store<f64>(dst + (<usize>i << 3), bf16ToF64(<u32>load<u16>(src + (<usize>i << 1))));
  else for (let i = 0; i < n; i++) store<f64>(dst + (<usize>i << 3), f16ToF64(<u32>load<u16>(src + (<usize>i << 1))));
}
