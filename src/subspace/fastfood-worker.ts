/**
 * Worker side of `ThreadedFastfood`: builds the Fastfoods of the tensors dealt to it (the same
 * (seed, tensor index) streams as the main thread would, so nothing random is transferred) and
 * runs them on shared memory. Messages in: init (once, answered 'ready'), then {op: 'project',
 * theta} (answered 'done'; offsets written into the shared output) and {op: 'adjoint'} (reads
 * the shared gradients, answers with its partial θ_d gradient).
 */
import { parentPort } from 'node:worker_threads';
import { Fastfood, type FastfoodOptions } from './fastfood.js';

export interface FastfoodWorkerInit {
  d: number;
  seed: number;
  options: FastfoodOptions;
  /** Global tensor indices dealt to this worker, their sizes and offsets in the shared buffers. */
  tensors: { index: number; size: number; offset: number }[];
  output: SharedArrayBuffer;
  input: SharedArrayBuffer;
}

type Message = { op: 'init'; init: FastfoodWorkerInit } | { op: 'project'; theta: Float64Array } | { op: 'adjoint' };

const port = parentPort;
if (!port) throw new Error('fastfood-worker must run in a worker thread');
let parts: { f: Fastfood; out: Float32Array; grad: Float32Array }[] = [];
let d = 0;

port.on('message', (m: Message) => {
  try {
    if (m.op === 'init') {
      const { init } = m;
      d = init.d;
      parts = init.tensors.map((t) => ({
        f: new Fastfood(t.size, init.d, init.seed, t.index, init.options),
        out: new Float32Array(init.output, t.offset * 4, t.size),
        grad: new Float32Array(init.input, t.offset * 4, t.size),
      }));
      port.postMessage('ready');
    } else if (m.op === 'project') {
      const theta = Float32Array.from(m.theta);
      for (const p of parts) p.f.project(theta, p.out);
      port.postMessage('done');
    } else {
      const grad = new Float64Array(d);
      for (const p of parts) p.f.adjointAdd(p.grad, grad);
      port.postMessage({ grad }, [grad.buffer]);
    }
  } catch (e) {
    port.postMessage({ error: (e as Error).message });
  }
});
