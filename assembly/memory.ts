// Memory the host fills directly (model tables, input rows, outputs).
// The TLSF allocator of the minimal runtime aligns blocks to 16 bytes, enough for f64 and v128 loads.
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

export function free(ptr: usize): void {
  heap.free(ptr);
}
