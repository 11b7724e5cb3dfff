/**
 * Matrix products on the system's CBLAS (OpenBLAS, MKL, Accelerate, or a generic libblas)
 * through the koffi FFI: typed arrays are passed to the library without copying, ~0.2 µs per
 * call. Where the library's thread count can be set, it is set to 1 and our threads call it on
 * blocks fixed by the shape (blas-tiles.ts): never both threadings at once, and results that
 * do not depend on the number of threads.
 */
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import type * as Koffi from 'koffi';
import { blasAddressFunctions, blasTileCount, blasTileKernels, type BlasFunctions } from './blas-tiles.js';
import { HelperThreads, type TileExports } from './tiles.js';
import { checkGemmShapes, checkSyrkShapes, mirrorUpper, scaleOnly, type Products } from './types.js';

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112, UPPER = 121;

/** Library names tried by REPGEOM_BLAS=auto, best first; `generic` ones may be the slow reference BLAS. */
export function blasCandidates(platform = process.platform): { name: string; generic: boolean }[] {
  const tuned = (name: string) => ({ name, generic: false });
  const generic = (name: string) => ({ name, generic: true });
  if (platform === 'darwin') {
    return [tuned('/System/Library/Frameworks/Accelerate.framework/Accelerate'), tuned('libopenblas.dylib'), tuned('libmkl_rt.dylib'), tuned('libmkl_rt.2.dylib')];
  }
  if (platform === 'win32') return [tuned('libopenblas.dll'), tuned('mkl_rt.2.dll'), tuned('mkl_rt.dll')];
  return [tuned('libopenblas.so.0'), tuned('libopenblas.so'), tuned('libmkl_rt.so.2'), tuned('libmkl_rt.so'),
    generic('libcblas.so.3'), generic('libblas.so.3')];
}

/** Why a library cannot serve: it does not load, lacks CBLAS symbols, or computes wrong results. */
export class BlasUnusable extends Error {
  constructor(readonly reason: 'load' | 'symbols' | 'wrong', message: string) {
    super(message);
  }
}

let koffiModule: typeof Koffi | null | undefined;

/** koffi, or null where its native part is missing for this platform. */
function koffi(): typeof Koffi | null {
  if (koffiModule === undefined) {
    try {
      koffiModule = createRequire(import.meta.url)('koffi') as typeof Koffi;
    } catch {
      koffiModule = null;
    }
  }
  return koffiModule;
}

type Fn = (...args: unknown[]) => unknown;

export class BlasProducts implements Products {
  readonly kind = 'blas';
  /** E.g. "openblas 0.3.21", "mkl", "accelerate", "blas libblas.so.3". */
  readonly library: string;
  /**
   * Whether the library's thread count could be set (OpenBLAS, MKL). Then the library runs
   * single-threaded in each of our threads, on blocks fixed by the shape, so results do not
   * depend on the thread count; otherwise (Accelerate, a generic libblas) it runs on its own
   * threads from this one.
   */
  readonly threadsSet: boolean;
  readonly threads: number;
  private readonly lib: Koffi.LibraryHandle;
  private readonly direct: BlasFunctions;
  private readonly kernels: TileExports;
  private readonly helpers = new HelperThreads();

  /** Load `path` (a file or a name the dynamic loader finds); throws BlasUnusable. */
  constructor(readonly path: string, threads: number) {
    const k = koffi();
    if (!k) throw new BlasUnusable('load', 'the koffi FFI has no binary for this platform');
    try {
      this.lib = k.load(path);
    } catch (e) {
      throw new BlasUnusable('load', firstLine(e));
    }
    const fn = (decl: string): Fn => this.lib.func(decl) as Fn;
    try {
      this.direct = {
        sgemm: fn('void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int)'),
        dgemm: fn('void cblas_dgemm(int, int, int, int, int, int, double, const double *, int, const double *, int, double, double *, int)'),
        ssyrk: fn('void cblas_ssyrk(int, int, int, int, int, float, const float *, int, float, float *, int)'),
        dsyrk: fn('void cblas_dsyrk(int, int, int, int, int, double, const double *, int, double, double *, int)'),
      };
      this.kernels = blasTileKernels(blasAddressFunctions(this.lib));
    } catch (e) {
      throw new BlasUnusable('symbols', firstLine(e));
    }
    const optional = (decl: string): Fn | undefined => {
      try {
        return fn(decl);
      } catch {
        return undefined;
      }
    };
    const config = optional('const char *openblas_get_config()');
    const setOpenblas = optional('void openblas_set_num_threads(int)');
    const setMkl = optional('void MKL_Set_Num_Threads(int)');
    setOpenblas?.(1);
    setMkl?.(1);
    this.threadsSet = setOpenblas !== undefined || setMkl !== undefined;
    this.threads = this.threadsSet ? threads : 1;
    if (config) {
      const version = /OpenBLAS\s+(\S+)/.exec(String(config()))?.[1];
      this.library = version ? `openblas ${version}` : 'openblas';
    } else if (setMkl) {
      this.library = 'mkl';
    } else if (path.includes('Accelerate.framework')) {
      this.library = 'accelerate';
    } else {
      this.library = `blas ${basename(path)}`;
    }
    checkKnownProducts(this);
    for (let t = 1; t < this.threads; t++) {
      this.helpers.spawn(new URL(`./blas-worker${extension()}`, import.meta.url), { path, control: this.helpers.control });
    }
  }

