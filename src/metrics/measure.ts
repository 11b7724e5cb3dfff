/**
 * Every metric of a hidden-state file, layer by layer, in bounded memory.
 *
 * The file is read in passes of row blocks (never whole), each feeding per-layer accumulators:
 *   1. (only with --transform) the covariance the transform is fitted on;
 *   2. the main pass, on transformed blocks: covariance of all points (IsoScore, IsoScore⋆ with
 *      C0 = self, PCA-ID, spectrum, rogue variance), covariance of the first B rows (IsoScore⋆
 *      batch), unit-vector sums (cosine, rogue cosine), and a seeded reservoir sample of the
 *      points for the metrics that need every pair of points (TwoNN, MLE);
 *   3. (only for partition isotropy) log-sum-exp of the projections onto the eigenvectors of XᵀX
 *      found in pass 2.
 */
import type { Matrix } from '../backend/matrix.js';
import { getTf, tfLoaded } from '../backend/tf.js';
import type { HiddenStates, LayerInfo } from '../io/hidden-states.js';
import { UserError, check } from '../errors.js';
import { CovarianceAccumulator, type ProductKernel } from './covariance.js';
import { covarianceSink, type CovarianceSink } from './covariance-parallel.js';
import { CosineAccumulator, type CosineResult } from './cosine.js';
import { isoScoreFromMoments, traceAndFrobenius2 } from './isoscore.js';
import { isoScoreStarOfCovariance, validateC0, checkZeta, type C0 } from './isoscore-star.js';
import { PartitionAccumulator, partitionDirections } from './partition.js';
import { rogueDimensions, diagonal, type RogueDimension } from './rogue.js';
import { covarianceSpectrum } from './spectrum.js';
import { pcaId, type PcaIdResult } from './pca-id.js';
import { twoNN, type TwoNNResult } from './twonn.js';
import { mle, type MleResult } from './mle.js';
import { knn } from './knn.js';
import { RowReservoir } from './sample.js';
import { fitTransform, describeTransform, type FittedTransform, type TransformSpec } from './transforms.js';

export const METRICS = ['isoscore', 'isoscore-star', 'cosine', 'partition', 'twonn', 'mle', 'pca-id', 'spectrum', 'rogue'] as const;
export type MetricName = (typeof METRICS)[number];

/** Where IsoScore⋆'s C0 comes from. */
export type C0Source =
  | { kind: 'self' }
  | { kind: 'identity' }
  | { kind: 'matrix'; path: string; matrix: Float64Array }
  /** ddof=1 covariance of the points of another file: per layer, or one layer for all. */
  | { kind: 'points'; path: string; covariances: Map<number, Float64Array>; dims: Map<number, number> };

export interface MeasureOptions {
  metrics: ReadonlySet<MetricName>;
  layers?: readonly number[];
  transform: TransformSpec;
  zeta: number;
  c0: C0Source;
  /** IsoScore⋆ batch = the first B points of the layer (null: the whole layer). */
  batchRows: number | null;
  duplicates: 'drop' | 'keep';
  discardFraction: number;
  mleK: number;
  /** Points drawn per layer for TwoNN and MLE. */
  sample: number;
  seed: number;
  /** Repeat TwoNN on this many random 90% subsets for a mean ± std (Ansuini et al.); 0 = off. */
  twoNNSubsets: number;
  rogueTop: number;
  blockRows: number;
  nonFinite: 'error' | 'drop';
  /** Product kernel for the O(N·d²) steps: float32 through tfjs, exact float64, or auto (float32 from d ≥ 256). */
  products: 'auto' | 'float32' | 'float64';
  onProgress?: (pass: string, rowsDone: number, rowsTotal: number) => void;
}

export interface LayerMeasures {
  layer: number;
  name: string;
  points: number;
  dim: number;
  droppedNonFinite?: number;
  isoscore?: number;
  participationRatio?: number;
  isoscoreStar?: { zeta: number; c0: string; batchRows: number | null; value: number };
  cosine?: Omit<CosineResult, 'points'>;
  partitionIsotropy?: number;
  twoNN?: TwoNNResult & { sample: number | null };
  mle?: MleResult & { sample: number | null };
  pcaId?: PcaIdResult;
  spectrum?: number[];
  rogueDimensions?: RogueDimension[];
}

export interface MeasureResult {
  backend: string;
  products: 'float32' | 'float64' | 'mixed';
  transform: string;
  layers: LayerMeasures[];
}

interface LayerState {
  info: LayerInfo;
  dim: number;
  /** Points seen in the main pass. */
  count: number;
  /** Covariance of all points: only when a metric needs it (cosine, TwoNN and MLE do not). */
  cov?: CovarianceAccumulator;
  covSink?: CovarianceSink;
  batch?: CovarianceAccumulator;
  cosine?: CosineAccumulator;
  reservoir?: RowReservoir;
  partition?: PartitionAccumulator;
  transform?: FittedTransform;
}

