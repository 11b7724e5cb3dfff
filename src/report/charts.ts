/**
 * The charts of a report, as Vega-Lite specs built from the Report alone. Every per-layer chart
 * has the layer on x (Hugging Face numbering, 0 = embedding output) and one coloured line per
 * checkpoint, in the order of `report.checkpoints`, so a series of pretraining checkpoints
 * (`--model a,b,c`) reads as one trajectory. A chart whose metric is null in every row is left
 * out; the page says so (see `skippedCharts`).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Report, ReportRow } from './model.js';

export interface ChartSpec {
  id: string;
  title: string;
  description: string;
  spec: TopLevelSpec;
}

/** A chart that the report has no numbers for, with the reason shown on the page. */
export interface SkippedChart {
  id: string;
  title: string;
  reason: string;
}

export const LAYER_AXIS_TITLE = 'layer (0 = embeddings)';

/** Font stack of the page, used for the chart text too so charts and page match. */
export const FONT_STACK = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif';

export const WIDTH = 720;
export const HEIGHT = 250;
/** The spectrum shows at most this many components per layer (log-spaced beyond it). */
const MAX_SPECTRUM_POINTS = 1200;
/** Rogue-dimension heatmap: each layer's top dimensions by variance share, at most this many rows. */
const ROGUE_TOP_PER_LAYER = 5;
const ROGUE_MAX_DIMS = 20;

type Field = 'isoscore' | 'isoscoreStar' | 'meanCosine' | 'twoNN' | 'participationRatio';

interface Definition {
  id: string;
  title: string;
  description: string;
  /** True when the report has something to draw. */
  present: (report: Report) => boolean;
  /** Why there is no chart (shown on the page) when `present` is false. */
  reason: string;
  build: (report: Report, names: string[]) => TopLevelSpec;
}

/** The charts this report has data for, in page order. */
export function reportCharts(report: Report): ChartSpec[] {
  const names = checkpointOrder(report);
  return DEFINITIONS.filter((d) => d.present(report)).map((d) => ({
    id: d.id,
    title: titleOf(d, report),
    description: d.description,
    spec: d.build(report, names),
  }));
}

/** The charts left out because their metric is null in every row. */
export function skippedCharts(report: Report): SkippedChart[] {
  return DEFINITIONS.filter((d) => !d.present(report)).map((d) => ({ id: d.id, title: titleOf(d, report), reason: d.reason }));
}

/** Checkpoint names in report order; names that only occur in rows or details follow in first-seen order. */
export function checkpointOrder(report: Report): string[] {
  const names = report.checkpoints.map((c) => c.name);
  const seen = new Set(names);
  for (const r of [...report.rows, ...report.details]) {
    if (!seen.has(r.checkpoint)) { seen.add(r.checkpoint); names.push(r.checkpoint); }
  }
  return names;
}

function titleOf(d: Definition, report: Report): string {
  if (d.id !== 'isoscore-star') return d.title;
  const zeta = zetaOf(report);
  return zeta === null ? d.title : `${d.title} (ζ = ${zeta})`;
}

function zetaOf(report: Report): number | null {
  const z = report.options?.zeta;
  const n = typeof z === 'number' ? z : typeof z === 'string' && z.trim() !== '' ? Number(z) : NaN;
  return Number.isFinite(n) ? n : null;
}

const has = (report: Report, ...fields: (keyof ReportRow)[]) =>
  report.rows.some((r) => fields.some((f) => typeof r[f] === 'number'));

const SIMILARITY_FIELDS = ['selfSimilarity', 'selfSimilarityAdjusted', 'intraSentenceSimilarity', 'intraSentenceSimilarityAdjusted'] as const;

