/**
 * Post-processing transforms that users compare isotropy against (`--transform`), fitted on the
 * mean and covariance of a layer and then applied block by block before any metric:
 *
 * - `center`: x − μ.
 * - `abtt:D` (all-but-the-top, Mu & Viswanath 2018): remove the mean and the projections onto the
 *   top D principal directions u_1..u_D of the covariance, x − μ − Σ_{k≤D} (u_kᵀ(x − μ)) u_k.
 * - `whiten` (PCA whitening as in Su et al. 2021, "Whitening Sentence Representations"):
 *   (x − μ)·U_r·Λ_r^{−1/2} over the r eigenvalues above 1e-12·d·λ_max (directions without
 *   variance are dropped, so the output has r ≤ d dimensions and covariance I_r).
 */
import type { Matrix } from '../backend/matrix.js';
import { UserError } from '../errors.js';
import type { CovarianceAccumulator } from './covariance.js';
import { FLOAT64, RightFactor, type ProductKernel } from './product-kernel.js';
import { symmetricEigen } from './eigen.js';

export type TransformSpec = { kind: 'none' } | { kind: 'center' } | { kind: 'abtt'; components: number } | { kind: 'whiten' };

export function parseTransform(text: string): TransformSpec {
  if (text === 'none' || text === 'center' || text === 'whiten') return { kind: text };
  const m = /^abtt:(\d+)$/.exec(text);
  if (m) return { kind: 'abtt', components: Number(m[1]) };
  throw new UserError(`unknown --transform '${text}': use none, center, abtt:D (e.g. abtt:3) or whiten`);
}

export function describeTransform(spec: TransformSpec): string {
  return spec.kind === 'abtt' ? `abtt:${spec.components}` : spec.kind;
}

export interface FittedTransform {
  spec: TransformSpec;
  inDim: number;
  outDim: number;
  apply(block: Matrix): Matrix<Float64Array>;
}

/** Fit a transform on the statistics of the points it will be applied to. */
/** What a transform is fitted on: the mean, and the covariance for abtt and whiten only (so that `center` needs no d×d matrix). */
export type TransformStats = Pick<CovarianceAccumulator, 'dim' | 'mean' | 'count'> & { covariance?: (ddof?: number) => Float64Array };

/** Whether fitting this transform needs the covariance (not only the mean). */
export function transformNeedsCovariance(spec: TransformSpec): boolean {
  return spec.kind === 'abtt' || spec.kind === 'whiten';
}

export function fitTransform(spec: TransformSpec, stats: TransformStats, kernel: ProductKernel = FLOAT64): FittedTransform {
  const d = stats.dim, mean = Float64Array.from(stats.mean);
  const centre = (block: Matrix): Float64Array => {
    const out = new Float64Array(block.rows * d);
    for (let r = 0; r < block.rows; r++) for (let j = 0; j < d; j++) out[r * d + j] = block.data[r * d + j] - mean[j];
    return out;
  };
  if (spec.kind === 'none') {
    return { spec, inDim: d, outDim: d, apply: (b) => ({ data: Float64Array.from(b.data), rows: b.rows, cols: d }) };
  }
  if (spec.kind === 'center') {
    return { spec, inDim: d, outDim: d, apply: (b) => ({ data: centre(b), rows: b.rows, cols: d }) };
  }
  if (!stats.covariance) throw new Error(`fitTransform: ${spec.kind} needs the covariance, not only the mean`);
  const { values, vectors } = symmetricEigen(stats.covariance(1), d, { vectors: true });
  const u = vectors as Float64Array;
  let projection: Float64Array, outDim: number;
  if (spec.kind === 'abtt') {
    if (spec.components >= d) {
      throw new UserError(`--transform abtt:${spec.components} removes as many directions as there are dimensions (${d}); use D < ${d}`);
    }
    // P = I − U_D U_Dᵀ
    projection = new Float64Array(d * d);
    for (let i = 0; i < d; i++) projection[i * d + i] = 1;
    for (let k = 0; k < spec.components; k++) {
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) projection[i * d + j] -= u[i * d + k] * u[j * d + k];
    }
    outDim = d;
  } else {
    const floor = 1e-12 * d * Math.max(values[0], 0);
    outDim = values.filter((v) => v > floor).length;
    if (outDim === 0) throw new UserError('--transform whiten: the points have no variance to whiten');
    projection = new Float64Array(d * outDim);
    for (let i = 0; i < d; i++) for (let k = 0; k < outDim; k++) projection[i * outDim + k] = u[i * d + k] / Math.sqrt(values[k]);
  }
  const factor = new RightFactor(projection, d, outDim, kernel);
  return {
    spec, inDim: d, outDim,
    apply: (b) => ({ data: factor.times(centre(b), b.rows), rows: b.rows, cols: outDim }),
  };
}
