/**
 * The unnormalised Walsh–Hadamard transform (WHT) in place: x ← H x with H the Sylvester matrix
 * of order L = 2^k (H₁ = [1], H₂ₙ = [[Hₙ, Hₙ], [Hₙ, −Hₙ]]; entry (i, j) = (−1)^popcount(i & j)).
 * H·H = L·I, so Hᵀ = H and H⁻¹ = H / L. O(L log L) iterative butterflies.
 *
 * Two float32 implementations with the same order of operations and therefore bitwise-equal
 * results: a plain JS loop and the WebAssembly SIMD kernel of kernels/hadamard.c. `fwht` picks
 * whichever measured faster for the length (WASM_FROM below, measured by bench/fastfood.ts).
 * Both cut the array into BLOCK-value blocks that run all their inner levels while in cache,
 * then fuse the outer levels two at a time (radix 4) to halve the passes over memory. Float64
 * (JS only) is for the exact tests.
 */
import { check } from '../errors.js';
import { f32, kernel, scratch } from './kernel.js';

const BLOCK = 4096; // keep equal to BLOCK in kernels/hadamard.c

/**
 * Smallest length at which the wasm kernel is used. Measured on the 2-core dev machine
 * (bench/fastfood.ts, section hadamard, copies in and out of the module included): the JS loop
 * wins at L = 16 (0.64×), the kernel from L = 64 (×3) to 2^24 (×4–18).
 */
const WASM_FROM = 1 << 6;

/** Whether n is a power of two (1, 2, 4, …) that a typed array can hold. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && 2 ** Math.round(Math.log2(n)) === n;
}

/** 2^⌈log₂ n⌉ for n ≥ 1, exactly (no floating-point logarithm). */
export function nextPowerOfTwo(n: number): number {
  check(Number.isInteger(n) && n >= 1, `nextPowerOfTwo: n must be a positive integer, got ${n}`);
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function checkLength(n: number): void {
  check(isPowerOfTwo(n), `Walsh–Hadamard transform: length must be a power of two, got ${n}`);
}

/** In-place unnormalised WHT; float32 through the fastest implementation for the length. */
export function fwht(x: Float32Array | Float64Array): void {
  if (x instanceof Float64Array) fwhtF64(x);
  else if (x.length >= WASM_FROM) fwhtWasm(x);
  else fwhtJs(x);
}

/** Plain JS loop, float32. Intermediates of the fused levels are rounded like the kernel's. */
export function fwhtJs(x: Float32Array): void {
  const n = x.length;
  checkLength(n);
  if (n < 4) {
    if (n === 2) { const a = x[0], b = x[1]; x[0] = a + b; x[1] = a - b; }
    return;
  }
  const block = Math.min(n, BLOCK);
  for (let i = 0; i < n; i += block) blockLevels32(x, i, block);
  let h = block;
  for (; 4 * h <= n; h *= 4) level4F32(x, n, h);
  if (h < n) level2(x, n, h);
}

function blockLevels32(x: Float32Array, start: number, n: number): void {
  // Levels 1 and 2 on each group of four, as the kernel's in-vector shuffles do.
  for (let i = start; i < start + n; i += 4) {
    const a = x[i], b = x[i + 1], c = x[i + 2], d = x[i + 3];
    const s = Math.fround(a + b), t = Math.fround(a - b), u = Math.fround(c + d), w = Math.fround(c - d);
    x[i] = s + u; x[i + 1] = t + w; x[i + 2] = s - u; x[i + 3] = t - w;
  }
  for (let h = 4; h < n; h *= 2) {
    for (let i = start; i < start + n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
}

function level4F32(x: Float32Array, n: number, h: number): void {
  for (let i = 0; i < n; i += 4 * h) {
    for (let j = i; j < i + h; j++) {
      const a = x[j], b = x[j + h], c = x[j + 2 * h], d = x[j + 3 * h];
      const s = Math.fround(a + b), t = Math.fround(a - b), u = Math.fround(c + d), w = Math.fround(c - d);
      x[j] = s + u; x[j + h] = t + w; x[j + 2 * h] = s - u; x[j + 3 * h] = t - w;
    }
  }
}

function level2(x: Float32Array | Float64Array, n: number, h: number): void {
  for (let i = 0; i < n; i += 2 * h) {
    for (let j = i; j < i + h; j++) {
      const a = x[j], b = x[j + h];
      x[j] = a + b;
      x[j + h] = a - b;
    }
  }
}

/** Float64, radix 2, for exact tests and the float64 Fastfood path. */
export function fwhtF64(x: Float64Array): void {
  const n = x.length;
  checkLength(n);
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
}

/** The WebAssembly SIMD kernel, float32: copies x into the module's memory and back. */
export function fwhtWasm(x: Float32Array): void {
  const n = x.length;
  checkLength(n);
  const at = scratch(n * 4);
  if (at < 0) return fwhtJs(x); // the module's memory is full
  f32(at, n).set(x);
  kernel().fwht_f32(at, n);
  x.set(f32(at, n));
}
