/**
 * Forward passes spread over worker threads, one Encoder per worker.
 *
 * The kernels outside the matrix products (attention, LayerNorm, GELU, the embedding lookup) run
 * on one core, so W workers, each with its own copy of the weights and single-threaded products,
 * run W independent batches at once; results come back in submission order.
 */
import type { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { spawnModuleWorker } from '../backend/worker.js';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { preferredBackend } from '../backend/tf.js';
import { formatBytes } from '../backend/memory.js';
import type { EncoderInputs, ForwardOptions, ForwardResult } from './encoder.js';

/** A worker thread's own cost before any weights: a V8 isolate plus a tfjs-wasm instance (measured ~40 MB). */
const WORKER_BASE_BYTES = 48 * 2 ** 20;

export interface WorkerRequest {
  /** --workers, or 'auto': one per core, at most 4, when there are more than 4 batches. */
  requested: number | 'auto';
  batches: number;
  /** The model's weights as float32. */
  weightBytes: number;
  /** Peak bytes of one batch's forward pass. */
  activationBytes: number;
  /** Memory left to use. */
  available: number;
}

/**
 * How many forward passes to run at once: never more than the cores, the batches, or the
 * workers that fit in memory (each holds the weights twice while loading: the read arrays and
 * tfjs's copies). An explicit request that had to be reduced comes with a warning saying why.
 */
export function planWorkers(r: WorkerRequest): { workers: number; warning: string | null } {
  const cores = availableParallelism();
  const perWorker = WORKER_BASE_BYTES + 2 * r.weightBytes + r.activationBytes;
  const fit = Math.max(1, Math.floor(r.available / perWorker));
  const wanted = r.requested === 'auto' ? (r.batches > 4 ? Math.min(4, cores) : 1) : r.requested;
  const workers = Math.max(1, Math.min(wanted, cores, r.batches, fit));
  if (r.requested === 'auto' || workers === r.requested) return { workers, warning: null };
  const why = [
    ...(cores === workers ? [`this machine has ${cores} core(s)`] : []),
    ...(r.batches === workers ? [`there ${r.batches === 1 ? 'is 1 batch' : `are ${r.batches} batches`} (examples / --batch-size)`] : []),
    ...(fit === workers ? [`memory holds ${fit} worker(s) (about ${formatBytes(perWorker)} each, ${formatBytes(r.available)} available)`] : []),
  ];
  return { workers, warning: `--workers ${r.requested} reduced to ${workers}: ${why.join('; ')}` };
}

interface Pending { resolve: (r: ForwardResult) => void; reject: (e: Error) => void }
interface Slot { worker: Worker; busy: boolean }

type Reply = { ready: string } | { error: string; user: boolean; id?: number } | { id: number; layers: number[]; states: Float32Array[] };

export class EncoderPool {
  private readonly pending = new Map<number, Pending>();
  private readonly idle: (() => void)[] = [];
  private nextId = 0;
  /** The workers' matrix products, e.g. "openblas 0.3.21, 1 thread". */
  productsBackend = '';

  private constructor(private readonly slots: Slot[]) {}

  /** Start `workers` threads, each loading the model in `dir`. */
  static async open(dir: string, workers: number): Promise<EncoderPool> {
    const backend = await preferredBackend();
    const url = new URL(`./encoder-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
    const slots: Slot[] = [];
    const pool = new EncoderPool(slots);
    try {
      await Promise.all(Array.from({ length: workers }, () => new Promise<void>((resolve, reject) => {
        const slot: Slot = { worker: spawnModuleWorker(url), busy: false };
        slots.push(slot);
        slot.worker.once('message', (m: Reply) => {
          if ('ready' in m) {
            pool.productsBackend = m.ready;
            slot.worker.on('message', (reply: Reply) => pool.onReply(slot, reply));
            resolve();
          } else if (typeof m === 'object' && 'error' in m) {
            reject(m.user ? new UserError(m.error) : new Error(m.error));
          }
        });
        slot.worker.on('error', (e) => { reject(e); pool.failAll(e); });
        slot.worker.postMessage({ dir, backend });
      })));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Run one batch on the next free worker. */
  async forward(inputs: EncoderInputs, options: ForwardOptions): Promise<ForwardResult> {
    let slot = this.slots.find((s) => !s.busy);
    while (!slot) {
      await new Promise<void>((resolve) => this.idle.push(resolve));
      slot = this.slots.find((s) => !s.busy);
    }
    slot.busy = true;
    const id = this.nextId++;
    return new Promise<ForwardResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, inputs, options });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private onReply(slot: Slot, reply: Reply): void {
    if ('ready' in reply || reply.id === undefined) return;
    const p = this.pending.get(reply.id)!;
    this.pending.delete(reply.id);
    slot.busy = false;
    this.idle.shift()?.();
    if ('error' in reply) p.reject(reply.user ? new UserError(reply.error) : new Error(reply.error));
    else p.resolve({ hiddenStates: new Map(reply.layers.map((l, i) => [l, reply.states[i]])) });
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
