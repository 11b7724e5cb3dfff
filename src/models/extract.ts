/**
 * Hidden states of every layer for a list of examples, streamed into an Arrow file batch by
 * batch (DESIGN.md "Files"): `layer` in HF numbering, `example` the 0-based index in the input
 * order, `position` the index in the tokenized sequence ([CLS] = 0), `token_id` the id there.
 *
 * Token selection:
 * - `all`: every non-padding token; special tokens ([CLS], [SEP], <s>, </s>) only with
 *   `specialTokens` (Ethayarajh 2019 and most isotropy studies use the word tokens).
 * - `cls`: position 0 of each example ([CLS] / <s>), one row per example.
 * - `mean`: the mean of the tokens `all` would keep, one row per example; `position` and
 *   `token_id` are −1 there, as the row is no single token.
 */
import { createArrowWriter, type ArrowHiddenStatesWriter } from '../io/arrow.js';
import type { FileOutputPlan } from '../io/safe-output.js';
import { UserError } from '../errors.js';
import { yieldToEventLoop } from '../backend/yield.js';
import { describeProducts } from '../backend/products/index.js';
import { Encoder, type EncoderInputs, type ForwardOptions, type ForwardResult } from './encoder.js';
import { EncoderPool } from './encoder-pool.js';
import type { EncodedBatch, TextExample, Tokenizer } from './tokenizer.js';
import type { EncoderConfig } from './config.js';
import { checkModel, type CheckedModel } from './check.js';

import type { TokenSelection } from './token-selection.js';

export { TOKEN_SELECTIONS, type TokenSelection } from './token-selection.js';

export interface ExtractOptions {
  /** Hidden states to write (HF numbering); default all 0..L. */
  layers?: readonly number[];
  tokens: TokenSelection;
  specialTokens: boolean;
  maxLength: number;
  batchSize: number;
  /**
   * Worker threads running forward passes; 'auto': one per core (at most 4) for more than 4
   * batches, else in-process. Never more than the cores, the batches or what memory holds.
   */
  workers?: number | 'auto';
  onProgress?: (examplesDone: number, examplesTotal: number) => void;
}

/** Runs one padded batch through the model (in-process, or on a worker of an EncoderPool). */
export type ForwardFn = (inputs: EncoderInputs, options: ForwardOptions) => Promise<ForwardResult>;

export interface ExtractSummary {
  examples: number;
  layers: number[];
  /** Rows written per layer (the same for every layer). */
  rowsPerLayer: number;
  /** Non-padding tokens the encoder saw. */
  tokens: number;
  truncatedExamples: number;
  seconds: number;
}

/**
 * Run the model over `examples` in batches and write the selected rows of every wanted layer.
 * Tokenizing and writing happen here while up to `parallel` batches are in the model; rows are
 * written in input order whatever order the batches finish in.
 */
export async function extractHiddenStates(
  forward: ForwardFn,
  parallel: number,
  config: EncoderConfig,
  tokenizer: Tokenizer,
  examples: readonly TextExample[],
  writer: ArrowHiddenStatesWriter,
  options: ExtractOptions & { layers: readonly number[] },
): Promise<ExtractSummary> {
  const layers = options.layers;
  const start = performance.now();
  const dim = config.hiddenSize;
  let rowsPerLayer = 0, tokens = 0, truncated = 0, done = 0;
  const inFlight: Promise<{ encoded: EncodedBatch; first: number; result: ForwardResult }>[] = [];
  const write = ({ encoded, first, result }: Awaited<(typeof inFlight)[number]>) => {
    const selection = selectRows(encoded, first, options);
    for (const layer of layers) {
      writer.write({
        layer: new Int16Array(selection.rows).fill(layer),
        example: selection.example,
        position: selection.position,
        tokenId: selection.tokenId,
        vectors: gatherRows(result.hiddenStates.get(layer)!, dim, selection, options.tokens),
      });
    }
    rowsPerLayer += selection.rows;
    done += encoded.batch;
    options.onProgress?.(done, examples.length);
  };
  try {
    for (let first = 0; first < examples.length; first += options.batchSize) {
      const encoded = tokenizer.encodeBatch(examples.slice(first, first + options.batchSize), { maxLength: options.maxLength, padding: 'longest' });
      truncated += encoded.truncated;
      for (let b = 0; b < encoded.batch; b++) tokens += encoded.lengths[b];
      const inputs = { batch: encoded.batch, seqLen: encoded.seqLen, inputIds: encoded.inputIds, attentionMask: encoded.attentionMask, tokenTypeIds: encoded.tokenTypeIds };
      inFlight.push(forward(inputs, { layers }).then((result) => ({ encoded, first, result })));
      if (inFlight.length >= parallel) write(await inFlight.shift()!);
      await yieldToEventLoop();
    }
    while (inFlight.length > 0) write(await inFlight.shift()!);
  } finally {
    // Settle what is still running before the caller tears the workers down.
    await Promise.allSettled(inFlight);
  }
  return { examples: examples.length, layers: [...layers], rowsPerLayer, tokens, truncatedExamples: truncated, seconds: (performance.now() - start) / 1000 };
}

interface Selection {
  rows: number;
  example: Int32Array;
  position: Int16Array;
  tokenId: Int32Array;
  /** all/cls: the flat [B·T] index of each row; mean: for each row, the flat indices it averages. */
  sources: Int32Array[];
}

