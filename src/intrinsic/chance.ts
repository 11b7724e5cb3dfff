/**
 * Chance for d90: the task's primary metric of the best constant prediction on the eval split
 * (the majority class for accuracy; predicting every pair a paraphrase for MRPC's F1, ≈ 0.81;
 * 0 for Matthews). A constant has no correlation with STS-B's targets: 0 there.
 */
import type { TaskSpec } from '../train/glue-task.js';
import { primaryScore } from './probe.js';

export function chanceScore(spec: TaskSpec, gold: readonly number[]): number {
  if (spec.head.kind !== 'classification') return 0;
  let best = -Infinity;
  for (let k = 0; k < spec.head.labels; k++) {
    best = Math.max(best, primaryScore(spec.metrics(gold, gold.map(() => k)), spec.primaryMetric));
  }
  return best;
}
