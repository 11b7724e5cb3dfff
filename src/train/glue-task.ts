/**
 * What `repgeom train` needs to know about each GLUE task: the head it trains (classes or one
 * regression output), the label names the checkpoint's config.json records, and the metrics of
 * an evaluation (as Hugging Face's `glue` metric reports them).
 */
import { UserError } from '../errors.js';
import type { HeadKind } from '../models/trainable.js';
import { accuracy, f1, matthews, pearson, spearman } from './task-metrics.js';

export const TRAIN_TASKS = ['sst2', 'mrpc', 'rte', 'cola', 'qqp', 'qnli', 'stsb', 'wnli'] as const;
export type TrainTask = (typeof TRAIN_TASKS)[number];

export interface TaskSpec {
  head: HeadKind;
  /** Class names in id order (the dataset reader's label order); null for regression. */
  labels: readonly string[] | null;
  metrics(gold: ArrayLike<number>, predicted: ArrayLike<number>): Record<string, number>;
  /**
   * The task's headline metric (the one GLUE papers report, and `intrinsic-dim`'s score):
   * accuracy, F1 for MRPC and QQP, Matthews for CoLA, Spearman for STS-B.
   */
  primary: 'accuracy' | 'f1' | 'matthews' | 'spearman';
}

const classification = (labels: readonly string[], metrics: TaskSpec['metrics'], primary: TaskSpec['primary']): TaskSpec => ({ head: { kind: 'classification', labels: labels.length }, labels, metrics, primary });
const acc: TaskSpec['metrics'] = (g, p) => ({ accuracy: accuracy(g, p) });
const f1Acc: TaskSpec['metrics'] = (g, p) => ({ accuracy: accuracy(g, p), f1: f1(g, p) });

const SPECS: Record<TrainTask, TaskSpec> = {
  sst2: classification(['0', '1'], acc, 'accuracy'),
  mrpc: classification(['0', '1'], f1Acc, 'f1'),
  qqp: classification(['0', '1'], f1Acc, 'f1'),
  cola: classification(['0', '1'], (g, p) => ({ matthews: matthews(g, p) }), 'matthews'),
  rte: classification(['entailment', 'not_entailment'], acc, 'accuracy'),
  qnli: classification(['entailment', 'not_entailment'], acc, 'accuracy'),
  wnli: classification(['0', '1'], acc, 'accuracy'),
  stsb: { head: { kind: 'regression' }, labels: null, metrics: (g, p) => ({ pearson: pearson(g, p), spearman: spearman(g, p) }), primary: 'spearman' },
};

export function taskSpec(task: string): TaskSpec {
  if (!(TRAIN_TASKS as readonly string[]).includes(task)) {
    throw new UserError(`--task ${task}: unknown task; train takes one of ${TRAIN_TASKS.join(', ')}`);
  }
  return SPECS[task as TrainTask];
}
