/**
 * `index.html`: one self-contained page per report — inline CSS, the charts as inline SVG, no
 * script, no font or image fetched (a Content-Security-Policy forbids both). Every string from the
 * report is HTML-escaped.
 */
import type { Report, ReportRow } from './model.js';
import { reportCharts, skippedCharts, checkpointOrder, FONT_STACK, type ChartSpec } from './charts.js';
import { renderSvg } from './render-svg.js';
import { ROW_KEYS } from './csv.js';

/** Escape text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The report as one HTML page. */
export async function reportHtml(report: Report): Promise<string> {
  const charts = reportCharts(report);
  const figures: string[] = [];
  for (const chart of charts) figures.push(await chartFigure(chart));
  const skipped = skippedCharts(report);
  const title = report.title || 'repgeom report';
  return htmlPage({
    title, version: report.version, header: metaList(report),
    main: `<section id="checkpoints">
<h2>Checkpoints</h2>
${checkpointsTable(report)}
</section>
<section id="layers">
<h2>Layers</h2>
${layersTable(report)}
</section>
<section id="charts">
<h2>Charts</h2>
${figures.join('\n')}
${skipped.length === 0 ? '' : `<div class="skipped"><h3>Not computed</h3>\n<ul>\n${skipped.map((s) => `<li><strong>${escapeHtml(s.title)}</strong>: ${escapeHtml(s.reason)}${s.id === 'self-similarity' && report.notes.length > 0 ? ' See the notes below.' : ''}</li>`).join('\n')}\n</ul></div>`}
</section>
${notesSection(report)}`,
    footer: `Made by repgeom ${escapeHtml(report.version)} on ${escapeHtml(report.created)}; numbers in full precision are in <code>report.json</code> and <code>layers.csv</code> next to this page.`,
  });
}

/** A chart rendered to inline SVG in its figure (title, what it shows, the plot). */
export async function chartFigure(chart: { id: string; title: string; description: string; spec: ChartSpec['spec'] }): Promise<string> {
  const svg = await renderSvg(chart.spec, { idPrefix: `chart-${chart.id}` });
  return `<figure class="chart" id="chart-${escapeHtml(chart.id)}">\n` +
    `<h3>${escapeHtml(chart.title)}</h3>\n` +
    `<p class="what">${escapeHtml(chart.description)}</p>\n` +
    `<div class="plot">${svg}</div>\n` +
    `</figure>`;
}

/**
 * The page shell every repgeom page shares: self-contained (a Content-Security-Policy forbids
 * scripts and fetches), the report's CSS, a header with the title, `main` and a footer. `header`,
 * `main` and `footer` are HTML (escape what goes in); the title is escaped here.
 */
