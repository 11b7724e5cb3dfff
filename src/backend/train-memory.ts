/**
 * The memory of the training kernels (kernels/train.wasm): one module instance per process, an
 * allocator of float32 arrays inside its memory, and the argument passing of every kernel call.
 *
 * Arrays the model keeps in this memory (`allocate`) go to the kernels by offset, without a
 * copy; any other typed array is copied in before the call and (for outputs) copied back after,
 * through scratch space above the allocations.
 *
 * Lifetime rules:
 *  - A KernelArray lives until `release` of a mark taken before it was allocated; using it after
 *    that throws. Allocation is a stack: `mark()`, allocate the step's activations, `release(m)`.
 *  - The memory grows when an allocation or a call's scratch needs it (up to WebAssembly's
 *    4 GiB). Growing detaches every Float32Array view of the old memory: keep KernelArray
 *    handles and take `.data` again after anything that may allocate (its view is re-made when
 *    the memory has grown), or `reserve` the whole size once up front. A detached view passed
 *    to a kernel throws instead of reading zeros.
 *  - Scratch space is only valid during one call; no result view points into it.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';

export interface TrainExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  dropout_bits(out: number, n: number, seed: number, stream: number, step: number, start: number): void;
  dropout_mask(out: number, n: number, keep: number, seed: number, stream: number, step: number, start: number): void;
  dropout_apply(x: number, y: number, n: number, keep: number, seed: number, stream: number, step: number, start: number): void;
  layernorm_forward(a: number, b: number, gamma: number, beta: number, out: number, mean: number, rstd: number, rows: number, H: number, eps: number): void;
  layernorm_backward(dy: number, a: number, b: number, gamma: number, mean: number, rstd: number, dx: number, dgamma: number, dbeta: number, acc: number, rows: number, H: number, accumulate: number): void;
  gelu_forward(x: number, y: number, n: number, kind: number): void;
  gelu_backward(dy: number, x: number, dx: number, n: number, kind: number): void;
  tanh_forward(x: number, y: number, n: number): void;
  tanh_backward(dy: number, y: number, dx: number, n: number): void;
  attention_forward(qkv: number, bias: number, out: number, probs: number, scratch: number, B: number, T: number, heads: number, d: number, scale: number, keep: number, seed: number, stream: number, step: number, b0: number): void;
  attention_backward(dout: number, qkv: number, probs: number, dqkv: number, scratch: number, B: number, T: number, heads: number, d: number, scale: number, keep: number, seed: number, stream: number, step: number, b0: number): void;
  cross_entropy(logits: number, labels: number, dlogits: number, N: number, C: number, gradScale: number): number;
  mse(pred: number, target: number, dpred: number, n: number, gradScale: number): number;
  embedding_forward(table: number, ids: number, out: number, N: number, H: number, accumulate: number): void;
  embedding_backward(dout: number, ids: number, dtable: number, N: number, H: number): void;
  column_sum(dy: number, db: number, acc: number, rows: number, H: number): void;
  bias_add(y: number, b: number, rows: number, H: number): void;
  add_into(y: number, x: number, n: number): void;
}

const PAGE = 65536;
const MAX_BYTES = 2 ** 32;
const align16 = (n: number) => Math.ceil(n / 16) * 16;
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

type Typed = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;
type TypedCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Typed;

/** A float32 array inside the kernels' memory: passed to kernels by offset, read through `.data`. */
export class KernelArray {
  #view: Float32Array | undefined;
  #released = false;

  constructor(
    private readonly memory: KernelMemory,
    /** Byte offset in the module's memory (16-byte aligned for allocations). */
    readonly offset: number,
    readonly length: number,
    private readonly parent?: KernelArray,
  ) {}

  get released(): boolean {
    return this.#released || (this.parent?.released ?? false);
  }

  /** A Float32Array view of the array; re-made when the memory has grown. */
  get data(): Float32Array {
    if (this.released) throw new Error(`KernelArray at ${this.offset} used after release`);
    const buffer = this.memory.buffer;
    if (this.#view?.buffer !== buffer) this.#view = new Float32Array(buffer, this.offset, this.length);
    return this.#view;
  }

  /** Elements [start, end) as a KernelArray with the same lifetime (no copy). */
  subarray(start: number, end = this.length): KernelArray {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.length)) {
      throw new RangeError(`subarray(${start}, ${end}) outside a KernelArray of ${this.length} floats`);
    }
    return new KernelArray(this.memory, this.offset + start * 4, end - start, this);
  }

  /** @internal */
  markReleased(): void {
    this.#released = true;
  }
}

/** One kernel argument: an array (or null for an absent optional one) of exactly `n` elements. */
export interface Arg {
  a: Typed | KernelArray | null;
  n: number;
  name: string;
  io: 'in' | 'out' | 'inout';
}

