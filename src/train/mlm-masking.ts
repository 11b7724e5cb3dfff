/**
 * Masked-LM inputs as transformers' DataCollatorForLanguageModeling makes them: each token is
 * chosen with probability `maskProb` (special and padding tokens never); a chosen token becomes
 * [MASK] with probability 0.8, a uniformly random token of the vocabulary with 0.1, and stays
 * unchanged with 0.1; labels hold the original id at chosen positions and −100 elsewhere.
 *
 * The draws come from a generator keyed by (seed, step), so a resumed run masks every batch as
 * the uninterrupted run did without saving generator state.
 */
import { Rng } from '../backend/rng.js';
import type { EncodedBatch } from '../models/tokenizer.js';
import type { TrainingBatch } from '../models/trainable.js';

export interface MaskingOptions {
  maskProb: number;
  maskId: number;
  vocabSize: number;
  /** Ids never chosen (every special token of the tokenizer; padding is excluded by the batch's mask). */
  excludedIds: ReadonlySet<number>;
  seed: number;
  /** The optimizer steps done before this batch (the key of its draws). */
  step: number;
}

/** Distinct keys per (seed, step): seed < 2^32 and step < 2^20 keep the key a safe integer. */
export function maskingKey(seed: number, step: number): number {
  return seed * 1_048_583 + step;
}

export function maskTokens(encoded: EncodedBatch, o: MaskingOptions): TrainingBatch {
  const rng = new Rng(maskingKey(o.seed, o.step));
  const inputIds = Int32Array.from(encoded.inputIds);
  const labels = new Int32Array(inputIds.length).fill(-100);
  for (let i = 0; i < inputIds.length; i++) {
    // Four draws per position whether or not it can be chosen, so positions do not shift each other's draws.
    const choose = rng.nextFloat(), replace = rng.nextFloat(), random = rng.nextFloat(), word = rng.nextInt(o.vocabSize);
    const id = encoded.inputIds[i];
    if (encoded.specialTokensMask[i] || encoded.attentionMask[i] === 0 || o.excludedIds.has(id)) continue;
    if (choose >= o.maskProb) continue;
    labels[i] = id;
    if (replace < 0.8) inputIds[i] = o.maskId;
    else if (random < 0.5) inputIds[i] = word;
  }
  return { batch: encoded.batch, seqLen: encoded.seqLen, inputIds, attentionMask: encoded.attentionMask, tokenTypeIds: encoded.tokenTypeIds, labels };
}
