/**
 * Partition-function isotropy (Mu & Viswanath, "All-but-the-Top: Simple and Effective
 * Postprocessing for Word Representations", ICLR 2018):
 *
 *     I(X) = min_c Z(c) / max_c Z(c),   Z(c) = Σᵢ exp(cᵀxᵢ)
 *
 * with c over the unit eigenvectors u_k of XᵀX (uncentred). An eigenvector's sign is arbitrary
 * and Z(c) ≠ Z(−c), so c runs over ±u_k (2d directions). log Z is accumulated with a running
 * log-sum-exp, since exp(cᵀx) overflows for the norms of real hidden states; I = exp(min log Z −
 * max log Z). In (0, 1]; 1 means perfectly isotropic.
 *
 * The authors' `partition_score` (IsoScore repository, existing_scores.py) does not compute this
 * formula (it sums exp over entries of c·Xᵀ row by row of the eigenvector matrix), so there is no
 * parity to seek with it (RESEARCH.md §3).
 */
import type { Matrix } from '../backend/matrix.js';
import { accumulate } from './covariance.js';
import { FLOAT64, RightFactor, type ProductKernel } from './product-kernel.js';
import { symmetricEigen } from './eigen.js';
import { check } from '../errors.js';

/** Running log Σ exp(·) over the projections onto each ±u_k; feed blocks, then `result()`. */
export class PartitionAccumulator {
  private readonly dim: number;
  /** The eigenvectors as the right factor of the projections. */
  private readonly vectors: RightFactor;
  /** Per direction (first d: +u_k, next d: −u_k): running max and Σ exp(v − max). */
  private readonly max: Float64Array;
  private readonly scaled: Float64Array;
  count = 0;

  /** `vectors`: d×d row-major, column k the unit eigenvector u_k of XᵀX. */
  constructor(vectors: Float64Array, dim: number, kernel: ProductKernel = FLOAT64) {
    this.dim = dim;
    this.vectors = new RightFactor(vectors, dim, dim, kernel);
    this.max = new Float64Array(2 * dim).fill(-Infinity);
    this.scaled = new Float64Array(2 * dim);
  }

  add(block: Matrix): this {
    const d = this.dim;
    const p = this.vectors.times(block.data, block.rows);
    for (let r = 0; r < block.rows; r++) {
      for (let k = 0; k < d; k++) {
        const v = p[r * d + k];
        this.push(k, v);
        this.push(d + k, -v);
      }
    }
    this.count += block.rows;
    return this;
  }

  private push(i: number, v: number): void {
    if (v <= this.max[i]) {
      this.scaled[i] += Math.exp(v - this.max[i]);
    } else {
      this.scaled[i] = this.scaled[i] * Math.exp(this.max[i] - v) + 1;
      this.max[i] = v;
    }
  }

  /** log Z(c) for the 2d directions (+u_0..+u_{d−1}, then −u_0..−u_{d−1}). */
  logZ(): Float64Array {
    const out = new Float64Array(2 * this.dim);
    for (let i = 0; i < out.length; i++) out[i] = this.max[i] + Math.log(this.scaled[i]);
    return out;
  }

  result(): number {
    check(this.count >= 1, 'partition isotropy needs at least 1 point');
    const logZ = this.logZ();
    let lo = Infinity, hi = -Infinity;
    for (const v of logZ) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    return Math.exp(lo - hi);
  }
}

/** Eigenvectors of the uncentred second moment XᵀX, from a covariance accumulator of X. */
export function partitionDirections(secondMoment: Float64Array, dim: number): Float64Array {
  return symmetricEigen(secondMoment, dim, { vectors: true }).vectors as Float64Array;
}

/** Partition isotropy of an in-memory point cloud. */
export function partitionIsotropy(x: Matrix, kernel?: ProductKernel): number {
  const directions = partitionDirections(accumulate(x, kernel).secondMoment(), x.cols);
  return new PartitionAccumulator(directions, x.cols, kernel).add(x).result();
}
