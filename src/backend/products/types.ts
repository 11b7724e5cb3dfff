/**
 * The products layer's contract. Every matrix is dense and row-major with no padding between
 * rows; op(X) is X or Xᵀ.
 *
 *   gemm:  C (m×n) = α·op(A)·op(B) + β·C, op(A) m×k, op(B) k×n.
 *          A is stored m×k (k×m when transA), B k×n (n×k when transB).
 *   syrk:  C (n×n) = α·AᵀA + β·C with A stored k×n (rows = points). The upper triangle is
 *          computed and copied onto the lower one, so C must be symmetric on entry when β ≠ 0.
 *
 * As in BLAS, β = 0 means C is not read (NaN there does not propagate). `dgemm`/`dsyrk` are
 * the float64 forms for the exact paths.
 *
 * An implementation is the system BLAS (blas.ts), our WebAssembly kernel (wasm.ts), or one a
 * caller installs with `useProducts` (e.g. one over tfjs ops where the data live on a GPU).
 */
export interface Products {
  /** 'blas', 'wasm' or a caller's own kind (e.g. 'tfjs'). */
  readonly kind: string;
  /** Threads a product uses. */
  readonly threads: number;
  /** E.g. "openblas 0.3.21, 2 threads" or "wasm relaxed-simd, 2 threads". */
  describe(): string;
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
       alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void;
  syrk(n: number, k: number, alpha: number, a: Float32Array, beta: number, c: Float32Array): void;
  dgemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
        alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array): void;
  dsyrk(n: number, k: number, alpha: number, a: Float64Array, beta: number, c: Float64Array): void;
  /** Stop helper threads, if any (the implementation is unusable afterwards). */
  close(): void;
}

/** Check operand sizes (a mismatch is a caller's bug, not a user error). */
export function checkGemmShapes(m: number, n: number, k: number, a: { length: number }, b: { length: number }, c: { length: number }): void {
  for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`gemm: ${name} = ${v} is not a size`);
  }
  if (a.length < m * k || b.length < k * n || c.length < m * n) {
    throw new RangeError(`gemm: operands too short for ${m}×${k}·${k}×${n} (A ${a.length}, B ${b.length}, C ${c.length})`);
  }
}

export function checkSyrkShapes(n: number, k: number, a: { length: number }, c: { length: number }): void {
  checkGemmShapes(n, n, k, a, a, c);
}

/** C = β·C for the degenerate products (k = 0 or α = 0); β = 0 clears C. */
export function scaleOnly(beta: number, c: Float32Array | Float64Array, length: number): void {
  if (beta === 0) c.fill(0, 0, length);
  else if (beta !== 1) for (let i = 0; i < length; i++) c[i] *= beta;
}

/** Copy the upper triangle of the n×n row-major matrix c onto the lower one. */
export function mirrorUpper(c: Float32Array | Float64Array, n: number): void {
  for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) c[i * n + j] = c[j * n + i];
}
