/**
 * RESEARCH.md §5's known answer for the intrinsic dimension: n random linear constraints ‖Aθ − b‖²
 * on D parameters, trained exactly (least squares) inside a random subspace θ = P θ_d. The
 * expected score 1 − min loss / loss(0) is min(d/n, 1), so d90 = 46 for n = 50 (strict rule).
 * Shared by the subspace math's tests and the intrinsic-dim driver's.
 */
import { leastSquares } from '../../src/subspace/least-squares.js';
import { createProjection, type SubspaceProjection } from '../../src/subspace/projection.js';
import { streamRng } from '../../src/subspace/random.js';

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Column j of a projection (all tensors concatenated): P e_j, float64. */
export function column(p: SubspaceProjection, j: number): Float64Array {
  const e = new Float64Array(p.d);
  e[j] = 1;
  const parts = p.project(e);
  const out = new Float64Array(parts.reduce((s, t) => s + t.length, 0));
  let at = 0;
  for (const t of parts) { out.set(t, at); at += t.length; }
  return out;
}

/** Score 1 − min loss(d)/loss(0) of the loss ‖A θ − b‖², θ = P θ_d, minimised exactly within the subspace. */
export function subspaceScore(a: Float64Array, n: number, b: Float64Array, p: SubspaceProjection): number {
  const D = a.length / n, d = p.d;
  const m = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    const c = column(p, j);
    for (let i = 0; i < n; i++) { let s = 0; for (let k = 0; k < D; k++) s += a[i * D + k] * c[k]; m[i * d + j] = s; }
  }
  return 1 - leastSquares(m, n, d, b).residual / dot(b, b);
}

/** Instance `seed` of the toy: A (n × D) and b with standard normal entries, each from its own stream. */
export function linearConstraints(n: number, D: number, seed: number): { a: Float64Array; b: Float64Array } {
  const a = new Float64Array(n * D);
  streamRng(1000 + seed, 0).fillNormal(a);
  const b = new Float64Array(n);
  streamRng(2000 + seed, 0).fillNormal(b);
  return { a, b };
}

/** The exact score at d of instance `seed` in a dense Gaussian subspace (projection seed seed·100 + d). */
export function linearToyScore(n: number, D: number, seed: number, d: number): number {
  const { a, b } = linearConstraints(n, D, seed);
  return subspaceScore(a, n, b, createProjection([{ name: 'w', size: D }], d, { mode: 'dense', seed: seed * 100 + d }));
}
