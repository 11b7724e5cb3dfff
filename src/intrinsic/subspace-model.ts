/**
 * Training a model inside a random subspace (RESEARCH.md §5): the selected HF tensors become
 *
 *     DID:   θ = θ0 + P θ_d                      (θ_d ∈ R^d, starts at 0)
 *     SAID:  θᵢ = θ0ᵢ + λᵢ Pᵢ θ_{d−m}            (one λᵢ per tensor, starts at 1; counted in d)
 *
 * and only θ_d (and λ) train. One step: materialise θ into the model's tensors, forward and
 * backward through the training engine (src/train/step.ts lossGradients: task loss, dropout as in
 * `train`), pull the per-tensor gradients back through the projection's adjoint, clip that
 * gradient as `train` clips the model's (--max-grad-norm), and step AdamW on θ_d alone (SAID's λ
 * in a group of its own, without weight decay).
 */
import type { Parameter } from '../models/parameters.js';
import type { TrainableModel, TrainingBatch } from '../models/trainable.js';
import { createProjection, DenseProjection, PerTensorFastfood, type ProjectionMode, type TensorSpec } from '../subspace/projection.js';
import { SaidProjection, saidGradients, saidOffsets } from '../subspace/said.js';
import { ThreadedFastfood } from '../subspace/threaded.js';
import { check } from '../errors.js';
import { AdamW, clipGradNorm } from '../train/optimizer.js';
import { lossGradients, type StepPhases } from '../train/step.js';

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

/**
 * The projection as the trainer drives it: float32 offsets for the model's tensors and θ_d's
 * float64 gradient, on the main thread or (per-tensor Fastfood with threads > 1) on workers.
 */
export interface TrainerProjection {
  readonly d: number;
  /** SAID's m: the last m parameters are the λ scalars (0 for DID). */
  readonly scalars: number;
  /** The starting parameters (DID: θ = 0; SAID: θ = 0, λ = 1). */
  initial(): Float64Array;
  /** Per-tensor offsets of `params`, valid until the next call. */
  project(params: Float64Array): Promise<readonly Float32Array[]>;
  /** The gradient of `params` from the tensors' gradients. */
  adjoint(grads: readonly Float32Array[], params: Float64Array): Promise<Float64Array>;
  describe(): Record<string, unknown>;
  dispose(): void;
}

/** The projection of probe seed `seed`; `threads` > 1 spreads a per-tensor Fastfood over worker threads. */
export async function makeProjection(spec: SubspaceSpec, tensors: readonly TensorSpec[], d: number, seed: number, threads = 1): Promise<TrainerProjection> {
  const options = { mode: spec.mode, seed, publicCodeSizing: spec.publicCodeSizing, gradientScaleOneOverL: spec.gradientScaleOneOverL };
  if (threads > 1 && spec.mode === 'fastfood' && tensors.length > 1) {
    const m = spec.method === 'said' ? tensors.length : 0;
    if (spec.method === 'said') check(Number.isInteger(d) && d > m, `SAID needs d > m = ${m} (one scalar per tensor counts in d), got d = ${d}; use d ≥ ${m + 1} or --method did`);
    return new ThreadedProjection(await ThreadedFastfood.create(tensors, d - m, { ...options, threads }), tensors, d, m);
  }
  const p = spec.method === 'said' ? new SaidProjection(tensors, d, options) : createProjection(tensors, d, options);
  const offsets = tensors.map((t) => new Float32Array(t.size));
  return {
    d,
    scalars: p instanceof SaidProjection ? p.scalars : 0,
    initial: () => (p instanceof SaidProjection ? p.initial() : new Float64Array(d)),
    project: async (params) => p.project(params, offsets) as Float32Array[],
    adjoint: async (grads, params) => p.adjoint(grads, params),
    describe: () => p.describe(),
    dispose: () => p.dispose(),
  };
}

/** DID or SAID over a ThreadedFastfood of θ (SAID's λ scaling on the main thread, said.ts's functions). */
class ThreadedProjection implements TrainerProjection {
  readonly scalars: number;
  private readonly offsets: Float32Array[];
  private projectedFor: Float64Array | null = null;
  private raw: readonly Float32Array[] = [];

  constructor(private readonly fastfood: ThreadedFastfood, tensors: readonly TensorSpec[], readonly d: number, private readonly m: number) {
    this.scalars = m;
    this.offsets = m > 0 ? tensors.map((t) => new Float32Array(t.size)) : [];
  }

  initial(): Float64Array {
    const p = new Float64Array(this.d);
    p.fill(1, this.d - this.m);
    return p;
  }

