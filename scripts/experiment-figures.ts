/**
 * The README's experiment figures, from the experiments' own output folders:
 *
 *     node --import tsx scripts/experiment-figures.ts <experiment dir> <out dir>
 *
 * <experiment dir> holds what scripts/istar-experiment.sh and scripts/intrinsic-dim-experiment.sh
 * wrote (compare-*\/ folders and intrinsic-dim/<checkpoint>-<method>/ folders). For each compare
 * folder it keeps compare.json, runs.csv and index.html under <out>/istar/<name>/ and writes every
 * chart of the page as its own SVG (<out>/istar/<name>-<chart>.svg, for the README); for the
 * intrinsic-dim folders it keeps result.json, probes.csv and index.html under
 * <out>/intrinsic-dim/<name>/ and draws all score-vs-d curves in one plot
 * (<out>/intrinsic-dim/score-vs-d.svg) with a table of d90 per checkpoint
 * (<out>/intrinsic-dim/d90.md). Files are written through the safe output path.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { planFileOutput, writeOutputFile } from '../src/io/safe-output.js';
import { chartBase } from '../src/report/charts.js';
import { renderSvg } from '../src/report/render-svg.js';

const [expArg, outArg] = process.argv.slice(2);
if (!outArg) {
  process.stderr.write('usage: experiment-figures.ts <experiment dir> <out dir>\n');
  process.exit(2);
}
const exp = resolve(expArg), out = resolve(outArg);

function write(path: string, text: string): void {
  mkdirSync(resolve(path, '..'), { recursive: true });
  writeOutputFile(planFileOutput(path, 'figure'), [text]);
}

function keep(from: string, to: string, names: readonly string[]): void {
  for (const n of names) if (existsSync(join(from, n))) write(join(to, n), readFileSync(join(from, n), 'utf8'));
}

// I-STAR: the compare folders and their charts.
for (const name of readdirSync(exp).filter((n) => n.startsWith('compare-')).sort()) {
  const dir = join(exp, name);
  if (!existsSync(join(dir, 'compare.json'))) continue;
  keep(dir, join(out, 'istar', name), ['compare.json', 'runs.csv', 'index.html']);
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  for (const m of html.matchAll(/<figure class="chart" id="chart-([^"]+)">[\s\S]*?(<svg[\s\S]*?<\/svg>)/g)) {
    write(join(out, 'istar', `${name}-${m[1]}.svg`), m[2]);
  }
}

// Intrinsic dimension: every search's files, one plot of all curves and the d90 table.
interface Result {
  d90: number | null; reason?: string; interval: [number, number | null] | null; baseline: number; threshold: number; chance: number;
  method: string; probes: { d: number; seed: number; score: number; lr: number }[]; metric: string;
  decision: { curve: { d: number; mean: number; smoothed: number }[] };
}
const idDir = join(exp, 'intrinsic-dim');
const order = ['random-init', 'checkpoint-250', 'checkpoint-1000', 'checkpoint-2500', 'final'];
const searches = existsSync(idDir)
  ? readdirSync(idDir).filter((n) => existsSync(join(idDir, n, 'result.json')))
    .sort((a, b) => order.findIndex((o) => a.startsWith(o)) - order.findIndex((o) => b.startsWith(o)) || a.localeCompare(b))
  : [];
if (searches.length > 0) {
  const rows: Record<string, unknown>[] = [];
  const table = ['| model | method | full fine-tuning | threshold (0.9×) | chance | best subspace score (d) | d90 |', '|---|---|---:|---:|---:|---:|---|'];
  for (const name of searches) {
    keep(join(idDir, name), join(out, 'intrinsic-dim', name), ['result.json', 'probes.csv', 'index.html']);
    const r = JSON.parse(readFileSync(join(idDir, name, 'result.json'), 'utf8')) as Result;
    const model = name.slice(0, name.lastIndexOf('-'));
    const series = `${model} (${r.method.toUpperCase()})`;
    for (const p of r.probes) rows.push({ kind: 'probe', series, d: p.d, score: p.score });
    for (const c of r.decision.curve) rows.push({ kind: 'curve', series, d: c.d, score: c.smoothed });
    rows.push({ kind: 'threshold', series, score: r.threshold });
    const best = r.probes.reduce((a, p) => (p.score > a.score ? p : a), r.probes[0]);
    const d90 = r.d90 === null ? `none (${r.reason})` : `**${r.d90}**${r.interval ? ` [${r.interval[0]}, ${r.interval[1] ?? '>'}]` : ''}`;
    table.push(`| ${model} | ${r.method.toUpperCase()} | ${r.baseline.toFixed(4)} | ${r.threshold.toFixed(4)} | ${r.chance.toFixed(4)} | ${best ? `${best.score.toFixed(4)} (${best.d})` : '—'} | ${d90} |`);
  }
  const x = { field: 'd', type: 'quantitative', scale: { type: 'log' }, title: 'subspace dimension d (log scale)' };
  const y = { field: 'score', type: 'quantitative', title: 'dev accuracy (SST-2)', scale: { zero: false } };
  const color = { field: 'series', type: 'nominal', title: 'model (method)' };
  const spec = {
    ...chartBase('Subspace fine-tuning score against d for every checkpoint'), width: 720, height: 320, data: { values: rows },
    layer: [
      { transform: [{ filter: "datum.kind === 'curve'" }], mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color } },
      { transform: [{ filter: "datum.kind === 'probe'" }], mark: { type: 'point', filled: true, size: 45 }, encoding: { x, y, color } },
      { transform: [{ filter: "datum.kind === 'threshold'" }], mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1 }, encoding: { y, color } },
    ],
  } as unknown as TopLevelSpec;
  write(join(out, 'intrinsic-dim', 'score-vs-d.svg'), await renderSvg(spec, { idPrefix: 'score-vs-d' }));
  write(join(out, 'intrinsic-dim', 'd90.md'), `${table.join('\n')}\n`);
}
process.stderr.write(`wrote ${out}\n`);