const DEFINITIONS: Definition[] = [
  {
    id: 'isoscore',
    title: 'IsoScore per layer',
    description:
      'IsoScore (Rudman et al., 2022) measures how evenly the variance is spread over all directions of the space, ' +
      'independent of rotation: 1 is perfectly isotropic, values near 0 mean a few directions hold nearly all the variance — higher is more isotropic.',
    present: (r) => has(r, 'isoscore'),
    reason: 'IsoScore was not computed (null in every row).',
    build: (r, names) => metricLines(r, names, 'isoscore', 'IsoScore'),
  },
  {
    id: 'isoscore-star',
    title: 'IsoScore⋆ per layer',
    description:
      'IsoScore⋆ (Rudman & Eickhoff, 2024) is IsoScore of the covariance shrunk toward a reference covariance C0 with weight ζ, ' +
      'which keeps it stable for small point clouds: 1 is isotropic, 0 is maximally anisotropic — higher is more isotropic.',
    present: (r) => has(r, 'isoscoreStar'),
    reason: 'IsoScore⋆ was not computed (null in every row).',
    build: (r, names) => metricLines(r, names, 'isoscoreStar', 'IsoScore⋆'),
  },
  {
    id: 'mean-cosine',
    title: 'Mean pairwise cosine per layer',
    description:
      'The average cosine similarity between two different representations of the layer (the anisotropy baseline of Ethayarajh, 2019): ' +
      'about 0 for an isotropic cloud, close to 1 when all vectors point the same way — lower is more isotropic.',
    present: (r) => has(r, 'meanCosine'),
    reason: 'The mean pairwise cosine was not computed (null in every row).',
    build: (r, names) => metricLines(r, names, 'meanCosine', 'mean pairwise cosine'),
  },
  {
    id: 'twonn',
    title: 'TwoNN intrinsic dimension per layer',
    description:
      'TwoNN (Facco et al., 2017) estimates the dimension of the manifold the points lie on from the ratio of each point\u2019s two nearest-neighbour distances; ' +
      'the band is ±1 standard deviation over random 90% subsets — a dimension rather than an isotropy score, but higher means the points spread over more directions, toward isotropic.',
    present: (r) => has(r, 'twoNN'),
    reason: 'TwoNN was not computed (null in every row).',
    build: twoNNChart,
  },
  {
    id: 'pca-id',
    title: 'PCA intrinsic dimension per layer',
    description:
      'The number of principal components needed to explain 90% (solid) and 99% (dashed) of the variance: ' +
      'the more components are needed, the more evenly the variance is spread — higher is more isotropic.',
    present: (r) => has(r, 'pcaId90', 'pcaId99'),
    reason: 'PCA-ID was not computed (null in every row).',
    build: pcaIdChart,
  },
  {
    id: 'participation-ratio',
    title: 'Participation ratio per layer',
    description:
      'The participation ratio (Σλ)² / Σλ² of the covariance eigenvalues λ is an effective number of dimensions in use, ' +
      'from 1 (one direction holds all variance) to the full dimension d (isotropic) — higher is more isotropic.',
    present: (r) => has(r, 'participationRatio'),
    reason: 'The participation ratio was not computed (null in every row).',
    build: (r, names) => metricLines(r, names, 'participationRatio', 'participation ratio'),
  },
  {
    id: 'spectrum',
    title: 'Eigenvalue spectrum per layer',
    description:
      'The eigenvalues of each layer\u2019s covariance in descending order, on log–log axes, one panel per checkpoint: ' +
      'a flat spectrum is isotropic, a steep drop after the first few components means a few directions dominate — flatter is more isotropic.',
    present: (r) => r.details.some((d) => d.spectrum.some((v) => v > 0)),
    reason: 'No eigenvalue spectrum in the report (the spectrum metric was not computed).',
    build: spectrumChart,
  },
  {
    id: 'rogue-dimensions',
    title: 'Rogue dimensions per layer',
    description:
      'The share of the layer\u2019s total variance carried by single coordinates (Timkey & van Schijndel, 2021), for each layer\u2019s top dimensions: ' +
      'in an isotropic space every coordinate carries about 1/d, a few coordinates with large shares ("rogue dimensions") make it anisotropic — smaller shares are more isotropic.',
    present: (r) => r.details.some((d) => d.rogueDimensions.length > 0),
    reason: 'No rogue dimensions in the report (the rogue metric was not computed).',
    build: rogueChart,
  },
  {
    id: 'self-similarity',
    title: 'Self-similarity and intra-sentence similarity per layer',
    description:
      'Ethayarajh (2019): self-similarity is the mean cosine between occurrences of the same word, intra-sentence similarity the mean cosine of a token with its sentence\u2019s mean vector; ' +
      'solid lines are raw, dashed lines subtract the layer\u2019s mean cosine (anisotropy-adjusted) — lower adjusted values mean more context-specific representations.',
    present: (r) => has(r, ...SIMILARITY_FIELDS),
    reason: 'Self-similarity and intra-sentence similarity were not computed.',
    build: similarityChart,
  },
];

// ---------------------------------------------------------------------------------------------
// Shared encodings

export function layerX(): Record<string, unknown> {
  return { field: 'layer', type: 'ordinal', title: LAYER_AXIS_TITLE, sort: 'ascending', axis: { labelAngle: 0 } };
}

