/**
 * Checks made before the large allocations and sums of `measure`: that the memory the metrics
 * will need is there, and that the values are of a size whose moments float64 can hold.
 */
import { freemem, totalmem } from 'node:os';
import { UserError } from '../errors.js';

/** The most elements one typed array may have in Node 20 (V8 refuses more with a RangeError). */
export const MAX_ARRAY_ELEMENTS = 2 ** 32 - 1;

/**
 * Bytes this process may still allocate: the machine's available memory, the cgroup limit when
 * Node knows one, or `REPGEOM_MEMORY_LIMIT` (bytes, or with a K/M/G suffix) when set.
 */
export function availableMemory(env: NodeJS.ProcessEnv = process.env): number {
  const limit = env.REPGEOM_MEMORY_LIMIT;
  if (limit !== undefined && limit !== '') {
    const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(limit.trim());
    if (!m) throw new UserError(`REPGEOM_MEMORY_LIMIT='${limit}' is not a size; give bytes or a size like 512M or 8G`);
    return Number(m[1]) * 1024 ** ' KMG'.indexOf(m[2].toUpperCase() || ' ');
  }
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  const cap = constrained && constrained > 0 ? constrained : Infinity;
  return Math.min(freemem(), totalmem(), cap);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.ceil(bytes / 1024)} KB`;
}

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
