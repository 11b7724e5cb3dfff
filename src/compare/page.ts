/**
 * `index.html` of a compare folder: the report's page shell (styles, CSP, no script), the runs
 * table, and per task the λ summary, the correlation table with bootstrap intervals and the
 * charts as inline SVG. Every string from the runs is HTML-escaped.
 */
import { chartFigure, escapeHtml, formatNumber, htmlPage, htmlTable, metaHtml } from '../report/html.js';
import { taskCharts } from './charts.js';
import { GEOMETRY_MEASURES, type Comparison, type Correlations, type Curves, type TaskComparison } from './model.js';
import type { RunRecord } from './runs.js';
import type { Correlation } from './stats.js';

const MEASURE_NAMES = { isoscoreStar: 'IsoScore⋆', twoNN: 'TwoNN' } as const;

const num = (v: number | null | undefined): string => (v === null || v === undefined ? '<td class="num na">—</td>' : `<td class="num" title="${escapeHtml(String(v))}">${escapeHtml(formatNumber(v))}</td>`);
const perLayerText = (values: (number | null)[]): string => values.map((v) => (v === null ? '—' : formatNumber(v))).join(' · ');

export async function comparePage(c: Comparison, curves: Curves): Promise<string> {
  const sections: string[] = [`<section id="runs">\n<h2>Runs</h2>\n${runsTable(c.runs)}\n${unfinishedNote(c)}\n</section>`];
  for (const t of c.tasks) sections.push(await taskSection(t, c.runs.filter((r) => r.task === t.task), curves, c));
  const header = metaHtml([
    ['created', escapeHtml(c.created)],
    ['repgeom', escapeHtml(c.version)],
    ['inputs', c.inputs.map((i) => `<code>${escapeHtml(i)}</code>`).join(' ')],
    ['runs', `${c.runs.length} (${c.runs.length - c.unfinished.length} finished)`],
    ['settings', c.tasks.map((t) => settingsHtml(t, c.tasks.length > 1)).join('<br>')],
    ['bootstrap', escapeHtml(`${c.bootstrap.resamples} resamples of runs, seed ${c.bootstrap.seed}, ${c.bootstrap.level * 100}% percentile interval`)],
  ]);
  return htmlPage({
    title: `repgeom compare: ${c.tasks.map((t) => t.task).join(', ')}`, version: c.version, header, main: sections.join('\n'),
    footer: `Made by repgeom ${escapeHtml(c.version)} on ${escapeHtml(c.created)}; numbers in full precision are in <code>compare.json</code> and <code>runs.csv</code> next to this page.`,
  });
}

/** The shared training settings a reader needs first (model, lr, epochs); the rest is in compare.json. */
function settingsHtml(t: TaskComparison, named: boolean): string {
  const o = t.settings.options;
  const shown = (v: unknown) => (v === undefined ? '—' : escapeHtml(String(v)));
  const parts = [`model <code>${shown(o.model)}</code>`, `lr ${shown(o.lr)}`, `epochs ${shown(o.epochs)}`];
  for (const [key, label] of [['batchSize', 'batch size'], ['maxLength', 'max length'], ['trainLimit', 'train limit'], ['evalLimit', 'eval limit']] as const) {
    if (o[key] !== undefined && o[key] !== null) parts.push(`${label} ${shown(o[key])}`);
  }
  return `${named ? `${escapeHtml(t.task)}: ` : ''}${parts.join(', ')}`;
}

function runsTable(runs: readonly RunRecord[]): string {
  if (runs.length === 0) return '<p>No runs.</p>';
  const head = ['task', 'λ', 'seed', 'status', 'metric', 'value', 'other metrics', 'IsoScore⋆ per layer', 'TwoNN per layer', 'mean cosine per layer', 'final loss', 'folder'];
  const rows = runs.map((r) => {
    const others = Object.entries(r.metrics).filter(([k]) => k !== r.metric).map(([k, v]) => `${k} ${v === null ? '—' : formatNumber(v)}`).join(', ');
    return `<tr><td>${escapeHtml(r.task)}</td><td class="num">${escapeHtml(r.reg === 'none' ? 'none' : `${r.reg} ${r.lambda}`)}</td><td class="num">${escapeHtml(r.seed)}</td>` +
      `<td${r.status === 'finished' ? '' : ' class="na"'}>${escapeHtml(r.status)}</td><td>${escapeHtml(r.metric)}</td>${num(r.value)}<td>${escapeHtml(others)}</td>` +
      `<td>${escapeHtml(perLayerText(r.isoscoreStar))}</td><td>${escapeHtml(perLayerText(r.twoNN))}</td><td>${escapeHtml(perLayerText(r.meanCosine))}</td>` +
      `${num(r.finalLoss)}<td><code>${escapeHtml(r.folder)}</code></td></tr>`;
  });
  return htmlTable(head, rows, ['', 'num', 'num', '', '', 'num', '', '', '', '', 'num', '']) +
    '\n<p class="na-note">Per-layer values are listed from layer 0 (embedding output), Hugging Face numbering; — is a value undefined on that layer.</p>';
}

