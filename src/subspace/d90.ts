/**
 * The d90 decision from subspace probes (score per (d, seed)), the parts that need no model:
 *
 *   1. mean score per probed d over its seeds;
 *   2. isotonic (non-decreasing) regression of the means against d, weighted by the number of
 *      seeds (pool-adjacent-violators), so one lucky or unlucky probe cannot make d90 jump;
 *   3. d90 = the first d whose smoothed score beats the threshold 0.9 × baseline: strictly
 *      (> , Li et al.'s "exceeds", the default) or at least (≥);
 *   4. null with a reason when the threshold sits at or below chance (a model that predicts the
 *      majority class would "reach" it) or when no probed d reaches it;
 *   5. a bootstrap interval: resample the seeds of every d with replacement, redo 1–3 (Li et
 *      al. used 100 resamples); a resample that reaches no d counts as above every probed d.
 */
import { check } from '../errors.js';
import { Rng } from '../backend/rng.js';

export interface Probe {
  d: number;
  seed: number;
  score: number;
}

export type ThresholdRule = 'strict' | 'at-least';

export interface D90Options {
  baseline: number;
  chance: number;
  /** Fraction of the baseline to reach (0.9). */
  fraction?: number;
  rule?: ThresholdRule;
}

export interface CurvePoint {
  d: number;
  seeds: number;
  mean: number;
  smoothed: number;
}

export interface D90Result {
  d90: number | null;
  reason?: string;
  threshold: number;
  curve: CurvePoint[];
}

/**
 * Weighted least-squares non-decreasing fit (pool adjacent violators): the closest
 * non-decreasing sequence to `values` in the weighted squared distance.
 */
export function isotonicIncreasing(values: readonly number[], weights?: readonly number[]): number[] {
  const w = weights ?? values.map(() => 1);
  check(w.length === values.length, `isotonic regression: ${w.length} weights for ${values.length} values`);
  const means: number[] = [], mass: number[] = [], count: number[] = [];
  values.forEach((v, i) => {
    means.push(v); mass.push(w[i]); count.push(1);
    while (means.length > 1 && means[means.length - 2] > means[means.length - 1]) {
      const m2 = means.pop()!, w2 = mass.pop()!, c2 = count.pop()!;
      const j = means.length - 1;
      const total = mass[j] + w2;
      means[j] = (means[j] * mass[j] + m2 * w2) / total;
      mass[j] = total;
      count[j] += c2;
    }
  });
  const out: number[] = [];
  means.forEach((m, j) => { for (let k = 0; k < count[j]; k++) out.push(m); });
  return out;
}

/** The mean score per probed d (ascending d) and its isotonic smoothing. */
export function scoreCurve(probes: readonly Probe[]): CurvePoint[] {
  const byD = new Map<number, number[]>();
  for (const p of probes) {
    check(Number.isFinite(p.score), `probe d = ${p.d}, seed ${p.seed}: score ${p.score} is not a finite number`);
    (byD.get(p.d) ?? byD.set(p.d, []).get(p.d)!).push(p.score);
  }
  const ds = [...byD.keys()].sort((a, b) => a - b);
  const means = ds.map((d) => byD.get(d)!.reduce((s, v) => s + v, 0) / byD.get(d)!.length);
  const seeds = ds.map((d) => byD.get(d)!.length);
  const smoothed = isotonicIncreasing(means, seeds);
  return ds.map((d, i) => ({ d, seeds: seeds[i], mean: means[i], smoothed: smoothed[i] }));
}

function beats(score: number, threshold: number, rule: ThresholdRule): boolean {
  return rule === 'strict' ? score > threshold : score >= threshold;
}

export function decideD90(probes: readonly Probe[], options: D90Options): D90Result {
  const { baseline, chance } = options;
  const fraction = options.fraction ?? 0.9;
  const rule = options.rule ?? 'strict';
  check(Number.isFinite(baseline) && Number.isFinite(chance), `d90: baseline (${baseline}) and chance (${chance}) must be finite numbers`);
  const threshold = fraction * baseline;
  const curve = scoreCurve(probes);
  if (threshold <= chance) {
    return { d90: null, threshold, curve, reason: `the threshold ${fraction} × baseline = ${round(threshold)} is at or below chance (${round(chance)}): a constant prediction would reach it` };
  }
  const hit = curve.find((p) => beats(p.smoothed, threshold, rule));
  if (hit) return { d90: hit.d, threshold, curve };
  if (curve.length === 0) return { d90: null, threshold, curve, reason: 'no subspace probes' };
  const last = curve[curve.length - 1];
  return { d90: null, threshold, curve, reason: `no probed d reaches the threshold ${round(threshold)}: the largest, d = ${last.d}, scores ${round(last.smoothed)} (smoothed)` };
}

