/**
 * Everything about a model folder and the extraction options that can be checked before any
 * work starts, without reading tensor data: config.json, the tokenizer, --max-length and
 * --layers against the model, the weights' names and shapes, whether they fit in memory, and how
 * many worker threads the machine can hold. `report --model a,b,c` checks every folder this way
 * before the first model runs, so a typo in the last one costs nothing.
 */
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { availableMemory } from '../backend/memory.js';
import { maxInputLength, readConfig, type EncoderConfig } from './config.js';
import { checkWeightsFit, inspectWeights, type WeightsPlan } from './weights.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';
import { planWorkers } from './encoder-pool.js';
import type { ExtractOptions } from './extract.js';

export interface CheckedModel {
  dir: string;
  config: EncoderConfig;
  tokenizer: Tokenizer;
  /** The hidden states to write, sorted and without repeats. */
  layers: number[];
  weights: WeightsPlan;
  /** Forward passes at once: 1 runs in-process, more run on an EncoderPool. */
  workers: number;
  /** For the user (the CLI prints each as `repgeom: warning: …`). */
  warnings: string[];
}

export async function checkModel(dir: string, options: ExtractOptions, examples: number): Promise<CheckedModel> {
  const config = readConfig(dir);
  const tokenizer = loadTokenizer(dir, { modelType: config.modelType, modelVocabSize: config.vocabSize });
  const layers = checkExtractOptions(config, dir, options);
  const weights = await inspectWeights(dir, config);
  checkWeightsFit(weights);
  const batches = Math.ceil(examples / options.batchSize);
  const activationBytes = activationsPerBatch(config, options, layers.length);
  const plan = planWorkers({ requested: options.workers ?? 'auto', batches, weightBytes: weights.float32Bytes, activationBytes, available: availableMemory() });
  return { dir, config, tokenizer, layers, weights, workers: plan.workers, warnings: [...weights.warnings, ...(plan.warning ? [plan.warning] : [])] };
}

/** Check --max-length, --batch-size and --layers against the model; the layers to write, sorted, without repeats. */
export function checkExtractOptions(config: EncoderConfig, dir: string, options: ExtractOptions): number[] {
  const limit = maxInputLength(config);
  if (!Number.isInteger(options.maxLength) || options.maxLength < 2) throw new UserError(`--max-length must be an integer ≥ 2, got ${options.maxLength}; e.g. --max-length 128`);
  if (options.maxLength > limit) {
    throw new UserError(`--max-length ${options.maxLength} is larger than the model's ${limit} positions (max_position_embeddings in ${path.join(dir, 'config.json')}); give --max-length ${limit} or less`);
  }
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new UserError(`--batch-size must be a positive integer, got ${options.batchSize}; e.g. --batch-size 32`);
  const all = Array.from({ length: config.numLayers + 1 }, (_, i) => i);
  const layers = options.layers ? [...new Set(options.layers)].sort((a, b) => a - b) : all;
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l > config.numLayers) {
      throw new UserError(`--layers: layer ${l} does not exist; the model has hidden states 0..${config.numLayers} (0 = embeddings): give --layers within 0..${config.numLayers}`);
    }
  }
  return layers;
}

/**
 * Peak bytes of one forward pass: the kept hidden states plus one block's working set (Q, K, V,
 * attention scores, the feed-forward activations), each counted twice for tfjs's temporaries.
 */
function activationsPerBatch(c: EncoderConfig, options: ExtractOptions, keptLayers: number): number {
  const tokens = options.batchSize * options.maxLength;
  const perToken = c.hiddenSize * keptLayers + 2 * (4 * c.hiddenSize + c.intermediateSize + c.numHeads * options.maxLength);
  return 4 * tokens * perToken;
}
