/**
 * Worker side of `ThreadedFastfood`: builds the Fastfoods of the tensors dealt to it (the same
 * (seed, tensor index) streams as the main thread would, so nothing random is transferred) and
 * runs them on shared memory. Init (once) builds them; then {op: 'project', theta} writes the
 * offsets into the shared output and {op: 'adjoint'} reads the shared gradients and answers
 * with its partial θ_d gradient.
 */
import { serveWorker } from '../backend/worker-pool.js';
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

export type FastfoodWorkerRequest = { op: 'project'; theta: Float64Array } | { op: 'adjoint' };
/** 'project' answers with no grad (its offsets are in the shared output); 'adjoint' with its partial θ_d gradient. */
export interface FastfoodWorkerReply { grad?: Float64Array }

let parts: { f: Fastfood; out: Float32Array; grad: Float32Array }[] = [];
let d = 0;

serveWorker<FastfoodWorkerInit, FastfoodWorkerRequest, FastfoodWorkerReply>({
  init(init) {
    d = init.d;
    parts = init.tensors.map((t) => ({
      f: new Fastfood(t.size, init.d, init.seed, t.index, init.options),
      out: new Float32Array(init.output, t.offset * 4, t.size),
      grad: new Float32Array(init.input, t.offset * 4, t.size),
    }));
  },
  handle(m) {
    if (m.op === 'project') {
      const theta = Float32Array.from(m.theta);
      for (const p of parts) p.f.project(theta, p.out);
      return {};
    }
    const grad = new Float64Array(d);
    for (const p of parts) p.f.adjointAdd(p.grad, grad);
    return { grad };
  },
  transfer: (reply) => (reply.grad ? [reply.grad.buffer as ArrayBuffer] : []),
});
