/**
 * The tile loop that the calling thread and the helper workers of the threaded products
 * (the WebAssembly kernel, and the system BLAS called one block per thread) run over one
 * shared control block.
 *
 * The caller writes a job's parameters, then publishes it in a 64-bit claim word
 * (generation << 32 | next tile). Threads take tiles with compare-and-swap until none are
 * left and count finished tiles in DONE. Before writing the next job's parameters the caller
 * marks the claim word exhausted, so a thread that read stale parameters can never take a
 * tile: a claim succeeds only while the word still holds the generation whose parameters the
 * thread read. Which thread computes a tile does not matter: a tile's result depends only on
 * the shape (kernels/gemm.c, blas-tiles.ts), so the product is the same for any number of threads.
 */

import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../worker.js';

/** Int32 slots of the control block. */
export const GEN = 0;      // bumped and notified to wake the workers
export const DONE = 1;     // tiles finished in the current job
export const STOP = 2;     // set when the products are closed
export const ERROR = 3;    // set when a tile threw
export const READY = 18;   // workers that have instantiated the kernel
export const WORKER_TILES = 19;  // tiles computed by workers so far (shows they take part)
const OP = 4, M = 5, N = 6, K = 7, LDA = 9, TA = 10, LDB = 12, TB = 13, LDC = 15, UPPER = 16, TOTAL = 17;
// Float64 slots (bytes 80–127); operand addresses are wasm offsets or native pointers (< 2⁵³).
const ALPHA = 10, BETA = 11, A = 13, B = 14, C = 15;
const CLAIM = 12;                     // BigInt64 slot (byte 96)
const MESSAGE_AT = 128, MESSAGE_BYTES = 256;
export const CONTROL_BYTES = MESSAGE_AT + MESSAGE_BYTES;

const EXHAUSTED = 0xffffffffn;

export interface Control {
  i32: Int32Array;
  f64: Float64Array;
  claim: BigInt64Array;
  message: Uint8Array;
}

export function controlViews(buffer: SharedArrayBuffer): Control {
  return {
    i32: new Int32Array(buffer, 0, 32),
    f64: new Float64Array(buffer, 0, 16),
    claim: new BigInt64Array(buffer, 0, 16),
    message: new Uint8Array(buffer, MESSAGE_AT, MESSAGE_BYTES),
  };
}

/** What the loop calls per tile: the kernel's exports (kernels/gemm.c) or blas-tiles.ts. */
export interface TileExports {
  sgemm_tile(tile: number, m: number, n: number, k: number, a: number, lda: number, ta: number, b: number, ldb: number, tb: number,
             c: number, ldc: number, alpha: number, beta: number, upper: number, scratch: number): void;
  dgemm_tile(tile: number, m: number, n: number, k: number, a: number, lda: number, ta: number, b: number, ldb: number, tb: number,
             c: number, ldc: number, alpha: number, beta: number, upper: number, scratch: number): void;
}

export interface Job {
  f64: boolean;
  m: number; n: number; k: number;
  a: number; lda: number; ta: boolean;
  b: number; ldb: number; tb: boolean;
  c: number; ldc: number;
  alpha: number; beta: number;
  upper: boolean;
  tiles: number;
}

/** Caller: publish a job (no thread is working on an earlier one: its tiles are all done). */
export function publish(ctrl: Control, job: Job, generation: number): void {
  const g = BigInt(generation) << 32n;
  Atomics.store(ctrl.claim, CLAIM, g | EXHAUSTED);
  const i = ctrl.i32;
  i[OP] = job.f64 ? 1 : 0;
  i[M] = job.m; i[N] = job.n; i[K] = job.k;
  i[LDA] = job.lda; i[TA] = job.ta ? 1 : 0;
  i[LDB] = job.ldb; i[TB] = job.tb ? 1 : 0;
  i[LDC] = job.ldc; i[UPPER] = job.upper ? 1 : 0; i[TOTAL] = job.tiles;
  const f = ctrl.f64;
  f[A] = job.a; f[B] = job.b; f[C] = job.c; f[ALPHA] = job.alpha; f[BETA] = job.beta;
  Atomics.store(i, DONE, 0);
  Atomics.store(i, ERROR, 0);
  Atomics.store(ctrl.claim, CLAIM, g);
}

