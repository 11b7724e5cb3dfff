/**
 * TwoNN intrinsic dimension (Facco, d'Errico, Rodriguez & Laio, "Estimating the intrinsic
 * dimension of datasets by a minimal neighborhood information", Scientific Reports 7, 12140,
 * 2017).
 *
 * With r₁(i), r₂(i) the distances from point i to its first and second nearest neighbours,
 * μᵢ = r₂/r₁ is Pareto distributed with exponent d when the density is locally uniform, so
 * −log(1 − F(μ)) = d·log μ. The fit reproduces scikit-dimension 0.3.4 `TwoNN()` (which DADApy's
 * `compute_id_2NN` and Ansuini et al. 2019 match on data without duplicates): sort μ ascending,
 * keep the n = int(N·(1 − discardFraction)) smallest, F(i) = i/N for i = 1..n (the full N as
 * denominator), and the least-squares line through the origin of y = −log(1 − F) on x = log μ:
 *
 *     d = Σᵢ xᵢyᵢ / Σᵢ xᵢ²
 *
 * (i runs from 1, not 0: that is what reproduces the fixtures' scikit-dimension values; n is
 * capped at N − 1 so that F = 1, whose log is infinite, never enters.) Also returned, the
 * maximum-likelihood estimates over all points: `ml` = N / Σ log μ and `mlUnbiased` =
 * (N − 1) / Σ log μ (DADApy's 'ml').
 *
 * Duplicates: a point with an exact duplicate has r₁ = 0 and an infinite μ. scikit-dimension
 * then silently returns a biased value (the infinite μ fall into the discarded tail) or fails.
 * Here `duplicates: 'drop'` (default) removes, as Ansuini et al. do, the points with r₁ = 0 or
 * r₁ = r₂ before the fit (N becomes the number kept); `'keep'` keeps every point, like
 * scikit-dimension: a point with r₁ = 0 has μ = r₂/0 = ∞ (0/0 = NaN when r₂ = 0 too), sorted
 * last as numpy sorts them (∞, then NaN). Where all of them fall in the discarded tail the fit
 * is scikit-dimension's value (biased, RESEARCH.md §4); where one would enter the fit, the
 * estimate is undefined (MetricUndefined). The ML estimates, which use every μ, are then null.
 * `zeroDistancePoints` (points with r₁ = 0) is always reported.
 *
 * Error bar (Ansuini et al. 2019): `subsets` repeats the estimate on `count` random subsets of
 * `fraction` of the points (seeded) and reports their mean and standard deviation. The neighbours
 * inside a subset are taken from the longer neighbour lists of the full cloud (the first two
 * neighbours of i that belong to the subset are its two nearest neighbours in the subset, ties
 * included), falling back to an exact search within the subset for the rare point whose list has
 * fewer than two members in it, so each subset costs O(N) instead of a new neighbour search.
 */
import type { Matrix } from '../backend/matrix.js';
import { check, definedIf } from '../errors.js';
import { knn, neighboursAmong, type DuplicatePolicy, type KnnOptions, type KnnResult } from './knn.js';
import { Rng } from '../backend/rng.js';
import { sampleIndices } from './sample.js';

export type { DuplicatePolicy } from './knn.js';

export interface TwoNNOptions {
  /** Fraction of the largest μ left out of the fit. Default 0.1 (scikit-dimension, DADApy). */
  discardFraction?: number;
  /** Default 'drop' (see the module comment). */
  duplicates?: DuplicatePolicy;
  /** Repeat on random subsets (Ansuini et al.: 20 subsets of 90 %). */
  subsets?: { count?: number; fraction?: number; seed?: number };
  /**
   * Neighbours of the same rows computed beforehand (k ≥ 2), e.g. shared with the MLE. With
   * `subsets`, used only if long enough (k ≥ max(10, 12/fraction)); otherwise recomputed.
   */
  knn?: KnnResult;
  /** Options of the neighbour search. */
  knnOptions?: KnnOptions;
}

