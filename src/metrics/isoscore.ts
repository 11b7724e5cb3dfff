/**
 * IsoScore (Rudman, Gillman, Rayne & Eickhoff, "IsoScore: Measuring the Uniformity of Embedding
 * Space Utilization", Findings of ACL 2022).
 *
 * The authors' algorithm normalises the covariance eigenvalues λ to λ̂ = √d·λ/‖λ‖₂, takes the
 * isotropy defect δ = ‖λ̂ − 1‖₂/√(2(d − √d)), k = (d − δ²(d − √d))²/d and ι = (k − 1)/(d − 1).
 * k is exactly the participation ratio of the eigenvalues, so
 *
 *     IsoScore = (PR − 1)/(d − 1),   PR = (Σλ)²/Σλ² = tr(C)²/‖C‖_F²
 *
 * with C the ddof=1 sample covariance (RESEARCH.md §1): no eigendecomposition is needed, and it
 * is well defined for N < d, where the authors' code raises (sklearn PCA with n_components = d).
 * Invariant to translation, rotation and uniform scaling; in [0, 1].
 */
import type { Matrix } from '../backend/matrix.js';
import { check, definedIf } from '../errors.js';
import { accumulate, columnMeans } from './covariance.js';
import { FLOAT64, gramOfRows, type ProductKernel } from './product-kernel.js';

export interface IsoScoreResult {
  isoscore: number;
  participationRatio: number;
  /** tr(C) and ‖C‖_F² of the ddof=1 covariance. */
  trace: number;
  frobenius2: number;
  points: number;
  dim: number;
}

/** IsoScore from tr(C) and ‖C‖_F² of a d-dimensional covariance. */
export function isoScoreFromMoments(trace: number, frobenius2: number, dim: number): number {
  if (dim < 2) return 1; // a single dimension is trivially "isotropic"; (PR − 1)/(d − 1) is 0/0
  // All points equal: PR = 0/0. IsoScore of a zero covariance is undefined (not 0).
  definedIf(frobenius2 > 0, 'zero covariance (all points identical): IsoScore is 0/0, undefined');
  return ((trace * trace) / frobenius2 - 1) / (dim - 1);
}

/** tr(A) and ‖A‖_F² of a symmetric d×d matrix. */
export function traceAndFrobenius2(a: Float64Array, dim: number): { trace: number; frobenius2: number } {
  let trace = 0, frobenius2 = 0;
  for (let i = 0; i < dim; i++) trace += a[i * dim + i];
  for (let i = 0; i < a.length; i++) frobenius2 += a[i] * a[i];
  return { trace, frobenius2 };
}

/** IsoScore of a covariance matrix (d×d, symmetric). */
export function isoScoreOfCovariance(cov: Float64Array, dim: number): number {
  const { trace, frobenius2 } = traceAndFrobenius2(cov, dim);
  return isoScoreFromMoments(trace, frobenius2, dim);
}

/**
 * IsoScore of a point cloud (rows = points). With N < d it uses the N×N Gram matrix of the
 * centred points, G = X_c X_cᵀ, since tr C = tr G/(N−1) and ‖C‖_F² = ‖G‖_F²/(N−1)², which is
 * cheaper than the d×d covariance there.
 */
export function isoScore(x: Matrix, kernel?: ProductKernel): IsoScoreResult {
  check(x.rows >= 2, `IsoScore needs at least 2 points, got ${x.rows}`);
  const moments = x.rows < x.cols ? gramMoments(x) : covarianceMoments(x, kernel);
  return {
    isoscore: isoScoreFromMoments(moments.trace, moments.frobenius2, x.cols),
    participationRatio: (moments.trace * moments.trace) / moments.frobenius2,
    ...moments,
    points: x.rows,
    dim: x.cols,
  };
}

function covarianceMoments(x: Matrix, kernel?: ProductKernel) {
  return traceAndFrobenius2(accumulate(x, kernel).covariance(1), x.cols);
}

function gramMoments(x: Matrix): { trace: number; frobenius2: number } {
  const n = x.rows, d = x.cols;
  const mean = columnMeans(x.data, n, d);
  const c = new Float64Array(n * d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) c[r * d + j] = x.data[r * d + j] - mean[j];
  const g = gramOfRows(c, n, d, FLOAT64);
  let traceG = 0, frobG = 0;
  for (let a = 0; a < n; a++) traceG += g[a * n + a];
  for (let i = 0; i < g.length; i++) frobG += g[i] * g[i];
  const scale = n - 1;
  return { trace: traceG / scale, frobenius2: frobG / (scale * scale) };
}
