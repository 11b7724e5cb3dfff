/**
 * The system BLAS as a tile kernel for the shared tile loop (tiles.ts): each thread computes
 * whole blocks of C with single-threaded BLAS calls on raw addresses of the caller's arrays
 * (the caller is blocked in Atomics.wait meanwhile, so they stay put). The blocks depend only
 * on the shape, so the result is the same for any number of threads; OpenBLAS's own threading
 * splits by thread count and changes the last bits.
 *
 * Blocks are large (each call repacks its operands: the overhead is ~1/block size): 512 rows ×
 * 1024 columns for gemm, 384 × 384 for syrk (diagonal blocks by syrk, the others by gemm).
 */
import type * as Koffi from 'koffi';
import type { TileExports } from './tiles.js';

export const GEMM_ROWS = 512, GEMM_COLS = 1024, SYRK_BLOCK = 384;
const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112, UPPER = 121;

type Fn = (...args: unknown[]) => unknown;

export interface BlasFunctions {
  sgemm: Fn; dgemm: Fn; ssyrk: Fn; dsyrk: Fn;
}

/** The four routines with pointer arguments taken as addresses (same calling convention). */
export function blasAddressFunctions(lib: Koffi.LibraryHandle): BlasFunctions {
  return {
    sgemm: lib.func('void cblas_sgemm(int, int, int, int, int, int, float, intptr_t, int, intptr_t, int, float, intptr_t, int)') as Fn,
    dgemm: lib.func('void cblas_dgemm(int, int, int, int, int, int, double, intptr_t, int, intptr_t, int, double, intptr_t, int)') as Fn,
    ssyrk: lib.func('void cblas_ssyrk(int, int, int, int, int, float, intptr_t, int, float, intptr_t, int)') as Fn,
    dsyrk: lib.func('void cblas_dsyrk(int, int, int, int, int, double, intptr_t, int, double, intptr_t, int)') as Fn,
  };
}

/** Tiles of a product: gemm blocks, or the syrk grid (square, upper blocks used). */
export function blasTileCount(m: number, n: number, upper: boolean): number {
  return upper ? Math.ceil(n / SYRK_BLOCK) ** 2 : Math.ceil(m / GEMM_ROWS) * Math.ceil(n / GEMM_COLS);
}

export function blasTileKernels(fns: BlasFunctions): TileExports {
  const tile = (f64: boolean) => (t: number, m: number, n: number, k: number, a: number, lda: number, ta: number,
    b: number, ldb: number, tb: number, c: number, ldc: number, alpha: number, beta: number, upper: number): void => {
    const es = f64 ? 8 : 4;
    const gemm = f64 ? fns.dgemm : fns.sgemm;
    const rows = upper ? SYRK_BLOCK : GEMM_ROWS, cols = upper ? SYRK_BLOCK : GEMM_COLS;
    const tilesN = Math.ceil(n / cols);
    const i0 = Math.floor(t / tilesN) * rows, j0 = (t % tilesN) * cols;
    const mb = Math.min(rows, m - i0), nb = Math.min(cols, n - j0);
    const cAt = c + (i0 * ldc + j0) * es;
    if (upper) {
      if (j0 < i0) return;                          // below the diagonal: mirrored later
      if (i0 === j0) {
        (f64 ? fns.dsyrk : fns.ssyrk)(ROW_MAJOR, UPPER, TRANS, nb, k, alpha, a + j0 * es, lda, beta, cAt, ldc);
        return;
      }
      gemm(ROW_MAJOR, TRANS, NO_TRANS, mb, nb, k, alpha, a + i0 * es, lda, a + j0 * es, lda, beta, cAt, ldc);
      return;
    }
    const aAt = a + (ta ? i0 : i0 * lda) * es;      // op(A) rows i0..: columns of a stored k×m A
    const bAt = b + (tb ? j0 * ldb : j0) * es;      // op(B) columns j0..: rows of a stored n×k B
    gemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, mb, nb, k, alpha, aAt, lda, bAt, ldb, beta, cAt, ldc);
  };
  return { sgemm_tile: tile(false), dgemm_tile: tile(true) };
}
