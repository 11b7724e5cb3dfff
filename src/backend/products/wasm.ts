/**
 * Matrix products on our own WebAssembly SIMD kernel (kernels/gemm.c), threaded over one
 * shared memory: the calling thread takes tiles itself and helper workers (one per extra
 * thread) join in; the call returns when every tile is done, so the API stays synchronous
 * (Atomics.wait is allowed on Node's main thread). A tile's result depends only on the shape,
 * so products are bitwise the same for any number of threads.
 *
 * Operands are copied into the module's memory (O(mk + kn + mn) against O(mnk) work). When they
 * do not fit in `maxOperandBytes`, the product runs in slices of k, each adding to C in the
 * wasm memory; the slicing depends on the shape only.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { UserError, check } from '../../errors.js';
import { checkGemmShapes, checkSyrkShapes, scaleOnly, type Products } from './types.js';
import { HelperThreads, type Job, type TileExports } from './tiles.js';

export type WasmVariant = 'relaxed-simd' | 'simd128';

interface KernelExports extends TileExports {
  __stack_pointer: WebAssembly.Global;
  __heap_base: WebAssembly.Global;
  scratch_bytes(): number;
  tile_rows(f64: number): number;
  tile_cols(f64: number): number;
  mirror_upper_f32(c: number, n: number): void;
  mirror_upper_f64(c: number, n: number): void;
}

export interface WasmOptions {
  /** Threads per product, the caller's included (default: one per core). */
  threads?: number;
  /** Kernel build (default: relaxed-simd where the runtime has it, else simd128). */
  variant?: WasmVariant;
  /** Bytes of operands held in the wasm memory at once before k is sliced (default 1 GiB). */
  maxOperandBytes?: number;
  /** Most bytes the wasm memory may grow to (default and ceiling: 4 GiB, wasm32's limit). */
  maxMemoryBytes?: number;
}

const PAGE = 65536;
const MAX_PAGES = 65536;              // 4 GiB, wasm32's limit
const STACK_BYTES = 64 * 1024;
const kernelFile = (variant: WasmVariant) => new URL(`../../../kernels/gemm-${variant}.wasm`, import.meta.url);

let flagsSet = false;
const bytes = new Map<WasmVariant, Uint8Array<ArrayBuffer>>();

function kernelBytes(variant: WasmVariant): Uint8Array<ArrayBuffer> {
  let b = bytes.get(variant);
  if (!b) bytes.set(variant, (b = new Uint8Array(readFileSync(kernelFile(variant)))));
  return b;
}

/**
 * V8 flags, set once before the first compile: relaxed SIMD is off by default in Node 20
 * (and refused in execArgv/NODE_OPTIONS); without Liftoff the first long kernel call runs
 * optimised code instead of the baseline tier (wasm has no on-stack replacement).
 */
function setWasmFlags(): void {
  if (flagsSet) return;
  flagsSet = true;
  if (!WebAssembly.validate(kernelBytes('relaxed-simd'))) setFlagsFromString('--experimental-wasm-relaxed-simd');
  setFlagsFromString('--no-liftoff');
}

/** Whether this runtime runs the relaxed-SIMD (FMA) build. */
export function relaxedSimdAvailable(): boolean {
  setWasmFlags();
  return WebAssembly.validate(kernelBytes('relaxed-simd'));
}

const align = (x: number, to = 64) => Math.ceil(x / to) * to;

export class WasmProducts implements Products {
  readonly kind = 'wasm';
  readonly threads: number;
  readonly variant: WasmVariant;
  private readonly maxOperandBytes: number;
  private readonly maxPages: number;
  private readonly memory: WebAssembly.Memory;
  private readonly kernels: KernelExports;
  private readonly helpers = new HelperThreads();
  private readonly operandBase: number;
  private readonly scratch0: number;

