/**
 * The metric flags shared by `measure` and `report`, so a report's numbers are those `measure`
 * gives on the same states file with the same flags.
 */
import type { Argv } from 'yargs';
import { openHiddenStates } from '../io/hidden-states.js';
import { productKernel, METRICS, type MetricName, type C0Source, type MeasureOptions } from '../metrics/measure.js';
import { CovarianceAccumulator } from '../metrics/covariance.js';
import { parseTransform } from '../metrics/transforms.js';
import { UserError, check } from '../errors.js';
import { positiveInteger } from './common.js';

export interface MeasureFlags {
  metrics: string;
  transform: string;
  zeta: number;
  c0: string;
  c0Points?: string;
  batchRows?: number;
  duplicates: string;
  sample: number;
  seed: number;
  discardFraction: number;
  mleK: number;
  twonnSubsets: number;
  rogueTop: number;
  blockRows: number;
  dropNonfinite: boolean;
  products: string;
}

/** Add the metric flags; `twonnSubsets` is the default of --twonn-subsets (report shows a spread). */
export function withMeasureFlags<T>(y: Argv<T>, defaults: { twonnSubsets: number } = { twonnSubsets: 0 }): Argv<T> {
  return y
    .option('metrics', { type: 'string', default: 'all', describe: `'all' or a comma-separated subset of ${METRICS.join(',')}` })
    .option('transform', { type: 'string', default: 'none', describe: 'applied before every metric: none | center | abtt:D | whiten' })
    .option('zeta', { type: 'number', default: 0.2, describe: 'IsoScore⋆ weight of C0, in [0, 1]' })
    .option('c0', { type: 'string', default: 'self', describe: "IsoScore⋆ C0: 'self' (covariance of all points of the layer), 'identity', or a d×d .npy" })
    .option('c0-points', { type: 'string', describe: 'IsoScore⋆ C0 = ddof=1 covariance of the points in this file (per layer, or one layer for all)' })
    .option('batch-rows', { type: 'number', describe: 'IsoScore⋆ batch = the first B points of each layer (default: the whole layer)' })
    .option('duplicates', { type: 'string', default: 'drop', choices: ['drop', 'keep'], describe: 'TwoNN/MLE: drop points with r1 = 0 or r1 = r2 (Ansuini et al.) or keep them (scikit-dimension)' })
    .option('sample', { type: 'number', default: 10000, describe: 'points drawn per layer (seeded) for TwoNN and MLE' })
    .option('seed', { type: 'number', default: 0 })
    .option('discard-fraction', { type: 'number', default: 0.1, describe: 'TwoNN: fraction of the largest ratios left out of the fit' })
    .option('mle-k', { type: 'number', default: 20, describe: 'MLE: neighbours per point' })
    .option('twonn-subsets', { type: 'number', default: defaults.twonnSubsets, describe: 'TwoNN mean ± std over this many random 90% subsets (Ansuini et al.); 0 = off' })
    .option('rogue-top', { type: 'number', default: 5, describe: 'rogue dimensions: how many top dimensions by variance and by cosine share' })
    .option('block-rows', { type: 'number', default: 8192, describe: 'rows read per block (memory bound)' })
    .option('drop-nonfinite', { type: 'boolean', default: false, describe: 'skip points with NaN/Inf instead of stopping' })
    .option('products', { type: 'string', default: 'auto', choices: ['auto', 'float32', 'float64'], describe: 'kernel of the O(N·d²) products: float32 through tfjs, exact float64, or auto (float32 from d = 256)' });
}

/** The files the metric flags read (C0 sources) plus `files`, for the output checks. */
export function measureInputs(argv: MeasureFlags, files: readonly string[]): string[] {
  const c0File = argv.c0 !== 'self' && argv.c0 !== 'identity' ? argv.c0 : undefined;
  return [...files, ...[c0File, argv.c0Points].filter((f): f is string => typeof f === 'string')];
}

