/**
 * PCA-based intrinsic dimension: the versions of scikit-dimension 0.3.4's `lPCA` (Bac et al.,
 * "Scikit-Dimension: a Python package for intrinsic dimension estimation", Entropy 2021; after
 * Kerstin Johnsson's R package intrinsicDimension), as functions of the covariance eigenvalues
 * λ₁ ≥ … ≥ λ_m that `covarianceSpectrum` returns (scikit-learn's `explained_variance_`, m =
 * min(N, d)). RESEARCH.md §4 lists the rules; test/pca-id.test.ts checks every one against
 * scikit-dimension on the geometry fixtures.
 *
 * Sums run left to right like numpy's cumsum and Python's sum() in the reference (its np.mean
 * and np.sum sum pairwise, and its broken stick adds the other way round: last-bit differences
 * that could only matter at an exact tie with a threshold).
 */
import { check, definedIf } from '../errors.js';

/** scikit-dimension's lPCA defaults. */
export const LPCA_DEFAULTS = {
  alphaFO: 0.05,
  alphaRatio: 0.05,
  alphaFan: 10,
  betaFan: 0.8,
  PFan: 0.95,
} as const;

export type LpcaOptions = Partial<{ -readonly [K in keyof typeof LPCA_DEFAULTS]: number }>;

/** Every lPCA version on one spectrum (camelCase for scikit-dimension's `ver` names). */
export interface PcaIdResult {
  /** 'FO' with alphaFO. */
  fo: number;
  /** 'Fan' with alphaFan, betaFan, PFan; NaN where scikit-dimension raises (see lpcaFan). */
  fan: number;
  maxgap: number;
  /** 'ratio' with alphaRatio (library default 0.05), then with 0.9 and 0.99. */
  ratio: number;
  ratio90: number;
  ratio99: number;
  /** (Σλ)²/Σλ², not rounded (or the `participationRatio` the caller passed in). */
  participationRatio: number;
  kaiser: number;
  brokenStick: number;
  alphaFO: number;
  alphaRatio: number;
}

/**
 * All lPCA versions of a descending covariance spectrum. Throws MetricUndefined (a UserError)
 * on fewer than two eigenvalues (scikit-dimension needs two) or zero total variance, UserError on
 * a negative or non-finite one or an ascending pair.
 *
 * `known.participationRatio`: the same PR already computed from the moments, (tr C)²/‖C‖_F²
 * (equal to (Σλ)²/Σλ² up to rounding, and exact without an eigendecomposition). `measure` passes
 * it so that a layer reports one participation ratio; without it, the eigenvalue form is used.
 */
export function pcaId(values: Float64Array, options: LpcaOptions = {}, known: { participationRatio?: number } = {}): PcaIdResult {
  const o = { ...LPCA_DEFAULTS, ...options };
  return {
    fo: lpcaFO(values, o.alphaFO),
    fan: lpcaFan(values, o.alphaFan, o.betaFan, o.PFan),
    maxgap: lpcaMaxgap(values),
    ratio: lpcaRatio(values, o.alphaRatio),
    ratio90: lpcaRatio(values, 0.9),
    ratio99: lpcaRatio(values, 0.99),
    participationRatio: known.participationRatio ?? lpcaParticipationRatio(values),
    kaiser: lpcaKaiser(values),
    brokenStick: lpcaBrokenStick(values),
    alphaFO: o.alphaFO,
    alphaRatio: o.alphaRatio,
  };
}

/**
 * Fukunaga & Olsen (IEEE Trans. Computers, 1971), lPCA 'FO': the number of eigenvalues larger
 * than α·λ₁, #{i : λᵢ > α·λ₁}.
 */
export function lpcaFO(values: Float64Array, alpha: number = LPCA_DEFAULTS.alphaFO): number {
  checkSpectrum(values);
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > alpha * values[0]) count++;
  return count;
}

/**
 * lPCA 'ratio': the number of leading components that explain a fraction α of the variance,
 * #{k : (λ₁ + … + λ_k)/Σλ < α} + 1. The library default α = 0.05 is rarely what is meant
 * (it answers 1 on most data); 0.9 and 0.99 are the usual choices.
 */
export function lpcaRatio(values: Float64Array, alpha: number = LPCA_DEFAULTS.alphaRatio): number {
  const total = checkSpectrum(values);
  let count = 0, cumulative = 0;
  for (let i = 0; i < values.length; i++) {
    cumulative += values[i];
    if (cumulative / total < alpha) count++;
  }
  return count + 1;
}

/**
 * lPCA 'participation_ratio': PR = (Σλ)²/Σλ², the effective number of equally large
 * eigenvalues (a real number between 1 and m; scikit-dimension 0.3.4 does not round it).
 */
export function lpcaParticipationRatio(values: Float64Array): number {
  const total = checkSpectrum(values);
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += values[i] * values[i];
  return (total * total) / squares;
}

