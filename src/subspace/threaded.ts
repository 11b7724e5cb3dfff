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
import type { Worker } from 'node:worker_threads';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check } from '../errors.js';
import { spawnModuleWorker } from '../backend/worker.js';
import { nextPowerOfTwo } from './hadamard.js';
import type { FloatArray } from './fastfood.js';
import type { FastfoodWorkerInit } from './fastfood-worker.js';
import { PerTensorFastfood, type ProjectionOptions, type TensorSpec } from './projection.js';

interface Slot { worker: Worker; pending: ((m: unknown) => void)[] }

export class ThreadedFastfood {
  private readonly slots: Slot[];
  private readonly offsets: number[];
  private readonly output: SharedArrayBuffer;
  private readonly input: SharedArrayBuffer;
  private readonly views: Float32Array[];
  private failure: Error | undefined;

  private constructor(readonly tensors: readonly TensorSpec[], readonly d: number, readonly options: ProjectionOptions, threads: number) {
    // Validates sizes and d the same way (and with the same messages) as the single-threaded form.
    PerTensorFastfood.check(tensors, d);
    this.offsets = [];
    let total = 0;
    for (const t of tensors) { this.offsets.push(total); total += t.size; }
    this.output = new SharedArrayBuffer(total * 4);
    this.input = new SharedArrayBuffer(total * 4);
    this.views = tensors.map((t, i) => new Float32Array(this.output, this.offsets[i] * 4, t.size));
    const url = new URL(`./fastfood-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
    const deal = dealByCost(tensors.map((t) => { const L = nextPowerOfTwo(options.publicCodeSizing ? t.size : Math.max(t.size, d)); return L * Math.log2(2 * L); }), threads);
    this.slots = deal.map((indices) => {
      const slot: Slot = { worker: spawnModuleWorker(url), pending: [] };
      slot.worker.on('message', (m: unknown) => {
        if (typeof m === 'object' && m !== null && 'error' in m) this.failure = new Error(`fastfood worker: ${(m as { error: string }).error}`);
        slot.pending.shift()?.(m);
      });
      slot.worker.on('error', (e) => { this.failure = e; for (const p of slot.pending.splice(0)) p(undefined); });
      const init: FastfoodWorkerInit = {
        d, seed: options.seed ?? 0, options: { publicCodeSizing: options.publicCodeSizing, gradientScaleOneOverL: options.gradientScaleOneOverL },
        tensors: indices.map((i) => ({ index: i, size: tensors[i].size, offset: this.offsets[i] })), output: this.output, input: this.input,
      };
      slot.worker.postMessage({ op: 'init', init });
      return slot;
    });
  }

  /** Start `threads` workers and wait until each has built its projections. */
  static async create(tensors: readonly TensorSpec[], d: number, options: ProjectionOptions & { threads: number }): Promise<ThreadedFastfood> {
    check(Number.isInteger(options.threads) && options.threads >= 1, `--threads must be a positive integer, got ${options.threads}`);
    const t = new ThreadedFastfood(tensors, d, options, Math.min(options.threads, tensors.length));
    await t.all(() => undefined);
    return t;
  }

  private async all(send: (slot: Slot) => void): Promise<unknown[]> {
    const replies = await Promise.all(this.slots.map((slot) => new Promise<unknown>((resolve) => { slot.pending.push(resolve); send(slot); })));
    if (this.failure) { const e = this.failure; this.close(); throw e; }
    return replies;
  }

  /** Per-tensor float32 offsets: views of shared memory, valid until the next `project`. */
  async project(theta: FloatArray): Promise<Float32Array[]> {
    check(theta.length === this.d, `Fastfood: θ has ${theta.length} entries, expected d = ${this.d}`);
    const t = Float64Array.from(theta);
    await this.all((s) => s.worker.postMessage({ op: 'project', theta: t }));
    return this.views;
  }

  /** Gradient of θ_d (float64) from per-tensor gradients. */
  async adjoint(grads: readonly FloatArray[]): Promise<Float64Array> {
    check(grads.length === this.tensors.length, `subspace adjoint: ${grads.length} gradients, expected one per tensor (${this.tensors.length})`);
    grads.forEach((g, i) => {
      check(g.length === this.tensors[i].size, `subspace adjoint: gradient of ${this.tensors[i].name} has ${g.length} entries, expected ${this.tensors[i].size}`);
      new Float32Array(this.input, this.offsets[i] * 4, g.length).set(g);
    });
    const replies = await this.all((s) => s.worker.postMessage({ op: 'adjoint' }));
    const g = new Float64Array(this.d);
    for (const r of replies) { const part = (r as { grad: Float64Array }).grad; for (let i = 0; i < g.length; i++) g[i] += part[i]; }
    return g;
  }

  describe(): Record<string, unknown> {
    return { mode: 'fastfood', d: this.d, seed: this.options.seed ?? 0, tensors: this.tensors.length, threads: this.slots.length, publicCodeSizing: !!this.options.publicCodeSizing, gradientScaleOneOverL: !!this.options.gradientScaleOneOverL };
  }

  close(): void {
    for (const s of this.slots) void s.worker.terminate();
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
