/**
 * The metric flags shared by `measure` and `report`, so a report's numbers are those `measure`
 * gives on the same states file with the same flags.
 */
import * as fs from 'node:fs';
import type { Argv } from 'yargs';
import { openHiddenStates } from '../io/hidden-states.js';
import { productKernel, METRICS, type MetricName, type C0Source, type MeasureOptions } from '../metrics/measure.js';
import { CovarianceAccumulator } from '../metrics/covariance.js';
import { parseTransform } from '../metrics/transforms.js';
import { UserError, check } from '../errors.js';
import { numberOption } from './common.js';

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
    .option('zeta', numberOption('zeta', { min: 0, max: 1, default: 0.2, describe: 'IsoScore⋆ weight of C0, in [0, 1]' }))
    .option('c0', { type: 'string', default: 'self', describe: "IsoScore⋆ C0: 'self' (covariance of all points of the layer), 'identity', or a d×d .npy" })
    .option('c0-points', { type: 'string', describe: 'IsoScore⋆ C0 = ddof=1 covariance of the points in this file (per layer, or one layer for all)' })
    .option('batch-rows', numberOption('batch-rows', { integer: true, min: 2, example: 64, describe: 'IsoScore⋆ batch = the first B points of each layer (default: the whole layer)' }))
    .option('duplicates', { type: 'string', default: 'drop', choices: ['drop', 'keep'], describe: 'TwoNN/MLE: drop points with r1 = 0 or r1 = r2 (Ansuini et al.) or keep them (scikit-dimension)' })
    .option('sample', numberOption('sample', { integer: true, min: 1, default: 10000, describe: 'points drawn per layer (seeded) for TwoNN and MLE' }))
    .option('seed', numberOption('seed', { integer: true, min: 0, default: 0, describe: 'seed of the samples and subsets' }))
    .option('discard-fraction', numberOption('discard-fraction', { min: 0, below: 1, default: 0.1, describe: 'TwoNN: fraction of the largest ratios left out of the fit' }))
    .option('mle-k', numberOption('mle-k', { integer: true, min: 2, default: 20, describe: 'MLE: neighbours per point' }))
    .option('twonn-subsets', numberOption('twonn-subsets', { integer: true, min: 0, default: defaults.twonnSubsets, describe: 'TwoNN mean ± std over this many random 90% subsets (Ansuini et al.); 0 = off' }))
    .option('rogue-top', numberOption('rogue-top', { integer: true, min: 1, default: 5, describe: 'rogue dimensions: how many top dimensions by variance and by cosine share' }))
    .option('block-rows', numberOption('block-rows', { integer: true, min: 1, default: 8192, describe: 'rows read per block (memory bound)' }))
    .option('drop-nonfinite', { type: 'boolean', default: false, describe: 'skip points with NaN/Inf instead of stopping' })
    .option('products', { type: 'string', default: 'auto', choices: ['auto', 'float32', 'float64'], describe: 'precision of the O(N·d²) products (system BLAS or wasm kernel): float32, exact float64, or auto (float32 from d = 256)' });
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
  // The numbers were parsed and range-checked by numberOption as yargs read them.
  const { zeta, sample, blockRows, discardFraction: df, mleK, twonnSubsets: subsets, rogueTop } = argv;
  const batchRows = argv.batchRows ?? null;
  check(!(argv.c0Points && argv.c0 !== 'self'), 'give either --c0 or --c0-points, not both (--c0-points replaces --c0)');
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
  check(names.length > 0, `--metrics is empty; give 'all' or some of ${METRICS.join(',')}`);
  for (const n of names) {
    if (!(METRICS as readonly string[]).includes(n)) throw new UserError(`unknown metric '${n}' in --metrics: choose from all, ${METRICS.join(', ')}`);
  }
  return new Set(names as MetricName[]);
}

async function c0FromFlag(flag: string): Promise<C0Source> {
  if (flag === 'self') return { kind: 'self' };
  if (flag === 'identity') return { kind: 'identity' };
  check(fs.existsSync(flag), `--c0 ${flag}: not 'self' or 'identity', and no such file; give --c0 self, --c0 identity or a d×d .npy file`);
  const file = await openHiddenStates(flag);
  try {
    check(file.layers.length === 1, `--c0 ${flag}: expected one d×d matrix, found ${file.layers.length} arrays; save C0 alone as a 2-D .npy`);
    const { rows, cols } = file.layers[0];
    check(rows === cols, `--c0 ${flag}: C0 must be square (d×d), got ${rows}×${cols}; for a C0 from points use --c0-points ${flag}`);
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
      check(acc.count >= 2, `--c0-points ${path}: layer ${layer} has fewer than 2 points; C0 needs at least 2 per layer`);
      covariances.set(layer, acc.covariance(1));
      dims.set(layer, acc.dim);
    }
    return { kind: 'points', path, covariances, dims };
  } finally {
    await file.close();
  }
}
