/**
 * The statistics of `repgeom compare`: mean and sample standard deviation over seeds, and the
 * correlation of a geometry measure with the task metric across runs (Spearman with average ranks
 * for ties, Pearson; the task metrics' own implementations) with a percentile bootstrap interval.
 */
import { Rng } from '../backend/rng.js';
import { pearson, spearman } from '../train/task-metrics.js';

export type CorrelationKind = 'spearman' | 'pearson';

export interface BootstrapSettings {
  resamples: number;
  seed: number;
  /** Coverage of the interval (0.95: the 2.5th and 97.5th percentiles). */
  level: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapSettings = { resamples: 1000, seed: 0, level: 0.95 };
/** Fewer finished runs than this give no correlation (null, with a reason). */
export const MIN_RUNS = 3;

export interface Correlation {
  /** null (with `reason`) when there are too few runs or a side is constant. */
  value: number | null;
  /** Runs the correlation is over (those with both values). */
  n: number;
  /** Percentile bootstrap interval [lo, hi]; null when no resample had both sides varying. */
  interval: [number, number] | null;
  /** Resamples with a constant side (the correlation is undefined there): skipped and counted. */
  resamplesSkipped: number;
  reason?: string;
}

export function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Sample standard deviation (n − 1); null for fewer than two values. */
export function sampleStd(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  let s = 0;
  for (const v of values) s += (v - m) ** 2;
  return Math.sqrt(s / (values.length - 1));
}

/**
 * Percentile of sorted values with linear interpolation between closest ranks (numpy's default,
 * `np.percentile(..., method='linear')`): position q·(n − 1).
 */
export function percentile(sorted: readonly number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const isConstant = (v: ArrayLike<number>): boolean => {
  for (let i = 1; i < v.length; i++) if (v[i] !== v[0]) return false;
  return true;
};

/**
 * The correlation of x with y and its bootstrap interval: `resamples` draws of n runs with
 * replacement from the seeded project RNG; a draw whose x or y is constant is skipped and counted.
 */
export function correlation(kind: CorrelationKind, x: readonly number[], y: readonly number[], settings: BootstrapSettings = DEFAULT_BOOTSTRAP): Correlation {
  if (x.length !== y.length) throw new RangeError(`correlation: ${x.length} and ${y.length} values`);
  const n = x.length;
  const f = kind === 'spearman' ? spearman : pearson;
  if (n < MIN_RUNS) return { value: null, n, interval: null, resamplesSkipped: 0, reason: `${n} finished run${n === 1 ? '' : 's'} with a value; a correlation needs at least ${MIN_RUNS}` };
  if (isConstant(x) || isConstant(y)) {
    const which = isConstant(x) && isConstant(y) ? 'both the geometry measure and the task metric are' : isConstant(x) ? 'the geometry measure is' : 'the task metric is';
    return { value: null, n, interval: null, resamplesSkipped: 0, reason: `${which} the same in every run, so the correlation is undefined` };
  }
  const value = f(x, y);
  const rng = new Rng(settings.seed);
  const bx = new Float64Array(n), by = new Float64Array(n);
  const estimates: number[] = [];
  let skipped = 0;
  for (let b = 0; b < settings.resamples; b++) {
    for (let i = 0; i < n; i++) {
      const k = rng.nextInt(n);
      bx[i] = x[k];
      by[i] = y[k];
    }
    if (isConstant(bx) || isConstant(by)) { skipped++; continue; }
    estimates.push(f(bx, by));
  }
  estimates.sort((a, b) => a - b);
  const tail = (1 - settings.level) / 2;
  const interval: [number, number] | null = estimates.length === 0 ? null : [percentile(estimates, tail), percentile(estimates, 1 - tail)];
  return { value, n, interval, resamplesSkipped: skipped, ...(interval === null ? { reason: 'every bootstrap resample had a constant side; no interval' } : {}) };
}
