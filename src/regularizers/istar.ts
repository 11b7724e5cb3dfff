/**
 * I-STAR (Rudman & Eickhoff, ICLR 2024; RESEARCH.md §2): penalty λ·(1 − IsoScore⋆) on the cloud
 * of the hidden states of layers 1..L at the batch's token positions, with
 *
 *     Σ = (1 − ζ)·C + ζ·C0,  IsoScore⋆ = (t²/F − 1)/(d − 1),  t = tr Σ, F = ‖Σ‖_F²,
 *     ∂IsoScore⋆/∂X = (1 − ζ)·2/(N − 1)·X_c·G/(d − 1),  G = (2t/F)·I − (2t²/F²)·Σ.
 *
 * C is the batch cloud's ddof=1 covariance; C0 the covariance of a large eval-mode sample of
 * training points, recomputed at the start of every epoch (`beginRefresh`), or the identity.
 * Everything is float64 (products through the float64 products layer). λ < 0 makes the
 * representations less isotropic, λ > 0 more.
 */
import { dgemm, dsyrk } from '../backend/products/index.js';
import { CovarianceAccumulator } from '../metrics/covariance.js';
import { checkZeta } from '../metrics/isoscore-star.js';
import { checkLambda, cloudRows, gatherCloud, scatterCloud, type EpochRefresh, type PenaltyResult, type Regularizer } from './regularizer.js';

export interface IStarOptions {
  lambda: number;
  zeta: number;
  /** d×d, or 'identity' (then IsoScore⋆ is no longer scale-invariant). */
  c0: Float64Array | 'identity';
  /** The model's L: the cloud is hidden states 1..L. */
  layers: number;
  includePadding?: boolean;
  /** Points C0 is refreshed from (default 250,000). */
  c0Sample?: number;
}

/** IsoScore⋆ of a cloud [n, d] and what its gradient needs. */
export function isoScoreStarOfCloud(points: Float64Array, n: number, d: number, c0: Float64Array | 'identity', zeta: number) {
  checkZeta(zeta);
  if (n < 2) throw new RangeError(`IsoScore⋆ needs at least 2 points, got ${n}`);
  const xc = Float64Array.from(points);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += xc[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xc[i * d + j] -= mean[j];
  const sigma = new Float64Array(d * d);
  dsyrk(d, n, (1 - zeta) / (n - 1), xc, 0, sigma);
  if (c0 === 'identity') for (let j = 0; j < d; j++) sigma[j * d + j] += zeta;
  else for (let i = 0; i < sigma.length; i++) sigma[i] += zeta * c0[i];
  let t = 0, F = 0;
  for (let j = 0; j < d; j++) t += sigma[j * d + j];
  for (let i = 0; i < sigma.length; i++) F += sigma[i] * sigma[i];
  return { value: (t * t / F - 1) / (d - 1), xc, sigma, t, F };
}

/** ∂IsoScore⋆/∂X for the cloud, times `scale`. */
export function isoScoreStarGradient(s: ReturnType<typeof isoScoreStarOfCloud>, n: number, d: number, zeta: number, scale: number): Float64Array {
  const G = new Float64Array(d * d);
  const a = (2 * s.t) / s.F, b = (2 * s.t * s.t) / (s.F * s.F);
  for (let i = 0; i < G.length; i++) G[i] = -b * s.sigma[i];
  for (let j = 0; j < d; j++) G[j * d + j] += a;
  const grad = new Float64Array(n * d);
  dgemm(false, false, n, d, d, (scale * (1 - zeta) * 2) / ((n - 1) * (d - 1)), s.xc, G, 0, grad);
  return grad;
}

export class IStar implements Regularizer {
  readonly name = 'istar';
  readonly lambda: number;
  readonly zeta: number;
  readonly layers: number[];
  readonly includePadding: boolean;
  readonly c0Sample: number;
  c0: Float64Array | 'identity';

  constructor(o: IStarOptions) {
    checkLambda(o.lambda);
    checkZeta(o.zeta);
    this.lambda = o.lambda;
    this.zeta = o.zeta;
    this.c0 = o.c0;
    this.layers = Array.from({ length: o.layers }, (_, i) => i + 1);
    this.includePadding = o.includePadding ?? false;
    this.c0Sample = o.c0Sample ?? 250_000;
  }

  penalty(hiddenStates: Float32Array[], attentionMask: Int32Array): PenaltyResult {
    const size = hiddenStates[0].length, H = size / attentionMask.length;
    const rows = cloudRows(attentionMask, this.includePadding);
    const cloud = gatherCloud(hiddenStates, this.layers, rows, H);
    const n = cloud.length / H;
    const s = isoScoreStarOfCloud(cloud, n, H, this.c0, this.zeta);
    // λ·(1 − ι): the gradient is −λ·∂ι/∂X (none at all when λ = 0, where ι is only measured).
    const hiddenGrads = this.lambda === 0
      ? hiddenStates.map(() => null)
      : scatterCloud(isoScoreStarGradient(s, n, H, this.zeta, -this.lambda), hiddenStates.length, this.layers, rows, H, size);
    return { loss: this.lambda * (1 - s.value), value: s.value, points: n, hiddenGrads };
  }

  cloudGradient(points: Float32Array | Float64Array, n: number, d: number): Float64Array {
    const s = isoScoreStarOfCloud(Float64Array.from(points), n, d, this.c0, this.zeta);
    return isoScoreStarGradient(s, n, d, this.zeta, -this.lambda);
  }

  /** C0 = the ddof=1 covariance of whole eval-mode batches until more than c0Sample points. */
  beginRefresh(): EpochRefresh {
    let acc: CovarianceAccumulator | undefined;
    return {
      add: (hiddenStates, attentionMask) => {
        const H = hiddenStates[0].length / attentionMask.length;
        acc ??= new CovarianceAccumulator(H);
        const rows = cloudRows(attentionMask, this.includePadding);
        const cloud = gatherCloud(hiddenStates, this.layers, rows, H);
        acc.merge(blockMoments(cloud, cloud.length / H, H));
        return acc.count <= this.c0Sample;
      },
      finish: () => {
        if (!acc || acc.count < 2) throw new RangeError('C0 needs at least 2 points');
        this.c0 = acc.covariance(1);
      },
    };
  }
}

/** A block's count, mean and co-moment (float64 products layer), as a mergeable accumulator. */
function blockMoments(x: Float64Array, n: number, d: number): CovarianceAccumulator {
  const acc = new CovarianceAccumulator(d);
  const xc = Float64Array.from(x);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) acc.mean[j] += x[i * d + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xc[i * d + j] -= acc.mean[j];
  dsyrk(d, n, 1, xc, 0, acc.comoment);
  acc.count = n;
  return acc;
}