export interface D90Interval {
  /** [lo, hi] of the resampled d90 (2.5 and 97.5 percentiles); hi null when above every probe. */
  interval: [number, number | null] | null;
  resamples: number;
  /** Resamples in which no probed d reached the threshold. */
  unreached: number;
}

/** Percentile bootstrap over seeds, per d; deterministic for `seed`. */
export function bootstrapD90(probes: readonly Probe[], options: D90Options & { resamples?: number; seed?: number; level?: number }): D90Interval {
  const resamples = options.resamples ?? 100;
  const level = options.level ?? 0.95;
  const rng = new Rng(options.seed ?? 0);
  if (fractionTimes(options) <= options.chance) return { interval: null, resamples, unreached: resamples };
  const byD = new Map<number, Probe[]>();
  for (const p of probes) (byD.get(p.d) ?? byD.set(p.d, []).get(p.d)!).push(p);
  const groups = [...byD.values()];
  const found: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const sample: Probe[] = [];
    for (const g of groups) for (let k = 0; k < g.length; k++) sample.push(g[rng.nextInt(g.length)]);
    const d90 = decideD90(sample, options).d90;
    found.push(d90 ?? Infinity);
  }
  found.sort((a, b) => a - b);
  const lo = found[Math.floor(((1 - level) / 2) * (resamples - 1))];
  const hi = found[Math.ceil((1 - (1 - level) / 2) * (resamples - 1))];
  const unreached = found.filter((v) => v === Infinity).length;
  return { interval: lo === Infinity ? null : [lo, hi === Infinity ? null : hi], resamples, unreached };
}

function fractionTimes(o: D90Options): number {
  return (o.fraction ?? 0.9) * o.baseline;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

export interface SearchOptions extends D90Options {
  /** Smallest d to probe (SAID: m + 1). */
  minDim: number;
  /** Largest d to probe (default in the CLI: the parameter count); probed last when no power of two reaches. */
  maxDim: number;
  /** Stop when hi/lo ≤ 1 + tolerance (0: bisect down to adjacent integers). */
  tolerance?: number;
}

/**
 * The next d a d90 search should probe, or null when it is done: bracketing over minDim, the
 * powers of two above it and maxDim until the smoothed curve beats the threshold, then bisection
 * in log d between the largest probed d below the current d90 and the d90 itself. The decision
 * is redone from all probes at every step (smoothing can move it), so the caller probes the
 * returned d with its seeds, adds the probes and asks again. Null also when the threshold sits at
 * or below chance, or when maxDim has been probed without reaching it.
 */
export function nextSearchProbe(probes: readonly Probe[], options: SearchOptions): number | null {
  const { minDim, maxDim } = options;
  check(Number.isInteger(minDim) && minDim >= 1 && Number.isInteger(maxDim) && maxDim >= minDim, `d90 search: need integers 1 ≤ min d (${minDim}) ≤ max d (${maxDim})`);
  const tolerance = options.tolerance ?? 0;
  if (fractionTimes(options) <= options.chance) return null;
  const probed = new Set(probes.map((p) => p.d));
  const { d90 } = decideD90(probes, options);
  if (d90 === null) {
    const ladder = [minDim];
    for (let p = 2 ** Math.ceil(Math.log2(minDim + 1)); p < maxDim; p *= 2) if (p > minDim) ladder.push(p);
    if (maxDim > minDim) ladder.push(maxDim);
    return ladder.find((d) => !probed.has(d)) ?? null;
  }
  const below = [...probed].filter((d) => d < d90);
  if (below.length === 0) return null; // d90 is the smallest d probed (minDim when the ladder ran)
  const lo = Math.max(...below);
  if (d90 - lo <= 1 || d90 / lo <= 1 + tolerance) return null;
  const mid = Math.round(Math.sqrt(lo * d90));
  return Math.min(d90 - 1, Math.max(lo + 1, mid));
}
