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
 *
 * A layer with fewer points than dimensions keeps its points instead of a d×d covariance and
 * gets the second-moment metrics from the N×N Gram matrix (gram.ts). The memory all of this
 * needs is estimated and checked before anything is allocated (`checkMemory`), and the size of
 * the values is checked against what float64 moments can hold (resources.ts).
 *
 * A metric that is undefined on one layer (all points identical, zero variance, too few distinct
 * points...: MetricUndefined) is `null` there, with the reason in the layer's `undefinedMetrics`
 * under the same key; the other metrics and layers are still computed. No non-finite number
 * reaches the result (JSON would turn it into a silent null): one becomes null with a reason.
 */
import type { Matrix } from '../backend/matrix.js';
import { getTf, tfLoaded } from '../backend/tf.js';
import { describeProducts, productsNote } from '../backend/products/index.js';
import type { HiddenStates, LayerInfo } from '../io/hidden-states.js';
import { MetricUndefined, UserError, check, definedIf } from '../errors.js';
import { blockScratchBytes, CovarianceAccumulator, MeanAccumulator } from './covariance.js';
import { productKernel, type ProductKernel } from './product-kernel.js';
import { GramMoments, PointStore } from './gram.js';
import { checkMagnitude, magnitudeLimits, maxAbsOf, MAX_ARRAY_ELEMENTS } from './resources.js';
import { availableMemory, formatBytes } from '../backend/memory.js';
import { CosineAccumulator, type CosineResult } from './cosine.js';
import { isoScoreFromMoments, traceAndFrobenius2 } from './isoscore.js';
import { isoScoreStarFromMoments, isoScoreStarOfCovariance, validateC0, checkZeta, type C0 } from './isoscore-star.js';
import { PartitionAccumulator, partitionDirections } from './partition.js';
import { rogueDimensions, diagonal, type RogueDimension } from './rogue.js';
import { covarianceSpectrum } from './spectrum.js';
import { pcaId, type PcaIdResult } from './pca-id.js';
import { twoNN, type TwoNNResult } from './twonn.js';
import { mle, type MleResult } from './mle.js';
import { knn } from './knn.js';
import { RowReservoir } from './sample.js';
import { fitTransform, describeTransform, transformNeedsCovariance, type FittedTransform, type TransformSpec, type TransformStats } from './transforms.js';

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
  /** Precision of the O(N·d²) products (through the products layer): float32, exact float64, or auto (float32 from d ≥ 256). */
  products: 'auto' | 'float32' | 'float64';
  onProgress?: (pass: string, rowsDone: number, rowsTotal: number) => void;
}

/** The metric keys of a layer's result (null: undefined on this layer, see `undefinedMetrics`). */
export interface LayerMetricValues {
  isoscore: number;
  participationRatio: number;
  isoscoreStar: { zeta: number; c0: string; batchRows: number | null; value: number };
  cosine: Omit<CosineResult, 'points'>;
  partitionIsotropy: number;
  twoNN: TwoNNResult & { sample: number | null };
  mle: MleResult & { sample: number | null };
  /** `fan` is null where scikit-dimension raises (reason under 'pcaId.fan'). */
  pcaId: Omit<PcaIdResult, 'fan'> & { fan: number | null };
  spectrum: number[];
  rogueDimensions: RogueDimension[];
}

export type LayerMeasures = {
  layer: number;
  name: string;
  points: number;
  dim: number;
  droppedNonFinite?: number;
  /** Why a metric is null on this layer, by its key (e.g. { twoNN: 'all 64 points are identical' }). */
  undefinedMetrics?: Record<string, string>;
  /** How the second moments were formed: the d×d covariance, or the N×N Gram matrix (N < d). */
  moments?: 'covariance' | 'gram';
} & { [K in keyof LayerMetricValues]?: LayerMetricValues[K] | null };

