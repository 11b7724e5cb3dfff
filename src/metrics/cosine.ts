/**
 * Cosine-similarity isotropy (Ethayarajh 2019; the CosReg regulariser of Gao et al. 2019 as in
 * the I-STAR code; the Monte-Carlo cosine score of Rudman et al. 2022), exactly and in O(N·d).
 *
 * With unit vectors uᵢ = xᵢ/‖xᵢ‖ and S = ‖Σᵢ uᵢ‖², Σ_{i,j} cos(xᵢ, xⱼ) = S, so
 *
 *     mean over pairs i ≠ j          (S − N₊)/(N(N − 1))
 *     CosReg value                   (S − N₊)/N²
 *     mean over pairs with self      S/N²
 *
 * where N₊ counts the non-zero vectors: a zero vector has cosine 0 with everything, itself
 * included (scikit-learn's convention), never NaN. Per dimension k the same identity gives the
 * contribution of k to the mean pairwise cosine, ((Σᵢ uᵢₖ)² − Σᵢ uᵢₖ²)/(N(N − 1)), which is what
 * Timkey & van Schijndel (2021) rank to find rogue dimensions (see rogue.ts).
 */
import type { Matrix } from '../backend/matrix.js';
import { check } from '../errors.js';

export interface CosineResult {
  meanPairwise: number;
  cosReg: number;
  withSelf: number;
  points: number;
  zeroVectors: number;
}

/** Streaming sums of unit vectors; mergeable. */
export class CosineAccumulator {
  readonly dim: number;
  count = 0;
  nonZero = 0;
  /** Σᵢ uᵢ and Σᵢ uᵢ⊙uᵢ per dimension, float64. */
  readonly sum: Float64Array;
  readonly sumSquares: Float64Array;

  constructor(dim: number) {
    this.dim = dim;
    this.sum = new Float64Array(dim);
    this.sumSquares = new Float64Array(dim);
  }

  add(block: Matrix): this {
    const d = this.dim, x = block.data;
    for (let r = 0; r < block.rows; r++) {
      const off = r * d;
      let norm2 = 0;
      for (let j = 0; j < d; j++) norm2 += x[off + j] * x[off + j];
      this.count++;
      if (norm2 === 0) continue;
      this.nonZero++;
      const inv = 1 / Math.sqrt(norm2);
      for (let j = 0; j < d; j++) {
        const u = x[off + j] * inv;
        this.sum[j] += u;
        this.sumSquares[j] += u * u;
      }
    }
    return this;
  }

  merge(other: CosineAccumulator): this {
    this.count += other.count;
    this.nonZero += other.nonZero;
    for (let j = 0; j < this.dim; j++) {
      this.sum[j] += other.sum[j];
      this.sumSquares[j] += other.sumSquares[j];
    }
    return this;
  }

  result(): CosineResult {
    check(this.count >= 2, `cosine similarity needs at least 2 points, got ${this.count}`);
    let s = 0;
    for (let j = 0; j < this.dim; j++) s += this.sum[j] * this.sum[j];
    const n = this.count;
    return {
      meanPairwise: (s - this.nonZero) / (n * (n - 1)),
      cosReg: (s - this.nonZero) / (n * n),
      withSelf: s / (n * n),
      points: n,
      zeroVectors: n - this.nonZero,
    };
  }

  /** Contribution of each dimension to the mean pairwise cosine; they sum to meanPairwise. */
  dimensionContributions(): Float64Array {
    const n = this.count, out = new Float64Array(this.dim);
    for (let j = 0; j < this.dim; j++) out[j] = (this.sum[j] * this.sum[j] - this.sumSquares[j]) / (n * (n - 1));
    return out;
  }
}

/** Cosine isotropy of an in-memory point cloud. */
export function cosineIsotropy(x: Matrix): CosineResult {
  return new CosineAccumulator(x.cols).add(x).result();
}
