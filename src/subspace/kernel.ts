/**
 * The WebAssembly module of kernels/hadamard.c and a small allocator for its memory.
 *
 * Fastfood keeps its parameters (B, Π, G: 12 bytes per entry of L) in the module's memory for
 * its whole life, so a projection moves only the tensor across the JS/wasm boundary. Blocks are
 * handed out first-fit from a free list (coalesced on release) above a bump pointer; the memory
 * grows as needed up to the module's 4 GiB and never shrinks. `alloc` returns −1 when a block
 * would not fit, and the caller falls back to JS arrays. Growing the memory detaches every view
 * of it, so views are made fresh (f32/i32) at each use, never kept across an allocation.
 */
import { readFileSync } from 'node:fs';

interface HadamardExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  fwht_f32(x: number, n: number): void;
  ff_forward(theta: number, used: number, signs: number, perm: number, g: number, a: number, b: number, L: number, rows: number, scale: number): void;
  ff_adjoint(used: number, signs: number, perm: number, g: number, a: number, b: number, L: number, rows: number): void;
}

const MAX_BYTES = 2 ** 32 - 65536;
let instance: HadamardExports | undefined;
let top = 0;
const free: { at: number; bytes: number }[] = [];

export function kernel(): HadamardExports {
  if (!instance) {
    // kernels/ sits two levels above this file both in src/subspace and in dist/subspace.
    instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL('../../kernels/hadamard.wasm', import.meta.url))), {}).exports as unknown as HadamardExports;
    top = ((instance.__heap_base.value as number) + 15) & ~15;
  }
  return instance;
}

/** A 16-byte-aligned block of `bytes` in the module's memory, or −1 when it would not fit. */
export function alloc(bytes: number): number {
  const k = kernel();
  const size = (bytes + 15) & ~15;
  for (let i = 0; i < free.length; i++) {
    const f = free[i];
    if (f.bytes >= size) {
      const at = f.at;
      if (f.bytes === size) free.splice(i, 1);
      else { f.at += size; f.bytes -= size; }
      return at;
    }
  }
  if (top + size > MAX_BYTES) return -1;
  const have = k.memory.buffer.byteLength;
  if (top + size > have) {
    try {
      k.memory.grow(Math.ceil((top + size - have) / 65536));
    } catch {
      return -1; // the engine refused the memory
    }
  }
  const at = top;
  top += size;
  return at;
}

/** Return a block from `alloc`; neighbours merge, and a block at the top lowers the bump pointer. */
export function release(at: number, bytes: number): void {
  const size = (bytes + 15) & ~15;
  let i = 0;
  while (i < free.length && free[i].at < at) i++;
  free.splice(i, 0, { at, bytes: size });
  if (i + 1 < free.length && free[i].at + free[i].bytes === free[i + 1].at) {
    free[i].bytes += free[i + 1].bytes;
    free.splice(i + 1, 1);
  }
  if (i > 0 && free[i - 1].at + free[i - 1].bytes === free[i].at) {
    free[i - 1].bytes += free[i].bytes;
    free.splice(i, 1);
    i--;
  }
  const last = free[free.length - 1];
  if (last && last.at + last.bytes === top) {
    top = last.at;
    free.pop();
  }
}

export const f32 = (at: number, n: number): Float32Array => new Float32Array(kernel().memory.buffer, at, n);
export const i32 = (at: number, n: number): Int32Array => new Int32Array(kernel().memory.buffer, at, n);

/** Bytes in use above the heap base, and free blocks (for tests of the allocator). */
export function memoryState(): { top: number; freeBlocks: number } {
  kernel();
  return { top, freeBlocks: free.length };
}

/** A scratch block of at least `bytes` (reused, grown by reallocation). */
let scratchAt = -1, scratchBytes = 0;
export function scratch(bytes: number): number {
  if (scratchBytes < bytes) {
    if (scratchAt >= 0) release(scratchAt, scratchBytes);
    scratchAt = alloc(bytes);
    scratchBytes = scratchAt >= 0 ? bytes : 0;
  }
  return scratchAt;
}