export interface MeasureResult {
  /** The tfjs backend, or 'js' when no tfjs ran (the metrics themselves need none). */
  backend: string;
  products: 'float32' | 'float64' | 'mixed';
  /** The products layer's implementation and threads, e.g. "openblas 0.3.21, 2 threads", with why `auto` fell back to wasm if it did. */
  productsBackend: string;
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
  /** The points themselves, for the Gram form (fewer points than dimensions). */
  points?: PointStore;
  /** Largest |value| seen (raw input), and the largest float64 moments can take (resources.ts). */
  maxAbs: number;
  maxAllowed: number;
  batch?: CovarianceAccumulator;
  cosine?: CosineAccumulator;
  reservoir?: RowReservoir;
  partition?: PartitionAccumulator;
  transform?: FittedTransform;
}

export async function measure(hs: HiddenStates, options: MeasureOptions): Promise<MeasureResult> {
  const m = options.metrics;
  checkZeta(options.zeta);
  check(hs.layers.length > 0, `${hs.path} holds no layers (an array with 0 layers); give a file with at least one layer of at least 2 points`);
  const infos = selectLayers(hs, options.layers);
  for (const info of infos) {
    check(info.rows > 0, `${hs.path}: layer ${info.layer} has no points; give at least 2 points per layer, or leave the layer out with --layers`);
  }
  checkMemory(hs.path, infos, options);
  const kernels = new Map<number, ProductKernel>();
  for (const info of infos) kernels.set(info.layer, productKernel(options.products, info.cols));
  const layerIds = infos.map((i) => i.layer);
  const total = infos.reduce((s, i) => s + i.rows, 0);
  const pass = async (label: string, feed: (state: LayerState, block: Matrix) => void | Promise<void>, states: Map<number, LayerState>) => {
    let done = 0;
    for await (const { layer, block } of hs.scan({ blockRows: options.blockRows, layers: layerIds, nonFinite: options.nonFinite })) {
      const state = states.get(layer) as LayerState;
      state.maxAbs = maxAbsOf(block.data, state.maxAbs);
      // Overflow is refused at the first block that shows it (underflow only once all are seen).
      if (state.maxAbs > state.maxAllowed) checkMagnitude(hs.path, layer, state.maxAbs, state.info.rows, state.info.cols);
      await feed(state, state.transform ? state.transform.apply(block) : block);
      done += block.rows;
      options.onProgress?.(label, done, total);
    }
  };

  // Pass 1: fit the transform.
  const states = new Map<number, LayerState>();
  for (const info of infos) {
    states.set(info.layer, { info, dim: info.cols, count: 0, maxAbs: 0, maxAllowed: magnitudeLimits(info.rows, info.cols).max });
  }
  const checkMagnitudes = () => { for (const s of states.values()) checkMagnitude(hs.path, s.info.layer, s.maxAbs, s.info.rows, s.info.cols); };
  if (options.transform.kind !== 'none') {
    const needsCovariance = transformNeedsCovariance(options.transform);
    const fits = new Map([...states.values()].map((s) => {
      const fit: CovarianceAccumulator | MeanAccumulator = needsCovariance
        ? new CovarianceAccumulator(s.dim, kernels.get(s.info.layer)) : new MeanAccumulator(s.dim);
      return [s.info.layer, fit] as const;
    }));
    await pass('fit transform', (s, b) => { fits.get(s.info.layer)?.add(b); }, states);
    checkMagnitudes();
    for (const s of states.values()) {
      const fit: TransformStats = fits.get(s.info.layer) as CovarianceAccumulator | MeanAccumulator;
      check(fit.count >= 2, `${hs.path}: layer ${s.info.layer} has ${fit.count} point(s); --transform needs at least 2 (give more points, or leave the layer out with --layers)`);
      s.transform = fitTransform(options.transform, fit, kernels.get(s.info.layer));
      s.dim = s.transform.outDim;
    }
  }

  // Pass 2: the accumulators of every metric but partition isotropy.
  const wantsStar = m.has('isoscore-star');
  const wantsSample = m.has('twonn') || m.has('mle');
  const wantsCovariance = ['isoscore', 'isoscore-star', 'pca-id', 'spectrum', 'rogue', 'partition'].some((k) => m.has(k as MetricName));
  for (const s of states.values()) {
    const gram = s.info.rows < s.dim;
    if (wantsCovariance && gram) s.points = new PointStore(s.info.rows, s.dim);
    if (wantsCovariance && !gram) s.cov = new CovarianceAccumulator(s.dim, kernels.get(s.info.layer));
    if (wantsStar && options.batchRows !== null && !gram) s.batch = new CovarianceAccumulator(s.dim, kernels.get(s.info.layer));
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
    s.points?.add(b);
    s.cov?.add(b);
  }, states);
  if (options.transform.kind === 'none') checkMagnitudes();

  // Pass 3: partition isotropy needs the eigenvectors of XᵀX first.
  if (m.has('partition')) {
    for (const s of states.values()) {
      // The Gram form needs no pass; a layer left with no points is refused in layerResult.
      const cov = s.cov;
      if (!cov || cov.count < 1) continue;
      s.partition = new PartitionAccumulator(partitionDirections(cov.secondMoment(), s.dim), s.dim, kernels.get(s.info.layer));
    }
    await pass('partition', (s, b) => { s.partition?.add(b); }, states);
  }

  const layers: LayerMeasures[] = [];
  for (const info of infos) layers.push(await layerResult(states.get(info.layer) as LayerState, hs, options, kernels.get(info.layer) as ProductKernel));
  const kinds = new Set([...kernels.values()].map((k) => k.kind));
  const note = productsNote();
  return {
    backend: tfLoaded() ? (await getTf()).name : 'js',
    products: kinds.size === 1 ? ([...kinds][0] as 'float32' | 'float64') : 'mixed',
    productsBackend: note ? `${describeProducts()} (${note})` : describeProducts(),
    transform: describeTransform(options.transform),
    layers,
  };
}

