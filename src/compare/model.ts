/**
 * What `repgeom compare` writes to compare.json, built from the runs alone: every run (finished
 * or not), and per task the per-λ summaries of the task metric over seeds and the correlations
 * of IsoScore⋆ and TwoNN (per layer and averaged over layers) with the task metric across the
 * finished runs. Unfinished runs are listed, never used in a statistic.
 */
import { UserError } from '../errors.js';
import type { CurvePoint, RunRecord } from './runs.js';
import { sharedSettings, type SharedSettings } from './settings.js';
import { MIN_RUNS, correlation, mean, sampleStd, type BootstrapSettings, type Correlation, type CorrelationKind } from './stats.js';

/** The geometry measures correlated with the task metric. */
export const GEOMETRY_MEASURES = ['isoscoreStar', 'twoNN'] as const;
export type GeometryMeasure = (typeof GEOMETRY_MEASURES)[number];

export interface LambdaSummary {
  reg: string;
  lambda: number | null;
  /** Label of the group in tables and legends: `none`, `λ=-1` (`istar λ=-1` when regularizers are mixed). */
  label: string;
  /** Finished runs (seeds) in the group. */
  n: number;
  seeds: number[];
  mean: number | null;
  /** Sample standard deviation over seeds (n − 1); null for one run. */
  std: number | null;
  /** Mean over the group's finished runs per layer (null where no run has a value). */
  isoscoreStarByLayer: (number | null)[];
  twoNNByLayer: (number | null)[];
}

export interface MeasureCorrelations {
  layers: ({ layer: number } & Correlation)[];
  /** The measure averaged over `mean.layers` per run, then correlated. */
  mean: { layers: number[] } & Correlation;
}

export type Correlations = Record<GeometryMeasure, MeasureCorrelations>;

export interface TaskComparison {
  task: string;
  metric: string;
  /** The training settings every run of the task shares (checked: runs that differ are refused). */
  settings: SharedSettings;
  finishedRuns: number;
  unfinishedRuns: number;
  lambdas: LambdaSummary[];
  spearman: Correlations;
  pearson: Correlations;
}

export interface Comparison {
  version: string;
  created: string;
  inputs: string[];
  byTask: boolean;
  bootstrap: BootstrapSettings & { method: 'percentile'; unit: 'run' };
  runs: RunRecord[];
  /** Folders of the runs left out of every statistic because they are not finished. */
  unfinished: string[];
  tasks: TaskComparison[];
}

/** The page draws these too; compare.json leaves them out (they are log.jsonl's, thinned). */
export type Curves = Map<string, CurvePoint[]>;

export function groupLabel(r: { reg: string; lambda: number | null }, mixedRegs: boolean): string {
  if (r.reg === 'none' || r.lambda === null) return 'none';
  return mixedRegs ? `${r.reg} λ=${r.lambda}` : `λ=${r.lambda}`;
}

/** Tasks of the runs, in first-seen order; more than one without --by-task is refused. */
export function tasksOf(runs: readonly RunRecord[], byTask: boolean): string[] {
  const tasks = [...new Set(runs.map((r) => r.task))];
  if (tasks.length > 1 && !byTask) {
    throw new UserError(`the runs are of several tasks (${tasks.join(', ')}); their metrics do not compare, so give --by-task to compare each task's runs separately`);
  }
  return tasks;
}

/** Refuses runs of several tasks without --by-task, and runs of one task trained with other settings (settings.ts). */
export function buildComparison(input: { version: string; inputs: string[]; byTask: boolean; runs: RunRecord[]; bootstrap: BootstrapSettings }): Comparison {
  const tasks = tasksOf(input.runs, input.byTask);
  return {
    version: input.version,
    created: new Date().toISOString(),
    inputs: input.inputs,
    byTask: input.byTask,
    bootstrap: { ...input.bootstrap, method: 'percentile', unit: 'run' },
    runs: input.runs,
    unfinished: input.runs.filter((r) => r.status !== 'finished').map((r) => r.folder),
    tasks: tasks.map((task) => compareTask(task, input.runs.filter((r) => r.task === task), input.bootstrap)),
  };
}

