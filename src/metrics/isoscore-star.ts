/**
 * IsoScore⋆ (Rudman & Eickhoff, "Stable Anisotropic Regularization", ICLR 2024; the authors'
 * `I-STAR/regularizers.py::isoscore_star`).
 *
 *     Σ = (1 − ζ)·C_batch + ζ·C0,   IsoScore⋆ = (tr(Σ)²/‖Σ‖_F² − 1)/(d − 1)
 *
 * ζ ∈ [0, 1] weights the shrinkage covariance C0 (the released code's weighting; ζ = 0 is the
 * plain IsoScore of the batch). Exact pieces, so no eigendecomposition is needed:
 *
 *     tr Σ    = (1−ζ) tr C + ζ tr C0
 *     ‖Σ‖_F²  = (1−ζ)²‖C‖_F² + 2ζ(1−ζ)⟨C, C0⟩_F + ζ²‖C0‖_F²
 *
 * The authors take singular values of Σ, equal to its eigenvalues only when Σ is symmetric
 * positive semi-definite, so a given C0 is validated (`validateC0`). They also compute √d in
 * float32, so their values differ from this exact form by up to ~6e-8.
 *
 * `isoScoreStarTf` is the same quantity as a tfjs function with the analytic gradient
 * (RESEARCH.md §2), for the I-STAR regulariser:
 *
 *     ∂IsoScore⋆/∂X = (1−ζ)·2/(N−1)·X_c·G/(d − 1),  G = (2t/F)·I − (2t²/F²)·Σ,  t = tr Σ, F = ‖Σ‖_F²
 */
import type { Matrix } from '../backend/matrix.js';
import type { Tf } from '../backend/tf.js';
import type { Scalar, Tensor2D } from '@tensorflow/tfjs-core';
import { check, UserError } from '../errors.js';
import { accumulate, type ProductKernel } from './covariance.js';
import { isoScoreFromMoments, traceAndFrobenius2 } from './isoscore.js';
import { symmetricEigen } from './eigen.js';

/** The shrinkage covariance: a d×d matrix, or the identity. */
export type C0 = Float64Array | 'identity';

/** The pieces of Σ = (1 − ζ)·C + ζ·C0 that IsoScore⋆ needs: tr C, ‖C‖_F², tr C0, ‖C0‖_F², ⟨C, C0⟩_F. */
export interface IsoScoreStarMoments {
  trace: number;
  frobenius2: number;
  traceC0: number;
  frobenius2C0: number;
  inner: number;
}

/** IsoScore⋆ from its moments (so that the Gram form for N < d needs no d×d matrix). */
export function isoScoreStarFromMoments(p: IsoScoreStarMoments, zeta: number, dim: number): number {
  checkZeta(zeta);
  const a = 1 - zeta;
  const trace = a * p.trace + zeta * p.traceC0;
  const frobenius2 = a * a * p.frobenius2 + 2 * zeta * a * p.inner + zeta * zeta * p.frobenius2C0;
  return isoScoreFromMoments(trace, frobenius2, dim);
}

/** IsoScore⋆ from the batch covariance and C0 (both d×d, symmetric). */
export function isoScoreStarOfCovariance(cBatch: Float64Array, c0: C0, zeta: number, dim: number): number {
  checkZeta(zeta);
  const c = traceAndFrobenius2(cBatch, dim);
  if (c0 === 'identity') {
    return isoScoreStarFromMoments({ ...c, traceC0: dim, frobenius2C0: dim, inner: c.trace }, zeta, dim);
  }
  checkC0Size(c0, dim);
  const { trace: traceC0, frobenius2: frobenius2C0 } = traceAndFrobenius2(c0, dim);
  let inner = 0;
  for (let i = 0; i < cBatch.length; i++) inner += cBatch[i] * c0[i];
  return isoScoreStarFromMoments({ ...c, traceC0, frobenius2C0, inner }, zeta, dim);
}

/** IsoScore⋆ of a batch of points (rows) with shrinkage C0 and weight ζ. */
export function isoScoreStar(batch: Matrix, options: { c0: C0; zeta: number; kernel?: ProductKernel }): number {
  check(batch.rows >= 2, `IsoScore⋆ needs at least 2 points in the batch, got ${batch.rows}`);
  return isoScoreStarOfCovariance(accumulate(batch, options.kernel).covariance(1), options.c0, options.zeta, batch.cols);
}

