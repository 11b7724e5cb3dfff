/**
 * Batches of a GLUE split for training and evaluation: the epoch's order is one seeded
 * permutation (Fisher–Yates over the project's Rng, keyed by seed and epoch, so a resumed run
 * draws the same order without saving generator state), and each batch is tokenized and padded
 * to its own longest row (as transformers' DataCollatorWithPadding).
 */
import { Rng } from '../backend/rng.js';
import type { TextExample, Tokenizer } from '../models/tokenizer.js';
import type { TrainingBatch } from '../models/trainable.js';

export interface LabelledExamples {
  examples: TextExample[];
  /** Class ids, or float targets (regression). */
  labels: number[];
  regression: boolean;
}

/** The order of the training rows in epoch `epoch` (0-based) of a run with `seed`. */
export function epochOrder(rows: number, seed: number, epoch: number): Int32Array {
  // seed < 2^32 and epoch small: the key stays an exact integer.
  const rng = new Rng(seed * 65_537 + epoch);
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  for (let i = rows - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  return order;
}

export function batchCount(rows: number, batchSize: number): number {
  return Math.ceil(rows / batchSize);
}

/** The batch of rows `indices` (labels included), padded to its longest row. */
export function makeBatch(data: LabelledExamples, indices: ArrayLike<number>, tokenizer: Tokenizer, maxLength: number): TrainingBatch {
  const examples = Array.from(indices, (i) => data.examples[i]);
  const encoded = tokenizer.encodeBatch(examples, { maxLength, padding: 'longest' });
  const labels = data.regression ? new Float32Array(indices.length) : new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) labels[i] = data.labels[indices[i]];
  return { batch: encoded.batch, seqLen: encoded.seqLen, inputIds: encoded.inputIds, attentionMask: encoded.attentionMask, tokenTypeIds: encoded.tokenTypeIds, labels };
}

/** Batch `b` of an epoch's order. */
export function orderedBatch(data: LabelledExamples, order: Int32Array, b: number, batchSize: number, tokenizer: Tokenizer, maxLength: number): TrainingBatch {
  return makeBatch(data, order.subarray(b * batchSize, Math.min(order.length, (b + 1) * batchSize)), tokenizer, maxLength);
}

/** Rows in file order, batch by batch. */
export function* fileOrderBatches(data: LabelledExamples, batchSize: number, tokenizer: Tokenizer, maxLength: number, rows = data.examples.length): Generator<{ start: number; batch: TrainingBatch }> {
  for (let start = 0; start < rows; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, rows - start) }, (_, i) => start + i);
    yield { start, batch: makeBatch(data, indices, tokenizer, maxLength) };
  }
}