function checkpointColor(names: string[]): Record<string, unknown> {
  // Up to ten checkpoints get distinct hues; a longer series (a pretraining trajectory) a
  // sequential ramp, so neighbouring checkpoints get neighbouring colours.
  const scale = names.length <= 10 ? { domain: names, scheme: 'tableau10' } : { domain: names, scheme: 'viridis' };
  return { field: 'checkpoint', type: 'nominal', title: 'checkpoint', sort: names, scale, legend: { labelLimit: 260 } };
}

/** A legend that shows line dashes (not the points drawn on the lines). */
const DASH_LEGEND = {
  symbolType: 'stroke',
  symbolStrokeWidth: 2,
  symbolSize: 500,
  labelLimit: 260,
  // symbolStrokeColor is not applied to a strokeDash legend; set the stroke directly.
  encode: { symbols: { update: { stroke: { value: '#444' }, fill: { value: 'transparent' } } } },
};

/** The common top of every chart spec (schema, font, axis and legend styles). */
export function chartBase(description: string): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description,
    background: 'white',
    config: {
      font: FONT_STACK,
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
      legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' },
      header: { labelFontSize: 12, titleFontSize: 12 },
      view: { stroke: '#d0d0d0' },
    },
  };
}

/**
 * The specs are assembled from small untyped pieces (shared encodings); Vega-Lite validates them
 * when compiling, and the tests compile every chart and fail on any warning.
 */
export function asSpec(spec: Record<string, unknown>): TopLevelSpec {
  return spec as unknown as TopLevelSpec;
}

function values(rows: object[]): { values: object[] } {
  return { values: rows };
}

function rowsWith(report: Report, names: string[], field: keyof ReportRow): ReportRow[] {
  const order = new Map(names.map((n, i) => [n, i]));
  return report.rows
    .filter((r) => typeof r[field] === 'number' && Number.isFinite(r[field] as number))
    .sort((a, b) => (order.get(a.checkpoint)! - order.get(b.checkpoint)!) || a.layer - b.layer);
}

// ---------------------------------------------------------------------------------------------
// The charts

function metricLines(report: Report, names: string[], field: Field, yTitle: string): TopLevelSpec {
  const data = rowsWith(report, names, field).map((r) => ({ checkpoint: r.checkpoint, layer: r.layer, value: r[field] }));
  return asSpec({
    ...chartBase(yTitle),
    width: WIDTH,
    height: HEIGHT,
    data: values(data),
    mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 2 },
    encoding: {
      x: layerX(),
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: checkpointColor(names),
    },
  });
}

function twoNNChart(report: Report, names: string[]): TopLevelSpec {
  const data = rowsWith(report, names, 'twoNN').map((r) => {
    const std = typeof r.twoNNStd === 'number' && Number.isFinite(r.twoNNStd) ? r.twoNNStd : null;
    return { checkpoint: r.checkpoint, layer: r.layer, id: r.twoNN, lo: std === null ? null : r.twoNN! - std, hi: std === null ? null : r.twoNN! + std };
  });
  const layers: Record<string, unknown>[] = [];
  if (data.some((d) => d.lo !== null)) {
    layers.push({
      transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }],
      mark: { type: 'area', opacity: 0.18 },
      encoding: {
        y: { field: 'lo', type: 'quantitative', title: 'TwoNN intrinsic dimension' },
        y2: { field: 'hi' },
      },
    });
    layers.push({
      transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }],
      mark: { type: 'rule', strokeWidth: 1.2, opacity: 0.7 },
      encoding: {
        y: { field: 'lo', type: 'quantitative' },
        y2: { field: 'hi' },
      },
    });
  }
  layers.push({
    mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 2 },
    encoding: {
      y: { field: 'id', type: 'quantitative', title: 'TwoNN intrinsic dimension' },
    },
  });
  return asSpec({
    ...chartBase('TwoNN intrinsic dimension'),
    width: WIDTH,
    height: HEIGHT,
    data: values(data),
    // One colour encoding for band, bars and line (so one legend), drawn with opaque symbols.
    encoding: { x: layerX(), color: { ...checkpointColor(names), legend: { labelLimit: 260, symbolOpacity: 1, symbolType: 'circle' } } },
    layer: layers,
  });
}

