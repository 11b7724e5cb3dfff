/**
 * Rogue dimensions (Timkey & van Schijndel, "All Bark and No Bite: Rogue Dimensions in
 * Transformer Language Models Obscure Representational Quality", EMNLP 2021).
 *
 * A handful of dimensions can dominate both the variance and the cosine similarity of hidden
 * states. For each dimension k:
 *
 *     varianceShare_k = C_kk / tr C                      (C the ddof=1 covariance)
 *     cosineShare_k   = CC_k / Σ_j CC_j,  CC_k = E_{i≠j}[uᵢₖ·uⱼₖ]  (u unit vectors)
 *
 * Σ_k CC_k is the mean pairwise cosine, so cosineShare says how much of the anisotropy one
 * dimension explains (it can be negative, or exceed 1, when contributions cancel).
 */
import { definedIf } from '../errors.js';

export interface RogueDimension {
  dim: number;
  varianceShare: number;
  cosineShare: number;
}

/**
 * The dimensions in the top `top` by variance share or by cosine share, each listed once,
 * ordered by cosine share (largest first).
 */
export function rogueDimensions(variances: ArrayLike<number>, cosineContributions: ArrayLike<number>, top = 5): RogueDimension[] {
  const d = variances.length;
  let totalVariance = 0, totalCosine = 0;
  for (let k = 0; k < d; k++) { totalVariance += variances[k]; totalCosine += cosineContributions[k]; }
  definedIf(totalVariance > 0, 'zero variance (all points identical): the variance shares are 0/0');
  const all: RogueDimension[] = [];
  for (let k = 0; k < d; k++) {
    all.push({
      dim: k,
      varianceShare: variances[k] / totalVariance,
      cosineShare: totalCosine === 0 ? 0 : cosineContributions[k] / totalCosine,
    });
  }
  const byVariance = [...all].sort((a, b) => b.varianceShare - a.varianceShare || a.dim - b.dim).slice(0, top);
  const byCosine = [...all].sort((a, b) => b.cosineShare - a.cosineShare || a.dim - b.dim).slice(0, top);
  const chosen = new Map<number, RogueDimension>();
  for (const r of [...byCosine, ...byVariance]) chosen.set(r.dim, r);
  return [...chosen.values()].sort((a, b) => b.cosineShare - a.cosineShare || a.dim - b.dim);
}

/** The diagonal of a d×d row-major matrix. */
export function diagonal(a: Float64Array, dim: number): Float64Array {
  const out = new Float64Array(dim);
  for (let k = 0; k < dim; k++) out[k] = a[k * dim + k];
  return out;
}
