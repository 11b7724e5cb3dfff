/**
 * The second-moment metrics in the N×N Gram form, for layers with fewer points than dimensions
 * (N < d): a vocabulary-sized layer (d = 30,522) would need a 7 GB d×d covariance, while its
 * N×N Gram matrix is small. The points themselves are held (N×d, the size of the input).
 *
 * With X_c the centred points and G = X_c X_cᵀ (RESEARCH.md §1):
 * - tr C = tr G/(N−1), ‖C‖_F² = ‖G‖_F²/(N−1)² (IsoScore);
 * - the nonzero eigenvalues of C = X_cᵀX_c/(N−1) are those of G/(N−1), and C has at most N − 1
 *   of them, so the N eigenvalues of G/(N−1) are scikit-learn's min(N, d) = N components
 *   (PCA-ID, spectrum);
 * - diag C is the column sums of squares of X_c over N − 1 (rogue dimensions);
 * - IsoScore⋆'s ⟨C_B, C0⟩_F: for C0 = C it is ‖X_Bc X_cᵀ‖_F²/((B−1)(N−1)), for C0 = I it is
 *   tr C_B, for a given matrix Σ_b x_bᵀ C0 x_b/(B−1) over the centred batch rows;
 * - partition isotropy: with K = X Xᵀ = V Λ Vᵀ (uncentred), the unit eigenvectors of XᵀX with
 *   λ_k > 0 are u_k = Xᵀv_k/√λ_k and the projections of the points on them are X u_k = √λ_k v_k;
 *   every other direction c is orthogonal to all points, so Z(c) = Σᵢ e⁰ = N.
 */
import type { Matrix } from '../backend/matrix.js';
import { dgemm } from '../backend/products/index.js';
import { columnMeans } from './covariance.js';
import { crossOfRows, FLOAT64, gramOfRows, type ProductKernel } from './product-kernel.js';
import { symmetricEigen } from './eigen.js';
import { clampSpectrum } from './spectrum.js';
import { checkC0Size, type C0, type IsoScoreStarMoments } from './isoscore-star.js';

/** The rows of one layer kept in float64, growing as blocks arrive. */
export class PointStore {
  count = 0;
  private data: Float64Array;

  constructor(capacity: number, readonly dim: number) {
    this.data = new Float64Array(Math.max(1, capacity) * dim);
  }

  add(block: Matrix): void {
    const need = (this.count + block.rows) * this.dim;
    if (need > this.data.length) {
      const grown = new Float64Array(Math.max(need, 2 * this.data.length));
      grown.set(this.data);
      this.data = grown;
    }
    for (let i = 0; i < block.rows * this.dim; i++) this.data[this.count * this.dim + i] = block.data[i];
    this.count += block.rows;
  }

  matrix(): Matrix<Float64Array> {
    return { data: this.data.subarray(0, this.count * this.dim), rows: this.count, cols: this.dim };
  }
}

/** Rows of `x` minus their column means, float64. */
function centred(x: Matrix): Float64Array {
  const n = x.rows, d = x.cols, mean = columnMeans(x.data, n, d), c = new Float64Array(n * d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) c[r * d + j] = x.data[r * d + j] - mean[j];
  return c;
}

/** Multiply-adds below which X_c X_cᵀ stays in float64 even under the float32 kernel (it costs little there). */
const FLOAT32_GRAM_WORK = 1e9;

/** A Aᵀ for row-major A (n×d) through the products layer, in the kernel's precision for large products. */
function gramProduct(a: Float64Array, n: number, d: number, kernel: ProductKernel): Float64Array {
  return gramOfRows(a, n, d, n * n * d < FLOAT32_GRAM_WORK ? FLOAT64 : kernel);
}