function pcaIdChart(report: Report, names: string[]): TopLevelSpec {
  const order = new Map(names.map((n, i) => [n, i]));
  const data: object[] = [];
  for (const r of [...report.rows].sort((a, b) => (order.get(a.checkpoint)! - order.get(b.checkpoint)!) || a.layer - b.layer)) {
    if (typeof r.pcaId90 === 'number') data.push({ checkpoint: r.checkpoint, layer: r.layer, threshold: '90%', components: r.pcaId90 });
    if (typeof r.pcaId99 === 'number') data.push({ checkpoint: r.checkpoint, layer: r.layer, threshold: '99%', components: r.pcaId99 });
  }
  return asSpec({
    ...chartBase('PCA intrinsic dimension'),
    width: WIDTH,
    height: HEIGHT,
    data: values(data),
    mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 2 },
    encoding: {
      x: layerX(),
      y: { field: 'components', type: 'quantitative', title: 'principal components' },
      color: checkpointColor(names),
      strokeDash: {
        field: 'threshold',
        type: 'nominal',
        title: 'variance explained',
        scale: { domain: ['90%', '99%'], range: [[1, 0], [6, 3]] },
        legend: DASH_LEGEND,
      },
    },
  });
}

/** Component indices to draw for a spectrum of length n: all of them, or a log-spaced subset. */
function spectrumIndices(n: number): number[] {
  if (n <= MAX_SPECTRUM_POINTS) return Array.from({ length: n }, (_, i) => i);
  const keep = new Set<number>();
  for (let i = 0; i < 200; i++) keep.add(i);
  const m = MAX_SPECTRUM_POINTS - 200;
  for (let j = 0; j <= m; j++) keep.add(Math.min(n - 1, Math.round(Math.exp(Math.log(200) + (Math.log(n - 1) - Math.log(200)) * (j / m)))));
  return [...keep].sort((a, b) => a - b);
}

function spectrumChart(report: Report, names: string[]): TopLevelSpec {
  const order = new Map(names.map((n, i) => [n, i]));
  const details = [...report.details].sort((a, b) => (order.get(a.checkpoint)! - order.get(b.checkpoint)!) || a.layer - b.layer);
  const data: object[] = [];
  for (const d of details) {
    for (const i of spectrumIndices(d.spectrum.length)) {
      const v = d.spectrum[i];
      if (v > 0 && Number.isFinite(v)) data.push({ checkpoint: d.checkpoint, layer: d.layer, component: i + 1, eigenvalue: v });
    }
  }
  const panels = names.filter((n) => details.some((d) => d.checkpoint === n && d.spectrum.some((v) => v > 0)));
  const layersShown = [...new Set(details.map((d) => d.layer))].sort((a, b) => a - b);
  const colorScale: Record<string, unknown> = { scheme: 'viridis' };
  if (layersShown.length === 1) colorScale.domain = [layersShown[0] - 1, layersShown[0]];
  // Ticks only at 1-2-5 components and at powers of ten of the eigenvalues: a log axis otherwise
  // draws a grid line at every integer multiple, which buries the curves.
  const components = Math.max(1, ...data.map((d) => (d as { component: number }).component));
  const xTicks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000].filter((v) => v <= components);
  const eig = data.map((d) => (d as { eigenvalue: number }).eigenvalue);
  const lo = Math.floor(Math.log10(Math.min(...eig))), hi = Math.ceil(Math.log10(Math.max(...eig)));
  const step = Math.max(1, Math.ceil((hi - lo) / 10));
  const yTicks: number[] = [];
  for (let e = lo; e <= hi; e += step) yTicks.push(10 ** e);
  const n = panels.length;
  const columns = n <= 3 ? Math.max(1, n) : n === 4 ? 2 : 3;
  return asSpec({
    ...chartBase('Eigenvalue spectrum'),
    data: values(data),
    columns,
    facet: { field: 'checkpoint', type: 'nominal', title: null, sort: panels, header: { labelLimit: 300 } },
    spec: {
      width: columns === 1 ? WIDTH : columns === 2 ? 400 : 280,
      height: HEIGHT,
      mark: { type: 'line', strokeWidth: 1.3, clip: true, aria: false },
      encoding: {
        x: {
          field: 'component', type: 'quantitative', title: 'component index (1-based, log scale)',
          scale: { type: 'log', nice: false, domain: [1, Math.max(2, components)] }, axis: { values: xTicks, format: '~g' },
        },
        y: {
          field: 'eigenvalue', type: 'quantitative', title: 'eigenvalue (log scale)',
          scale: { type: 'log', domain: [10 ** lo, 10 ** hi] }, axis: { values: yTicks, format: '~g' },
        },
        color: { field: 'layer', type: 'quantitative', title: 'layer', scale: colorScale, legend: { format: 'd', tickMinStep: 1 } },
        detail: { field: 'layer', type: 'nominal' },
        order: { field: 'component', type: 'quantitative' },
      },
    },
    resolve: { scale: { x: 'shared', y: 'shared' } },
  });
}

