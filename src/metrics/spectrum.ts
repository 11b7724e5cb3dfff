/**
 * The covariance spectrum: eigenvalues of the ddof=1 sample covariance, as scikit-learn's PCA
 * reports them in `explained_variance_` (RESEARCH.md §4), from a d×d covariance such as
 * CovarianceAccumulator.covariance(1) gives.
 */
import { check } from '../errors.js';
import { symmetricEigen } from './eigen.js';

/**
 * Eigenvalues λ₁ ≥ … ≥ λ_m of the ddof=1 covariance of `points` points in `dim` dimensions,
 * m = min(points, dim): scikit-learn's PCA keeps min(N, d) components, so for N ≤ d the rest are
 * absent, not zero (the centred data have rank ≤ N − 1 anyway).
 *
 * Rounding: scikit-learn takes the SVD of the centred data, where the eigenvalues that are zero
 * in exact arithmetic come out near ε²·λ₁ and never negative. From the covariance they come out
 * near ±ε·λ₁ instead, which would turn the ratios λᵢ/λᵢ₊₁ used by the PCA-ID rules into
 * noise. So every eigenvalue below τ = max(N, d)·ε·λ₁ (the rounding bound of the
 * covariance's N-term sums, as numpy.linalg.matrix_rank's default tolerance) is reported as
 * exactly 0: this clamps the tiny negatives and makes the numerical rank explicit. (A
 * covariance from the float32 product kernel carries noise near 1e-7·λ₁, above τ: its null
 * eigenvalues stay as small positive numbers, and only its negatives become 0.)
 */
export function covarianceSpectrum(cov: Float64Array, dim: number, points: number): Float64Array {
  check(Number.isInteger(dim) && dim >= 1 && cov.length === dim * dim,
    () => `covariance spectrum: ${cov.length} values do not form a ${dim}×${dim} covariance`);
  check(Number.isInteger(points) && points >= 2, `covariance spectrum: needs at least 2 points (got ${points})`);
  return clampSpectrum(symmetricEigen(cov, dim).values, points, dim);
}

/**
 * The first min(N, d) of descending eigenvalues, those at or below the rounding bound
 * τ = max(N, d)·ε·λ₁ set to exactly 0 (see covarianceSpectrum); shared with the Gram form.
 */
export function clampSpectrum(all: Float64Array, points: number, dim: number): Float64Array {
  const values = all.slice(0, Math.min(points, dim));
  const tol = Math.max(points, dim) * Number.EPSILON * Math.max(values[0] ?? 0, 0);
  for (let i = 0; i < values.length; i++) if (values[i] <= tol) values[i] = 0;
  return values;
}

/**
 * λᵢ/Σⱼλⱼ over the given eigenvalues, scikit-learn's `explained_variance_ratio_` (the sum of
 * the kept eigenvalues is the total variance tr C, the dropped ones being zero). All zeros for a
 * zero spectrum.
 */
export function explainedVarianceRatio(values: Float64Array): Float64Array {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  const ratio = new Float64Array(values.length);
  if (total > 0) for (let i = 0; i < values.length; i++) ratio[i] = values[i] / total;
  return ratio;
}