export interface TwoNNSubsets {
  count: number;
  fraction: number;
  /** Mean of the subsets' estimates. */
  mean: number;
  /** Their standard deviation (population, ddof = 0, as numpy's default). */
  std: number;
}

export interface TwoNNResult {
  /** The intrinsic dimension: slope of the fit through the origin. */
  id: number;
  discardFraction: number;
  duplicates: DuplicatePolicy;
  /** Points whose nearest neighbour is at distance 0 (they have an exact duplicate). */
  zeroDistancePoints: number;
  /** Points removed before the fit (r₁ = 0 or r₁ = r₂; always 0 with 'keep'). */
  droppedPoints: number;
  /** Points that entered the estimate (N of the formulas). */
  points: number;
  /** N / Σ log μ; null when a ratio is infinite (duplicates under 'keep') or every μ is 1. */
  ml: number | null;
  /** (N − 1) / Σ log μ (DADApy 'ml'); null as `ml`. */
  mlUnbiased: number | null;
  subsets?: TwoNNSubsets;
}

/** TwoNN on the rows of `x` (rows = points). Needs at least 3 points. */
export async function twoNN(x: Matrix, options: TwoNNOptions = {}): Promise<TwoNNResult> {
  const n = x.rows;
  check(n >= 3, `TwoNN needs at least 3 points, got ${n}; give more points or leave TwoNN out (--metrics)`);
  const discardFraction = options.discardFraction ?? 0.1;
  const duplicates = options.duplicates ?? 'drop';
  checkOptions(discardFraction, duplicates);
  let sub: { count: number; fraction: number; seed: number; size: number } | undefined;
  if (options.subsets) {
    const count = options.subsets.count ?? 20;
    const fraction = options.subsets.fraction ?? 0.9;
    const seed = options.subsets.seed ?? 0;
    check(Number.isInteger(count) && count >= 1, `TwoNN subsets: count must be a positive integer, got ${count}`);
    check(fraction > 0 && fraction <= 1, `TwoNN subsets: fraction must be in (0, 1], got ${fraction}`);
    const size = Math.floor(n * fraction);
    check(size >= 3, `TwoNN subsets: ${fraction} of ${n} points leaves ${size}, fewer than 3`);
    sub = { count, fraction, seed, size };
  }
  // Longer lists when subsets are wanted, so that nearly every point finds its two nearest
  // neighbours of a subset among them (P[fewer than 2 of 12/fraction lie in it] is ~1e-6 or less).
  const kWanted = sub ? Math.min(n - 1, Math.max(10, Math.ceil(12 / sub.fraction))) : 2;
  let nb = options.knn;
  if (nb) check(nb.rows === n && nb.k >= 2, `TwoNN: the given neighbours (${nb.rows} rows, k = ${nb.k}) do not fit ${n} points`);
  // Given lists too short for the subsets would send most subset points to the exact fallback.
  if (!nb || nb.k < kWanted) nb = await knn(x, kWanted, options.knnOptions);
  const kk = nb.k;
  const r1 = new Float64Array(n), r2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    r1[i] = nb.distances[i * kk];
    r2[i] = nb.distances[i * kk + 1];
  }
  const result: TwoNNResult = twoNNFromDistances(r1, r2, { discardFraction, duplicates });
  if (sub) {
    const rng = new Rng(sub.seed);
    const values: number[] = [];
    const inSubset = new Uint8Array(n);
    for (let s = 0; s < sub.count; s++) {
      const members = sampleIndices(n, sub.size, rng);
      inSubset.fill(0);
      for (const i of members) inSubset[i] = 1;
      const s1 = new Float64Array(members.length), s2 = new Float64Array(members.length);
      for (let q = 0; q < members.length; q++) {
        const i = members[q];
        let found = 0;
        for (let c = 0; c < kk && found < 2; c++) {
          if (inSubset[nb.indices[i * kk + c]]) {
            (found === 0 ? s1 : s2)[q] = nb.distances[i * kk + c];
            found++;
          }
        }
        if (found < 2) {
          const exact = neighboursAmong(x, i, 2, members);
          s1[q] = exact.distances[0];
          s2[q] = exact.distances[1];
        }
      }
      values.push(twoNNFromDistances(s1, s2, { discardFraction, duplicates }).id);
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    result.subsets = { count: sub.count, fraction: sub.fraction, mean, std };
  }
  return result;
}

