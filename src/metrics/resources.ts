/**
 * Checks made before the large allocations and sums of `measure`: that the memory the metrics
 * will need is there, and that the values are of a size whose moments float64 can hold.
 */
import { UserError } from '../errors.js';

/** The most elements one typed array may have in Node 20 (V8 refuses more with a RangeError). */
export const MAX_ARRAY_ELEMENTS = 2 ** 32 - 1;

/**
 * Largest |value| a layer may hold for its moments to stay finite and normal in float64. The
 * largest sum formed is ‖G‖_F² or ‖C‖_F² ≤ 64·max(N, d)²·d²·m⁴ (centred entries ≤ 2m), the
 * smallest terms m⁴; refusing beyond these bounds costs nothing on real hidden states (|x| of
 * order 1 to 1e4) and keeps overflow from turning into silent garbage (Infinity, NaN, or
 * IsoScore 0 from ‖C‖_F² = ∞).
 */
export function magnitudeLimits(points: number, dim: number): { max: number; min: number } {
  const size = Math.max(points, dim, 1);
  return { max: (Number.MAX_VALUE / (64 * size * size * dim * dim)) ** 0.25, min: 2 ** -240 };
}

/** Refuse a layer whose largest |value| is outside `magnitudeLimits` (0: all zeros, fine). */
export function checkMagnitude(path: string, layer: number, maxAbs: number, points: number, dim: number): void {
  const { max, min } = magnitudeLimits(points, dim);
  if (maxAbs > max) {
    throw new UserError(`${path}: layer ${layer} has values up to ${maxAbs.toExponential(1)}, whose squares and 4th powers overflow float64 moments (limit ${max.toExponential(1)} here); rescale the data`);
  }
  if (maxAbs > 0 && maxAbs < min) {
    throw new UserError(`${path}: layer ${layer} has values no larger than ${maxAbs.toExponential(1)}, whose 4th powers underflow float64; rescale the data`);
  }
}

/** Largest |v| of a block. */
export function maxAbsOf(data: ArrayLike<number>, start = 0): number {
  let m = start;
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i]);
    if (a > m) m = a;
  }
  return m;
}
