/**
 * Per-tensor Fastfood spread over worker threads (float32): the tensors are dealt to W workers
 * by longest-processing-time-first on their L·log₂L cost, each worker builds its own tensors'
 * projections from the same (seed, tensor index) streams (so results equal PerTensorFastfood's
 * exactly, and the set-up runs in parallel too), and both directions run on shared memory:
 * `project` writes every tensor's offsets into one SharedArrayBuffer (the returned arrays are
 * views of it, valid until the next call), `adjoint` copies the gradients into another and sums
 * the workers' partial θ_d gradients in float64 (tensor order within a worker, then worker
 * order: the same sum in another order than the single-threaded one, equal to rounding).
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, UserError } from '../errors.js';
import { WorkerPool } from '../backend/worker-pool.js';
import { nextPowerOfTwo } from './hadamard.js';
import type { FloatArray } from './fastfood.js';
import type { FastfoodWorkerInit, FastfoodWorkerReply, FastfoodWorkerRequest } from './fastfood-worker.js';
import { PerTensorFastfood, type ProjectionOptions, type TensorSpec } from './projection.js';

export class ThreadedFastfood {
  private readonly offsets: number[];
  private readonly output: SharedArrayBuffer;
  private readonly input: SharedArrayBuffer;
  private readonly views: Float32Array[];

  private constructor(
    readonly tensors: readonly TensorSpec[],
    readonly d: number,
    readonly options: ProjectionOptions,
    private readonly pool: WorkerPool<FastfoodWorkerInit, FastfoodWorkerRequest, FastfoodWorkerReply>,
    layout: { offsets: number[]; output: SharedArrayBuffer; input: SharedArrayBuffer },
  ) {
    this.offsets = layout.offsets;
    this.output = layout.output;
    this.input = layout.input;
    this.views = tensors.map((t, i) => new Float32Array(this.output, this.offsets[i] * 4, t.size));
  }

  /** Start `threads` workers and wait until each has built its projections. */
  static async create(tensors: readonly TensorSpec[], d: number, options: ProjectionOptions & { threads: number }): Promise<ThreadedFastfood> {
    check(Number.isInteger(options.threads) && options.threads >= 1, `--threads must be a positive integer, got ${options.threads}`);
    // Validates sizes and d the same way (and with the same messages) as the single-threaded form.
    PerTensorFastfood.check(tensors, d);
    const offsets: number[] = [];
    let total = 0;
    for (const t of tensors) { offsets.push(total); total += t.size; }
    const output = new SharedArrayBuffer(total * 4), input = new SharedArrayBuffer(total * 4);
    const url = new URL(`./fastfood-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
    const threads = Math.min(options.threads, tensors.length);
    const deal = dealByCost(tensors.map((t) => { const L = nextPowerOfTwo(options.publicCodeSizing ? t.size : Math.max(t.size, d)); return L * Math.log2(2 * L); }), threads);
    const inits = deal.map((indices): FastfoodWorkerInit => ({
      d, seed: options.seed ?? 0, options: { publicCodeSizing: options.publicCodeSizing, gradientScaleOneOverL: options.gradientScaleOneOverL },
      tensors: indices.map((i) => ({ index: i, size: tensors[i].size, offset: offsets[i] })), output, input,
    }));
    const pool = await WorkerPool.start<FastfoodWorkerInit, FastfoodWorkerRequest, FastfoodWorkerReply>(url, inits);
    return new ThreadedFastfood(tensors, d, options, pool, { offsets, output, input });
  }

  /** The same request to every worker; any failure closes the pool and is rethrown. */
  private async all(request: FastfoodWorkerRequest): Promise<FastfoodWorkerReply[]> {
    try {
      return await this.pool.all(() => request);
    } catch (e) {
      this.close();
      throw e instanceof UserError || !(e instanceof Error) ? e : new Error(`fastfood worker: ${e.message}`);
    }
  }

  /** Per-tensor float32 offsets: views of shared memory, valid until the next `project`. */
  async project(theta: FloatArray): Promise<Float32Array[]> {
    check(theta.length === this.d, `Fastfood: θ has ${theta.length} entries, expected d = ${this.d}`);
    await this.all({ op: 'project', theta: Float64Array.from(theta) });
    return this.views;
  }

  /** Gradient of θ_d (float64) from per-tensor gradients. */
  async adjoint(grads: readonly FloatArray[]): Promise<Float64Array> {
    check(grads.length === this.tensors.length, `subspace adjoint: ${grads.length} gradients, expected one per tensor (${this.tensors.length})`);
    grads.forEach((g, i) => {
      check(g.length === this.tensors[i].size, `subspace adjoint: gradient of ${this.tensors[i].name} has ${g.length} entries, expected ${this.tensors[i].size}`);
      new Float32Array(this.input, this.offsets[i] * 4, g.length).set(g);
    });
    const replies = await this.all({ op: 'adjoint' });
    const g = new Float64Array(this.d);
    for (const r of replies) { const part = r.grad as Float64Array; for (let i = 0; i < g.length; i++) g[i] += part[i]; }
    return g;
  }

  describe(): Record<string, unknown> {
    return { mode: 'fastfood', d: this.d, seed: this.options.seed ?? 0, tensors: this.tensors.length, threads: this.pool.size, publicCodeSizing: !!this.options.publicCodeSizing, gradientScaleOneOverL: !!this.options.gradientScaleOneOverL };
  }

  close(): void {
    void this.pool.close();
  }
}

/** Indices of `costs` dealt to `bins` bins, largest first onto the least-loaded bin. */
export function dealByCost(costs: readonly number[], bins: number): number[][] {
  const order = costs.map((_, i) => i).sort((a, b) => costs[b] - costs[a]);
  const load = new Array<number>(bins).fill(0);
  const out: number[][] = Array.from({ length: bins }, () => []);
  for (const i of order) {
    let k = 0;
    for (let j = 1; j < bins; j++) if (load[j] < load[k]) k = j;
    load[k] += costs[i];
    out[k].push(i);
  }
  for (const b of out) b.sort((x, y) => x - y);
  return out.filter((b) => b.length > 0);
}