function compareTask(task: string, runs: RunRecord[], bootstrap: BootstrapSettings): TaskComparison {
  const settings = sharedSettings(runs, task);
  const finished = runs.filter((r) => r.status === 'finished' && r.value !== null);
  return {
    task,
    metric: runs[0].metric,
    settings,
    finishedRuns: runs.filter((r) => r.status === 'finished').length,
    unfinishedRuns: runs.filter((r) => r.status !== 'finished').length,
    lambdas: lambdaSummaries(runs),
    spearman: correlations('spearman', finished, bootstrap),
    pearson: correlations('pearson', finished, bootstrap),
  };
}

/** One summary per (regularizer, λ), ordered by λ (none first); unfinished runs count in no summary. */
export function lambdaSummaries(runs: readonly RunRecord[]): LambdaSummary[] {
  const mixedRegs = new Set(runs.filter((r) => r.reg !== 'none').map((r) => r.reg)).size > 1;
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const key = groupLabel(r, mixedRegs);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  const summaries = [...groups].map(([label, all]) => {
    const done = all.filter((r) => r.status === 'finished' && r.value !== null);
    const values = done.map((r) => r.value!);
    return {
      reg: all[0].reg, lambda: all[0].reg === 'none' ? null : all[0].lambda, label, n: done.length, seeds: done.map((r) => r.seed),
      mean: values.length ? mean(values) : null, std: sampleStd(values),
      isoscoreStarByLayer: layerMeans(done.map((r) => r.isoscoreStar)), twoNNByLayer: layerMeans(done.map((r) => r.twoNN)),
    };
  });
  return summaries.sort((a, b) => (a.lambda ?? -Infinity) - (b.lambda ?? -Infinity) || a.reg.localeCompare(b.reg));
}

function layerMeans(rows: (number | null)[][]): (number | null)[] {
  const layers = Math.max(0, ...rows.map((r) => r.length));
  return Array.from({ length: layers }, (_, l) => {
    const v = rows.map((r) => r[l]).filter((x): x is number => x !== null && x !== undefined);
    return v.length ? mean(v) : null;
  });
}

/**
 * The layers a per-run average covers: those where every run has a value (a layer undefined in
 * some run, e.g. TwoNN on the embeddings, would otherwise average different layers per run).
 */
export function averagedLayers(rows: readonly (number | null)[][]): number[] {
  const layers = Math.min(...rows.map((r) => r.length));
  if (!Number.isFinite(layers)) return [];
  return Array.from({ length: layers }, (_, l) => l).filter((l) => rows.every((r) => r[l] !== null && r[l] !== undefined));
}

/** Each run's measure averaged over `layers`. */
export function layerAverage(row: readonly (number | null)[], layers: readonly number[]): number {
  return mean(layers.map((l) => row[l]!));
}

function correlations(kind: CorrelationKind, runs: RunRecord[], bootstrap: BootstrapSettings): Correlations {
  const out = {} as Correlations;
  for (const measure of GEOMETRY_MEASURES) {
    const rows = runs.map((r) => r[measure]);
    const layerCount = Math.max(0, ...rows.map((r) => r.length));
    const layers = Array.from({ length: layerCount }, (_, layer) => {
      const have = runs.filter((r) => r[measure][layer] !== null && r[measure][layer] !== undefined);
      return { layer, ...correlation(kind, have.map((r) => r[measure][layer]!), have.map((r) => r.value!), bootstrap) };
    });
    const covered = averagedLayers(rows);
    const averaged = covered.length === 0 && runs.length >= MIN_RUNS
      ? { value: null, n: runs.length, interval: null, resamplesSkipped: 0, reason: 'no layer has a value in every finished run' }
      : correlation(kind, runs.map((r) => layerAverage(r[measure], covered)), runs.map((r) => r.value!), bootstrap);
    out[measure] = { layers, mean: { layers: covered, ...averaged } };
  }
  return out;
}