function rogueChart(report: Report, names: string[]): TopLevelSpec {
  // Keep each layer's top dimensions by variance share, then the dimensions with the largest
  // share anywhere, so the heatmap stays readable however many layers there are.
  const maxShare = new Map<number, number>();
  for (const d of report.details) {
    const top = [...d.rogueDimensions].sort((a, b) => b.varianceShare - a.varianceShare).slice(0, ROGUE_TOP_PER_LAYER);
    for (const r of top) maxShare.set(r.dim, Math.max(maxShare.get(r.dim) ?? -Infinity, r.varianceShare));
  }
  const dims = [...maxShare.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, ROGUE_MAX_DIMS).map(([dim]) => dim);
  const chosen = new Set(dims);
  const label = (dim: number) => `dim ${dim}`;
  const data: { checkpoint: string; layer: number; dimension: string; varianceShare: number; cosineShare: number }[] = [];
  for (const d of report.details) {
    for (const r of d.rogueDimensions) {
      if (chosen.has(r.dim)) data.push({ checkpoint: d.checkpoint, layer: d.layer, dimension: label(r.dim), varianceShare: r.varianceShare, cosineShare: r.cosineShare });
    }
  }
  const panels = names.filter((n) => data.some((x) => x.checkpoint === n));
  const layerCount = new Set(data.map((x) => x.layer)).size;
  const step = 34;
  const top = Math.max(...data.map((x) => x.varianceShare));
  return asSpec({
    ...chartBase('Rogue dimensions: variance share'),
    data: values(data),
    columns: panels.length > 1 && 2 * layerCount * step <= 760 ? 2 : 1,
    facet: { field: 'checkpoint', type: 'nominal', title: null, sort: panels, header: { labelLimit: 300 } },
    spec: {
      width: { step },
      height: { step: 20 },
      encoding: {
        x: layerX(),
        y: { field: 'dimension', type: 'ordinal', title: 'dimension', sort: dims.map(label) },
      },
      layer: [
        {
          mark: { type: 'rect' },
          encoding: {
            color: {
              field: 'varianceShare',
              type: 'quantitative',
              title: 'variance share',
              scale: { scheme: 'orangered', domainMin: 0 },
              legend: { format: '.0%' },
            },
          },
        },
        {
          mark: { type: 'text', fontSize: 9, aria: false },
          encoding: {
            text: { field: 'varianceShare', type: 'quantitative', format: '.1~%' },
            color: { condition: { test: `datum.varianceShare > ${0.55 * top}`, value: 'white' }, value: '#222' },
          },
        },
      ],
    },
  });
}

function similarityChart(report: Report, names: string[]): TopLevelSpec {
  const order = new Map(names.map((n, i) => [n, i]));
  const series: [typeof SIMILARITY_FIELDS[number], string, string][] = [
    ['selfSimilarity', 'self-similarity', 'raw'],
    ['selfSimilarityAdjusted', 'self-similarity', 'anisotropy-adjusted'],
    ['intraSentenceSimilarity', 'intra-sentence similarity', 'raw'],
    ['intraSentenceSimilarityAdjusted', 'intra-sentence similarity', 'anisotropy-adjusted'],
  ];
  const data: object[] = [];
  for (const r of [...report.rows].sort((a, b) => (order.get(a.checkpoint)! - order.get(b.checkpoint)!) || a.layer - b.layer)) {
    for (const [field, measure, kind] of series) {
      const v = r[field];
      if (typeof v === 'number' && Number.isFinite(v)) data.push({ checkpoint: r.checkpoint, layer: r.layer, measure, kind, value: v });
    }
  }
  const measures = ['self-similarity', 'intra-sentence similarity'].filter((m) => data.some((d) => (d as { measure: string }).measure === m));
  return asSpec({
    ...chartBase('Self-similarity and intra-sentence similarity'),
    data: values(data),
    facet: { column: { field: 'measure', type: 'nominal', title: null, sort: measures } },
    spec: {
      width: measures.length > 1 ? 340 : WIDTH,
      height: HEIGHT,
      mark: { type: 'line', point: { filled: true, size: 36 }, strokeWidth: 2 },
      encoding: {
        x: layerX(),
        y: { field: 'value', type: 'quantitative', title: 'mean cosine' },
        color: checkpointColor(names),
        strokeDash: {
          field: 'kind',
          type: 'nominal',
          title: 'similarity',
          scale: { domain: ['raw', 'anisotropy-adjusted'], range: [[1, 0], [6, 3]] },
          legend: DASH_LEGEND,
        },
      },
    },
  });
}
