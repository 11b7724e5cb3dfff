/**
 * The files of an intrinsic-dim folder (DESIGN.md "intrinsic-dim folders"): probes.jsonl (read
 * back on resume), and the result.json, probes.csv and index.html it ends with, each written
 * through the safe output path. The page shows the
 * score against d (log scale): every seed's probe, the isotonic-smoothed mean the decision reads,
 * and the baseline, threshold (0.9 × baseline) and chance lines.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { UserError } from '../errors.js';
import { writeFileAtomic, readTextFileSync } from '../io/file-io.js';
import { chartBase } from '../report/charts.js';
import { chartFigure, escapeHtml, formatNumber, htmlPage, htmlTable, metaHtml } from '../report/html.js';
import type { CurvePoint } from '../subspace/d90.js';

/** One line of probes.jsonl: a finished (d, seed) probe with its best learning rate. */
export interface ProbeRecord {
  d: number;
  seed: number;
  score: number;
  lr: number;
  lrScores: { lr: number; score: number }[];
  steps: number;
  seconds: number;
}

/**
 * The finished probes of an earlier run. A line that is not JSON (torn by a kill) is dropped: that
 * probe runs again. A JSON line without a probe's fields was edited or damaged: a UserError naming
 * the line, since its probe's score would otherwise reach the decision or the written tables.
 */
export function readProbeRecords(path: string): ProbeRecord[] {
  const records: ProbeRecord[] = [];
  if (!existsSync(path)) return records;
  readTextFileSync(path).split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      return; // dropped
    }
    const wrong = probeRecordProblem(r);
    if (wrong !== null) throw new UserError(`${path} line ${i + 1}: not a finished probe (${wrong}); delete that line to run its probe again`);
    records.push(r as ProbeRecord);
  });
  return records;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const count = (v: unknown, least: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= least;

/** What is wrong with a parsed probes.jsonl line, or null for a well-formed record. */
function probeRecordProblem(r: unknown): string | null {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'not an object';
  const p = r as Record<string, unknown>;
  if (!count(p.d, 1)) return 'd is not a positive integer';
  if (!count(p.seed, 0)) return 'seed is not a non-negative integer';
  if (!finite(p.score)) return 'score is not a number';
  if (!finite(p.lr) || p.lr <= 0) return 'lr is not a positive number';
  if (!Array.isArray(p.lrScores) || !p.lrScores.every((s) => s !== null && typeof s === 'object' && finite((s as Record<string, unknown>).lr) && finite((s as Record<string, unknown>).score))) {
    return 'lrScores is not a list of {lr, score}';
  }
  if (!count(p.steps, 0)) return 'steps is not a non-negative integer';
  if (!finite(p.seconds) || p.seconds < 0) return 'seconds is not a non-negative number';
  return null;
}

export interface IntrinsicResult {
  d90: number | null;
  reason?: string;
  /** Bootstrap interval of d90 (2.5 and 97.5 percentiles; hi null when above every probe); null without d90. */
  interval: [number, number | null] | null;
  baseline: number;
  threshold: number;
  chance: number;
  method: string;
  projection: Record<string, unknown>;
  probes: { d: number; seed: number; score: number; lr: number }[];
  metric: string;
  decision: { curve: CurvePoint[]; [key: string]: unknown };
  version: string;
  [key: string]: unknown;
}

export function probesCsv(records: readonly ProbeRecord[]): string {
  const lines = ['d,seed,score,lr,steps,seconds,lr_scores'];
  for (const r of [...records].sort((a, b) => a.d - b.d || a.seed - b.seed)) {
    lines.push([r.d, r.seed, r.score, r.lr, r.steps, r.seconds.toFixed(3), r.lrScores.map((s) => `${s.lr}:${s.score}`).join(';')].join(','));
  }
  return `${lines.join('\n')}\n`;
}

export function scoreChart(result: IntrinsicResult): TopLevelSpec {
  const series = ['probe (one per seed)', 'smoothed mean over seeds', 'baseline (full fine-tuning)', 'threshold (0.9 × baseline)', 'chance (best constant prediction)'];
  const colors = ['#4c78a8', '#1d3f6e', '#2ca02c', '#d62728', '#7f7f7f'];
  const rows = [
    ...result.probes.map((p) => ({ kind: 'probe', series: series[0], d: p.d, score: p.score, seed: p.seed, lr: p.lr })),
    ...result.decision.curve.map((c) => ({ kind: 'curve', series: series[1], d: c.d, score: c.smoothed, mean: c.mean })),
    { kind: 'rule', series: series[2], score: result.baseline },
    { kind: 'rule', series: series[3], score: result.threshold },
    { kind: 'rule', series: series[4], score: result.chance },
  ];
  const x = { field: 'd', type: 'quantitative', scale: { type: 'log' }, title: 'subspace dimension d (log scale)' };
  const y = { field: 'score', type: 'quantitative', title: `dev ${result.metric}`, scale: { zero: false } };
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain: series, range: colors }, legend: { orient: 'bottom', columns: 3 } };
  const layers: Record<string, unknown>[] = [
    { transform: [{ filter: "datum.kind === 'rule'" }], mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5 }, encoding: { y, color } },
  ];
  if (result.probes.length > 0) {
    layers.push(
      { transform: [{ filter: "datum.kind === 'curve'" }], mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color } },
      {
        transform: [{ filter: "datum.kind === 'probe'" }], mark: { type: 'point', filled: true, size: 50, opacity: 0.75 },
        encoding: { x, y, color, tooltip: [{ field: 'd', type: 'quantitative' }, { field: 'seed', type: 'quantitative' }, { field: 'score', type: 'quantitative' }, { field: 'lr', type: 'quantitative' }] },
      },
    );
  }
  return {
    ...chartBase(`dev ${result.metric} against the subspace dimension d`),
    width: 720, height: 320,
    data: { values: rows },
    layer: layers,
  } as unknown as TopLevelSpec;
}