export async function measure(hs: HiddenStates, options: MeasureOptions): Promise<MeasureResult> {
  const m = options.metrics;
  checkZeta(options.zeta);
  const infos = selectLayers(hs, options.layers);
  const kernels = new Map<number, ProductKernel>();
  for (const info of infos) kernels.set(info.layer, await productKernel(options.products, info.cols));
  const layerIds = infos.map((i) => i.layer);
  const total = infos.reduce((s, i) => s + i.rows, 0);
  // The workers use the same tfjs backend as this thread (loaded above only if a layer needs float32).
  const workerBackend = tfLoaded() ? (await getTf()).name : 'js';
  const sinks: CovarianceSink[] = [];
  const sink = (l: LayerInfo, dim: number) => {
    const created = covarianceSink(dim, kernels.get(l.layer) as ProductKernel, l.rows, workerBackend);
    sinks.push(created);
    return created;
  };
  // Worker threads of a failed pass must not keep the process alive.
  try {
    const pass = async (label: string, feed: (state: LayerState, block: Matrix) => void | Promise<void>, states: Map<number, LayerState>) => {
      let done = 0;
      for await (const { layer, block } of hs.scan({ blockRows: options.blockRows, layers: layerIds, nonFinite: options.nonFinite })) {
        const state = states.get(layer) as LayerState;
        await feed(state, state.transform ? state.transform.apply(block) : block);
        done += block.rows;
        options.onProgress?.(label, done, total);
      }
    };

    // Pass 1: fit the transform.
    const states = new Map<number, LayerState>();
    for (const info of infos) {
      states.set(info.layer, { info, dim: info.cols, count: 0 });
    }
    if (options.transform.kind !== 'none') {
      const fits = new Map([...states.values()].map((s) => [s.info.layer, sink(s.info, s.dim)]));
      await pass('fit transform', (s, b) => fits.get(s.info.layer)?.add(b), states);
      for (const s of states.values()) {
        const fit = await (fits.get(s.info.layer) as CovarianceSink).finish();
        check(fit.count >= 2, `layer ${s.info.layer}: --transform needs at least 2 points, got ${fit.count}`);
        s.transform = fitTransform(options.transform, fit, kernels.get(s.info.layer));
        s.dim = s.transform.outDim;
      }
    }

    // Pass 2: the accumulators of every metric but partition isotropy.
    const wantsStar = m.has('isoscore-star');
    const wantsSample = m.has('twonn') || m.has('mle');
    const wantsCovariance = ['isoscore', 'isoscore-star', 'pca-id', 'spectrum', 'rogue', 'partition'].some((k) => m.has(k as MetricName));
    for (const s of states.values()) {
      if (wantsCovariance) s.covSink = sink(s.info, s.dim);
      if (wantsStar && options.batchRows !== null) s.batch = new CovarianceAccumulator(s.dim, kernels.get(s.info.layer));
      if (m.has('cosine') || m.has('rogue')) s.cosine = new CosineAccumulator(s.dim);
      if (wantsSample) s.reservoir = new RowReservoir(Math.min(options.sample, s.info.rows), s.dim, options.seed + s.info.layer);
    }
    await pass('measure', (s, b) => {
      if (s.batch && s.batch.count < (options.batchRows as number)) {
        const take = Math.min(b.rows, (options.batchRows as number) - s.batch.count);
        s.batch.add({ data: b.data.subarray(0, take * b.cols), rows: take, cols: b.cols });
      }
      s.count += b.rows;
      s.cosine?.add(b);
      s.reservoir?.add(b);
      return s.covSink?.add(b);
    }, states);
    for (const s of states.values()) if (s.covSink) s.cov = await s.covSink.finish();

    // Pass 3: partition isotropy needs the eigenvectors of XᵀX first.
    if (m.has('partition')) {
      for (const s of states.values()) {
        const cov = s.cov as CovarianceAccumulator;
        check(cov.count >= 1, `layer ${s.info.layer}: no points`);
        s.partition = new PartitionAccumulator(partitionDirections(cov.secondMoment(), s.dim), s.dim, kernels.get(s.info.layer));
      }
      await pass('partition', (s, b) => { s.partition?.add(b); }, states);
    }

    const layers: LayerMeasures[] = [];
    for (const info of infos) layers.push(await layerResult(states.get(info.layer) as LayerState, hs, options));
    const kinds = new Set([...kernels.values()].map((k) => k.kind));
    return {
      backend: tfLoaded() ? (await getTf()).name : 'js',
      products: kinds.size === 1 ? ([...kinds][0] as 'float32' | 'float64') : 'mixed',
      transform: describeTransform(options.transform),
      layers,
    };
  } catch (e) {
    for (const s of sinks) s.abort();
    throw e;
  }
}

