/**
 * The covariance accumulator spread over worker threads, for large inputs on several cores.
 *
 * tfjs's wasm backend runs single-threaded in Node, so one process uses one core for the
 * O(N·d²) products. Here blocks are dealt round-robin to W workers, each with its own tfjs and
 * its own CovarianceAccumulator (float32 kernel), and the W accumulators are merged at the end
 * with Chan et al.'s update — the accumulator's mergeability is what makes this exact up to the
 * order of summation. At most two blocks per worker are in flight, so memory stays bounded when
 * the file is read faster than it is reduced.
 */
import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../backend/worker.js';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Matrix } from '../backend/matrix.js';
import { CovarianceAccumulator, type ProductKernel } from './covariance.js';

const IN_FLIGHT_PER_WORKER = 2;

/** How many covariance workers this machine should use (one per core, at most 4). */
export function covarianceWorkerCount(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

interface WorkerSlot { worker: Worker; inFlight: number; waiters: (() => void)[] }

export class ParallelCovariance {
  readonly dim: number;
  private readonly slots: WorkerSlot[];
  private next = 0;
  private failure: Error | undefined;

  constructor(dim: number, workers: number, backend: string) {
    this.dim = dim;
    // The worker is the sibling module, .ts under tsx (tests) and .js once compiled.
    const url = new URL(`./covariance-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
    this.slots = Array.from({ length: workers }, () => {
      const slot: WorkerSlot = { worker: spawnModuleWorker(url), inFlight: 0, waiters: [] };
      slot.worker.on('message', (m: unknown) => {
        if (m === 'ack') {
          slot.inFlight--;
          slot.waiters.shift()?.();
        } else if (typeof m === 'object' && m !== null && 'error' in m) {
          this.failure = new Error(`covariance worker: ${(m as { error: string }).error}`);
        }
      });
      slot.worker.on('error', (e) => { this.failure = e; });
      slot.worker.postMessage({ dim, backend });
      return slot;
    });
  }

  /** Hand a block to the next worker (copied as float32), waiting while that worker is busy. */
  async add(block: Matrix): Promise<void> {
    if (this.failure) throw this.failure;
    const slot = this.slots[this.next];
    this.next = (this.next + 1) % this.slots.length;
    while (slot.inFlight >= IN_FLIGHT_PER_WORKER) await new Promise<void>((resolve) => slot.waiters.push(resolve));
    const data = Float32Array.from(block.data);
    slot.inFlight++;
    slot.worker.postMessage({ data, rows: block.rows }, [data.buffer]);
  }

  /** Stop the workers without a result (a failed pass must not leave threads holding the process). */
  abort(): void {
    for (const s of this.slots) void s.worker.terminate();
  }

  /** Wait for every worker, merge their accumulators, and stop the workers. */
  async finish(): Promise<CovarianceAccumulator> {
    const total = new CovarianceAccumulator(this.dim);
    try {
      const parts = await Promise.all(this.slots.map((slot) => new Promise<{ count: number; mean: Float64Array; comoment: Float64Array }>((resolve, reject) => {
        slot.worker.on('message', (m: unknown) => {
          if (typeof m === 'object' && m !== null && 'comoment' in m) resolve(m as { count: number; mean: Float64Array; comoment: Float64Array });
          else if (typeof m === 'object' && m !== null && 'error' in m) reject(new Error(`covariance worker: ${(m as { error: string }).error}`));
        });
        slot.worker.on('error', reject);
        slot.worker.postMessage('finish');
      })));
      if (this.failure) throw this.failure;
      for (const p of parts) {
        if (p.count === 0) continue;
        const part = new CovarianceAccumulator(this.dim);
        part.count = p.count;
        part.mean.set(p.mean);
        part.comoment.set(p.comoment);
        total.merge(part);
      }
      return total;
    } finally {
      await Promise.all(this.slots.map((s) => s.worker.terminate()));
    }
  }
}

/** Where a pass sends its blocks: the accumulator itself, or the workers when that pays. */
export interface CovarianceSink {
  add(block: Matrix): void | Promise<void>;
  finish(): Promise<CovarianceAccumulator>;
  abort(): void;
}

/** Rows from which starting workers (a tfjs instance each, ~0.2 s) pays for itself. */
export const PARALLEL_MIN_ROWS = 16_384;

/**
 * A sink for `rows` points of width `dim`: worker threads when the float32 kernel is in use,
 * the machine has several cores and the input is large; otherwise the accumulator in this thread.
 */
export function covarianceSink(dim: number, kernel: ProductKernel, rows: number, backend: string): CovarianceSink {
  const workers = covarianceWorkerCount();
  if (kernel.kind === 'float32' && workers > 1 && rows >= PARALLEL_MIN_ROWS && (backend === 'wasm' || backend === 'cpu')) {
    return new ParallelCovariance(dim, workers, backend);
  }
  const acc = new CovarianceAccumulator(dim, kernel);
  return { add: (b) => { acc.add(b); }, finish: async () => acc, abort: () => {} };
}