/** Any thread: take and compute tiles of the published job until none are left. */
export function runTiles(kernels: TileExports, ctrl: Control, scratch: number, worker: boolean): void {
  let w = Atomics.load(ctrl.claim, CLAIM);
  const gen = w >> 32n;
  const i = ctrl.i32;
  const total = i[TOTAL];
  const tile = i[OP] === 1 ? kernels.dgemm_tile : kernels.sgemm_tile;
  const f = ctrl.f64;
  const m = i[M], n = i[N], k = i[K], a = f[A], lda = i[LDA], ta = i[TA], b = f[B], ldb = i[LDB], tb = i[TB];
  const c = f[C], ldc = i[LDC], upper = i[UPPER], alpha = f[ALPHA], beta = f[BETA];
  for (;;) {
    if (w >> 32n !== gen) return;
    const t = Number(w & EXHAUSTED);
    if (t >= total) return;
    const seen = Atomics.compareExchange(ctrl.claim, CLAIM, w, w + 1n);
    if (seen !== w) {
      w = seen;
      continue;
    }
    try {
      tile(t, m, n, k, a, lda, ta, b, ldb, tb, c, ldc, alpha, beta, upper, scratch);
    } catch (e) {
      if (Atomics.compareExchange(i, ERROR, 0, 1) === 0) {
        const text = new TextEncoder().encode(String(e).slice(0, 200));
        ctrl.message.fill(0).set(text.subarray(0, MESSAGE_BYTES - 1));
      }
    }
    if (worker) Atomics.add(i, WORKER_TILES, 1);
    if (Atomics.add(i, DONE, 1) + 1 === total) Atomics.notify(i, DONE);
    w = Atomics.load(ctrl.claim, CLAIM);
  }
}

/** Caller: wait until every tile of the current job is done; the first failure, if any. */
export function waitDone(ctrl: Control, tiles: number): string | undefined {
  const i = ctrl.i32;
  for (let d = Atomics.load(i, DONE); d < tiles; d = Atomics.load(i, DONE)) Atomics.wait(i, DONE, d);
  if (Atomics.load(i, ERROR) === 0) return undefined;
  return new TextDecoder().decode(ctrl.message.slice(0, ctrl.message.indexOf(0)));
}

/** Caller: wake the helpers for a published job. */
export function wakeHelpers(ctrl: Control): void {
  Atomics.add(ctrl.i32, GEN, 1);
  Atomics.notify(ctrl.i32, GEN);
}

/** Caller: make the helpers leave their loop. */
export function stopHelpers(ctrl: Control): void {
  Atomics.store(ctrl.i32, STOP, 1);
  wakeHelpers(ctrl);
}

/** Caller: block until `helpers` threads have started; false if `timeoutMs` passed first. */
export function waitReady(ctrl: Control, helpers: number, timeoutMs: number): boolean {
  const end = performance.now() + timeoutMs;
  for (let r = Atomics.load(ctrl.i32, READY); r < helpers; r = Atomics.load(ctrl.i32, READY)) {
    const left = end - performance.now();
    if (left <= 0) return false;
    Atomics.wait(ctrl.i32, READY, r, left);
  }
  return true;
}

/**
 * The helper threads of one products implementation and their shared control block: start them,
 * run a job's tiles with them (the calling thread takes tiles too), and stop them. A helper that
 * fails to start only costs speed (the calling thread takes every tile no helper takes); the
 * reason is kept in `error` for diagnosis instead of crashing the process.
 */
export class HelperThreads {
  readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  readonly ctrl = controlViews(this.control);
  private readonly workers: Worker[] = [];
  private generation = 0;
  closed = false;
  error: string | undefined;

  /** Start one helper running `url` with `workerData` (which should carry `control`). */
  spawn(url: URL, workerData: Record<string, unknown>): void {
    const worker = spawnModuleWorker(url, { workerData });
    worker.on('error', (e) => { this.error ??= String(e); });
    worker.unref();
    this.workers.push(worker);
  }

  /** Publish `job`, compute tiles here and on the helpers, wait for all; returns a failure message. */
  run(job: Job, kernels: TileExports, scratch: number): string | undefined {
    this.generation = (this.generation + 1) % 0x7fffffff;
    publish(this.ctrl, job, this.generation);
    if (this.workers.length > 0 && job.tiles > 1) wakeHelpers(this.ctrl);
    runTiles(kernels, this.ctrl, scratch, false);
    return waitDone(this.ctrl, job.tiles);
  }

  /** Block until every helper has started; false if `timeoutMs` passed first. */
  waitForThreads(timeoutMs: number): boolean {
    return waitReady(this.ctrl, this.workers.length, timeoutMs);
  }

  /** Tiles computed by the helpers so far. */
  helperTiles(): number {
    return Atomics.load(this.ctrl.i32, WORKER_TILES);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    stopHelpers(this.ctrl);
    for (const w of this.workers) void w.terminate();
  }
}