  describe(): string {
    return this.threadsSet ? `${this.library}, ${this.threads} thread${this.threads === 1 ? '' : 's'}` : `${this.library}, its own threads`;
  }

  /** Why a helper thread failed, if one did (the calling thread then takes its blocks). */
  get helperError(): string | undefined {
    return this.helpers.error;
  }

  /** Block until every helper thread has started; false if `timeoutMs` passed first. */
  waitForThreads(timeoutMs: number): boolean {
    return this.helpers.waitForThreads(timeoutMs);
  }

  /** Blocks computed by the helper threads so far. */
  helperTiles(): number {
    return this.helpers.helperTiles();
  }

  close(): void {
    // The library stays loaded: koffi functions of an unloaded library would crash if kept.
    this.helpers.close();
  }

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
    checkGemmShapes(m, n, k, a, b, c);
    this.product(false, transA, transB, m, n, k, alpha, a, b, beta, c);
  }

  dgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array): void {
    checkGemmShapes(m, n, k, a, b, c);
    this.product(true, transA, transB, m, n, k, alpha, a, b, beta, c);
  }

  syrk(n: number, k: number, alpha: number, a: Float32Array, beta: number, c: Float32Array): void {
    checkSyrkShapes(n, k, a, c);
    this.product(false, true, false, n, n, k, alpha, a, a, beta, c, true);
  }

  dsyrk(n: number, k: number, alpha: number, a: Float64Array, beta: number, c: Float64Array): void {
    checkSyrkShapes(n, k, a, c);
    this.product(true, true, false, n, n, k, alpha, a, a, beta, c, true);
  }

  private product(f64: boolean, ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number,
                  a: Float32Array | Float64Array, b: Float32Array | Float64Array, beta: number,
                  c: Float32Array | Float64Array, upper = false): void {
    if (this.helpers.closed) throw new Error('these BLAS products are closed');
    if (m === 0 || n === 0) return;
    if (k === 0) return scaleOnly(beta, c, m * n);
    const lda = upper ? n : ta ? m : k, ldb = upper ? n : tb ? k : n;
    if (!this.threadsSet) {
      const d = this.direct;
      if (upper) (f64 ? d.dsyrk : d.ssyrk)(ROW_MAJOR, UPPER, TRANS, n, k, alpha, a, lda, beta, c, n);
      else (f64 ? d.dgemm : d.sgemm)(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
    } else {
      const kx = koffi() as typeof Koffi;
      const tiles = blasTileCount(m, n, upper);
      const job = {
        f64, m, n, k, a: Number(kx.address(a)), lda, ta: upper || ta, b: Number(kx.address(b)), ldb, tb: !upper && tb,
        c: Number(kx.address(c)), ldc: n, alpha, beta, upper, tiles,
      };
      const failure = this.helpers.run(job, this.kernels, 0);
      if (failure !== undefined) throw new Error(`BLAS products: a thread failed: ${failure}`);
    }
    if (upper) mirrorUpper(c, n);
  }
}

/**
 * Small integer products with known results (exact in any order of summation), one per
 * routine and layout; a library that gets one wrong is refused.
 */
export function checkKnownProducts(p: Products): void {
  const a = [1, 2, 3, 4, 5, 6];         // 2×3, or 3×2 read as its transpose
  const b = [7, 8, 9, 10, 11, 12];      // 3×2, or 2×3
  // op(A)·op(B) for (ta, tb) with m = n = 2, k = 3, computed here.
  const expect = (ta: boolean, tb: boolean) => {
    const out: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
      let s = 0;
      for (let p = 0; p < 3; p++) s += (ta ? a[p * 2 + i] : a[i * 3 + p]) * (tb ? b[j * 3 + p] : b[p * 2 + j]);
      out.push(2 * s + 3 * 1);
    }
    return out;
  };
  const same = (x: ArrayLike<number>, y: number[]) => y.every((v, i) => x[i] === v);
  for (const ta of [false, true]) for (const tb of [false, true]) {
    const c32 = new Float32Array(4).fill(1), c64 = new Float64Array(4).fill(1);
    p.gemm(ta, tb, 2, 2, 3, 2, Float32Array.from(a), Float32Array.from(b), 3, c32);
    p.dgemm(ta, tb, 2, 2, 3, 2, Float64Array.from(a), Float64Array.from(b), 3, c64);
    if (!same(c32, expect(ta, tb)) || !same(c64, expect(ta, tb))) throw new BlasUnusable('wrong', `a 2×3 test product${ta || tb ? ' with transposes' : ''} came out wrong`);
  }
  // AᵀA of the 3×2 matrix a: [[35, 44], [44, 56]].
  const s32 = new Float32Array(4), s64 = new Float64Array(4);
  p.syrk(2, 3, 1, Float32Array.from(a), 0, s32);
  p.dsyrk(2, 3, 1, Float64Array.from(a), 0, s64);
  if (!same(s32, [35, 44, 44, 56]) || !same(s64, [35, 44, 44, 56])) throw new BlasUnusable('wrong', 'a 3×2 test syrk came out wrong');
}

/** .ts under tsx (tests), .js once compiled. */
function extension(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);
}