async function layerResult(s: LayerState, hs: HiddenStates, o: MeasureOptions): Promise<LayerMeasures> {
  const m = o.metrics, d = s.dim, n = s.count, layer = s.info.layer;
  const inLayer = async <T>(f: () => T | Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`layer ${layer}: ${e.message}`);
      throw e;
    }
  };
  check(n >= 2, `layer ${layer} of ${hs.path} has ${n} point${n === 1 ? '' : 's'}; the metrics need at least 2`);
  const out: LayerMeasures = { layer, name: s.info.name, points: n, dim: d };
  const dropped = hs.dropped?.get(layer);
  if (dropped) out.droppedNonFinite = dropped;
  const cov = s.cov ? s.cov.covariance(1) : new Float64Array(0);
  const { trace, frobenius2 } = traceAndFrobenius2(cov, s.cov ? d : 0);
  if (m.has('isoscore')) {
    out.isoscore = isoScoreFromMoments(trace, frobenius2, d);
    out.participationRatio = frobenius2 === 0 ? 0 : (trace * trace) / frobenius2;
  }
  if (m.has('isoscore-star')) {
    const batchCov = s.batch ? (check(s.batch.count >= 2, `layer ${layer}: the IsoScore⋆ batch has fewer than 2 points`), s.batch.covariance(1)) : cov;
    const { c0, label } = resolveC0(o.c0, cov, layer, d);
    out.isoscoreStar = {
      zeta: o.zeta, c0: label, batchRows: s.batch ? s.batch.count : null,
      value: await inLayer(() => isoScoreStarOfCovariance(batchCov, c0, o.zeta, d)),
    };
  }
  if (s.cosine && m.has('cosine')) {
    const { points: _points, ...cosine } = s.cosine.result();
    out.cosine = cosine;
  }
  if (s.partition) out.partitionIsotropy = s.partition.result();
  if (s.reservoir) {
    const { matrix, seen } = s.reservoir.result();
    const sample = seen > matrix.rows ? matrix.rows : null;
    // One neighbour search serves both estimators (TwoNN needs 2 neighbours, MLE k).
    // (TwoNN's subsets reuse the list only when it holds ≥ 14 neighbours per point at 90%.)
    const k = Math.max(m.has('mle') ? o.mleK : 2, o.twoNNSubsets > 0 && m.has('twonn') ? 14 : 2);
    const neighbours = matrix.rows >= 3 ? await knn(matrix, Math.min(k, matrix.rows - 1)) : undefined;
    if (m.has('twonn')) {
      const subsets = o.twoNNSubsets > 0 ? { count: o.twoNNSubsets, fraction: 0.9, seed: o.seed } : undefined;
      out.twoNN = { ...(await inLayer(() => twoNN(matrix, { discardFraction: o.discardFraction, duplicates: o.duplicates, subsets, knn: neighbours }))), sample };
    }
    if (m.has('mle')) out.mle = { ...(await inLayer(() => mle(matrix, { k: o.mleK, duplicates: o.duplicates, knn: neighbours }))), sample };
  }
  if (m.has('pca-id') || m.has('spectrum')) {
    const eigenvalues = covarianceSpectrum(cov, d, n);
    if (m.has('pca-id')) out.pcaId = pcaId(eigenvalues);
    if (m.has('spectrum')) out.spectrum = Array.from(eigenvalues);
  }
  if (m.has('rogue') && s.cosine) out.rogueDimensions = rogueDimensions(diagonal(cov, d), s.cosine.dimensionContributions(), o.rogueTop);
  return out;
}

function resolveC0(source: C0Source, selfCov: Float64Array, layer: number, dim: number): { c0: C0; label: string } {
  switch (source.kind) {
    case 'self': return { c0: selfCov, label: 'self' };
    case 'identity': return { c0: 'identity', label: 'identity' };
    case 'matrix':
      validateC0(source.matrix, dim, source.path);
      return { c0: source.matrix, label: source.path };
    case 'points': {
      const c0 = source.covariances.get(layer) ?? (source.covariances.size === 1 ? [...source.covariances.values()][0] : undefined);
      const c0Dim = source.dims.get(layer) ?? (source.dims.size === 1 ? [...source.dims.values()][0] : undefined);
      if (!c0 || c0Dim === undefined) throw new UserError(`--c0-points ${source.path} has no layer ${layer} (it has ${[...source.covariances.keys()].join(', ')})`);
      if (c0Dim !== dim) throw new UserError(`--c0-points ${source.path}: its points have ${c0Dim} dimensions but layer ${layer} has ${dim}`);
      return { c0, label: `points:${source.path}` };
    }
  }
}

function selectLayers(hs: HiddenStates, wanted: readonly number[] | undefined): LayerInfo[] {
  if (!wanted) return hs.layers;
  return wanted.map((w) => {
    const info = hs.layers.find((l) => l.layer === w);
    if (!info) throw new UserError(`${hs.path} has no layer ${w} (layers: ${hs.layers.map((l) => l.layer).join(', ')})`);
    return info;
  });
}

/** The product kernel for a layer of width d. */
export async function productKernel(choice: MeasureOptions['products'], dim: number): Promise<ProductKernel> {
  if (choice === 'float64' || (choice === 'auto' && dim < 256)) return { kind: 'float64' };
  return { kind: 'float32', tf: (await getTf()).tf };
}
