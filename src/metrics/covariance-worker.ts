/**
 * Worker side of `ParallelCovariance`: one CovarianceAccumulator with the float32 tfjs kernel.
 * Messages in: {dim, backend} once, then {data, rows} blocks (each answered with 'ack'), then
 * 'finish', answered with the accumulator's count, mean and co-moment.
 */
import { parentPort } from 'node:worker_threads';
import { requestBackend, getTf } from '../backend/tf.js';
import { CovarianceAccumulator } from './covariance.js';

type Message = { dim: number; backend: string } | { data: Float32Array; rows: number } | 'finish';

const port = parentPort;
if (!port) throw new Error('covariance-worker must run in a worker thread');
let acc: Promise<CovarianceAccumulator> | undefined;

port.on('message', async (message: Message) => {
  try {
    if (message === 'finish') {
      const a = await (acc as Promise<CovarianceAccumulator>);
      port.postMessage({ count: a.count, mean: a.mean, comoment: a.comoment }, [a.mean.buffer as ArrayBuffer, a.comoment.buffer as ArrayBuffer]);
    } else if ('dim' in message) {
      requestBackend(message.backend);
      acc = getTf().then(({ tf }) => new CovarianceAccumulator(message.dim, { kind: 'float32', tf }));
    } else {
      const a = await (acc as Promise<CovarianceAccumulator>);
      a.add({ data: message.data, rows: message.rows, cols: a.dim });
      port.postMessage('ack');
    }
  } catch (e) {
    port.postMessage({ error: (e as Error).message });
  }
});
