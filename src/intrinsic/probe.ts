/**
 * One subspace probe of `intrinsic-dim`: train the task in a d-dimensional random subspace with
 * one probe seed (the projection's, the data order's, the new head's and the dropout masks'
 * seed) and one learning rate, then score the final weights on the eval split with the task's
 * primary metric (src/train/evaluate.ts evaluateTask). The model, batches, schedule and
 * evaluation are the training engine's; only the parameters that train differ.
 */
import { TrainableModel } from '../models/trainable.js';
import { yieldToEventLoop } from '../backend/yield.js';
import { batchCount, epochOrder, orderedBatch } from '../train/batches.js';
import { evaluateTask } from '../train/evaluate.js';
import type { TaskInputs } from '../train/run.js';
import { makeSchedule, type ScheduleKind } from '../train/schedule.js';
import { makeProjection, SubspaceModel, tensorSpecs, type SubspaceSpec } from './subspace-model.js';
import { selectTensors } from './tensor-selection.js';

export interface ProbeBudget {
  epochs: number;
  batchSize: number;
  maxLength: number;
  schedule: ScheduleKind;
  maxGradNorm: number;
  /** AdamW's decoupled weight decay on θ_d (0 by default). */
  weightDecay: number;
}

export interface ProbeContext {
  modelDir: string;
  inputs: TaskInputs;
  subspace: SubspaceSpec;
  budget: ProbeBudget;
  include: string[] | null;
  exclude: string[];
  /** Worker threads of a per-tensor Fastfood (1: the main thread). */
  threads: number;
}

export interface ProbeRun {
  score: number;
  steps: number;
  seconds: number;
  finalLoss: number;
}

/** The task model of probe seed `seed` (new head from that seed) with its selected tensors and subspace. */
export async function subspaceModel(ctx: ProbeContext, d: number, seed: number): Promise<SubspaceModel> {
  const model = await TrainableModel.fromCheckpoint(ctx.modelDir, ctx.inputs.spec.head, { seed, newHead: true });
  const tensors = selectTensors(model.params.list, ctx.include, ctx.exclude);
  return new SubspaceModel(model, tensors, await makeProjection(ctx.subspace, tensorSpecs(tensors), d, seed, ctx.threads), { weightDecay: ctx.budget.weightDecay });
}

/** The primary metric of an evaluation; an undefined correlation (a constant prediction) counts as 0. */
export function primaryScore(metrics: Record<string, number | null>, primary: string): number {
  return metrics[primary] ?? 0;
}

export async function runProbe(ctx: ProbeContext, d: number, seed: number, lr: number, onStep?: (step: number, total: number, loss: number) => void): Promise<ProbeRun> {
  const started = Date.now();
  const { train, dev, tokenizer, spec } = ctx.inputs;
  const b = ctx.budget;
  const perEpoch = batchCount(train.examples.length, b.batchSize);
  const total = perEpoch * b.epochs;
  const schedule = makeSchedule(b.schedule, lr, total, 0);
  const sub = await subspaceModel(ctx, d, seed);
  try {
    let loss = NaN;
    for (let epoch = 0; epoch < b.epochs; epoch++) {
      const order = epochOrder(train.examples.length, seed, epoch);
      for (let k = 0; k < perEpoch; k++) {
        const step = sub.optimizer.step;
        loss = (await sub.step(orderedBatch(train, order, k, b.batchSize, tokenizer, b.maxLength), schedule.lrAt(step), b.maxGradNorm)).loss;
        onStep?.(step + 1, total, loss);
        await yieldToEventLoop();
      }
    }
    await sub.materialise();
    const e = await evaluateTask(sub.model, spec, dev, tokenizer, { batchSize: b.batchSize, maxLength: b.maxLength });
    return { score: primaryScore(e.metrics, spec.primaryMetric), steps: total, seconds: (Date.now() - started) / 1000, finalLoss: loss };
  } finally {
    sub.dispose();
  }
}
