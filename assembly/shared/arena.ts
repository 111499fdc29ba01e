/**
 * @module arena
 * A bump allocator over linear memory: the host calls `reset`, allocates every input, output and
 * workspace buffer with `alloc`, copies in, calls one kernel, copies out, and resets again. Nothing is
 * freed individually and no managed object ever crosses the boundary (the module is built with the
 * stub runtime). `memory.grow` detaches the host's typed-array views, so hosts create views only after
 * the last `alloc` of a call.
 */

const ALIGN: usize = 16; // v128 loads want 16-byte alignment
let top: usize = 0;

function heapStart(): usize {
  return (__heap_base + ALIGN - 1) & ~(ALIGN - 1);
}

/** Forgets every allocation. */
export function reset(): void {
  top = heapStart();
}

/**
 * Allocates `bytes` bytes, 16-byte aligned, growing memory when needed.
 * @returns the pointer, or 0 when memory cannot grow (the host maps that to an out-of-memory error).
 */
export function alloc(bytes: usize): usize {
  if (top == 0) top = heapStart();
  const ptr = top;
  const end = (ptr + bytes + ALIGN - 1) & ~(ALIGN - 1);
  const pagesNeeded = <i32>((end + 0xffff) >>> 16);
  const pagesHave = memory.size();
  if (pagesNeeded > pagesHave) {
    if (memory.grow(pagesNeeded - pagesHave) < 0) return 0;
  }
  top = end;
  return ptr;
}
