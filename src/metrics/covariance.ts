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
 * The block co-moment is the only O(B·d²) step; it goes through the products layer
 * (product-kernel.ts): the block centred on its own float64 mean, then `dsyrk` on it ('float64',
 * exact) or `syrk` on it rounded to float32 ('float32', at most FLOAT32_SUM_LENGTH rows per block
 * so that each float32 sum stays short), the d×d result merged in float64. Centring in float64
 * first keeps the float32 products well conditioned; the geometry fixtures show IsoScore within
 * 1e-8 of the authors' value this way (test/isoscore.test.ts). The products are bitwise the same
 * for any thread count, so the accumulator is too.
 */
import type { Matrix } from '../backend/matrix.js';
import { dsyrk, syrk } from '../backend/products/index.js';
import { FLOAT32_SUM_LENGTH, FLOAT64, type ProductKernel } from './product-kernel.js';

export { FLOAT32, FLOAT64, productKernel, type ProductKernel } from './product-kernel.js';

/** Rows per float64 block: bounds the centred copy (4096·d float64) and costs one d² merge per block. */
const FLOAT64_BLOCK_ROWS = 4096;

export class CovarianceAccumulator {
  readonly dim: number;
  count = 0;
  readonly mean: Float64Array;
  /** Σ (x − μ)(x − μ)ᵀ; merges update the upper triangle only, `comoment` mirrors it on demand. */
  private readonly moment: Float64Array;
  private mirrored = true;
  private readonly kernel: ProductKernel;

  constructor(dim: number, kernel: ProductKernel = FLOAT64) {
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.moment = new Float64Array(dim * dim);
    this.kernel = kernel;
  }

  /** Σ (x − μ)(x − μ)ᵀ, full symmetric d×d, row-major. */
  get comoment(): Float64Array {
    if (!this.mirrored) {
      const d = this.dim, m = this.moment;
      for (let i = 1; i < d; i++) for (let j = 0; j < i; j++) m[i * d + j] = m[j * d + i];
      this.mirrored = true;
    }
    return this.moment;
  }

  /**
   * Add the rows of a block (any length; cut into blocks of FLOAT32_SUM_LENGTH rows for the
   * float32 kernel, FLOAT64_BLOCK_ROWS for the float64 one).
   */
  add(block: Matrix): this {
    if (block.cols !== this.dim) {
      throw new RangeError(`covariance: block has ${block.cols} columns, accumulator ${this.dim}`);
    }
    const step = this.kernel.kind === 'float32' ? FLOAT32_SUM_LENGTH : FLOAT64_BLOCK_ROWS;
    for (let start = 0; start < block.rows; start += step) {
      const rows = Math.min(step, block.rows - start);
      const part = block.data.subarray(start * this.dim, (start + rows) * this.dim);
      const mean = columnMeans(part, rows, this.dim);
      this.mergeMoments(rows, mean, blockComoment(this.kernel, part, rows, this.dim, mean));
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
    const m = this.comoment, c = new Float64Array(m.length);
    for (let i = 0; i < c.length; i++) c[i] = m[i] / denom;
    return c;
  }

  /** The uncentred second moment Σ x xᵀ = M + n μμᵀ (for the partition function of Mu & Viswanath). */
  secondMoment(): Float64Array {
    const d = this.dim, s = new Float64Array(this.comoment);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) s[i * d + j] += this.count * this.mean[i] * this.mean[j];
    return s;
  }

  private mergeMoments(nB: number, meanB: Float64Array, mB: Float32Array | Float64Array): void {
    const d = this.dim, nA = this.count, n = nA + nB;
    const delta = new Float64Array(d);
    for (let i = 0; i < d; i++) delta[i] = meanB[i] - this.mean[i];
    const w = (nA * nB) / n;
    const m = this.moment;
    for (let i = 0; i < d; i++) {
      const di = delta[i] * w, row = i * d;
      for (let j = i; j < d; j++) m[row + j] += mB[row + j] + di * delta[j];
    }
    this.mirrored = false;
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

/** Bytes of the block scratch below for width d at most (float64 blocks are the larger). */
export function blockScratchBytes(d: number): number {
  return 8 * (FLOAT64_BLOCK_ROWS * d + d * d);
}

/** Scratch for the centred block and its co-moment, reused across blocks (products are synchronous). */
const scratch: { centred32: Float32Array; moment32: Float32Array; centred64: Float64Array; moment64: Float64Array } = {
  centred32: new Float32Array(0), moment32: new Float32Array(0), centred64: new Float64Array(0), moment64: new Float64Array(0),
};

function scratchOf<K extends keyof typeof scratch>(key: K, length: number): (typeof scratch)[K] {
  if (scratch[key].length < length) scratch[key] = new (scratch[key].constructor as new (n: number) => (typeof scratch)[K])(length);
  return scratch[key].subarray(0, length) as (typeof scratch)[K];
}

/**
 * Co-moment Σ (x − mean)(x − mean)ᵀ of a block: the rows centred in float64, then `dsyrk`, or
 * rounded to float32 and `syrk`. The result lives in scratch until the next block.
 */
function blockComoment(kernel: ProductKernel, data: ArrayLike<number>, rows: number, d: number, mean: Float64Array): Float32Array | Float64Array {
  const f32 = kernel.kind === 'float32';
  const centred = f32 ? scratchOf('centred32', rows * d) : scratchOf('centred64', rows * d);
  for (let r = 0; r < rows; r++) {
    const off = r * d;
    for (let j = 0; j < d; j++) centred[off + j] = data[off + j] - mean[j];
  }
  if (f32) {
    const m = scratchOf('moment32', d * d);
    syrk(d, rows, 1, centred as Float32Array, 0, m);
    return m;
  }
  const m = scratchOf('moment64', d * d);
  dsyrk(d, rows, 1, centred as Float64Array, 0, m);
  return m;
}

/** Convenience: the accumulator over all rows of an in-memory matrix. */
export function accumulate(x: Matrix, kernel?: ProductKernel): CovarianceAccumulator {
  return new CovarianceAccumulator(x.cols, kernel).add(x);
}
