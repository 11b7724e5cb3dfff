/**
 * The products layer: every matrix product of repgeom goes through `gemm`/`syrk` (float32) or
 * `dgemm`/`dsyrk` (float64) here. The implementation is chosen once, at the first product:
 *
 *   REPGEOM_BLAS=auto (default)  the system CBLAS when one loads (OpenBLAS, MKL, Accelerate;
 *                                a generic libblas only if it beats our kernel), else wasm
 *   REPGEOM_BLAS=wasm            our WebAssembly SIMD kernel (relaxed-SIMD FMA when the runtime
 *                                has it), threaded over shared memory
 *   REPGEOM_BLAS=<path>          that CBLAS library; one that does not load, lacks the CBLAS
 *                                symbols or fails the check product is a user error
 *
 * `configureProducts` (the CLI's --threads) sets the threads before the first product;
 * `useProducts` installs another implementation (e.g. tfjs ops where data live on a GPU).
 */
import { availableParallelism } from 'node:os';
import { UserError, check } from '../../errors.js';
import { BlasProducts, BlasUnusable, blasCandidates } from './blas.js';
import type { Products } from './types.js';
import { WasmProducts } from './wasm.js';

export type { Products } from './types.js';
export { BlasProducts, blasCandidates, checkKnownProducts, BlasUnusable } from './blas.js';
export { WasmProducts, relaxedSimdAvailable, type WasmVariant, type WasmOptions } from './wasm.js';

export interface ProductsSettings {
  /** 'auto', 'wasm' or a path to a CBLAS library (default: REPGEOM_BLAS, else 'auto'). */
  blas?: string;
  /** Threads per product (default: one per core). */
  threads?: number;
  /** Libraries `auto` tries, best first (default: blasCandidates(); tests pass their own). */
  candidates?: { name: string; generic: boolean }[];
}

export interface ProductsChoice {
  products: Products;
  /** Why the automatic search settled on wasm, when it did (for a note in the output). */
  note?: string;
}

let settings: ProductsSettings = {};
let chosen: ProductsChoice | undefined;

/** Set the implementation and threads; takes effect at the next product. */
export function configureProducts(options: ProductsSettings): void {
  settings = { ...settings, ...options };
  chosen?.products.close();
  chosen = undefined;
}

/** Use `products` for every product from now on (undefined: choose again from the settings). */
export function useProducts(products: Products | undefined): void {
  if (chosen && chosen.products !== products) chosen.products.close();
  chosen = products ? { products } : undefined;
}

/** The implementation in use (chosen now if no product has run yet). */
export function products(): Products {
  chosen ??= chooseProducts(settings);
  return chosen.products;
}

/** E.g. "openblas 0.3.21, 2 threads" or "wasm relaxed-simd, 2 threads". */
export function describeProducts(): string {
  return products().describe();
}

/** Why `auto` fell back to the wasm kernel, if it did. */
export function productsNote(): string | undefined {
  products();
  return chosen?.note;
}

export function gemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
                     alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
  products().gemm(transA, transB, m, n, k, alpha, a, b, beta, c);
}

export function syrk(n: number, k: number, alpha: number, a: Float32Array, beta: number, c: Float32Array): void {
  products().syrk(n, k, alpha, a, beta, c);
}

export function dgemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
                      alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array): void {
  products().dgemm(transA, transB, m, n, k, alpha, a, b, beta, c);
}

export function dsyrk(n: number, k: number, alpha: number, a: Float64Array, beta: number, c: Float64Array): void {
  products().dsyrk(n, k, alpha, a, beta, c);
}

/** Choose an implementation from the settings (see the header). */
export function chooseProducts(options: ProductsSettings = {}): ProductsChoice {
  const threads = options.threads ?? availableParallelism();
  check(Number.isInteger(threads) && threads >= 1, `threads must be a whole number ≥ 1 (got ${threads})`);
  const spec = (options.blas ?? process.env.REPGEOM_BLAS ?? '').trim() || 'auto';
  if (spec === 'wasm') return { products: new WasmProducts({ threads }) };
  if (spec !== 'auto') return { products: explicitBlas(spec, threads) };

  const notes: string[] = [];
  for (const candidate of options.candidates ?? blasCandidates()) {
    let blas: BlasProducts;
    try {
      blas = new BlasProducts(candidate.name, threads);
    } catch (e) {
      if (!(e instanceof BlasUnusable)) throw e;
      if (e.reason === 'wrong') notes.push(`${candidate.name} refused: ${e.message}`);
      continue;
    }
    if (!candidate.generic) return { products: blas };
    const wasm = new WasmProducts({ threads });
    wasm.waitForThreads(10_000);
    const [blasRate, wasmRate] = [gflops(blas), gflops(wasm)];
    if (blasRate >= wasmRate) {
      wasm.close();
      return { products: blas };
    }
    notes.push(`${blas.library} is slower than the wasm kernel (${blasRate.toFixed(1)} vs ${wasmRate.toFixed(1)} GFLOP/s)`);
    return { products: wasm, note: notes.join('; ') };
  }
  notes.push('no system BLAS found (apt-get install libopenblas0 for faster products)');
  return { products: new WasmProducts({ threads }), note: notes.join('; ') };
}

function explicitBlas(path: string, threads: number): BlasProducts {
  try {
    return new BlasProducts(path, threads);
  } catch (e) {
    if (!(e instanceof BlasUnusable)) throw e;
    const what = e.reason === 'load' ? `cannot be loaded (${e.message})`
      : e.reason === 'symbols' ? `has no CBLAS functions (${e.message})`
      : `computes wrong results (${e.message})`;
    throw new UserError(`REPGEOM_BLAS=${path}: the library ${what}; give the path of a CBLAS library such as libopenblas.so.0, or 'auto' or 'wasm'`);
  }
}

/** Best rate of two 256³ products (after a warm-up), for telling a reference BLAS from a tuned one. */
function gflops(p: Products): number {
  const n = 256;
  const a = new Float32Array(n * n).fill(0.5), c = new Float32Array(n * n);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    p.gemm(false, false, n, n, n, 1, a, a, 0, c);
    if (r > 0) best = Math.min(best, performance.now() - t);
  }
  return (2 * n * n * n) / (best * 1e6);
}