/** Validate the metric flags and turn them into MeasureOptions (without layers and progress). */
export async function measureOptionsFromArgs(argv: MeasureFlags): Promise<Omit<MeasureOptions, 'layers' | 'onProgress'>> {
  const metrics = parseMetrics(argv.metrics);
  const transform = parseTransform(argv.transform);
  const zeta = argv.zeta;
  check(Number.isFinite(zeta) && zeta >= 0 && zeta <= 1, `--zeta must be a number in [0, 1], got ${argv.zeta}`);
  const sample = positiveInteger(argv.sample, '--sample');
  const blockRows = positiveInteger(argv.blockRows, '--block-rows');
  const batchRows = argv.batchRows === undefined ? null : positiveInteger(argv.batchRows, '--batch-rows');
  check(batchRows === null || batchRows >= 2, '--batch-rows must be at least 2');
  check(Number.isInteger(argv.seed) && argv.seed >= 0, `--seed must be a non-negative integer, got ${argv.seed}`);
  const df = argv.discardFraction;
  check(Number.isFinite(df) && df >= 0 && df < 1, `--discard-fraction must be in [0, 1), got ${df}`);
  const mleK = positiveInteger(argv.mleK, '--mle-k');
  check(mleK >= 2, '--mle-k must be at least 2');
  const subsets = argv.twonnSubsets;
  check(Number.isInteger(subsets) && subsets >= 0, `--twonn-subsets must be a non-negative integer, got ${subsets}`);
  const rogueTop = positiveInteger(argv.rogueTop, '--rogue-top');
  check(!(argv.c0Points && argv.c0 !== 'self'), 'give either --c0 or --c0-points, not both');
  const products = argv.products as 'auto' | 'float32' | 'float64';
  const c0 = argv.c0Points ? await c0FromPoints(argv.c0Points, blockRows, products) : await c0FromFlag(argv.c0);
  return {
    metrics, transform, zeta, c0, batchRows,
    duplicates: argv.duplicates as 'drop' | 'keep',
    discardFraction: df, mleK, sample, seed: argv.seed, twoNNSubsets: subsets, rogueTop, blockRows,
    nonFinite: argv.dropNonfinite ? 'drop' : 'error',
    products,
  };
}

function parseMetrics(text: string): Set<MetricName> {
  if (text === 'all') return new Set(METRICS);
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  check(names.length > 0, '--metrics is empty');
  for (const n of names) {
    if (!(METRICS as readonly string[]).includes(n)) throw new UserError(`unknown metric '${n}' in --metrics: choose from all, ${METRICS.join(', ')}`);
  }
  return new Set(names as MetricName[]);
}

async function c0FromFlag(flag: string): Promise<C0Source> {
  if (flag === 'self') return { kind: 'self' };
  if (flag === 'identity') return { kind: 'identity' };
  const file = await openHiddenStates(flag);
  try {
    check(file.layers.length === 1, `--c0 ${flag}: expected one d×d matrix, found ${file.layers.length} arrays`);
    const { rows, cols } = file.layers[0];
    check(rows === cols, `--c0 ${flag}: C0 must be square (d×d), got ${rows}×${cols}`);
    const matrix = new Float64Array(rows * cols);
    for await (const { firstRow, block } of file.scan({ blockRows: rows })) matrix.set(block.data, firstRow * cols);
    return { kind: 'matrix', path: flag, matrix };
  } finally {
    await file.close();
  }
}

async function c0FromPoints(path: string, blockRows: number, products: 'auto' | 'float32' | 'float64'): Promise<C0Source> {
  const file = await openHiddenStates(path);
  try {
    const accs = new Map<number, CovarianceAccumulator>();
    for (const l of file.layers) accs.set(l.layer, new CovarianceAccumulator(l.cols, await productKernel(products, l.cols)));
    for await (const { layer, block } of file.scan({ blockRows })) accs.get(layer)?.add(block);
    const covariances = new Map<number, Float64Array>(), dims = new Map<number, number>();
    for (const [layer, acc] of accs) {
      check(acc.count >= 2, `--c0-points ${path}: layer ${layer} has fewer than 2 points`);
      covariances.set(layer, acc.covariance(1));
      dims.set(layer, acc.dim);
    }
    return { kind: 'points', path, covariances, dims };
  } finally {
    await file.close();
  }
}