/** Which positions of the padded batch become rows. */
function selectRows(e: EncodedBatch, firstExample: number, options: ExtractOptions): Selection {
  const T = e.seqLen;
  const kept = (i: number) => e.attentionMask[i] === 1 && (options.specialTokens || e.specialTokensMask[i] === 0);
  if (options.tokens === 'all') {
    const flat: number[] = [];
    for (let i = 0; i < e.batch * T; i++) if (kept(i)) flat.push(i);
    return {
      rows: flat.length,
      example: Int32Array.from(flat, (i) => firstExample + Math.floor(i / T)),
      position: Int16Array.from(flat, (i) => i % T),
      tokenId: Int32Array.from(flat, (i) => e.inputIds[i]),
      sources: [Int32Array.from(flat)],
    };
  }
  const example = Int32Array.from({ length: e.batch }, (_, b) => firstExample + b);
  if (options.tokens === 'cls') {
    return {
      rows: e.batch, example, position: new Int16Array(e.batch),
      tokenId: Int32Array.from({ length: e.batch }, (_, b) => e.inputIds[b * T]),
      sources: [Int32Array.from({ length: e.batch }, (_, b) => b * T)],
    };
  }
  const sources: Int32Array[] = [];
  for (let b = 0; b < e.batch; b++) {
    const idx: number[] = [];
    for (let t = 0; t < T; t++) if (kept(b * T + t)) idx.push(b * T + t);
    if (idx.length === 0) throw new UserError(`example ${firstExample + b} has no tokens left to average (empty text?); pass --special-tokens or remove it`);
    sources.push(Int32Array.from(idx));
  }
  return { rows: e.batch, example, position: new Int16Array(e.batch).fill(-1), tokenId: new Int32Array(e.batch).fill(-1), sources };
}

/** The rows' vectors from a [B·T, d] layer: copies, or (mean) float64 averages rounded once. */
function gatherRows(states: Float32Array, dim: number, s: Selection, tokens: TokenSelection): Float32Array {
  const out = new Float32Array(s.rows * dim);
  if (tokens !== 'mean') {
    const flat = s.sources[0];
    for (let r = 0; r < flat.length; r++) out.set(states.subarray(flat[r] * dim, (flat[r] + 1) * dim), r * dim);
    return out;
  }
  const acc = new Float64Array(dim);
  s.sources.forEach((idx, r) => {
    acc.fill(0);
    for (const i of idx) for (let k = 0; k < dim; k++) acc[k] += states[i * dim + k];
    for (let k = 0; k < dim; k++) out[r * dim + k] = acc[k] / idx.length;
  });
  return out;
}

export interface ExtractFileInput {
  modelDir: string;
  examples: readonly TextExample[];
  /** The Arrow file to write: a path, or a plan checked before the work started (io/safe-output). */
  out: string | FileOutputPlan;
  options: ExtractOptions;
  /** Recorded in the Arrow schema metadata next to the model and options. */
  metadata?: Record<string, string>;
  version: string;
  /** The folder as `checkModel` found it (the CLI checks first, to print warnings before work starts). */
  model?: CheckedModel;
}

/**
 * Load the model and its tokenizer, extract, and write `out` atomically (a failed run leaves
 * nothing at `out`). Schema metadata: `repgeom.*` keys with the model, its config, the options.
 */
export async function extractToFile(input: ExtractFileInput): Promise<ExtractSummary & { modelType: string; workers: number; warnings: string[]; productsBackend: string }> {
  const o = input.options;
  const model = input.model ?? await checkModel(input.modelDir, o, input.examples.length);
  const { config, tokenizer, layers, workers } = model;
  let forward: ForwardFn;
  let release: () => Promise<void>;
  let productsBackend: string;
  if (workers > 1) {
    const pool = await EncoderPool.open(input.modelDir, workers);
    forward = (inputs, options) => pool.forward(inputs, options);
    release = () => pool.close();
    productsBackend = `${pool.productsBackend} in each of ${workers} workers`;
  } else {
    const encoder = await Encoder.load(input.modelDir);
    forward = async (inputs, options) => encoder.forward(inputs, options);
    release = async () => encoder.dispose();
    productsBackend = describeProducts();
  }
  try {
    const writer = createArrowWriter(input.out, config.hiddenSize, {
      'repgeom.version': input.version,
      'repgeom.model': input.modelDir,
      'repgeom.model_type': config.modelType,
      'repgeom.config': JSON.stringify(config.raw),
      'repgeom.tokenizer': tokenizer.source,
      'repgeom.tokens': o.tokens,
      'repgeom.special_tokens': String(o.specialTokens),
      'repgeom.max_length': String(o.maxLength),
      'repgeom.layers': layers.join(','),
      'repgeom.examples': String(input.examples.length),
      'repgeom.products_backend': productsBackend,
      ...input.metadata,
    });
    try {
      const summary = await extractHiddenStates(forward, workers, config, tokenizer, input.examples, writer, { ...o, layers });
      writer.close();
      return { ...summary, modelType: config.modelType, workers, warnings: model.warnings, productsBackend };
    } catch (e) {
      writer.abort();
      throw e;
    }
  } finally {
    await release();
  }
}