async function layerResult(s: LayerState, hs: HiddenStates, o: MeasureOptions, kernel: ProductKernel): Promise<LayerMeasures> {
  const m = o.metrics, d = s.dim, n = s.count, layer = s.info.layer;
  check(n >= 2, `${hs.path}: layer ${layer} has ${n} point${n === 1 ? '' : 's'}; the metrics need at least 2 (give more points, or leave the layer out with --layers)`);
  const out: LayerMeasures = { layer, name: s.info.name, points: n, dim: d };
  const dropped = hs.dropped?.get(layer);
  if (dropped) out.droppedNonFinite = dropped;
  const reasons: Record<string, string> = {};
  /** Compute one metric; undefined on this layer → null with the reason; a user error names the layer. */
  const attempt = async <K extends keyof LayerMetricValues>(key: K, f: () => LayerMetricValues[K] | Promise<LayerMetricValues[K]>): Promise<void> => {
    try {
      (out as Record<string, unknown>)[key] = await f();
    } catch (e) {
      if (e instanceof MetricUndefined) {
        (out as Record<string, unknown>)[key] = null;
        reasons[key] = identical && /^zero (co)?variance/.test(e.message) ? `all ${n} points are identical (zero covariance)` : e.message;
      } else if (e instanceof UserError) {
        throw new UserError(`${hs.path}: layer ${layer}: ${e.message}`);
      } else {
        throw e;
      }
    }
  };
  const gram = s.points ? new GramMoments(s.points.matrix(), kernel) : undefined;
  if (gram) out.moments = 'gram';
  else if (s.cov) out.moments = 'covariance';
  const cov = s.cov ? s.cov.covariance(1) : new Float64Array(0);
  const { trace, frobenius2 } = gram ?? traceAndFrobenius2(cov, s.cov ? d : 0);
  const identical = (gram !== undefined || s.cov !== undefined) && trace === 0;
  // The participation ratio, once per layer from the moments; PCA-ID's output reuses it, so the
  // layer reports one value (the eigenvalue form (Σλ)²/Σλ² differs in the last bits).
  const participationRatio = frobenius2 > 0 ? (trace * trace) / frobenius2 : undefined;
  if (m.has('isoscore')) {
    await attempt('isoscore', () => isoScoreFromMoments(trace, frobenius2, d));
    await attempt('participationRatio', () => {
      definedIf(participationRatio !== undefined, 'zero covariance (all points identical): the participation ratio is 0/0');
      return participationRatio as number;
    });
  }
  if (m.has('isoscore-star')) {
    await attempt('isoscoreStar', () => {
      const batchRows = gram ? (o.batchRows === null ? null : Math.min(o.batchRows, n)) : s.batch ? s.batch.count : null;
      if (batchRows !== null) check(batchRows >= 2, `the IsoScore⋆ batch (--batch-rows) has ${batchRows} point(s); give at least 2`);
      const { c0, label } = resolveC0(o.c0, cov, layer, d);
      const value = gram
        ? isoScoreStarFromMoments(gram.starMoments(o.c0.kind === 'self' ? 'self' : c0, batchRows), o.zeta, d)
        : isoScoreStarOfCovariance(s.batch ? s.batch.covariance(1) : cov, c0, o.zeta, d);
      return { zeta: o.zeta, c0: label, batchRows, value };
    });
  }
  if (s.cosine && m.has('cosine')) {
    await attempt('cosine', () => {
      const { points: _points, ...cosine } = (s.cosine as CosineAccumulator).result();
      return cosine;
    });
  }
  if (m.has('partition')) {
    if (gram) await attempt('partitionIsotropy', () => gram.partitionIsotropy());
    else if (s.partition) await attempt('partitionIsotropy', () => (s.partition as PartitionAccumulator).result());
  }
  if (s.reservoir) {
    const { matrix, seen } = s.reservoir.result();
    const sample = seen > matrix.rows ? matrix.rows : null;
    // One neighbour search serves both estimators (TwoNN needs 2 neighbours, MLE k).
    // (TwoNN's subsets reuse the list only when it holds ≥ 14 neighbours per point at 90%.)
    const k = Math.max(m.has('mle') ? o.mleK : 2, o.twoNNSubsets > 0 && m.has('twonn') ? 14 : 2);
    const neighbours = matrix.rows >= 3 ? await knn(matrix, Math.min(k, matrix.rows - 1)) : undefined;
    if (m.has('twonn')) {
      const subsets = o.twoNNSubsets > 0 ? { count: o.twoNNSubsets, fraction: 0.9, seed: o.seed } : undefined;
      await attempt('twoNN', async () => ({ ...(await twoNN(matrix, { discardFraction: o.discardFraction, duplicates: o.duplicates, subsets, knn: neighbours })), sample }));
    }
    if (m.has('mle')) await attempt('mle', async () => ({ ...(await mle(matrix, { k: o.mleK, duplicates: o.duplicates, knn: neighbours })), sample }));
  }
  if (m.has('pca-id') || m.has('spectrum')) {
    const eigenvalues = gram ? gram.spectrum() : covarianceSpectrum(cov, d, n);
    if (m.has('pca-id')) {
      await attempt('pcaId', () => {
        const r = pcaId(eigenvalues, {}, { participationRatio });
        if (Number.isNaN(r.fan)) reasons['pcaId.fan'] = 'no eigenvalue index passes Fan\'s tests (e.g. all eigenvalues equal), where scikit-dimension raises';
        return { ...r, fan: Number.isNaN(r.fan) ? null : r.fan };
      });
    }
    if (m.has('spectrum')) out.spectrum = Array.from(eigenvalues);
  }
  if (m.has('rogue') && s.cosine) {
    await attempt('rogueDimensions', () => rogueDimensions(gram ? gram.diagonal() : diagonal(cov, d), (s.cosine as CosineAccumulator).dimensionContributions(), o.rogueTop));
  }
  nullNonFinite(out, reasons);
  if (Object.keys(reasons).length > 0) out.undefinedMetrics = reasons;
  return out;
}

