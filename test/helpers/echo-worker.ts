/** A worker for test/worker-pool.test.ts: known answers, a user error, a plain error, a crash. */
import { serveWorker } from '../../src/backend/worker-pool.js';
import { UserError } from '../../src/errors.js';

export interface EchoInit { tag: string; failInit?: 'user' | 'plain' }
export type EchoRequest = { op: 'double'; data: Float64Array } | { op: 'slow'; ms: number; value: number } | { op: 'user' } | { op: 'plain' } | { op: 'crash' };
export interface EchoReply { tag: string; data?: Float64Array; value?: number }

let tag = '';

serveWorker<EchoInit, EchoRequest, EchoReply, string>({
  init(init) {
    if (init.failInit === 'user') throw new UserError(`${init.tag}: cannot start; fix the init`);
    if (init.failInit === 'plain') throw new Error(`${init.tag}: broken init`);
    tag = init.tag;
    return `ready ${tag}`;
  },
  async handle(r) {
    if (r.op === 'double') return { tag, data: r.data.map((x) => 2 * x) };
    if (r.op === 'slow') { await new Promise((resolve) => setTimeout(resolve, r.ms)); return { tag, value: r.value }; }
    if (r.op === 'user') throw new UserError(`${tag}: bad request; send another`);
    if (r.op === 'plain') throw new TypeError(`${tag}: internal`);
    process.exit(3);
  },
  transfer: (reply) => (reply.data ? [reply.data.buffer as ArrayBuffer] : []),
});
