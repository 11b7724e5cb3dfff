/**
 * One evaluation of a training run on the dev split: the task metrics from the head's outputs,
 * and the geometry of the [CLS] vectors of every hidden state (HF numbering) — IsoScore⋆ with
 * ζ = 0.75 and C0 the covariance of training tokens of that layer, TwoNN, and the mean pairwise
 * cosine. A metric undefined on a layer (too few or identical points) is null there.
 */
import { CovarianceAccumulator } from '../metrics/covariance.js';
import { cosineIsotropy } from '../metrics/cosine.js';
import { isoScoreStar } from '../metrics/isoscore-star.js';
import { twoNN } from '../metrics/twonn.js';
import type { Tokenizer } from '../models/tokenizer.js';
import type { ForwardPass, TrainableModel, TrainingBatch } from '../models/trainable.js';
import { yieldToEventLoop } from '../backend/yield.js';
import { fileOrderBatches, type LabelledExamples } from './batches.js';
import type { TaskSpec } from './glue-task.js';

/** ζ of the evaluation's IsoScore⋆ (RESEARCH.md §7: the I-STAR paper's reporting setting). */
export const EVAL_ZETA = 0.75;
/** Training tokens per layer behind the evaluation's C0: enough for a stable covariance, cheap. */
export const EVAL_C0_TOKENS = 4096;
/**
 * [CLS] vectors the geometry is measured on: the first rows of the eval split (all of them for
 * the small GLUE dev sets); keeps TwoNN's all-pairs distances and the memory bounded on QQP/QNLI.
 */
export const EVAL_GEOMETRY_ROWS = 2000;

export interface Evaluation {
  metrics: Record<string, number | null>;
  /** Eval rows the geometry was measured on. */
  geometryRows: number;
  isoscoreStar: (number | null)[];
  twoNN: (number | null)[];
  meanCosine: (number | null)[];
  gold: number[];
  predicted: number[];
  /** The head's outputs per row (logits, or the regression value). */
  scores: Float32Array[];
}

export interface EvalSettings { batchSize: number; maxLength: number }

/**
 * Per layer, the covariance of the non-padding token vectors of the first training rows (file
 * order, eval mode) until `tokens` points.
 */
export function trainingTokenCovariances(model: TrainableModel, train: LabelledExamples, tokenizer: Tokenizer, s: EvalSettings, tokens = EVAL_C0_TOKENS): Float64Array[] {
  const H = model.config.hiddenSize, layers = model.config.numLayers + 1;
  const acc = Array.from({ length: layers }, () => new CovarianceAccumulator(H));
  const wasTraining = model.training;
  model.eval();
  try {
    for (const { batch } of fileOrderBatches(train, s.batchSize, tokenizer, s.maxLength)) {
      const states = model.forward({ ...batch, labels: undefined }).hiddenStates;
      const rows: number[] = [];
      batch.attentionMask.forEach((m, i) => { if (m) rows.push(i); });
      for (let l = 0; l < layers; l++) {
        const data = new Float32Array(rows.length * H);
        rows.forEach((r, k) => data.set(states[l].subarray(r * H, (r + 1) * H), k * H));
        acc[l].add({ data, rows: rows.length, cols: H });
      }
      if (acc[0].count >= tokens) break;
    }
  } finally {
    model.training = wasTraining;
  }
  return acc.map((a) => a.covariance(1));
}

const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export interface TaskEvaluation {
  metrics: Record<string, number | null>;
  gold: number[];
  predicted: number[];
  /** The head's outputs per row (logits, or the regression value). */
  scores: Float32Array[];
}

/**
 * The task metrics of the model on `data` (eval mode, file order). `onBatch` sees each batch's
 * forward pass (evaluate collects the [CLS] vectors there); the subspace probes of
 * `intrinsic-dim` need the metrics alone.
 */
export async function evaluateTask(model: TrainableModel, task: TaskSpec, data: LabelledExamples, tokenizer: Tokenizer, s: EvalSettings,
  onBatch?: (start: number, batch: TrainingBatch, pass: ForwardPass) => void): Promise<TaskEvaluation> {
  const outputs = task.head.kind === 'classification' ? task.head.labels : 1;
  const scores: Float32Array[] = [], predicted: number[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    for (const { start, batch } of fileOrderBatches(data, s.batchSize, tokenizer, s.maxLength)) {
      const pass = model.forward({ ...batch, labels: undefined });
      for (let b = 0; b < batch.batch; b++) {
        const row = pass.logits.slice(b * outputs, (b + 1) * outputs);
        scores.push(row);
        let best = 0;
        for (let k = 1; k < outputs; k++) if (row[k] > row[best]) best = k;
        predicted.push(outputs === 1 ? row[0] : best);
      }
      onBatch?.(start, batch, pass);
      await yieldToEventLoop();
    }
  } finally {
    model.training = wasTraining;
  }
  const metrics = Object.fromEntries(Object.entries(task.metrics(data.labels, predicted)).map(([k, v]) => [k, orNull(v)]));
  return { metrics, gold: data.labels, predicted, scores };
}

export async function evaluate(model: TrainableModel, task: TaskSpec, data: LabelledExamples, tokenizer: Tokenizer, s: EvalSettings, c0: Float64Array[]): Promise<Evaluation> {
  const H = model.config.hiddenSize, layers = model.config.numLayers + 1;
  const n = Math.min(data.examples.length, EVAL_GEOMETRY_ROWS);
  const cls = Array.from({ length: layers }, () => new Float32Array(n * H));
  const result = await evaluateTask(model, task, data, tokenizer, s, (start, batch, pass) => {
    // [CLS] is position 0 of every row.
    for (let b = 0; b < batch.batch && start + b < n; b++) {
      for (let l = 0; l < layers; l++) cls[l].set(pass.hiddenStates[l].subarray(b * batch.seqLen * H, (b * batch.seqLen + 1) * H), (start + b) * H);
    }
  });
  const geometry = { isoscoreStar: [] as (number | null)[], twoNN: [] as (number | null)[], meanCosine: [] as (number | null)[] };
  for (let l = 0; l < layers; l++) {
    const m = { data: cls[l], rows: n, cols: H };
    geometry.isoscoreStar.push(await undefinedAsNull(() => isoScoreStar(m, { c0: c0[l], zeta: EVAL_ZETA })));
    geometry.twoNN.push(await undefinedAsNull(async () => (await twoNN(m)).id));
    geometry.meanCosine.push(await undefinedAsNull(() => cosineIsotropy(m).meanPairwise));
  }
  return { metrics: result.metrics, geometryRows: n, ...geometry, gold: result.gold, predicted: result.predicted, scores: result.scores };
}

/** A geometry metric that is undefined on this cloud (too few or identical points) is null, not a failed run. */
async function undefinedAsNull(f: () => number | Promise<number>): Promise<number | null> {
  try {
    return orNull(await f());
  } catch (e) {
    if (e instanceof Error && (e.name === 'UserError' || e.name === 'MetricUndefined' || e instanceof RangeError)) return null;
    throw e;
  }
}