  constructor(options: WasmOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    check(Number.isInteger(threads) && threads >= 1, `threads must be a whole number ≥ 1 (got ${threads})`);
    this.threads = threads;
    this.variant = options.variant ?? (relaxedSimdAvailable() ? 'relaxed-simd' : 'simd128');
    if (this.variant === 'relaxed-simd' && !relaxedSimdAvailable()) {
      throw new Error('the relaxed-SIMD kernel needs a runtime with relaxed SIMD');
    }
    this.maxOperandBytes = options.maxOperandBytes ?? 2 ** 30;
    this.maxPages = Math.min(MAX_PAGES, Math.floor((options.maxMemoryBytes ?? MAX_PAGES * PAGE) / PAGE));
    setWasmFlags();
    const module = new WebAssembly.Module(kernelBytes(this.variant));

    // Layout: the module's own data and stack, then a stack and a scratch area per thread,
    // then the operands.
    this.memory = new WebAssembly.Memory({ initial: 64, maximum: MAX_PAGES, shared: true });
    this.kernels = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports as unknown as KernelExports;
    const heapBase = this.kernels.__heap_base.value as number;
    const perThread = STACK_BYTES + align(this.kernels.scratch_bytes());
    const threadBase = align(heapBase);
    this.operandBase = align(threadBase + threads * perThread);
    this.grow(this.operandBase);
    this.kernels.__stack_pointer.value = threadBase + STACK_BYTES;
    this.scratch0 = threadBase + STACK_BYTES;

    for (let t = 1; t < threads; t++) {
      const stackTop = threadBase + t * perThread + STACK_BYTES;
      this.helpers.spawn(new URL(`./wasm-worker${extension()}`, import.meta.url),
        { module, memory: this.memory, control: this.helpers.control, stackTop, scratch: stackTop });
    }
  }

  describe(): string {
    return `wasm ${this.variant}, ${this.threads} thread${this.threads === 1 ? '' : 's'}`;
  }

  /** Why a helper thread failed, if one did. */
  get helperError(): string | undefined {
    return this.helpers.error;
  }

  /**
   * Block until every helper thread has started (they join products as soon as they are up;
   * the first products may run on fewer threads). False if `timeoutMs` passed first.
   */
  waitForThreads(timeoutMs: number): boolean {
    return this.helpers.waitForThreads(timeoutMs);
  }

  /** Tiles computed by the helper threads so far. */
  helperTiles(): number {
    return this.helpers.helperTiles();
  }

