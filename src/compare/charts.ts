/**
 * The charts of a compare page, per task, as Vega-Lite specs (rendered to inline SVG by the
 * report's renderer): task metric vs λ, IsoScore⋆ vs task metric, IsoScore⋆ and TwoNN per layer
 * per λ, and the training curves. One colour per λ group throughout; only finished runs are drawn,
 * except in the training curves, which show every run's log (an unfinished run's as far as it got).
 * A chart without data is returned as skipped, with the reason the page shows.
 */
import type { TopLevelSpec } from 'vega-lite';
import { HEIGHT, WIDTH, asSpec, chartBase, layerX } from '../report/charts.js';
import type { ChartSpec, SkippedChart } from '../report/charts.js';
import { averagedLayers, groupLabel, layerAverage, type Curves, type TaskComparison } from './model.js';
import type { RunRecord } from './runs.js';

export interface TaskCharts { charts: ChartSpec[]; skipped: SkippedChart[] }

export function taskCharts(t: TaskComparison, runs: readonly RunRecord[], curves: Curves): TaskCharts {
  const mixedRegs = new Set(runs.filter((r) => r.reg !== 'none').map((r) => r.reg)).size > 1;
  const label = (r: RunRecord) => groupLabel(r, mixedRegs);
  const order = t.lambdas.map((l) => l.label);
  const finished = runs.filter((r) => r.status === 'finished' && r.value !== null);
  const color = {
    field: 'group', type: 'nominal', title: 'λ', sort: order,
    scale: { domain: order, scheme: order.length <= 10 ? 'tableau10' : 'viridis' }, legend: { labelLimit: 260 },
  };
  const id = (name: string) => `${t.task}-${name}`;
  const out: TaskCharts = { charts: [], skipped: [] };
  const add = (name: string, title: string, description: string, build: () => TopLevelSpec | string) => {
    const spec = build();
    if (typeof spec === 'string') out.skipped.push({ id: id(name), title, reason: spec });
    else out.charts.push({ id: id(name), title, description, spec });
  };
  const metric = t.metric;

  add('metric-vs-lambda', `${metric} vs λ`,
    `The final ${metric} of every finished run (points, one per seed) and its mean over seeds per λ (line); runs without a regularizer are drawn at λ = 0.`,
    () => {
      if (finished.length === 0) return 'No finished run has a task metric yet.';
      const points = finished.map((r) => ({ group: label(r), lambda: r.lambda ?? 0, seed: r.seed, value: r.value }));
      const means = t.lambdas.filter((l) => l.mean !== null).map((l) => ({ group: l.label, lambda: l.lambda ?? 0, value: l.mean }));
      return asSpec({
        ...chartBase(`${metric} vs λ`), width: WIDTH, height: HEIGHT,
        layer: [
          { data: { values: means }, mark: { type: 'line', color: '#555', strokeWidth: 2 }, encoding: { x: { field: 'lambda', type: 'quantitative', title: 'λ' }, y: { field: 'value', type: 'quantitative', title: `${metric} (mean over seeds)`, scale: { zero: false } } } },
          { data: { values: points }, mark: { type: 'point', filled: true, size: 60 }, encoding: { x: { field: 'lambda', type: 'quantitative', title: 'λ' }, y: { field: 'value', type: 'quantitative', title: metric, scale: { zero: false } }, color } },
        ],
      });
    });

  add('isoscore-vs-metric', `IsoScore⋆ (mean over layers) vs ${metric}`,
    `Each finished run's IsoScore⋆ averaged over the layers every run has a value for, against its final ${metric}; one colour per λ. The correlation table above quantifies this.`,
    () => {
      const layers = averagedLayers(finished.map((r) => r.isoscoreStar));
      if (finished.length === 0 || layers.length === 0) return 'No finished run has IsoScore⋆ on every layer it averages (eval.jsonl holds none).';
      const data = finished.map((r) => ({ group: label(r), seed: r.seed, iso: layerAverage(r.isoscoreStar, layers), value: r.value }));
      return asSpec({
        ...chartBase('IsoScore⋆ vs task metric'), width: WIDTH, height: HEIGHT, data: { values: data },
        mark: { type: 'point', filled: true, size: 70 },
        encoding: {
          x: { field: 'iso', type: 'quantitative', title: `IsoScore⋆, mean over layers ${layers.join(', ')}`, scale: { zero: false } },
          y: { field: 'value', type: 'quantitative', title: metric, scale: { zero: false } },
          color,
        },
      });
    });

  const perLayer = (name: string, title: string, measure: 'isoscoreStarByLayer' | 'twoNNByLayer', yTitle: string, what: string) => add(name, title, what, () => {
    const data = t.lambdas.flatMap((l) => l[measure].flatMap((v, layer) => (v === null ? [] : [{ group: l.label, layer, value: v }])));
    if (data.length === 0) return `No finished run has ${yTitle} on any layer.`;
    return asSpec({
      ...chartBase(title), width: WIDTH, height: HEIGHT, data: { values: data },
      mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 2 },
      encoding: { x: layerX(), y: { field: 'value', type: 'quantitative', title: yTitle }, color },
    });
  });
  perLayer('isoscore-layers', 'IsoScore⋆ per layer', 'isoscoreStarByLayer', 'IsoScore⋆ (mean over seeds)',
    'IsoScore⋆ of the [CLS] vectors of the dev split per hidden state, at the final evaluation, averaged over the seeds of each λ — higher is more isotropic.');
  perLayer('twonn-layers', 'TwoNN intrinsic dimension per layer', 'twoNNByLayer', 'TwoNN (mean over seeds)',
    'TwoNN intrinsic dimension of the [CLS] vectors per hidden state at the final evaluation, averaged over the seeds of each λ.');

  const curve = (name: string, title: string, field: 'loss' | 'isoscoreStarBatch', yTitle: string, what: string, none: string) => add(name, title, what, () => {
    const data = runs.flatMap((r) => (curves.get(r.folder) ?? []).flatMap((p) => (p[field] === null ? [] : [{ group: label(r), run: r.folder, step: p.step, value: p[field] }])));
    if (data.length === 0) return none;
    return asSpec({
      ...chartBase(title), width: WIDTH, height: HEIGHT, data: { values: data },
      mark: { type: 'line', strokeWidth: 1.4, opacity: 0.85 },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'optimizer step' },
        y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
        color, detail: { field: 'run', type: 'nominal' }, order: { field: 'step', type: 'quantitative' },
      },
    });
  });
  curve('loss', 'Training loss', 'loss', 'loss (task + regularizer)',
    'The training loss of every run per logged step (at most 500 points per run), one colour per λ.', 'No run has logged a step yet (log.jsonl is empty).');
  curve('batch-isoscore', 'Batch IsoScore⋆ during training', 'isoscoreStarBatch', 'IsoScore⋆ of the batch',
    'I-STAR\u2019s IsoScore⋆ of each training batch per logged step, one colour per λ.', 'No run logged a batch IsoScore⋆ (only runs with --reg istar do).');
  return out;
}