  async project(params: Float64Array): Promise<readonly Float32Array[]> {
    const k = this.d - this.m;
    this.raw = await this.fastfood.project(params.subarray(0, k));
    this.projectedFor = Float64Array.from(params);
    return this.m === 0 ? this.raw : saidOffsets(this.raw, params.subarray(k), this.offsets) as Float32Array[];
  }

  async adjoint(grads: readonly Float32Array[], params: Float64Array): Promise<Float64Array> {
    if (this.m === 0) return this.fastfood.adjoint(grads);
    const k = this.d - this.m;
    // λ's gradient needs Pθ at these parameters (a step projects them just before).
    if (!this.projectedFor || this.projectedFor.some((v, i) => v !== params[i])) await this.project(params);
    const out = new Float64Array(this.d);
    const scaled = saidGradients(grads, this.raw, params.subarray(k), out.subarray(k));
    out.set(await this.fastfood.adjoint(scaled), 0);
    return out;
  }

  describe(): Record<string, unknown> {
    return { method: this.m > 0 ? 'said' : 'did', scalars: this.m, projection: this.fastfood.describe() };
  }

  dispose(): void {
    this.fastfood.close();
  }
}

export interface SubspaceStepResult {
  loss: number;
  /** Norm of θ_d's gradient before clipping. */
  gradNorm: number;
}

/** Seconds of a subspace step's phases (bench/subspace-step.ts): θ0 + Pθ_d, forward + backward, Pᵀ, clipping + AdamW on θ_d. */
export interface SubspaceStepPhases extends StepPhases {
  projection: number;
  adjoint: number;
}

export class SubspaceModel {
  /** θ_d (SAID: [θ_{d−m} | λ₁ … λ_m]). */
  readonly params: Float64Array;
  readonly grad: Float64Array;
  readonly optimizer: AdamW;
  private readonly theta0: Float32Array[];

  constructor(readonly model: TrainableModel, readonly tensors: readonly Parameter[], readonly projection: TrainerProjection, o: { weightDecay: number }) {
    this.params = projection.initial();
    this.grad = new Float64Array(projection.d);
    this.theta0 = tensors.map((t) => Float32Array.from(t.value));
    // Two groups over views of params/grad: weight decay pulls θ toward 0 (its start), but would
    // pull SAID's λ scalars (per-tensor scales that start at 1) toward 0 too, so they get none.
    const k = projection.d - projection.scalars;
    this.optimizer = new AdamW([
      { name: 'theta_d', value: this.params.subarray(0, k), grad: this.grad.subarray(0, k), weightDecay: o.weightDecay },
      ...(projection.scalars > 0 ? [{ name: 'lambda', value: this.params.subarray(k), grad: this.grad.subarray(k), weightDecay: 0 }] : []),
    ]);
  }

  /** Write θ0 + offsets(θ_d) into the model's tensors. */
  async materialise(): Promise<void> {
    const offsets = await this.projection.project(this.params);
    this.tensors.forEach((t, i) => {
      const v = t.value, base = this.theta0[i], off = offsets[i];
      for (let j = 0; j < v.length; j++) v[j] = base[j] + off[j];
    });
  }

  /**
   * Materialise, then forward and backward one batch; `grad` holds the gradient of θ_d. Returns
   * the loss. `phases`, when given, gets the seconds of each part.
   */
  async gradient(batch: TrainingBatch, phases?: SubspaceStepPhases): Promise<number> {
    const t0 = performance.now();
    await this.materialise();
    const t1 = performance.now();
    const r = lossGradients(this.model, batch, this.optimizer.step);
    const t2 = performance.now();
    this.grad.set(await this.projection.adjoint(this.tensors.map((t) => t.grad), this.params));
    if (phases) Object.assign(phases, { projection: (t1 - t0) / 1000, forwardBackward: (t2 - t1) / 1000, adjoint: (performance.now() - t2) / 1000 });
    return r.loss;
  }

  async step(batch: TrainingBatch, lr: number, maxGradNorm: number, phases?: SubspaceStepPhases): Promise<SubspaceStepResult> {
    const loss = await this.gradient(batch, phases);
    const t = performance.now();
    const gradNorm = clipGradNorm([this.grad], maxGradNorm > 0 ? maxGradNorm : Infinity);
    this.optimizer.update(lr);
    if (phases) phases.optimizer = (performance.now() - t) / 1000;
    return { loss, gradNorm };
  }

  dispose(): void {
    this.projection.dispose();
  }
}
