/**
 * The models and the batch the training-step benchmarks step (bench/train-step.ts,
 * bench/subspace-step.ts): tiny-bert-mlm's shape and BERT-base's with random weights, the
 * tiny-bert-mlm checkpoint itself (../shared, read in place), a 2-class head as SST-2's, and a
 * seeded batch of random token ids with all-ones attention masks.
 */
import { resolve } from 'node:path';
import { Rng } from '../src/backend/rng.js';
import { normaliseConfig } from '../src/models/config.js';
import { TrainableModel, type TrainingBatch } from '../src/models/trainable.js';

export const TINY_BERT_MLM = resolve(import.meta.dirname, '..', '..', 'shared', 'models', 'tiny-bert-mlm');

/** tiny-bert-mlm's shape (H 128, 2 layers, 2 heads, FFN 512, vocab 30,522) and BERT-base's. */
export const SHAPES = {
  tiny: { model_type: 'bert', vocab_size: 30522, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512, max_position_embeddings: 512, type_vocab_size: 2 },
  base: { model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512, type_vocab_size: 2 },
};
export type ShapeName = keyof typeof SHAPES;

/** SST-2's head. */
export const TWO_CLASS = { kind: 'classification', labels: 2 } as const;

/** Dropout off, as on the PyTorch side (hf_bert_torch's forward has none). */
export const NO_DROPOUT = { hidden: 0, attention: 0, classifier: 0 };

/** A model of `shape` with random weights (seed 0) and the 2-class head. */
export function randomModel(shape: ShapeName, dropout: boolean): TrainableModel {
  const model = new TrainableModel(normaliseConfig(SHAPES[shape]), TWO_CLASS, { seed: 0, dropout: dropout ? {} : NO_DROPOUT });
  model.params.initialise(0);
  return model;
}

/** `batch` rows of `seqLen` random ids in [1000, 30000) (seed 1), all attended, random 0/1 labels. */
export function randomBatch(batch: number, seqLen: number): TrainingBatch {
  const rng = new Rng(1), n = batch * seqLen;
  return {
    batch, seqLen, inputIds: Int32Array.from({ length: n }, () => 1000 + Math.floor(rng.nextFloat() * 29000)),
    attentionMask: new Int32Array(n).fill(1), labels: Int32Array.from({ length: batch }, () => (rng.nextFloat() < 0.5 ? 0 : 1)),
  };
}