export function checkZeta(zeta: number): void {
  check(Number.isFinite(zeta) && zeta >= 0 && zeta <= 1, `zeta must be in [0, 1], got ${zeta}`);
}

export function checkC0Size(c0: Float64Array, dim: number): void {
  check(c0.length === dim * dim,
    `C0 has ${c0.length} entries but the points have ${dim} dimensions (expected a ${dim}×${dim} matrix)`);
}

/**
 * Check that a given C0 is a d×d symmetric positive semi-definite matrix (to rounding), as
 * IsoScore⋆ requires; `source` names it in the error. Asymmetry is judged relative to the
 * largest entry, negative eigenvalues relative to the largest eigenvalue (1e-10·d).
 */
export function validateC0(c0: Float64Array, dim: number, source: string): void {
  if (c0.length !== dim * dim) {
    const side = Math.sqrt(c0.length);
    const shape = Number.isInteger(side) ? `${side}×${side}` : `${c0.length} values`;
    throw new UserError(`${source}: C0 is ${shape} but the points have ${dim} dimensions; give a ${dim}×${dim} covariance`);
  }
  let maxAbs = 0;
  for (let i = 0; i < c0.length; i++) {
    check(Number.isFinite(c0[i]), `${source}: C0 has a non-finite entry at (${Math.floor(i / dim)}, ${i % dim})`);
    maxAbs = Math.max(maxAbs, Math.abs(c0[i]));
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i + 1; j < dim; j++) {
      if (Math.abs(c0[i * dim + j] - c0[j * dim + i]) > 1e-10 * maxAbs) {
        throw new UserError(`${source}: C0 is not symmetric (entries (${i}, ${j}) and (${j}, ${i}) differ); give a covariance matrix`);
      }
    }
  }
  const { values } = symmetricEigen(c0, dim);
  const smallest = values[values.length - 1], largest = Math.max(Math.abs(values[0]), Number.MIN_VALUE);
  if (smallest < -1e-10 * dim * largest) {
    throw new UserError(`${source}: C0 is not positive semi-definite (eigenvalue ${smallest.toPrecision(3)}); give a covariance matrix`);
  }
}

/**
 * IsoScore⋆ as a differentiable tfjs function of the points (rows of `x`), with C0 and ζ fixed.
 * The gradient is the analytic one above, which also avoids tfjs's transposed-matmul gradient
 * (slow on wasm). `c0` null means the identity.
 */
export function isoScoreStarTf(tf: Tf, c0: Tensor2D | null, zeta: number): (x: Tensor2D) => Scalar {
  checkZeta(zeta);
  return tf.customGrad((...args) => {
    const [x, save] = args as unknown as [Tensor2D, (t: Tensor2D[]) => void];
    const [n, d] = x.shape;
    const xc = tf.sub(x, tf.mean(x, 0, true)) as Tensor2D;
    const c = tf.div(tf.matMul(tf.transpose(xc), xc), n - 1) as Tensor2D;
    const sigma = (c0 === null
      ? tf.add(tf.mul(c, 1 - zeta), tf.mul(tf.eye(d), zeta))
      : tf.add(tf.mul(c, 1 - zeta), tf.mul(c0, zeta))) as Tensor2D;
    const t = tf.sum(tf.mul(sigma, tf.eye(d)));
    const f = tf.sum(tf.square(sigma));
    const value = tf.div(tf.sub(tf.div(tf.square(t), f), 1), d - 1) as Scalar;
    save([xc, sigma, tf.reshape(t, [1, 1]) as Tensor2D, tf.reshape(f, [1, 1]) as Tensor2D]);
    const gradFunc = (dy: Scalar, saved: Tensor2D[]) => {
      const [xcS, sigmaS, tS, fS] = saved;
      const tt = tf.reshape(tS, []), ff = tf.reshape(fS, []);
      const g = tf.sub(tf.mul(tf.eye(d), tf.div(tf.mul(tt, 2), ff)), tf.mul(sigmaS, tf.div(tf.mul(tf.square(tt), 2), tf.square(ff))));
      const scale = ((1 - zeta) * 2) / ((n - 1) * (d - 1));
      return [tf.mul(tf.matMul(xcS, g), tf.mul(dy, scale))];
    };
    return { value, gradFunc } as never;
  }) as unknown as (x: Tensor2D) => Scalar;
}
