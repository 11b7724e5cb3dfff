/**
 * SAID (structure-aware intrinsic dimension, Aghajanyan et al. 2021): θᵢ = θ0ᵢ + λᵢ Pᵢ θ_{d−m},
 * one trainable scalar λᵢ per tensor (initialised to 1), the m scalars counted in the budget d.
 *
 * The trainable vector is laid out [θ_{d−m} | λ₁ … λ_m]. Gradients: ∂/∂θ = Σᵢ λᵢ Pᵢᵀ gᵢ and
 * ∂/∂λᵢ = ⟨gᵢ, Pᵢ θ⟩ (float64). The λ gradient needs Pᵢθ: `project` keeps it with a copy of
 * the parameters it was computed for, and `adjoint` reuses it when called with the same
 * parameters (one training step), or recomputes it. The public code's 1/L gradient quirk acts
 * on θ only (λ's gradient does not pass through its Hadamard backward).
 */
import { check } from '../errors.js';
import type { FloatArray } from './fastfood.js';
import { createProjection, type ProjectionOptions, type SubspaceProjection, type TensorSpec } from './projection.js';

export class SaidProjection implements SubspaceProjection {
  /** The projection of θ_{d−m}. */
  readonly inner: SubspaceProjection;
  /** m: one scalar per tensor. */
  readonly scalars: number;
  private cachedParams: Float64Array | undefined;
  private cachedRaw: FloatArray[] | undefined;

  constructor(readonly tensors: readonly TensorSpec[], readonly d: number, options: ProjectionOptions = {}) {
    const m = tensors.length;
    check(Number.isInteger(d) && d > m, `SAID needs d > m = ${m} (one scalar per tensor counts in d), got d = ${d}; use d ≥ ${m + 1} or --method did`);
    this.scalars = m;
    this.inner = createProjection(tensors, d - m, options);
  }

  /** The starting parameters: θ = 0, λ = 1. */
  initial(): Float64Array {
    const p = new Float64Array(this.d);
    p.fill(1, this.d - this.scalars);
    return p;
  }

  project(params: FloatArray, out?: FloatArray[]): FloatArray[] {
    check(params.length === this.d, `SAID: parameters have ${params.length} entries, expected d = ${this.d}`);
    const k = this.d - this.scalars;
    // Pᵢθ in the precision of the output, into last call's buffers when they fit (no per-step allocation).
    const f64 = out ? out[0] instanceof Float64Array : params instanceof Float64Array;
    const reuse = this.cachedRaw && (this.cachedRaw[0] instanceof Float64Array) === f64 ? this.cachedRaw : undefined;
    const raw = this.inner.project(params.subarray(0, k), reuse ?? this.tensors.map((t) => (f64 ? new Float64Array(t.size) : new Float32Array(t.size))));
    this.cachedParams = Float64Array.from(params);
    this.cachedRaw = raw;
    const ys = out ?? raw.map((r) => (r instanceof Float64Array ? new Float64Array(r.length) : new Float32Array(r.length)));
    ys.forEach((y, i) => check(y.length === raw[i].length, `SAID: output for ${this.tensors[i].name} has ${y.length} entries, expected ${raw[i].length}`));
    return saidOffsets(raw, params.subarray(k), ys);
  }

  adjoint(grads: readonly FloatArray[], params?: FloatArray): Float64Array {
    check(params !== undefined, 'SAID: the adjoint needs the parameters it is taken at');
    check(params.length === this.d, `SAID: parameters have ${params.length} entries, expected d = ${this.d}`);
    const k = this.d - this.scalars;
    let raw = this.cachedRaw;
    if (!raw || !sameValues(this.cachedParams!, params)) raw = this.inner.project(params.subarray(0, k), grads.map((g) => (g instanceof Float64Array ? new Float64Array(g.length) : new Float32Array(g.length))));
    const out = new Float64Array(this.d);
    const scaled = saidGradients(grads, raw, params.subarray(k), out.subarray(k));
    out.set(this.inner.adjoint(scaled), 0);
    return out;
  }

  dispose(): void {
    this.inner.dispose();
    this.cachedRaw = undefined;
  }

  describe(): Record<string, unknown> {
    return { method: 'said', d: this.d, scalars: this.scalars, projection: this.inner.describe() };
  }
}

/**
 * SAID's scaling on top of any projection of θ (also a threaded one): yᵢ = λᵢ rawᵢ with rawᵢ = Pᵢθ,
 * into `out`.
 */
export function saidOffsets(raw: readonly FloatArray[], lambdas: FloatArray, out: FloatArray[]): FloatArray[] {
  out.forEach((y, i) => {
    const lambda = lambdas[i], r = raw[i];
    for (let j = 0; j < y.length; j++) y[j] = lambda * r[j];
  });
  return out;
}

/**
 * SAID's chain rule from the tensors' gradients gᵢ: ∂/∂λᵢ = ⟨gᵢ, rawᵢ⟩ into `lambdaGrads`
 * (float64), and the gradients λᵢ gᵢ whose adjoint through P is the gradient of θ.
 */
export function saidGradients(grads: readonly FloatArray[], raw: readonly FloatArray[], lambdas: FloatArray, lambdaGrads: Float64Array): FloatArray[] {
  return grads.map((g, i) => {
    const lambda = lambdas[i], r = raw[i];
    let dot = 0;
    const s = g instanceof Float64Array ? new Float64Array(g.length) : new Float32Array(g.length);
    for (let j = 0; j < g.length; j++) {
      dot += g[j] * r[j];
      s[j] = lambda * g[j];
    }
    lambdaGrads[i] = dot;
    return s;
  });
}

function sameValues(a: FloatArray, b: FloatArray): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
