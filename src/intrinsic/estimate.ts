/**
 * The cost `intrinsic-dim` announces before work starts: probe runs × steps × the time of one
 * real subspace step (and the baseline's steps × one full fine-tuning step), each the second of
 * two steps on the first batch (the first pays for allocation and compilation).
 */
import { duration } from '../duration.js';
import { TrainableModel } from '../models/trainable.js';
import { epochOrder, orderedBatch } from '../train/batches.js';
import { createOptimizer, trainStep } from '../train/step.js';
import { subspaceModel, type ProbeContext } from './probe.js';
import type { ProbeRecord } from './outputs.js';

export interface StepTimes {
  subspaceStepSeconds: number | null;
  baselineStepSeconds: number | null;
}

/** Probe runs (d, seed, lr) still to do: exact for a grid, a typical count for a search. */
export function estimatedRuns(o: { dims: number[] | null; seedsPerProbe: number; lrs: number[]; tolerance: number }, minDim: number, maxDim: number, records: readonly ProbeRecord[]): number {
  const perD = o.seedsPerProbe * o.lrs.length;
  if (o.dims) return o.dims.length * perD - records.length * o.lrs.length;
  // The ladder usually stops about half-way; then bisection from a factor 2 down to 1 + tolerance.
  const ladder = Math.ceil(Math.log2(Math.max(2, maxDim / minDim))) + 1;
  const bisection = o.tolerance > 0 ? Math.ceil(Math.log2(Math.LN2 / Math.log1p(o.tolerance))) : Math.ceil(Math.log2(Math.max(2, maxDim / 2)));
  return Math.max(0, Math.ceil(ladder / 2 + bisection) * perD - records.length * o.lrs.length);
}

/** Time one subspace step at d (seed 0) and, when `baselineLr` is given, one full fine-tuning step. */
export async function timeSteps(ctx: ProbeContext, d: number, lr: number, baselineLr: number | null): Promise<StepTimes> {
  const { train, tokenizer, spec } = ctx.inputs;
  const b = ctx.budget;
  const batch = orderedBatch(train, epochOrder(train.examples.length, 0, 0), 0, b.batchSize, tokenizer, b.maxLength);
  const sub = await subspaceModel(ctx, d, 0);
  let subspaceStepSeconds: number;
  try {
    subspaceStepSeconds = await secondOfTwo(() => sub.step(batch, lr, b.maxGradNorm));
  } finally {
    sub.dispose();
  }
  if (baselineLr === null) return { subspaceStepSeconds, baselineStepSeconds: null };
  const full = await TrainableModel.fromCheckpoint(ctx.modelDir, spec.head, { seed: 0, newHead: true });
  const optimizer = createOptimizer(full, { weightDecay: 0.01, noDecayNormsBiases: false });
  const baselineStepSeconds = await secondOfTwo(async () => trainStep(full, optimizer, batch, { lr: baselineLr, maxGradNorm: b.maxGradNorm }));
  return { subspaceStepSeconds, baselineStepSeconds };
}

/** "about 14 probe runs × 190 steps × 0.21 s ≈ 9.3 min (+ baseline 190 steps × 0.08 s ≈ 15 s)". */
export function costMessage(runs: number, steps: number, t: StepTimes): string {
  const sub = t.subspaceStepSeconds ?? 0;
  return `about ${runs} probe runs × ${steps} steps × ${sub.toFixed(2)} s ≈ ${duration(runs * steps * sub)}` +
    (t.baselineStepSeconds === null ? '' : ` (+ baseline ${steps} steps × ${t.baselineStepSeconds.toFixed(2)} s ≈ ${duration(steps * t.baselineStepSeconds)})`);
}

async function secondOfTwo(f: () => Promise<unknown>): Promise<number> {
  await f();
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