export function htmlPage(p: { title: string; version: string; header: string; main: string; footer: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="repgeom ${escapeHtml(p.version)}">
<title>${escapeHtml(p.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(p.title)}</h1>
${p.header}
</header>
<main>
${p.main}
</main>
<footer>${p.footer}</footer>
</body>
</html>
`;
}

/** A definition list of (label, HTML value) pairs, as the report's header shows its metadata. */
export function metaHtml(items: readonly [string, string][]): string {
  return `<dl class="meta">\n${items.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('\n')}\n</dl>`;
}

function metaList(report: Report): string {
  const items: [string, string][] = [
    ['created', escapeHtml(report.created)],
    ['repgeom', escapeHtml(report.version)],
    ['backend', escapeHtml(report.backend)],
    ['matrix products', escapeHtml(report.productsBackend ?? '—')],
    ['data', dataDescription(report)],
  ];
  const options = Object.entries(report.options ?? {}).filter(([, v]) => v !== undefined);
  if (options.length > 0) {
    items.push(['options', options.map(([k, v]) => `<code>${escapeHtml(k)}=${escapeHtml(optionText(v))}</code>`).join(' ')]);
  }
  return metaHtml(items);
}

function optionText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
}

function dataDescription(report: Report): string {
  const d = report.data;
  const parts: string[] = [];
  if (d.task !== null) parts.push(`task ${d.task}`);
  if (d.split !== null) parts.push(`split ${d.split}`);
  if (d.examples !== null) parts.push(`${d.examples} examples`);
  if (d.tokens !== null) parts.push(`tokens: ${d.tokens}`);
  if (d.maxLength !== null) parts.push(`max length ${d.maxLength}`);
  return `<code>${escapeHtml(d.path)}</code>${parts.length ? ` (${escapeHtml(parts.join(', '))})` : ''}`;
}

function checkpointsTable(report: Report): string {
  if (report.checkpoints.length === 0) return '<p>No checkpoints.</p>';
  const head = ['name', 'model type', 'layers', 'dim', 'model folder', 'states file'];
  const rows = report.checkpoints.map(
    (c) =>
      `<tr><th scope="row">${escapeHtml(c.name)}</th><td>${c.modelType === null ? '<span class="na">—</span>' : escapeHtml(c.modelType)}</td>` +
      `<td class="num">${escapeHtml(c.layers)}</td><td class="num">${escapeHtml(c.dim)}</td>` +
      `<td>${c.path === null ? '<span class="na">—</span>' : `<code>${escapeHtml(c.path)}</code>`}</td><td><code>${escapeHtml(c.states)}</code></td></tr>`,
  );
  return htmlTable(head, rows, ['', '', 'num', 'num', '', '']);
}

/** Column headings of the layers table (the CSV keys are the machine names). */
const COLUMN_LABELS: Record<(typeof ROW_KEYS)[number], string> = {
  checkpoint: 'checkpoint',
  layer: 'layer',
  points: 'points',
  dim: 'dim',
  isoscore: 'IsoScore',
  isoscoreStar: 'IsoScore⋆',
  meanCosine: 'mean cos',
  partitionIsotropy: 'partition iso.',
  twoNN: 'TwoNN',
  twoNNStd: 'TwoNN sd',
  mle: 'MLE',
  pcaId90: 'PCA-ID 90%',
  pcaId99: 'PCA-ID 99%',
  participationRatio: 'part. ratio',
  selfSimilarity: 'self-sim.',
  selfSimilarityAdjusted: 'self-sim. adj.',
  intraSentenceSimilarity: 'intra-sent.',
  intraSentenceSimilarityAdjusted: 'intra-sent. adj.',
};

const INTEGER_COLUMNS = new Set<string>(['layer', 'points', 'dim', 'pcaId90', 'pcaId99']);

function layersTable(report: Report): string {
  if (report.rows.length === 0) return '<p>No layers were measured.</p>';
  // Every column with a value in some row; the metrics never computed are named below the tables.
  const shown = ROW_KEYS.filter((k) => k !== 'checkpoint' && (k === 'layer' || report.rows.some((r) => r[k] !== null && r[k] !== undefined)));
  const absent = ROW_KEYS.filter((k) => k !== 'checkpoint' && !shown.includes(k));
  // One table per checkpoint, in report order (the checkpoint column would take a third of the width).
  const tables = checkpointOrder(report).map((name) => {
    const rows = report.rows.filter((r) => r.checkpoint === name);
    if (rows.length === 0) return '';
    const body = rows.map((r) => `<tr>${shown.map((k) => cell(r, k)).join('')}</tr>`);
    return `<h3 class="table-title">${escapeHtml(name)}</h3>\n${htmlTable(shown.map((k) => COLUMN_LABELS[k]), body, shown.map(() => 'num'), shown)}`;
  });
  const note = absent.length === 0
    ? ''
    : `\n<p class="na-note">Not computed (null in every row): ${absent.map((k) => `${escapeHtml(COLUMN_LABELS[k])} (<code>${k}</code>)`).join(', ')}.</p>`;
  return tables.filter((t) => t !== '').join('\n') + note;
}

function cell(row: ReportRow, key: (typeof ROW_KEYS)[number]): string {
  const v = row[key];
  if (key === 'layer') return `<th scope="row" class="num">${escapeHtml(v)}</th>`;
  if (v === null || v === undefined) return '<td class="num na">—</td>';
  if (typeof v !== 'number') return `<td>${escapeHtml(v)}</td>`;
  const text = INTEGER_COLUMNS.has(key) && Number.isInteger(v) ? String(v) : formatNumber(v);
  return text === String(v) ? `<td class="num">${escapeHtml(text)}</td>` : `<td class="num" title="${escapeHtml(String(v))}">${escapeHtml(text)}</td>`;
}

/** Four significant digits; scientific notation for very small or very large magnitudes. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) return v.toExponential(2);
  if (a >= 1000) return v.toFixed(1);
  return v.toPrecision(4);
}

export function htmlTable(head: string[], rows: string[], classes: string[], keys?: readonly string[]): string {
  const th = head
    .map((h, i) => `<th scope="col"${classes[i] ? ` class="${classes[i]}"` : ''}${keys ? ` title="${escapeHtml(keys[i])}"` : ''}>${escapeHtml(h)}</th>`)
    .join('');
  return `<div class="table-wrap"><table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`;
}

function notesSection(report: Report): string {
  if (report.notes.length === 0) return '';
  return `<section id="notes">\n<h2>Notes</h2>\n<ul class="notes">\n${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}\n</ul>\n</section>`;
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1d2330; font: 15px/1.5 ${FONT_STACK}; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; padding-bottom: 8px; }
h1 { font-size: 1.7rem; font-weight: 600; margin: 0 0 12px; }
h2 { font-size: 1.25rem; font-weight: 600; margin: 32px 0 12px; padding-bottom: 4px; border-bottom: 1px solid #dde1e8; }
h3 { font-size: 1.05rem; font-weight: 600; margin: 0 0 4px; }
h3.table-title { font-size: 0.95rem; margin: 16px 0 6px; }
code { font: 0.88em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #eef0f4; padding: 1px 4px; border-radius: 3px; word-break: break-all; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.meta div { display: contents; }
dl.meta dt { color: #5b6478; }
dl.meta dd { margin: 0; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid #dde1e8; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #eceef2; text-align: left; white-space: nowrap; }
thead th { background: #f0f2f5; font-weight: 600; color: #39404f; white-space: normal; vertical-align: bottom; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody th { font-weight: 500; }
.num { text-align: right; }
.na { color: #a0a7b4; }
.na-note { color: #5b6478; font-size: 13px; margin: 8px 0 0; }
figure.chart { margin: 0 0 20px; padding: 16px 18px 12px; background: #fff; border: 1px solid #dde1e8; border-radius: 6px; }
figure.chart .what { margin: 0 0 10px; color: #4a5263; font-size: 14px; max-width: 80ch; }
.plot { overflow-x: auto; }
.plot svg { display: block; max-width: 100%; height: auto; }
.skipped { background: #fff; border: 1px dashed #cfd5df; border-radius: 6px; padding: 12px 18px; color: #4a5263; font-size: 14px; }
.skipped ul, ul.notes { margin: 4px 0 0; padding-left: 20px; }
ul.notes li { margin: 2px 0; }
footer { color: #6b7386; font-size: 13px; padding-top: 24px; padding-bottom: 32px; }
`;