/**
 * Turn a metric holding a non-finite number (JSON.stringify would write it as a silent null)
 * into an explicit null with a reason. The magnitude check makes this a last guard.
 */
function nullNonFinite(out: LayerMeasures, reasons: Record<string, string>): void {
  const record = out as Record<string, unknown>;
  for (const key of METRIC_KEYS) {
    const v = record[key];
    if (v === undefined || v === null) continue;
    const bad = firstNonFinite(v);
    if (bad !== undefined) {
      record[key] = null;
      reasons[key] = `the computation gave a non-finite value (${bad}); the data may be of extreme scale or degenerate`;
    }
  }
}

const METRIC_KEYS = ['isoscore', 'participationRatio', 'isoscoreStar', 'cosine', 'partitionIsotropy', 'twoNN', 'mle', 'pcaId', 'spectrum', 'rogueDimensions'] as const satisfies readonly (keyof LayerMetricValues)[];

function firstNonFinite(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : String(v);
  if (Array.isArray(v)) {
    for (const x of v) { const b = firstNonFinite(x); if (b !== undefined) return b; }
    return undefined;
  }
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) { const b = firstNonFinite(x); if (b !== undefined) return b; }
  }
  return undefined;
}

/**
 * Estimate the memory the metrics will hold and refuse, before allocating, what the machine
 * cannot give: per layer a d×d float64 accumulator (a second one for an IsoScore⋆ batch, one for
 * a transform's fit), or for N < d the points and an N×N Gram matrix; the TwoNN/MLE sample; the
 * accumulators' shared block scratch; and, one layer at a time, the covariance copy, eigen work
 * space and eigenvectors (partition, transforms).
 */