function sumSquares(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

/** The covariance quantities of N < d points, from their Gram matrix. */
export class GramMoments {
  readonly points: number;
  readonly dim: number;
  /** tr C and ‖C‖_F² of the ddof=1 covariance. */
  readonly trace: number;
  readonly frobenius2: number;
  private readonly x: Matrix;
  private readonly xc: Float64Array;
  private readonly gram: Float64Array;

  private readonly kernel: ProductKernel;

  /** `kernel`: as for the covariance (float32 from d ≥ 256 under 'auto'); used for the large N×N×d products. */
  constructor(x: Matrix, kernel: ProductKernel = FLOAT64) {
    this.x = x;
    this.kernel = kernel;
    this.points = x.rows;
    this.dim = x.cols;
    const n = x.rows, scale = n - 1;
    this.xc = centred(x);
    this.gram = gramProduct(this.xc, n, x.cols, kernel);
    let traceG = 0;
    for (let i = 0; i < n; i++) traceG += this.gram[i * n + i];
    this.trace = traceG / scale;
    this.frobenius2 = sumSquares(this.gram) / (scale * scale);
  }

  /** Eigenvalues of the covariance as `covarianceSpectrum` reports them (N of them, N < d). */
  spectrum(): Float64Array {
    const n = this.points, g = new Float64Array(this.gram.length);
    for (let i = 0; i < g.length; i++) g[i] = this.gram[i] / (n - 1);
    return clampSpectrum(symmetricEigen(g, n).values, n, this.dim);
  }

  /** The diagonal of the covariance. */
  diagonal(): Float64Array {
    const n = this.points, d = this.dim, out = new Float64Array(d);
    for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) out[j] += this.xc[r * d + j] ** 2;
    for (let j = 0; j < d; j++) out[j] /= n - 1;
    return out;
  }

  /**
   * IsoScore⋆'s moments with the batch = the first `batchRows` points (null: all of them) and
   * C0 = 'self' (this covariance), the identity or a d×d matrix.
   */
  starMoments(c0: C0 | 'self', batchRows: number | null): IsoScoreStarMoments {
    const n = this.points, d = this.dim;
    const b = batchRows === null ? n : Math.min(batchRows, n);
    let trace = this.trace, frobenius2 = this.frobenius2, xb = this.xc;
    if (b !== n) {
      xb = centred({ data: this.x.data.subarray(0, b * d), rows: b, cols: d });
      const gb = gramOfRows(xb, b, d, FLOAT64);
      trace = 0;
      for (let i = 0; i < b; i++) trace += gb[i * b + i];
      trace /= b - 1;
      frobenius2 = sumSquares(gb) / ((b - 1) * (b - 1));
    }
    if (c0 === 'self') {
      const inner = b === n ? this.frobenius2 : sumSquares(crossOfRows(xb, b, this.xc, n, d)) / ((b - 1) * (n - 1));
      return { trace, frobenius2, traceC0: this.trace, frobenius2C0: this.frobenius2, inner };
    }
    if (c0 === 'identity') return { trace, frobenius2, traceC0: d, frobenius2C0: d, inner: trace };
    checkC0Size(c0, d);
    let traceC0 = 0, inner = 0;
    for (let i = 0; i < d; i++) traceC0 += c0[i * d + i];
    // Σ_b x_bᵀ C0 x_b = Σ (X_b C0) ∘ X_b, with X_b C0 (b×d, the size of the batch) from dgemm.
    const y = new Float64Array(b * d);
    dgemm(false, false, b, d, d, 1, xb, c0, 0, y);
    for (let i = 0; i < b * d; i++) inner += y[i] * xb[i];
    return { trace, frobenius2, traceC0, frobenius2C0: sumSquares(c0), inner: inner / (b - 1) };
  }

  /** Partition isotropy min_c Z(c)/max_c Z(c) over ±u_k of XᵀX (see the module comment). */
  partitionIsotropy(): number {
    const n = this.points, d = this.dim;
    const xs = this.x.data instanceof Float64Array ? this.x.data : Float64Array.from(this.x.data);
    const k = gramProduct(xs, n, d, this.kernel);
    const { values, vectors } = symmetricEigen(k, n, { vectors: true });
    let lo = Infinity, hi = -Infinity;
    const take = (logZ: number) => { lo = Math.min(lo, logZ); hi = Math.max(hi, logZ); };
    for (let c = 0; c < n; c++) {
      const root = Math.sqrt(Math.max(values[c], 0));
      for (const sign of [1, -1]) {
        let max = -Infinity;
        for (let i = 0; i < n; i++) max = Math.max(max, sign * root * vectors[i * n + c]);
        let sum = 0;
        for (let i = 0; i < n; i++) sum += Math.exp(sign * root * vectors[i * n + c] - max);
        take(max + Math.log(sum));
      }
    }
    // The d − N (or more) directions orthogonal to every point: Z = N.
    if (d > n) take(Math.log(n));
    return Math.exp(lo - hi);
  }
}