function unfinishedNote(c: Comparison): string {
  if (c.unfinished.length === 0) return '';
  return `<div class="skipped"><h3>Unfinished runs (left out of every statistic)</h3>\n<ul>\n${c.unfinished.map((f) => `<li><code>${escapeHtml(f)}</code></li>`).join('\n')}\n</ul></div>`;
}

async function taskSection(t: TaskComparison, runs: RunRecord[], curves: Curves, c: Comparison): Promise<string> {
  const lambdaRows = t.lambdas.map((l) => `<tr><th scope="row">${escapeHtml(l.label)}</th><td class="num">${l.n}</td>${num(l.mean)}${num(l.std)}<td>${escapeHtml(l.seeds.join(', '))}</td></tr>`);
  const { charts, skipped } = taskCharts(t, runs, curves);
  const figures: string[] = [];
  for (const chart of charts) figures.push(await chartFigure(chart));
  const notes = skipped.length === 0 ? '' : `<div class="skipped"><h3>No data</h3>\n<ul>\n${skipped.map((s) => `<li><strong>${escapeHtml(s.title)}</strong>: ${escapeHtml(s.reason)}</li>`).join('\n')}\n</ul></div>`;
  return `<section id="task-${escapeHtml(t.task)}">
<h2>${escapeHtml(t.task)}: ${escapeHtml(t.metric)} (${t.finishedRuns} finished run${t.finishedRuns === 1 ? '' : 's'}${t.unfinishedRuns ? `, ${t.unfinishedRuns} unfinished` : ''})</h2>
<h3 class="table-title">${escapeHtml(t.metric)} per λ over seeds</h3>
${htmlTable(['λ', 'n', 'mean', 'std (n − 1)', 'seeds'], lambdaRows, ['', 'num', 'num', 'num', ''])}
<h3 class="table-title">Correlation with ${escapeHtml(t.metric)} across finished runs</h3>
${correlationTable(t, c)}
${figures.join('\n')}
${notes}
</section>`;
}

function correlationTable(t: TaskComparison, c: Comparison): string {
  const rows: string[] = [];
  const cellOf = (x: Correlation) => x.value === null
    ? `<td class="na" title="${escapeHtml(x.reason ?? '')}">— (${escapeHtml(x.reason ?? 'undefined')})</td>`
    : `<td class="num">${escapeHtml(formatNumber(x.value))}${x.interval ? ` [${escapeHtml(formatNumber(x.interval[0]))}, ${escapeHtml(formatNumber(x.interval[1]))}]` : ''}</td>`;
  const s: Correlations = t.spearman, p: Correlations = t.pearson;
  for (const m of GEOMETRY_MEASURES) {
    const name = MEASURE_NAMES[m];
    rows.push(`<tr><th scope="row">${name}, mean over layers ${escapeHtml(s[m].mean.layers.join(', ') || '—')}</th><td class="num">${s[m].mean.n}</td>${cellOf(s[m].mean)}${cellOf(p[m].mean)}</tr>`);
    s[m].layers.forEach((x, i) => rows.push(`<tr><th scope="row">${name}, layer ${x.layer}</th><td class="num">${x.n}</td>${cellOf(x)}${cellOf(p[m].layers[i])}</tr>`));
  }
  return htmlTable(['geometry measure', 'runs', 'Spearman ρ [95% CI]', 'Pearson r [95% CI]'], rows, ['', 'num', 'num', 'num']) +
    `\n<p class="na-note">Intervals: percentile bootstrap, ${c.bootstrap.resamples} resamples of the finished runs with replacement (seed ${c.bootstrap.seed}); resamples where a side is constant are skipped and counted in compare.json. Spearman ranks ties by their average rank.</p>`;
}