export async function resultHtml(result: IntrinsicResult, records: readonly ProbeRecord[]): Promise<string> {
  const f = (x: number) => escapeHtml(formatNumber(x));
  const d90 = result.d90 === null
    ? `<strong>none</strong> — ${escapeHtml(result.reason ?? '')}`
    : `<strong>${result.d90}</strong>${result.interval ? ` (bootstrap 95% interval ${result.interval[0]} – ${result.interval[1] ?? 'above every probed d'})` : ''}`;
  const header = metaHtml([
    ['d90', d90],
    ['task', `${escapeHtml(String(result.task ?? ''))} (${escapeHtml(result.metric)})`],
    ['method', escapeHtml(result.method.toUpperCase())],
    ['projection', `<code>${escapeHtml(JSON.stringify(result.projection))}</code>`],
    ['baseline', `${f(result.baseline)} (${escapeHtml(String(result.baselineSource ?? ''))})`],
    ['threshold', `${f(result.threshold)} = 0.9 × baseline`],
    ['chance', f(result.chance)],
    ['parameters', escapeHtml(String(result.parameters ?? ''))],
  ]);
  const figure = await chartFigure({
    id: 'score-vs-d', title: `Dev ${result.metric} against the subspace dimension`, spec: scoreChart(result),
    description: 'Each dot is one probe (one seed, its best learning rate); the solid line is the mean over seeds smoothed to be non-decreasing in d (isotonic regression), ' +
      'which the decision reads: d90 is the first probed d whose smoothed score is above the threshold. Dashed lines: the full fine-tuning baseline, the threshold, and chance.',
  });
  const rows = [...records].sort((a, b) => a.d - b.d || a.seed - b.seed).map((r) =>
    `<tr><th scope="row" class="num">${r.d}</th><td class="num">${r.seed}</td><td class="num">${f(r.score)}</td><td class="num">${escapeHtml(String(r.lr))}</td><td class="num">${r.steps}</td><td class="num">${escapeHtml(r.seconds.toFixed(1))}</td></tr>`);
  const probes = rows.length === 0 ? '<p>No subspace probes.</p>' : htmlTable(['d', 'seed', result.metric, 'lr', 'steps', 'seconds'], rows, ['num', 'num', 'num', 'num', 'num', 'num']);
  return htmlPage({
    title: `Intrinsic dimension (${result.method.toUpperCase()}): ${result.d90 === null ? 'no d90' : `d90 = ${result.d90}`}`,
    version: result.version,
    header,
    main: `<section id="charts">\n<h2>Score against d</h2>\n${figure}\n</section>\n<section id="probes">\n<h2>Probes</h2>\n${probes}\n</section>`,
    footer: `Made by repgeom ${escapeHtml(result.version)}; numbers in full precision are in <code>result.json</code> and <code>probes.csv</code> next to this page.`,
  });
}

/** result.json, probes.csv and index.html in `dir` (the page is rendered before anything is written). */
export async function writeResultFiles(dir: string, result: IntrinsicResult, records: readonly ProbeRecord[]): Promise<void> {
  const page = await resultHtml(result, records);
  const enc = new TextEncoder();
  writeFileAtomic(join(dir, 'result.json'), [enc.encode(`${JSON.stringify(result, null, 2)}\n`)], '--out');
  writeFileAtomic(join(dir, 'probes.csv'), [enc.encode(probesCsv(records))], '--out');
  writeFileAtomic(join(dir, 'index.html'), [enc.encode(page)], '--out');
}
