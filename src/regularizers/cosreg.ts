/**
 * CosReg (Gao et al. 2019, as the I-STAR authors' `cosine_regularizer`): with uᵢ = xᵢ/‖xᵢ‖,
 * s = Σᵢ uᵢ and S = ‖s‖², R = (S − N)/N² (the mean pairwise cosine of distinct points), penalty
 * λ·R on the last layer by default. Through the normalisation:
 *
 *     ∂R/∂xᵢ = (2/N²)·(s − (uᵢ·s)·uᵢ)/‖xᵢ‖.
 *
 * Several layers form one cloud, as I-STAR's. Float64 arithmetic.
 */
import { checkLambda, cloudRows, gatherCloud, scatterCloud, type PenaltyResult, type Regularizer } from './regularizer.js';

export interface CosRegOptions {
  lambda: number;
  /** Hidden states (HF numbering); the authors use the last layer only. */
  layers: number[];
  includePadding?: boolean;
}

function cosRegOfCloud(x: Float64Array, n: number, d: number) {
  const u = new Float64Array(n * d), norms = new Float64Array(n), s = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    let q = 0;
    for (let j = 0; j < d; j++) q += x[i * d + j] ** 2;
    norms[i] = Math.sqrt(q);
    for (let j = 0; j < d; j++) {
      u[i * d + j] = x[i * d + j] / norms[i];
      s[j] += u[i * d + j];
    }
  }
  let S = 0;
  for (let j = 0; j < d; j++) S += s[j] * s[j];
  return { value: (S - n) / (n * n), u, norms, s };
}

function cosRegGradient(c: ReturnType<typeof cosRegOfCloud>, n: number, d: number, scale: number): Float64Array {
  const g = new Float64Array(n * d), k = (2 * scale) / (n * n);
  for (let i = 0; i < n; i++) {
    let us = 0;
    for (let j = 0; j < d; j++) us += c.u[i * d + j] * c.s[j];
    for (let j = 0; j < d; j++) g[i * d + j] = (k * (c.s[j] - us * c.u[i * d + j])) / c.norms[i];
  }
  return g;
}

export class CosReg implements Regularizer {
  readonly name = 'cosreg';
  readonly lambda: number;
  readonly layers: number[];
  readonly includePadding: boolean;

  constructor(o: CosRegOptions) {
    checkLambda(o.lambda);
    this.lambda = o.lambda;
    this.layers = [...o.layers];
    this.includePadding = o.includePadding ?? false;
  }

  penalty(hiddenStates: Float32Array[], attentionMask: Int32Array): PenaltyResult {
    const size = hiddenStates[0].length, H = size / attentionMask.length;
    const rows = cloudRows(attentionMask, this.includePadding);
    const cloud = gatherCloud(hiddenStates, this.layers, rows, H);
    const n = cloud.length / H;
    const c = cosRegOfCloud(cloud, n, H);
    const hiddenGrads = this.lambda === 0
      ? hiddenStates.map(() => null)
      : scatterCloud(cosRegGradient(c, n, H, this.lambda), hiddenStates.length, this.layers, rows, H, size);
    return { loss: this.lambda * c.value, value: c.value, points: n, hiddenGrads };
  }

  cloudGradient(points: Float32Array | Float64Array, n: number, d: number): Float64Array {
    return cosRegGradient(cosRegOfCloud(Float64Array.from(points), n, d), n, d, this.lambda);
  }
}
