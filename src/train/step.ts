/**
 * One optimizer step of the trainable model: forward (train mode, dropout keyed by the step) →
 * task loss + regularizer penalty → backward (the penalty's gradients injected at the hidden
 * states it read) → gradient clipping → AdamW. A `repgeom train` or `pretrain` loop only has to
 * bring batches, learning rates, logs and checkpoints.
 */
import type { TrainableModel, TrainingBatch } from '../models/trainable.js';
import type { Regularizer } from '../regularizers/regularizer.js';
import { AdamW, clipGradNorm, type AdamWOptions } from './optimizer.js';

export interface OptimizerOptions extends AdamWOptions {
  /** Decoupled weight decay (torch.optim.AdamW's default 0.01). */
  weightDecay: number;
  /** HF Trainer's rule: no decay on biases and LayerNorm weights. */
  noDecayNormsBiases: boolean;
}

/** AdamW over every parameter of the model, with the decay groups the options ask for. */
export function createOptimizer(model: TrainableModel, o: OptimizerOptions): AdamW {
  return new AdamW(model.params.list.map((p) => ({
    name: p.name, value: p.value, grad: p.grad,
    weightDecay: o.noDecayNormsBiases && p.noDecay ? 0 : o.weightDecay,
  })), o);
}

export interface StepOptions {
  lr: number;
  /** Clip the joint gradient norm to this (0: off; the norm is still reported). */
  maxGradNorm: number;
  regularizer?: Regularizer | null;
  /** Filled with the seconds of each phase when given (bench/subspace-step.ts); nothing else reads it. */
  phases?: StepPhases;
}

/** Seconds of a step's phases: forward + backward (lossGradients), and clipping + AdamW. */
export interface StepPhases {
  forwardBackward: number;
  optimizer: number;
}

export interface StepResult {
  /** The optimizer step just taken (1-based, as log.jsonl counts). */
  step: number;
  loss: number;
  taskLoss: number;
  regLoss: number;
  /** The regularizer's measured quantity (I-STAR: the batch IsoScore⋆), λ = 0 included. */
  regValue: number | null;
  /** The gradient norm before clipping. */
  gradNorm: number;
  lr: number;
}

export interface GradientResult {
  loss: number;
  taskLoss: number;
  regLoss: number;
  regValue: number | null;
}

/**
 * Forward (train mode, dropout keyed by `step`, the number of completed optimizer steps) and
 * backward of one batch: afterwards every parameter's `grad` holds the gradient of the task loss
 * plus the regularizer's penalty. Shared by `trainStep` and the subspace trainer (src/intrinsic),
 * which pulls these gradients back to its own parameters.
 */
export function lossGradients(model: TrainableModel, batch: TrainingBatch, step: number, regularizer?: Regularizer | null): GradientResult {
  model.train();
  model.params.zeroGrads();
  // The dropout key is the number of completed steps: a resumed run recomputes the same masks.
  const pass = model.forward(batch, step);
  const penalty = regularizer ? regularizer.penalty(pass.hiddenStates, batch.attentionMask) : null;
  model.backward(pass, { hiddenGrads: penalty?.hiddenGrads });
  const regLoss = penalty?.loss ?? 0;
  return { loss: pass.loss + regLoss, taskLoss: pass.loss, regLoss, regValue: penalty?.value ?? null };
}

export function trainStep(model: TrainableModel, optimizer: AdamW, batch: TrainingBatch, o: StepOptions): StepResult {
  const t0 = performance.now();
  const r = lossGradients(model, batch, optimizer.step, o.regularizer);
  const t1 = performance.now();
  const grads = model.params.list.map((p) => p.grad);
  const gradNorm = clipGradNorm(grads, o.maxGradNorm > 0 ? o.maxGradNorm : Infinity);
  optimizer.update(o.lr);
  if (o.phases) Object.assign(o.phases, { forwardBackward: (t1 - t0) / 1000, optimizer: (performance.now() - t1) / 1000 });
  return { step: optimizer.step, ...r, gradNorm, lr: o.lr };
}

/**
 * Recompute a regularizer's per-epoch state (I-STAR's C0) from eval-mode forwards of `batches`,
 * taken in order until it has enough points.
 */
export function refreshRegularizer(model: TrainableModel, regularizer: Regularizer, batches: Iterable<TrainingBatch>): void {
  const refresh = regularizer.beginRefresh?.();
  if (!refresh) return;
  const wasTraining = model.training;
  model.eval();
  try {
    for (const batch of batches) {
      if (!refresh.add(model.forward(batch).hiddenStates, batch.attentionMask)) break;
    }
    refresh.finish();
  } finally {
    model.training = wasTraining;
  }
}