/**
 * The TwoNN estimate from the first and second nearest-neighbour distances of every point (the
 * duplicate policy applied here).
 */
export function twoNNFromDistances(
  r1: Float64Array, r2: Float64Array,
  options: { discardFraction?: number; duplicates?: DuplicatePolicy } = {},
): TwoNNResult {
  const discardFraction = options.discardFraction ?? 0.1;
  const duplicates = options.duplicates ?? 'drop';
  checkOptions(discardFraction, duplicates);
  const total = r1.length;
  check(total >= 3, `TwoNN needs at least 3 points, got ${total}`);
  let zero = 0;
  for (let i = 0; i < total; i++) if (r1[i] === 0) zero++;
  // Under 'keep' a point with r1 = 0 has μ = r2/0 = ∞, or 0/0 = NaN when its two nearest
  // neighbours are both copies of it.
  const mu: number[] = [];
  for (let i = 0; i < total; i++) {
    if (duplicates === 'drop' && (r1[i] === 0 || r1[i] === r2[i])) continue;
    mu.push(r2[i] / r1[i]);
  }
  const n = mu.length;
  definedIf(n >= 3, () => `TwoNN: only ${n} of ${total} points are left after dropping exact duplicates and ties (r1 = 0 or r1 = r2); at least 3 distinct points are needed`);
  // Ascending with +∞ and then NaN last, as numpy's sort and argsort order them.
  const sorted = Float64Array.from(mu).sort();
  let finite = 0;
  while (finite < n && Number.isFinite(sorted[finite])) finite++;
  const kept = Math.min(Math.floor(n * (1 - discardFraction)), n - 1);
  definedIf(kept >= 1, `TwoNN: discarding ${discardFraction} of ${n} points leaves none to fit`);
  // scikit-dimension returns a value whenever the infinite ratios fall in the discarded tail.
  definedIf(finite >= kept, () =>
    `TwoNN (duplicates 'keep'): ${zero} of ${total} points have an exact duplicate (r1 = 0), so ${n - finite} ratios r2/r1 ` +
    `are infinite and more than the ${n - kept} discarded; use duplicates 'drop' (as Ansuini et al.) or remove the duplicates`);
  let sxy = 0, sxx = 0;
  for (let i = 0; i < kept; i++) {
    const lx = Math.log(sorted[i]);
    const ly = -Math.log(1 - (i + 1) / n);
    sxy += lx * ly;
    sxx += lx * lx;
  }
  definedIf(sxx > 0, 'TwoNN: every fitted point has r2 = r1 (log μ = 0): the fit is undefined');
  // The ML estimates use every ratio: an infinite one makes them 0, which would be a number
  // without meaning, so they are null then.
  let sumLog = 0;
  for (let i = 0; i < n; i++) sumLog += Math.log(sorted[i]);
  const mlDefined = finite === n && sumLog > 0;
  return {
    id: sxy / sxx,
    discardFraction,
    duplicates,
    zeroDistancePoints: zero,
    droppedPoints: total - n,
    points: n,
    ml: mlDefined ? n / sumLog : null,
    mlUnbiased: mlDefined ? (n - 1) / sumLog : null,
  };
}

function checkOptions(discardFraction: number, duplicates: string): void {
  check(discardFraction >= 0 && discardFraction < 1, `TwoNN: discardFraction must be in [0, 1), got ${discardFraction}`);
  check(duplicates === 'drop' || duplicates === 'keep', `TwoNN: duplicates must be 'drop' or 'keep', got '${duplicates}'`);
}