  close(): void {
    this.helpers.close();
  }

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
    checkGemmShapes(m, n, k, a, b, c);
    this.product(false, transA, transB, m, n, k, alpha, a, b, beta, c, false);
  }

  dgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array): void {
    checkGemmShapes(m, n, k, a, b, c);
    this.product(true, transA, transB, m, n, k, alpha, a, b, beta, c, false);
  }

  syrk(n: number, k: number, alpha: number, a: Float32Array, beta: number, c: Float32Array): void {
    checkSyrkShapes(n, k, a, c);
    this.product(false, true, false, n, n, k, alpha, a, a, beta, c, true);
  }

  dsyrk(n: number, k: number, alpha: number, a: Float64Array, beta: number, c: Float64Array): void {
    checkSyrkShapes(n, k, a, c);
    this.product(true, true, false, n, n, k, alpha, a, a, beta, c, true);
  }

  private grow(bytesNeeded: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytesNeeded <= have) return;
    const pages = Math.ceil((bytesNeeded - have) / PAGE);
    const failure = () => new UserError(
      `matrix products: the WebAssembly kernel needs ${(bytesNeeded / 2 ** 20).toFixed(0)} MiB of memory and could not get it ` +
      `(limit ${(this.maxPages * PAGE / 2 ** 20).toFixed(0)} MiB); use smaller blocks, free memory, or install the system BLAS (e.g. apt-get install libopenblas0)`);
    if (have / PAGE + pages > this.maxPages) throw failure();
    try {
      this.memory.grow(pages);
    } catch {
      throw failure();
    }
  }

  /**
   * C = α·op(A)·op(B) + β·C (upper: syrk, A and B the same k×n matrix). A is stored m×k
   * (k×m when ta), B k×n (n×k when tb).
   */
  private product(f64: boolean, ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number,
                  a: Float32Array | Float64Array, b: Float32Array | Float64Array, beta: number,
                  c: Float32Array | Float64Array, upper: boolean): void {
    if (this.helpers.closed) throw new Error('these wasm products are closed');
    if (m === 0 || n === 0) return;
    if (k === 0 || alpha === 0) return scaleOnly(beta, c, m * n);
    const es = f64 ? 8 : 4;
    const cBytes = align(m * n * es);
    const perK = (upper ? n : m + n) * es;
    let slice = k;
    if (cBytes + perK * k + 128 > this.maxOperandBytes) {
      slice = Math.floor((this.maxOperandBytes - cBytes - 128) / perK);
      if (slice >= 256) slice -= slice % 256;
      if (slice < 1) {
        throw new UserError(
          `matrix products: a ${m}×${n} result (${(cBytes / 2 ** 20).toFixed(0)} MiB) does not fit in the WebAssembly kernel's ` +
          `${(this.maxOperandBytes / 2 ** 20).toFixed(0)} MiB; use smaller blocks or install the system BLAS (e.g. apt-get install libopenblas0)`);
      }
    }
    const aAt = this.operandBase;
    const aBytes = align((upper ? n : m) * slice * es);
    const bAt = upper ? aAt : aAt + aBytes;
    const cAt = bAt + align(n * slice * es);
    this.grow(cAt + cBytes);
    const Typed = f64 ? Float64Array : Float32Array;
    const heap = (at: number, len: number) => new Typed(this.memory.buffer, at, len);
    const wc = heap(cAt, m * n);
    if (beta !== 0) wc.set(c.subarray(0, m * n));
    const rowsM = m, tiles = Math.ceil(m / this.kernels.tile_rows(f64 ? 1 : 0)) * Math.ceil(n / this.kernels.tile_cols(f64 ? 1 : 0));

    for (let p0 = 0; p0 < k; p0 += slice) {
      const kc = Math.min(slice, k - p0);
      // op(A) slice: rows p0..p0+kc of a stored k×m A, or columns of a stored m×k A.
      copySlice(heap(aAt, (upper ? n : m) * kc), a, upper || ta ? k : rowsM, upper || ta ? rowsM : k, p0, kc, upper || ta);
      if (!upper) copySlice(heap(bAt, n * kc), b, tb ? n : k, tb ? k : n, p0, kc, !tb);
      this.run({
        f64, m, n, k: kc,
        a: aAt, lda: upper || ta ? m : kc, ta: upper || ta,
        b: bAt, ldb: upper || !tb ? n : kc, tb: !upper && tb,
        c: cAt, ldc: n, alpha, beta: p0 === 0 ? beta : 1, upper, tiles,
      });
    }
    if (upper) (f64 ? this.kernels.mirror_upper_f64 : this.kernels.mirror_upper_f32)(cAt, n);
    c.set(heap(cAt, m * n));
  }

  private run(job: Job): void {
    const failure = this.helpers.run(job, this.kernels, this.scratch0);
    if (failure !== undefined) throw new Error(`wasm products: a kernel thread failed: ${failure}`);
  }
}

/**
 * Copy the k-slice [p0, p0+kc) of a stored rows×cols matrix into `dst`: when the slice runs
 * along rows (`alongRows`), rows p0.. of the matrix (contiguous); otherwise columns p0.. of
 * every row, packed to rows of kc.
 */
function copySlice(dst: Float32Array | Float64Array, src: Float32Array | Float64Array, rows: number, cols: number, p0: number, kc: number, alongRows: boolean): void {
  if (alongRows) {
    dst.set(src.subarray(p0 * cols, (p0 + kc) * cols));
  } else if (kc === cols) {
    dst.set(src.subarray(0, rows * cols));
  } else {
    for (let r = 0; r < rows; r++) dst.set(src.subarray(r * cols + p0, r * cols + p0 + kc), r * kc);
  }
}

/** .ts under tsx (tests), .js once compiled. */
function extension(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}
