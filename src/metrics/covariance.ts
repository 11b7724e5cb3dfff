/**
 * The mergeable covariance accumulator under every second-moment metric (IsoScore, IsoScore⋆,
 * PCA-ID, spectrum, rogue dimensions, the post-processing transforms).
 *
 * It keeps (count n, mean μ, co-moment M = Σ (x − μ)(x − μ)ᵀ) in float64 and takes points block
 * by block. Each block is centred on its own float64 mean, its co-moment formed, and the block
 * merged with the parallel update of Chan, Golub & LeVeque (1979):
 *
 *     n = n_A + n_B,  δ = μ_B − μ_A,  μ = μ_A + δ·n_B/n,  M = M_A + M_B + δδᵀ·n_A·n_B/n
 *
 * so a file of any length is reduced in one pass and bounded memory, and the result does not
 * depend on how the points were split (to rounding).
 *
 * The block co-moment is the only O(B·d²) step. Two kernels compute it:
 * - 'float64': exact, typed-array loops over the upper triangle (used for small d);
 * - 'float32': the centred block rounded to float32 and multiplied through tfjs (XNNPACK on
 *   wasm), the d×d result summed into the float64 co-moment. Centring in float64 first keeps
 *   the products well conditioned; the geometry fixtures show IsoScore within 1e-9 of the
 *   authors' value this way (test/isoscore.test.ts).
 */
import type { Matrix } from '../backend/matrix.js';
import type { Tf } from '../backend/tf.js';
import { matmulF32Sync } from '../backend/matmul.js';

export type ProductKernel = { kind: 'float64' } | { kind: 'float32'; tf: Tf };

/** Rows per block for the float32 kernel: bounds float32 accumulation error and memory. */
export const FLOAT32_BLOCK_ROWS = 256;

export class CovarianceAccumulator {
  readonly dim: number;
  count = 0;
  readonly mean: Float64Array;
  /** Σ (x − μ)(x − μ)ᵀ, full symmetric d×d, row-major. */
  readonly comoment: Float64Array;
  private readonly kernel: ProductKernel;

  constructor(dim: number, kernel: ProductKernel = { kind: 'float64' }) {
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.comoment = new Float64Array(dim * dim);
    this.kernel = kernel;
  }

  /** Add the rows of a block (any length; long blocks are cut for the float32 kernel). */
  add(block: Matrix): this {
    if (block.cols !== this.dim) {
      throw new RangeError(`covariance: block has ${block.cols} columns, accumulator ${this.dim}`);
    }
    const step = this.kernel.kind === 'float32' ? FLOAT32_BLOCK_ROWS : block.rows;
    for (let start = 0; start < block.rows; start += step) {
      const rows = Math.min(step, block.rows - start);
      const part = block.data.subarray(start * this.dim, (start + rows) * this.dim);
      const mean = columnMeans(part, rows, this.dim);
      const m = this.kernel.kind === 'float32'
        ? comomentFloat32(this.kernel.tf, part, rows, this.dim, mean)
        : comomentFloat64(part, rows, this.dim, mean);
      this.mergeMoments(rows, mean, m);
    }
    return this;
  }

  /** Merge another accumulator of the same width into this one (Chan et al.). */
  merge(other: CovarianceAccumulator): this {
    if (other.dim !== this.dim) throw new RangeError('covariance: merging accumulators of different width');
    if (other.count > 0) this.mergeMoments(other.count, other.mean, other.comoment);
    return this;
  }

  /** The covariance with the given delta degrees of freedom (1 = numpy's np.cov default). */
  covariance(ddof = 1): Float64Array {
    const denom = this.count - ddof;
    const c = new Float64Array(this.comoment.length);
    for (let i = 0; i < c.length; i++) c[i] = this.comoment[i] / denom;
    return c;
  }

  /** The uncentred second moment Σ x xᵀ = M + n μμᵀ (for the partition function of Mu & Viswanath). */
  secondMoment(): Float64Array {
    const d = this.dim, s = new Float64Array(this.comoment);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) s[i * d + j] += this.count * this.mean[i] * this.mean[j];
    return s;
  }

  private mergeMoments(nB: number, meanB: Float64Array, mB: Float64Array): void {
    const d = this.dim, nA = this.count, n = nA + nB;
    const delta = new Float64Array(d);
    for (let i = 0; i < d; i++) delta[i] = meanB[i] - this.mean[i];
    const w = (nA * nB) / n;
    const m = this.comoment;
    for (let i = 0; i < d; i++) {
      const di = delta[i] * w, row = i * d;
      for (let j = 0; j < d; j++) m[row + j] += mB[row + j] + di * delta[j];
    }
    for (let i = 0; i < d; i++) this.mean[i] += (delta[i] * nB) / n;
    this.count = n;
  }
}

/** Count and float64 column means of rows added block by block: all `--transform center` needs. */
export class MeanAccumulator {
  count = 0;
  private readonly sum: Float64Array;

  constructor(readonly dim: number) {
    this.sum = new Float64Array(dim);
  }

  add(block: Matrix): this {
    const d = this.dim;
    for (let r = 0; r < block.rows; r++) for (let j = 0; j < d; j++) this.sum[j] += block.data[r * d + j];
    this.count += block.rows;
    return this;
  }

  get mean(): Float64Array {
    return this.sum.map((s) => s / this.count);
  }
}

/** Column means in float64. */
export function columnMeans(data: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const mean = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    for (let j = 0; j < cols; j++) mean[j] += data[off + j];
  }
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  return mean;
}

/** Exact co-moment of a block about `mean`: centred columns in float64, upper triangle, mirrored. */
function comomentFloat64(data: ArrayLike<number>, rows: number, d: number, mean: Float64Array): Float64Array {
  // Column-major centred copy so that each dot product runs over contiguous memory.
  const t = new Float64Array(d * rows);
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    for (let j = 0; j < d; j++) t[j * rows + r] = data[off + j] - mean[j];
  }
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const oi = i * rows;
    for (let j = i; j < d; j++) {
      const oj = j * rows;
      let s = 0;
      for (let r = 0; r < rows; r++) s += t[oi + r] * t[oj + r];
      m[i * d + j] = s;
      m[j * d + i] = s;
    }
  }
  return m;
}

/** Co-moment of a block through a float32 tfjs matmul of the float64-centred block. */
function comomentFloat32(tf: Tf, data: ArrayLike<number>, rows: number, d: number, mean: Float64Array): Float64Array {
  // Both layouts are written in the same pass, so the product needs no transpose flag (wasm).
  const x = new Float32Array(rows * d), xt = new Float32Array(d * rows);
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    for (let j = 0; j < d; j++) {
      const v = data[off + j] - mean[j];
      x[off + j] = v;
      xt[j * rows + r] = v;
    }
  }
  return Float64Array.from(matmulF32Sync(tf, xt, d, rows, x, d));
}

/** Convenience: the accumulator over all rows of an in-memory matrix. */
export function accumulate(x: Matrix, kernel?: ProductKernel): CovarianceAccumulator {
  return new CovarianceAccumulator(x.cols, kernel).add(x);
}