function checkMemory(path: string, infos: LayerInfo[], o: MeasureOptions): void {
  const m = o.metrics;
  const wantsCovariance = ['isoscore', 'isoscore-star', 'pca-id', 'spectrum', 'rogue', 'partition'].some((k) => m.has(k as MetricName));
  const wantsSample = m.has('twonn') || m.has('mle');
  let bytes = 0, square = 0, widest = 0;
  for (const { rows: n, cols: d } of infos) {
    if (transformNeedsCovariance(o.transform)) { bytes += 8 * d * d; square = Math.max(square, d * d); }
    if (wantsCovariance) {
      if (n < d) {
        bytes += 8 * (2 * n * d + 3 * n * n);
      } else {
        bytes += 8 * d * d * (m.has('isoscore-star') && o.batchRows !== null ? 2 : 1);
        square = Math.max(square, d * d);
      }
    }
    if (wantsSample) bytes += 12 * Math.min(o.sample, n) * d;
    widest = Math.max(widest, d);
  }
  // One layer at a time: the covariance copy and eigen work space; with eigenvectors (partition,
  // transforms) also the second moment, the reflectors and the vectors.
  bytes += 8 * square * (m.has('partition') || transformNeedsCovariance(o.transform) ? 5 : 2);
  // The accumulators' block scratch, and the copy of it the wasm products hold in their memory.
  if (square > 0) bytes += 2 * blockScratchBytes(widest);
  const available = availableMemory();
  if (bytes <= available && square <= MAX_ARRAY_ELEMENTS) return;
  const fixes = ['measure fewer layers at once (--layers)'];
  if (wantsCovariance) fixes.push('leave out the covariance metrics (e.g. --metrics cosine,twonn,mle)');
  if (transformNeedsCovariance(o.transform)) fixes.push('drop --transform (or use center)');
  if (wantsSample) fixes.push('lower --sample');
  const matrix = square > 0 ? ` (one ${widest}×${widest} float64 matrix is ${formatBytes(8 * widest * widest)}; layers with fewer points than dimensions use the N×N Gram form instead)` : '';
  throw new UserError(`${path}: the requested metrics on ${infos.length} layer(s) need about ${formatBytes(bytes)} of memory but ${formatBytes(available)} is available${matrix}; ${fixes.join(', or ')}`);
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
  // A layer named twice is measured once, in the order of first mention.
  return [...new Set(wanted)].map((w) => {
    const info = hs.layers.find((l) => l.layer === w);
    if (!info) throw new UserError(`${hs.path} has no layer ${w} (layers: ${hs.layers.map((l) => l.layer).join(', ')})`);
    return info;
  });
}

/** The product kernel for a layer of width d (re-exported for the CLI's option parsing). */
export { productKernel } from './product-kernel.js';
