/**
 * The one pool of module workers: start N workers on a module, send each its init message, then
 * request/response by id, with transfer lists both ways. A worker's thrown error rejects its
 * request (a UserError stays a UserError, so the CLI prints it as one line); a worker that
 * crashes or exits rejects everything pending and fails the pool. The worker side is
 * `serveWorker` below.
 *
 * (The products layer's helper threads are a different mechanism — Atomics on shared memory,
 * no messages per product — and do not use this.)
 */
import { parentPort, type Transferable, type Worker } from 'node:worker_threads';
import { UserError } from '../errors.js';
import { spawnModuleWorker } from './worker.js';

/** Main → worker. */
export type PoolMessage<Init, Req> = { kind: 'init'; init: Init } | { kind: 'request'; id: number; request: Req };
/** Worker → main. */
export type PoolReply<Ready, Res> =
  | { kind: 'ready'; value: Ready }
  | { kind: 'reply'; id: number; value: Res }
  | { kind: 'error'; id: number | null; message: string; user: boolean };

interface Pending<Res> { resolve: (r: Res) => void; reject: (e: Error) => void }

interface Member<Res> {
  worker: Worker;
  /** Requests sent to this worker and not yet answered. */
  pending: Map<number, Pending<Res>>;
}

/** A worker's error as the main thread's: UserError where it was one. */
function replyError(message: string, user: boolean): Error {
  return user ? new UserError(message) : new Error(message);
}

export class WorkerPool<Init, Req, Res, Ready = unknown> {
  private nextId = 0;
  private failure: Error | undefined;
  private closed = false;
  private readonly waiting: (() => void)[] = [];

  /** Each worker's answer to its init message, in worker order. */
  readonly ready: Ready[];

  private constructor(private readonly members: Member<Res>[], ready: Ready[]) {
    this.ready = ready;
  }

  /**
   * Start one worker per element of `inits` on `module` and wait until every one has answered
   * its init. A failed start closes the workers already started and rethrows the first error.
   */
  static async start<Init, Req, Res, Ready = unknown>(module: URL, inits: readonly Init[], transferInit?: (init: Init) => Transferable[]): Promise<WorkerPool<Init, Req, Res, Ready>> {
    const members: Member<Res>[] = [];
    const ready: Ready[] = [];
    const pool = new WorkerPool<Init, Req, Res, Ready>(members, ready);
    const started = inits.map((init, index) => new Promise<void>((resolve, reject) => {
      const member: Member<Res> = { worker: spawnModuleWorker(module), pending: new Map() };
      members.push(member);
      let initialised = false;
      member.worker.on('message', (m: PoolReply<Ready, Res>) => {
        if (!initialised) {
          initialised = true;
          if (m.kind === 'ready') { ready[index] = m.value; resolve(); }
          else reject(m.kind === 'error' ? replyError(m.message, m.user) : new Error('worker answered before its init'));
          return;
        }
        pool.onReply(member, m);
      });
      const die = (e: Error) => {
        if (!initialised) { initialised = true; reject(e); }
        pool.fail(e);
      };
      member.worker.on('error', die);
      member.worker.on('exit', (code) => { if (!pool.closed) die(new Error(`a worker thread exited (code ${code}) while the pool was open`)); });
      const message: PoolMessage<Init, Req> = { kind: 'init', init };
      member.worker.postMessage(message, transferInit?.(init) ?? []);
    }));
    try {
      await Promise.all(started);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.members.length;
  }

  /** Send `request` to worker `index`; resolves with its reply. */
  request(index: number, request: Req, transfer: readonly Transferable[] = []): Promise<Res> {
    const member = this.members[index];
    if (!member) return Promise.reject(new RangeError(`worker pool: no worker ${index} (size ${this.members.length})`));
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('worker pool: closed'));
    const id = this.nextId++;
    return new Promise<Res>((resolve, reject) => {
      member.pending.set(id, { resolve, reject });
      const message: PoolMessage<Init, Req> = { kind: 'request', id, request };
      member.worker.postMessage(message, transfer as Transferable[]);
    });
  }

  /** Send `request` to the first worker with nothing pending (waiting for one when all are busy). */
  async run(request: Req, transfer: readonly Transferable[] = []): Promise<Res> {
    let index = this.idleIndex();
    while (index < 0) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      index = this.idleIndex();
    }
    return this.request(index, request, transfer);
  }

  /** The same request to every worker, answers in worker order. */
  all(request: (index: number) => Req): Promise<Res[]> {
    return Promise.all(this.members.map((_, i) => this.request(i, request(i))));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Requests still in flight are dropped, not rejected: a caller that closes the pool after one
    // failure would otherwise get unhandled rejections from the batches it abandoned.
    for (const m of this.members) m.pending.clear();
    await Promise.all(this.members.map((m) => m.worker.terminate()));
    for (const wake of this.waiting.splice(0)) wake();
  }

  private idleIndex(): number {
    if (this.failure || this.closed) return 0; // request() then rejects
    return this.members.findIndex((m) => m.pending.size === 0);
  }

  private onReply(member: Member<Res>, m: PoolReply<Ready, Res>): void {
    if (m.kind === 'ready') return;
    if (m.kind === 'error' && m.id === null) { this.fail(replyError(m.message, m.user)); return; }
    const p = member.pending.get(m.id as number);
    if (!p) return;
    member.pending.delete(m.id as number);
    this.waiting.shift()?.();
    if (m.kind === 'error') p.reject(replyError(m.message, m.user));
    else p.resolve(m.value);
  }

  /** A worker died: reject everything pending anywhere and refuse new requests. */
  private fail(e: Error): void {
    if (this.closed) return;
    this.failure ??= e;
    for (const m of this.members) {
      for (const p of m.pending.values()) p.reject(e);
      m.pending.clear();
    }
    for (const wake of this.waiting.splice(0)) wake();
  }
}

/**
 * The worker side of a WorkerPool: `init` runs once on the init message (its result is the
 * worker's `ready` value), `handle` answers each request in turn; `transfer` lists the buffers of
 * a reply to move rather than copy. A thrown error goes back to the request (or the start) that
 * caused it, with whether it was a UserError.
 */
export function serveWorker<Init, Req, Res, Ready = unknown>(handlers: {
  init(init: Init): Ready | Promise<Ready>;
  handle(request: Req): Res | Promise<Res>;
  transfer?(reply: Res): Transferable[];
}): void {
  const port = parentPort;
  if (!port) throw new Error('serveWorker must run in a worker thread');
  const errorReply = (id: number | null, e: unknown): PoolReply<Ready, Res> =>
    ({ kind: 'error', id, message: e instanceof Error ? e.message : String(e), user: e instanceof Error && e.name === 'UserError' });
  // One message at a time, in arrival order, even when a handler is async.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (m: PoolMessage<Init, Req>) => {
    queue = queue.then(async () => {
      if (m.kind === 'init') {
        try {
          port.postMessage({ kind: 'ready', value: await handlers.init(m.init) } satisfies PoolReply<Ready, Res>);
        } catch (e) {
          port.postMessage(errorReply(null, e));
        }
        return;
      }
      let value: Res;
      try {
        value = await handlers.handle(m.request);
      } catch (e) {
        port.postMessage(errorReply(m.id, e));
        return;
      }
      port.postMessage({ kind: 'reply', id: m.id, value } satisfies PoolReply<Ready, Res>, handlers.transfer?.(value) ?? []);
    });
  });
}
