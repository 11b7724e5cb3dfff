/**
 * Forward passes spread over worker threads, one Encoder per worker.
 *
 * The kernels outside the matrix products (attention, LayerNorm, GELU, the embedding lookup) run
 * on one core, so W workers, each with its own copy of the weights and single-threaded products,
 * run W independent batches at once; results come back in submission order.
 */
import { availableParallelism } from 'node:os';
import { WorkerPool } from '../backend/worker-pool.js';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** The init message of an encoder worker, its ready value (its products' description), requests and replies. */
export interface EncoderWorkerInit { dir: string; backend: string }
export interface EncoderWorkerRequest { inputs: EncoderInputs; options: ForwardOptions }
export interface EncoderWorkerReply { layers: number[]; states: Float32Array[] }

export class EncoderPool {
  /** The workers' matrix products, e.g. "openblas 0.3.21, 1 thread". */
  readonly productsBackend: string;

  private constructor(private readonly pool: WorkerPool<EncoderWorkerInit, EncoderWorkerRequest, EncoderWorkerReply, string>) {
    this.productsBackend = pool.ready[pool.ready.length - 1] ?? '';
  }

  /** Start `workers` threads, each loading the model in `dir`. */
  static async open(dir: string, workers: number): Promise<EncoderPool> {
    const backend = await preferredBackend();
    const url = new URL(`./encoder-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
    return new EncoderPool(await WorkerPool.start(url, Array.from({ length: workers }, () => ({ dir, backend }))));
  }

  /** Run one batch on the next free worker. */
  async forward(inputs: EncoderInputs, options: ForwardOptions): Promise<ForwardResult> {
    const reply = await this.pool.run({ inputs, options });
    return { hiddenStates: new Map(reply.layers.map((l, i) => [l, reply.states[i]])) };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
