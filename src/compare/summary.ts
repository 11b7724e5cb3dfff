/** The terminal summary of `repgeom compare`: per λ mean ± std of the task metric, the headline correlations, unfinished runs. */
import { formatNumber } from '../report/html.js';
import type { Comparison } from './model.js';
import type { Correlation } from './stats.js';

const f = (v: number | null): string => (v === null ? '—' : formatNumber(v));

function corrText(name: string, c: Correlation): string {
  if (c.value === null) return `${name} — (${c.reason})`;
  return `${name} ${f(c.value)}${c.interval ? ` [${f(c.interval[0])}, ${f(c.interval[1])}]` : ''}`;
}

export function summaryText(c: Comparison, out: string): string {
  const lines: string[] = [];
  for (const t of c.tasks) {
    lines.push(`${t.task} (${t.metric}, ${t.finishedRuns} finished run${t.finishedRuns === 1 ? '' : 's'}):`);
    const o = t.settings.options;
    if (Object.keys(o).length > 0) lines.push(`  settings: model ${o.model}, lr ${o.lr}, epochs ${o.epochs}`);
    for (const l of t.lambdas) lines.push(`  ${l.label.padEnd(12)} ${f(l.mean)} ± ${f(l.std)}  (n = ${l.n})`);
    for (const m of ['isoscoreStar', 'twoNN'] as const) {
      const name = m === 'isoscoreStar' ? 'IsoScore⋆' : 'TwoNN';
      lines.push(`  ${name} (mean over layers ${t.spearman[m].mean.layers.join(',') || '—'}) vs ${t.metric}: ${corrText('Spearman', t.spearman[m].mean)}; ${corrText('Pearson', t.pearson[m].mean)}`);
    }
  }
  if (c.unfinished.length > 0) lines.push(`unfinished (left out of the statistics): ${c.unfinished.join(', ')}`);
  lines.push(`wrote ${out}/compare.json, runs.csv, index.html`);
  return `${lines.join('\n')}\n`;
}
