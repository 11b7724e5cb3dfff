/**
 * Forward passes spread over worker threads, one Encoder per worker.
 *
 * tfjs's wasm backend runs single-threaded in Node (its threaded build is disabled there), so an
 * extraction in one thread uses one core. Batches are independent, so W workers, each with its
 * own copy of the weights, run W batches at once; results come back in submission order.
 */
import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../backend/worker.js';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { getTf } from '../backend/tf.js';
import type { EncoderInputs, ForwardOptions, ForwardResult } from './encoder.js';

interface Pending { resolve: (r: ForwardResult) => void; reject: (e: Error) => void }
interface Slot { worker: Worker; busy: boolean }

type Reply = 'ready' | { error: string; user: boolean; id?: number } | { id: number; layers: number[]; states: Float32Array[] };

export class EncoderPool {
  private readonly pending = new Map<number, Pending>();
  private readonly idle: (() => void)[] = [];
  private nextId = 0;

  private constructor(private readonly slots: Slot[]) {}

  /** Start `workers` threads, each loading the model in `dir`. */
  static async open(dir: string, workers: number): Promise<EncoderPool> {
    const { name: backend } = await getTf();
    const url = new URL(`./encoder-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
    const slots: Slot[] = [];
    const pool = new EncoderPool(slots);
    try {
      await Promise.all(Array.from({ length: workers }, () => new Promise<void>((resolve, reject) => {
        const slot: Slot = { worker: spawnModuleWorker(url), busy: false };
        slots.push(slot);
        slot.worker.once('message', (m: Reply) => {
          if (m === 'ready') {
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
    if (reply === 'ready' || reply.id === undefined) return;
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
