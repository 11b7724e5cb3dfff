/**
 * The precision the metrics' large products run in, and the products they share. Every product
 * goes through the products layer (backend/products: the system BLAS or our threaded wasm
 * kernel); the kernel only chooses its precision:
 *
 * - 'float64': `dgemm`/`dsyrk` on float64 operands, the exact path;
 * - 'float32': `gemm`/`syrk` on operands rounded to float32 (after centring in float64 where
 *   the caller centres), each product's result summed into float64. A product sums at most
 *   `FLOAT32_SUM_LENGTH` terms in float32 (callers cut longer sums and add the parts in
 *   float64), which keeps the error small enough for the parity tests (IsoScore within 1e-8 of
 *   the authors at d = 50, ≤ 1e-9 of float64 at d = 768).
 *
 * `auto` (the CLI's default) is float32 from d = 256, where the products dominate the run time.
 */
import { dgemm, dsyrk, gemm, syrk } from '../backend/products/index.js';

export type ProductKernel = { kind: 'float64' } | { kind: 'float32' };

export const FLOAT64: ProductKernel = { kind: 'float64' };
export const FLOAT32: ProductKernel = { kind: 'float32' };

/**
 * Most terms one float32 product sums before its result is added in float64 (covariance block
 * rows, Gram column chunks). Measured IsoScore error against exact float64 (OpenBLAS / wasm):
 * 256 rows 2.5e-9 / 2.5e-9 at worst on the d ≥ 50 geometry fixtures, 9.4e-10 / 9.4e-10 on a
 * d = 768 cloud with a rogue dimension; 512: 3.9e-9 / 4.6e-9 and 5.3e-10 / 7.1e-10; 1024:
 * 6.2e-9 / 4.2e-9 and 1.0e-9 / 1.1e-9; 4096: 8.4e-9 / 1.1e-8 (past the 1e-8 parity bound).
 * Shorter blocks cost a d² float64 merge each (256 rows: ~1.5× the time of 512 at d = 768).
 */
export const FLOAT32_SUM_LENGTH = 512;

/** The kernel for a layer of width `dim` under the --products choice. */
export function productKernel(choice: 'auto' | 'float32' | 'float64', dim: number): ProductKernel {
  return choice === 'float64' || (choice === 'auto' && dim < 256) ? FLOAT64 : FLOAT32;
}

/**
 * A fixed right factor B (k×n, row-major) applied to many row blocks A (m×k): C = A·B in float64
 * (projections onto eigenvectors, the post-processing transforms). B is converted once.
 */
export class RightFactor {
  private readonly b32?: Float32Array;
  private readonly b64?: Float64Array;

  constructor(b: Float64Array, readonly k: number, readonly n: number, readonly kernel: ProductKernel) {
    if (b.length !== k * n) throw new RangeError(`RightFactor: ${b.length} values do not fill ${k}×${n}`);
    if (kernel.kind === 'float32') this.b32 = Float32Array.from(b);
    else this.b64 = b;
  }

  /** A·B for the m×k row-major block `a`, in float64 (float32 kernel: k terms per float32 sum). */
  times(a: ArrayLike<number>, m: number): Float64Array {
    const { k, n } = this;
    if (this.b64) {
      const c = new Float64Array(m * n);
      dgemm(false, false, m, n, k, 1, a instanceof Float64Array ? a : Float64Array.from(a), this.b64, 0, c);
      return c;
    }
    const c = new Float32Array(m * n);
    gemm(false, false, m, n, k, 1, a instanceof Float32Array ? a : Float32Array.from(a), this.b32 as Float32Array, 0, c);
    return Float64Array.from(c);
  }
}

/**
 * A·Aᵀ (n×n, float64) of the row-major n×d float64 matrix `a`, exactly symmetric: the products
 * layer's syrk on the transposed copy (d×n, whose rows are the "points" syrk sums over). The
 * float32 kernel sums at most FLOAT32_SUM_LENGTH columns in float32 per product and adds the
 * parts in float64.
 */
export function gramOfRows(a: Float64Array, n: number, d: number, kernel: ProductKernel): Float64Array {
  const g = new Float64Array(n * n);
  if (n === 0) return g;
  if (kernel.kind === 'float64') {
    const t = new Float64Array(d * n);
    for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) t[j * n + r] = a[r * d + j];
    dsyrk(n, d, 1, t, 0, g);
    return g;
  }
  const t = new Float32Array(d * n), part = new Float32Array(n * n);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) t[j * n + r] = a[r * d + j];
  for (let c0 = 0; c0 < d; c0 += FLOAT32_SUM_LENGTH) {
    const w = Math.min(FLOAT32_SUM_LENGTH, d - c0);
    syrk(n, w, 1, t.subarray(c0 * n, (c0 + w) * n), 0, part);
    for (let i = 0; i < g.length; i++) g[i] += part[i];
  }
  return g;
}

/** A·Bᵀ (m×n, float64) of row-major float64 A (m×d) and B (n×d). */
export function crossOfRows(a: Float64Array, m: number, b: Float64Array, n: number, d: number): Float64Array {
  const c = new Float64Array(m * n);
  dgemm(false, true, m, n, d, 1, a, b, 0, c);
  return c;
}
