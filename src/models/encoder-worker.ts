/**
 * Worker side of `EncoderPool`: one Encoder (with single-threaded products) per worker thread.
 * Init {dir, backend} loads the model (ready value: the products' description); each request
 * {inputs, options} is answered with {layers, states} (buffers transferred).
 */
import { requestBackend } from '../backend/tf.js';
import { configureProducts, describeProducts } from '../backend/products/index.js';
import { serveWorker } from '../backend/worker-pool.js';
import { Encoder } from './encoder.js';
import type { EncoderWorkerInit, EncoderWorkerReply, EncoderWorkerRequest } from './encoder-pool.js';

let encoder: Encoder | undefined;

serveWorker<EncoderWorkerInit, EncoderWorkerRequest, EncoderWorkerReply, string>({
  async init({ dir, backend }) {
    requestBackend(backend);
    // The pool runs one batch per worker: products on one thread each, or the cores are oversubscribed.
    configureProducts({ threads: 1 });
    encoder = await Encoder.load(dir);
    return describeProducts();
  },
  handle({ inputs, options }) {
    const result = encoder!.forward(inputs, options);
    const layers = [...result.hiddenStates.keys()];
    return { layers, states: layers.map((l) => result.hiddenStates.get(l)!) };
  },
  transfer: (reply) => reply.states.map((s) => s.buffer as ArrayBuffer),
});
