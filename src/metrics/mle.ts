/**
 * Maximum-likelihood intrinsic dimension (Levina & Bickel, "Maximum likelihood estimation of
 * intrinsic dimension", NIPS 2005), averaged as MacKay & Ghahramani suggest ("Comments on
 * 'Maximum likelihood estimation of intrinsic dimension' by E. Levina and P. Bickel", 2005).
 *
 * With T_j(i) the distance from point i to its j-th nearest neighbour (i itself excluded), the
 * local estimate at i is
 *
 *     m̂_k(i)⁻¹ = (1/(k−1)) Σ_{j=1}^{k−1} log(T_k(i) / T_j(i))
 *
 * and the global estimate averages the inverses (the MLE of 1/m pools, the MLE of m does not):
 *
 *     d = 1 / mean_i m̂_k(i)⁻¹
 *
 * This is scikit-dimension 0.3.4 `MLE().fit(X).dimension_` with its default k = 20 neighbours,
 * the point itself not counted and k − 1 in the denominator (derived from and checked against
 * the fixtures' values).
 *
 * Duplicates (T_1 = 0 makes log(T_k/T_1) infinite): 'drop' (default) leaves those points' local
 * estimates out of the average (they still serve as neighbours of the others); 'keep' throws
 * MetricUndefined (a UserError) when any point has T_1 = 0.
 */
import type { Matrix } from '../backend/matrix.js';
import { check, definedIf } from '../errors.js';
import { knn, type DuplicatePolicy, type KnnOptions, type KnnResult } from './knn.js';

export interface MleOptions {
  /** Neighbours per point. Default 20 (scikit-dimension). */
  k?: number;
  /** Default 'drop'. */
  duplicates?: DuplicatePolicy;
  /** Neighbours of the same rows computed beforehand (at least k per row), e.g. shared with TwoNN. */
  knn?: KnnResult;
  /** Options of the neighbour search. */
  knnOptions?: KnnOptions;
}

export interface MleResult {
  /** The intrinsic dimension 1 / mean m̂_k⁻¹. */
  id: number;
  k: number;
  duplicates: DuplicatePolicy;
  /** Points whose local estimates were averaged. */
  points: number;
  /** Points whose nearest neighbour is at distance 0. */
  zeroDistancePoints: number;
  /** Points left out of the average (T_1 = 0; always 0 with 'keep'). */
  droppedPoints: number;
}

/** Levina–Bickel MLE on the rows of `x` (rows = points). Needs at least k + 1 points. */
export async function mle(x: Matrix, options: MleOptions = {}): Promise<MleResult> {
  const k = options.k ?? 20;
  const duplicates = options.duplicates ?? 'drop';
  checkOptions(k, duplicates);
  check(x.rows >= k + 1, `MLE with k = ${k} neighbours needs at least ${k + 1} points, got ${x.rows}; lower k (--mle-k) or give more points`);
  let nb = options.knn;
  if (nb) {
    check(nb.rows === x.rows && nb.k >= k, `MLE: the given neighbours (${nb.rows} rows, k = ${nb.k}) do not fit ${x.rows} points and k = ${k}`);
  } else {
    nb = await knn(x, k, options.knnOptions);
  }
  return mleFromDistances(nb.distances, nb.rows, nb.k, { k, duplicates });
}

/**
 * The MLE from sorted neighbour distances: `distances` holds `rows` rows of `stride` ascending
 * distances (stride ≥ k), the first k of which are used.
 */
export function mleFromDistances(
  distances: Float64Array, rows: number, stride: number,
  options: { k?: number; duplicates?: DuplicatePolicy } = {},
): MleResult {
  const k = options.k ?? 20;
  const duplicates = options.duplicates ?? 'drop';
  checkOptions(k, duplicates);
  check(stride >= k && distances.length >= rows * stride, `MLE: ${stride} distances per row, ${k} needed`);
  let zero = 0;
  for (let i = 0; i < rows; i++) if (distances[i * stride] === 0) zero++;
  definedIf(duplicates === 'drop' || zero === 0, () =>
    `MLE: ${zero} of ${rows} points have an exact duplicate (nearest-neighbour distance 0), so ` +
    `log(T_k/T_1) is infinite; use duplicates 'drop' or remove the duplicates`);
  let sumInverse = 0, used = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * stride;
    if (distances[o] === 0) continue; // only reachable under 'drop'
    const tk = distances[o + k - 1];
    let s = 0;
    for (let j = 0; j < k - 1; j++) s += Math.log(tk / distances[o + j]);
    sumInverse += s / (k - 1);
    used++;
  }
  definedIf(used >= 1, `MLE: all ${rows} points have an exact duplicate; nothing to estimate`);
  definedIf(sumInverse > 0, `MLE: every point has its ${k} nearest neighbours at the same distance: the estimate is infinite`);
  return { id: used / sumInverse, k, duplicates, points: used, zeroDistancePoints: zero, droppedPoints: rows - used };
}

function checkOptions(k: number, duplicates: string): void {
  check(Number.isInteger(k) && k >= 2, `MLE: k must be an integer ≥ 2, got ${k}`);
  check(duplicates === 'drop' || duplicates === 'keep', `MLE: duplicates must be 'drop' or 'keep', got '${duplicates}'`);
}
