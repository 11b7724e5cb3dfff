/**
 * Worker side of `EncoderPool`: one Encoder (with single-threaded products) per worker thread.
 * Messages in: {dir, backend} once (answered with {ready: products description} or an error), then forward requests
 * {id, inputs, options}, each answered with {id, layers, states} (buffers transferred).
 */
import { parentPort } from 'node:worker_threads';
import { requestBackend } from '../backend/tf.js';
import { configureProducts, describeProducts } from '../backend/products/index.js';
import { Encoder, type EncoderInputs, type ForwardOptions } from './encoder.js';

type Message = { dir: string; backend: string } | { id: number; inputs: EncoderInputs; options: ForwardOptions } | 'close';

const port = parentPort;
if (!port) throw new Error('encoder-worker must run in a worker thread');
let encoder: Encoder | undefined;

port.on('message', async (message: Message) => {
  if (message === 'close') {
    encoder?.dispose();
    port.close();
    return;
  }
  if ('dir' in message) {
    try {
      requestBackend(message.backend);
      // The pool runs one batch per worker: products on one thread each, or the cores are oversubscribed.
      configureProducts({ threads: 1 });
      encoder = await Encoder.load(message.dir);
      port.postMessage({ ready: describeProducts() });
    } catch (e) {
      port.postMessage({ error: (e as Error).message, user: (e as Error).name === 'UserError' });
    }
    return;
  }
  try {
    const result = encoder!.forward(message.inputs, message.options);
    const layers = [...result.hiddenStates.keys()];
    const states = layers.map((l) => result.hiddenStates.get(l)!);
    port.postMessage({ id: message.id, layers, states }, states.map((s) => s.buffer as ArrayBuffer));
  } catch (e) {
    port.postMessage({ id: message.id, error: (e as Error).message, user: (e as Error).name === 'UserError' });
  }
});