/**
 * Kaiser's rule (Kaiser 1960, "The application of electronic computers to factor analysis"),
 * lPCA 'Kaiser': the number of eigenvalues above their mean, #{i : λᵢ > mean λ} (no +1 in
 * scikit-dimension 0.3.4, as the fixtures confirm).
 */
export function lpcaKaiser(values: Float64Array): number {
  const mean = checkSpectrum(values) / values.length;
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > mean) count++;
  return count;
}

/**
 * lPCA 'maxgap' (the largest-eigengap rule used by scikit-dimension, after intrinsicDimension's
 * pcaLocalDimEst): argmaxᵢ λᵢ/λᵢ₊₁ + 1 (1-based position of the largest relative gap), the first
 * one on ties. λᵢ/0 = ∞ marks the numerical rank; 0/0 (NaN) is skipped as numpy's nanargmax
 * does.
 */
export function lpcaMaxgap(values: Float64Array): number {
  checkSpectrum(values);
  let best = -Infinity, at = 0;
  for (let i = 0; i + 1 < values.length; i++) {
    const gap = values[i] / values[i + 1];
    if (gap > best) {
      best = gap;
      at = i;
    }
  }
  return at + 1;
}

/**
 * The broken-stick rule (Jackson 1993, "Stopping rules in principal components analysis",
 * Ecology 74), lPCA 'broken_stick': with bsᵢ = (1/m)·Σ_{j=i}^{m} 1/j the expected share of the
 * i-th largest of m broken-stick pieces, the first i (1-based) with bsᵢ > λᵢ/Σλ; 0 if the
 * spectrum never falls below the stick. Note that this is the first component that fails, one
 * more than the number that pass: scikit-dimension answers 6 for an exactly 5-dimensional cloud.
 */
export function lpcaBrokenStick(values: Float64Array): number {
  const total = checkSpectrum(values);
  const m = values.length;
  // bsᵢ for i = m … 1 as a running tail sum, then scanned from the top.
  const stick = new Float64Array(m);
  let tail = 0;
  for (let i = m - 1; i >= 0; i--) {
    tail += 1 / (i + 1);
    stick[i] = tail / m;
  }
  for (let i = 0; i < m; i++) if (stick[i] > values[i] / total) return i + 1;
  return 0;
}

/**
 * Fan, Ye, Zhang & Zhu ("Intrinsic dimension estimation of manifolds by incising balls",
 * Pattern Recognition 2010) as lPCA 'Fan' implements it:
 * 1. r = the 0-based index of the first eigenvalue at which the cumulative explained variance
 *    exceeds P (the "non-noise" share), σ = mean(λ_r, …, λ_m) the noise level;
 * 2. on μᵢ = λᵢ − σ, the answer is 1 + the smallest 0-based i that either has a large gap,
 *    μᵢ/μᵢ₊₁ > α, or at which the cumulative share Σ_{j≤i} μⱼ / Σμ exceeds β.
 * IEEE arithmetic as in numpy (x/0 = ±∞, 0/0 = NaN fails every test). When no index passes
 * (e.g. all eigenvalues equal, so μ = 0) scikit-dimension raises; this returns NaN.
 */
export function lpcaFan(
  values: Float64Array,
  alpha: number = LPCA_DEFAULTS.alphaFan,
  beta: number = LPCA_DEFAULTS.betaFan,
  P: number = LPCA_DEFAULTS.PFan,
): number {
  const total = checkSpectrum(values);
  const m = values.length;
  let r = 0, cumulative = values[0];
  while (r < m - 1 && !(cumulative / total > P)) cumulative += values[++r];
  let noise = 0;
  for (let i = r; i < m; i++) noise += values[i];
  noise /= m - r;
  const mu = new Float64Array(m);
  let muTotal = 0;
  for (let i = 0; i < m; i++) {
    mu[i] = values[i] - noise;
    muTotal += mu[i];
  }
  let muCumulative = 0;
  for (let i = 0; i < m; i++) {
    muCumulative += mu[i];
    if ((i + 1 < m && mu[i] / mu[i + 1] > alpha) || muCumulative / muTotal > beta) return i + 1;
  }
  return NaN;
}

/** Validate a spectrum as the lPCA rules need it and return Σλ. */
function checkSpectrum(values: Float64Array): number {
  definedIf(values.length >= 2, () => `PCA-ID needs at least 2 covariance eigenvalues (min(points, dimensions) ≥ 2), got ${values.length}`);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    check(Number.isFinite(values[i]) && values[i] >= 0, () => `PCA-ID: eigenvalue ${i} is ${values[i]}, not a finite non-negative number`);
    check(i === 0 || values[i] <= values[i - 1], () => `PCA-ID: eigenvalues must be in descending order (index ${i})`);
    total += values[i];
  }
  definedIf(total > 0, 'zero variance (all points identical): PCA-ID is undefined');
  return total;
}