export class KernelMemory {
  readonly k: TrainExports;
  private readonly base: number;
  private top: number;
  private readonly live: KernelArray[] = [];
  /** Buffers of the memory before it grew: views of them are detached. */
  private readonly oldBuffers = new WeakSet<ArrayBufferLike>();

  constructor() {
    // kernels/ sits two levels above this file both in src/backend and in dist/backend.
    const module = new WebAssembly.Module(readFileSync(new URL('../../kernels/train.wasm', import.meta.url)));
    this.k = new WebAssembly.Instance(module, {}).exports as unknown as TrainExports;
    this.base = align16(this.k.__heap_base.value as number);
    this.top = this.base;
  }

  get buffer(): ArrayBuffer {
    return this.k.memory.buffer;
  }

  /** Bytes in use by allocations (from the heap base). */
  get allocatedBytes(): number {
    return this.top - this.base;
  }

  /** Make the memory at least `end` bytes long; a UserError with the size when it cannot grow. */
  ensure(end: number): void {
    const have = this.buffer.byteLength;
    if (end <= have) return;
    const advice = 'lower --batch-size or --max-length';
    if (end > MAX_BYTES) {
      throw new UserError(`the training kernels need ${mib(end)} MiB of memory, more than WebAssembly's 4096 MiB: ${advice}`);
    }
    this.oldBuffers.add(this.buffer);
    try {
      this.k.memory.grow(Math.ceil((end - have) / PAGE));
    } catch {
      throw new UserError(`the training kernels need ${mib(end)} MiB of memory and the system refused to grow it from ${mib(have)} MiB: ${advice}, or free memory`);
    }
  }

  /** Grow once to hold `floats` more floats of allocations (so later calls do not detach views). */
  reserve(floats: number): void {
    this.ensure(this.top + align16(floats * 4));
  }

  /** A zero-filled float32 array of n elements in the kernels' memory. */
  allocate(n: number): KernelArray {
    if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`allocate(${n}): not a size`);
    const offset = this.top;
    this.ensure(offset + align16(n * 4));
    this.top = offset + align16(n * 4);
    const array = new KernelArray(this, offset, n);
    array.data.fill(0);
    this.live.push(array);
    return array;
  }

  /** The current top of the allocation stack, for `release`. */
  mark(): number {
    return this.top;
  }

  /** Free every array allocated after `mark` (they throw if used again). */
  release(mark: number): void {
    if (!(mark >= this.base && mark <= this.top)) throw new RangeError(`release(${mark}): not a mark of the current allocations`);
    while (this.live.length > 0 && this.live[this.live.length - 1].offset >= mark) this.live.pop()!.markReleased();
    this.top = mark;
  }

  /**
   * Run `fn` with the byte offsets of `args` (0 for null) and of `scratch` blocks (sizes in
   * bytes). Arrays already in the memory pass by offset; others are copied in ('in', 'inout')
   * and back out ('out', 'inout').
   */
  call<T>(what: string, args: Arg[], scratch: number[], fn: (ptrs: number[], scratchPtrs: number[]) => T): T {
    const buffer = this.buffer;
    const ptrs: number[] = [];
    const copies: { arg: Arg; at: number }[] = [];
    let at = this.top;
    for (const arg of args) {
      const { a, n, name } = arg;
      if (a === null) {
        ptrs.push(0);
        continue;
      }
      if (!(a instanceof KernelArray) && this.oldBuffers.has(a.buffer)) {
        throw new Error(`${what}: ${name} is a view of detached memory (the kernels' memory grew): take KernelArray.data again`);
      }
      if (a.length !== n) throw new RangeError(`${what}: ${name} has ${a.length} elements, expected ${n}`);
      if (a instanceof KernelArray) {
        if (a.released) throw new Error(`${what}: ${name} is a KernelArray used after release`);
        ptrs.push(a.offset);
      } else if (a.buffer === buffer) {
        if (a.byteOffset < this.base || a.byteOffset + a.byteLength > this.top) {
          throw new Error(`${what}: ${name} is a view of the kernels' memory outside the allocated arrays`);
        }
        ptrs.push(a.byteOffset);
      } else {
        ptrs.push(at);
        copies.push({ arg, at });
        at += align16(a.byteLength);
      }
    }
    const scratchPtrs = scratch.map((bytes) => {
      const p = at;
      at += align16(bytes);
      return p;
    });
    this.ensure(at);
    const view = (arg: Arg, p: number) => new ((arg.a as Typed).constructor as TypedCtor)(this.buffer, p, arg.n);
    for (const { arg, at: p } of copies) if (arg.io !== 'out') view(arg, p).set(arg.a as Typed);
    const result = fn(ptrs, scratchPtrs);
    for (const { arg, at: p } of copies) if (arg.io !== 'in') (arg.a as Typed).set(view(arg, p));
    return result;
  }
}

let instance: KernelMemory | undefined;

/** The process's one training-kernel module and its allocator. */
export function kernelMemory(): KernelMemory {
  instance ??= new KernelMemory();
  return instance;
}
