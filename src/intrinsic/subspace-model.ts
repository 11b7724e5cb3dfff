/**
 * Training a model inside a random subspace (RESEARCH.md §5): the selected HF tensors become
 *
 *     DID:   θ = θ0 + P θ_d                      (θ_d ∈ R^d, starts at 0)
 *     SAID:  θᵢ = θ0ᵢ + λᵢ Pᵢ θ_{d−m}            (one λᵢ per tensor, starts at 1; counted in d)
 *
 * and only θ_d (and λ) train. One step: materialise θ into the model's tensors, forward and
 * backward through the training engine (src/train/step.ts lossGradients: task loss, dropout as in
 * `train`), pull the per-tensor gradients back through the projection's adjoint, clip that
 * gradient as `train` clips the model's (--max-grad-norm), and step AdamW on θ_d alone.
 */
import type { Parameter } from '../models/parameters.js';
import type { TrainableModel, TrainingBatch } from '../models/trainable.js';
import { createProjection, DenseProjection, PerTensorFastfood, type ProjectionMode, type SubspaceProjection, type TensorSpec } from '../subspace/projection.js';
import { SaidProjection } from '../subspace/said.js';
import { check } from '../errors.js';
import { AdamW, clipGradNorm } from '../train/optimizer.js';
import { lossGradients } from '../train/step.js';

export type SubspaceMethod = 'did' | 'said';

/** How the subspace is built (recorded in every output). */
export interface SubspaceSpec {
  method: SubspaceMethod;
  mode: ProjectionMode;
  /** The public code's Fastfood sizing (θ_d cropped to L coordinates per tensor). */
  publicCodeSizing: boolean;
  /** The public code's 1/L gradient scale. */
  gradientScaleOneOverL: boolean;
}

export function tensorSpecs(tensors: readonly Parameter[]): TensorSpec[] {
  return tensors.map((t) => ({ name: t.name, size: t.value.length }));
}

/** Refuse a d this subspace cannot have before any work: d ≤ 0, d > D, SAID d ≤ m, a dense matrix too large. */
export function checkSubspaceDim(spec: SubspaceSpec, tensors: readonly TensorSpec[], d: number): void {
  check(Number.isInteger(d) && d >= 1, `subspace dimension d must be a positive integer, got ${d}; e.g. --dims=10,100,1000`);
  const m = tensors.length;
  if (spec.method === 'said') check(d > m, `SAID needs d > m = ${m} (one scalar λ per tensor counts in d), got d = ${d}; use d ≥ ${m + 1} or --method did`);
  const total = tensors.reduce((n, t) => n + t.size, 0);
  check(d <= total, `subspace dimension d = ${d} exceeds the ${total} trainable parameters; use d ≤ ${total}`);
  const inner = spec.method === 'said' ? d - m : d;
  if (spec.mode === 'dense') DenseProjection.check(tensors, inner);
  else PerTensorFastfood.check(tensors, inner);
}

export function makeProjection(spec: SubspaceSpec, tensors: readonly TensorSpec[], d: number, seed: number): SubspaceProjection & { initial?: () => Float64Array } {
  const options = { mode: spec.mode, seed, publicCodeSizing: spec.publicCodeSizing, gradientScaleOneOverL: spec.gradientScaleOneOverL };
  return spec.method === 'said' ? new SaidProjection(tensors, d, options) : createProjection(tensors, d, options);
}

export interface SubspaceStepResult {
  loss: number;
  /** Norm of θ_d's gradient before clipping. */
  gradNorm: number;
}

export class SubspaceModel {
  /** θ_d (SAID: [θ_{d−m} | λ₁ … λ_m]). */
  readonly params: Float64Array;
  readonly grad: Float64Array;
  readonly optimizer: AdamW;
  private readonly theta0: Float32Array[];
  private readonly offsets: Float32Array[];

  constructor(readonly model: TrainableModel, readonly tensors: readonly Parameter[], readonly projection: SubspaceProjection & { initial?: () => Float64Array }, o: { weightDecay: number }) {
    this.params = projection.initial?.() ?? new Float64Array(projection.d);
    this.grad = new Float64Array(projection.d);
    this.theta0 = tensors.map((t) => Float32Array.from(t.value));
    this.offsets = tensors.map((t) => new Float32Array(t.value.length));
    this.optimizer = new AdamW([{ name: 'theta_d', value: this.params, grad: this.grad, weightDecay: o.weightDecay }]);
  }

  /** Write θ0 + offsets(θ_d) into the model's tensors. */
  materialise(): void {
    this.projection.project(this.params, this.offsets);
    this.tensors.forEach((t, i) => {
      const v = t.value, base = this.theta0[i], off = this.offsets[i];
      for (let j = 0; j < v.length; j++) v[j] = base[j] + off[j];
    });
  }

  /** Materialise, then forward and backward one batch; `grad` holds the gradient of θ_d. */
  gradient(batch: TrainingBatch): number {
    this.materialise();
    const r = lossGradients(this.model, batch, this.optimizer.step);
    this.grad.set(this.projection.adjoint(this.tensors.map((t) => t.grad), this.params));
    return r.loss;
  }

  step(batch: TrainingBatch, lr: number, maxGradNorm: number): SubspaceStepResult {
    const loss = this.gradient(batch);
    const gradNorm = clipGradNorm([this.grad], maxGradNorm > 0 ? maxGradNorm : Infinity);
    this.optimizer.update(lr);
    return { loss, gradNorm };
  }

  dispose(): void {
    this.projection.dispose();
  }
}
