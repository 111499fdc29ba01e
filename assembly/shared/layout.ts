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
