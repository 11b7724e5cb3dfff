/** The one worker pool (src/backend/worker-pool.ts), and the encoder pool on top of it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { WorkerPool } from '../src/backend/worker-pool.js';
import { UserError } from '../src/errors.js';
import { Encoder } from '../src/models/encoder.js';
import { EncoderPool } from '../src/models/encoder-pool.js';
import { SHARED } from './helpers/fixtures.js';
import type { EchoInit, EchoReply, EchoRequest } from './helpers/echo-worker.js';

const ECHO = new URL('./helpers/echo-worker.ts', import.meta.url);
const start = (inits: EchoInit[]) => WorkerPool.start<EchoInit, EchoRequest, EchoReply, string>(ECHO, inits);

test('requests by id with transfer lists both ways; ready values in worker order', async () => {
  const pool = await start([{ tag: 'a' }, { tag: 'b' }]);
  try {
    assert.deepEqual(pool.ready, ['ready a', 'ready b']);
    assert.equal(pool.size, 2);
    const sent = Float64Array.from([1, 2.5, -3]);
    const reply = await pool.request(1, { op: 'double', data: sent }, [sent.buffer]);
    assert.equal(sent.length, 0, 'the request buffer was transferred, not copied');
    assert.equal(reply.tag, 'b');
    assert.deepEqual(Array.from(reply.data!), [2, 5, -6]);
    // run() spreads work over idle workers: two slow requests at once land on different workers.
    const [x, y] = await Promise.all([pool.run({ op: 'slow', ms: 200, value: 1 }), pool.run({ op: 'slow', ms: 10, value: 2 })]);
    assert.deepEqual([x.value, y.value], [1, 2]);
    assert.notEqual(x.tag, y.tag);
    // More requests than workers: they wait for a free worker, and each gets its own answer.
    const many = await Promise.all(Array.from({ length: 7 }, (_, i) => pool.run({ op: 'slow', ms: 5, value: i })));
    assert.deepEqual(many.map((r) => r.value), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual((await pool.all(() => ({ op: 'slow', ms: 1, value: 9 }))).map((r) => r.tag), ['a', 'b']);
  } finally {
    await pool.close();
  }
});

test('a worker error rejects its request: a UserError stays one, the pool goes on', async () => {
  const pool = await start([{ tag: 'w' }]);
  try {
    await assert.rejects(pool.request(0, { op: 'user' }), (e: unknown) => e instanceof UserError && e.message === 'w: bad request; send another');
    await assert.rejects(pool.request(0, { op: 'plain' }), (e: unknown) => e instanceof Error && !(e instanceof UserError) && e.message === 'w: internal');
    assert.deepEqual(Array.from((await pool.run({ op: 'double', data: Float64Array.from([4]) })).data!), [8]);
  } finally {
    await pool.close();
  }
});

test('a failed init rejects the start (UserError preserved); a crash fails the pool', async () => {
  await assert.rejects(start([{ tag: 'ok' }, { tag: 'x', failInit: 'user' }]), (e: unknown) => e instanceof UserError && e.message === 'x: cannot start; fix the init');
  await assert.rejects(start([{ tag: 'y', failInit: 'plain' }]), (e: unknown) => e instanceof Error && !(e instanceof UserError) && e.message === 'y: broken init');
  const pool = await start([{ tag: 'c' }, { tag: 'd' }]);
  try {
    const slow = pool.request(1, { op: 'slow', ms: 2000, value: 0 });
    await assert.rejects(pool.request(0, { op: 'crash' }), /a worker thread exited \(code 3\)/);
    await assert.rejects(slow, /a worker thread exited \(code 3\)/, 'pending requests on other workers are rejected too');
    await assert.rejects(pool.run({ op: 'slow', ms: 1, value: 0 }), /a worker thread exited \(code 3\)/, 'and new ones refused');
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.request(0, { op: 'slow', ms: 1, value: 0 }), /exited|closed/);
});

test('EncoderPool on two workers gives the in-process encoder\'s hidden states', async () => {
  const dir = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
  const B = 2, T = 5;
  const inputs = () => ({ batch: B, seqLen: T, inputIds: Int32Array.from([101, 7592, 2088, 102, 0, 101, 2023, 2003, 1037, 102]), attentionMask: Int32Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]), tokenTypeIds: new Int32Array(B * T) });
  const encoder = await Encoder.load(dir);
  const expected = encoder.forward(inputs(), { layers: [0, 2] });
  encoder.dispose();
  const pool = await EncoderPool.open(dir, 2);
  try {
    assert.match(pool.productsBackend, /thread/);
    const results = await Promise.all([pool.forward(inputs(), { layers: [0, 2] }), pool.forward(inputs(), { layers: [0, 2] })]);
    for (const r of results) {
      assert.deepEqual([...r.hiddenStates.keys()], [0, 2]);
      for (const l of [0, 2]) {
        const a = r.hiddenStates.get(l)!, e = expected.hiddenStates.get(l)!;
        assert.equal(a.length, e.length);
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]));
        assert.ok(worst < 1e-5, `layer ${l}: max abs difference ${worst}`);
      }
    }
    await assert.rejects(pool.forward(inputs(), { layers: [9] }), (e: unknown) => e instanceof UserError && /layer 9 does not exist/.test(e.message));
  } finally {
    await pool.close();
  }
});
