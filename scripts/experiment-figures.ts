/**
 * The README's experiment figures, from the experiments' own output folders:
 *
 *     node --import tsx scripts/experiment-figures.ts <experiment dir> <out dir>
 *
 * <experiment dir> holds what scripts/istar-experiment.sh and scripts/intrinsic-dim-experiment.sh
 * wrote (compare-*\/ folders and intrinsic-dim/<checkpoint>-<method>/ folders). For each compare
 * folder it keeps compare.json, runs.csv and index.html under <out>/istar/<name>/ and writes every
 * chart of the page as its own SVG (<out>/istar/<name>-<chart>.svg, for the README) and a
 * markdown summary (<out>/istar/<name>.md: per λ the metric, IsoScore⋆ and TwoNN per layer; the
 * correlations with the metric; and, across runs, IsoScore⋆ against TwoNN of the last layer); for the
 * intrinsic-dim folders (intrinsic-dim/, and intrinsic-dim-lrs/ of the second pass) it keeps
 * result.json, probes.csv and index.html under <out>/<folder>/<name>/ and draws all score-vs-d curves (mean over seeds per d; dashed:
 * each model's threshold) in one plot (<out>/intrinsic-dim/score-vs-d.svg) with a table of d90 per checkpoint
 * (<out>/intrinsic-dim/d90.md). Files are written through the safe output path.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { planFileOutput, writeOutputFile } from '../src/io/safe-output.js';
import { correlation, type Correlation } from '../src/compare/stats.js';
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

const f4 = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(4));
const f2 = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(2));
const corr = (c: Correlation | undefined) => (!c || c.value === null ? `— (${c?.reason ?? 'none'})` : `${c.value.toFixed(2)} [${c.interval![0].toFixed(2)}, ${c.interval![1].toFixed(2)}]`);

interface CompareTask {
  task: string; metric: string;
  lambdas: { label: string; n: number; mean: number | null; std: number | null; isoscoreStarByLayer: (number | null)[]; twoNNByLayer: (number | null)[] }[];
  spearman: Record<string, { mean: Correlation & { layers: number[] } }>; pearson: Record<string, { mean: Correlation & { layers: number[] } }>;
}
interface CompareRun { task: string; status: string; isoscoreStar: (number | null)[]; twoNN: (number | null)[] }

/** The markdown summary of one compare folder. */
function compareSummary(c: { tasks: CompareTask[]; runs: CompareRun[] }): string {
  const out: string[] = [];
  for (const t of c.tasks) {
    const layers = t.lambdas[0]?.isoscoreStarByLayer.map((_, i) => i).filter((i) => i > 0) ?? [];
    out.push(`| ${t.task} | n | ${t.metric} (mean ± std) | ${layers.map((l) => `IsoScore⋆ L${l}`).join(' | ')} | ${layers.map((l) => `TwoNN L${l}`).join(' | ')} |`);
    out.push(`|---|---:|---:|${layers.map(() => '---:').join('|')}|${layers.map(() => '---:').join('|')}|`);
    for (const l of t.lambdas) {
      out.push(`| ${l.label} | ${l.n} | ${f4(l.mean)} ± ${f4(l.std)} | ${layers.map((i) => f4(l.isoscoreStarByLayer[i])).join(' | ')} | ${layers.map((i) => f2(l.twoNNByLayer[i])).join(' | ')} |`);
    }
    out.push('');
    for (const m of ['isoscoreStar', 'twoNN']) {
      const s = t.spearman[m].mean, p = t.pearson[m].mean;
      out.push(`- ${m === 'isoscoreStar' ? 'IsoScore⋆' : 'TwoNN'} (mean over layers ${s.layers.join(', ')}) vs ${t.metric}: Spearman ${corr(s)}, Pearson ${corr(p)}`);
    }
    // Does isotropy move with the intrinsic dimension of the last layer? Across finished runs.
    const runs = c.runs.filter((r) => r.task === t.task && r.status === 'finished');
    const last = Math.max(...layers);
    const both = runs.filter((r) => r.isoscoreStar[last] !== null && r.twoNN[last] !== null);
    const iso = both.map((r) => r.isoscoreStar[last]!), id = both.map((r) => r.twoNN[last]!);
    out.push(`- IsoScore⋆ vs TwoNN of the last layer (L${last}) across ${both.length} runs: Spearman ${corr(correlation('spearman', iso, id))}, Pearson ${corr(correlation('pearson', iso, id))}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

// I-STAR: the compare folders and their charts.
for (const name of readdirSync(exp).filter((n) => n.startsWith('compare-')).sort()) {
  const dir = join(exp, name);
  if (!existsSync(join(dir, 'compare.json'))) continue;
  keep(dir, join(out, 'istar', name), ['compare.json', 'runs.csv', 'index.html']);
  write(join(out, 'istar', `${name}.md`), compareSummary(JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8'))));
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
const order = ['random-init', 'checkpoint-250', 'checkpoint-1000', 'checkpoint-2500', 'final'];
/** One folder of searches (intrinsic-dim, intrinsic-dim-lrs): their files, one plot of all curves, the d90 table. */
async function intrinsicFigures(folder: string): Promise<void> {
  const idDir = join(exp, folder);
  const searches = existsSync(idDir)
    ? readdirSync(idDir).filter((n) => existsSync(join(idDir, n, 'result.json')))
      .sort((a, b) => order.findIndex((o) => a.startsWith(`${o}-`)) - order.findIndex((o) => b.startsWith(`${o}-`)) || a.localeCompare(b))
    : [];
  if (searches.length > 0) {
    const rows: Record<string, unknown>[] = [];
    const table = ['| model | method | full fine-tuning | threshold (0.9×) | chance | best subspace score (d) | best / full | d90 |', '|---|---|---:|---:|---:|---:|---:|---|'];
    for (const name of searches) {
      keep(join(idDir, name), join(out, folder, name), ['result.json', 'probes.csv', 'index.html']);
      const r = JSON.parse(readFileSync(join(idDir, name, 'result.json'), 'utf8')) as Result;
      const model = name.slice(0, name.lastIndexOf('-'));
      const series = `${model} (${r.method.toUpperCase()})`;
      for (const p of r.probes) rows.push({ kind: 'probe', series, d: p.d, score: p.score });
      for (const c of r.decision.curve) rows.push({ kind: 'curve', series, d: c.d, score: c.mean });
      rows.push({ kind: 'threshold', series, score: r.threshold });
      const best = r.probes.reduce((a, p) => (p.score > a.score ? p : a), r.probes[0]);
      const maxD = Math.max(...r.probes.map((p) => p.d));
      const d90 = r.d90 !== null ? `**${r.d90}**${r.interval ? ` [${r.interval[0]}, ${r.interval[1] ?? '>'}]` : ''}`
        : r.threshold <= r.chance ? 'none: 0.9 × full ≤ chance' : `none: no d ≤ ${maxD} reaches it`;
      table.push(`| ${model} | ${r.method.toUpperCase()} | ${r.baseline.toFixed(4)} | ${r.threshold.toFixed(4)} | ${r.chance.toFixed(4)} | ${best ? `${best.score.toFixed(4)} (d ${best.d}, lr ${best.lr})` : '—'} | ${best ? (best.score / r.baseline).toFixed(3) : '—'} | ${d90} |`);
    }
    const x = { field: 'd', type: 'quantitative', scale: { type: 'log', nice: false }, title: 'subspace dimension d (log scale)' };
    const y = { field: 'score', type: 'quantitative', title: 'dev accuracy (SST-2)', scale: { zero: false } };
    const color = { field: 'series', type: 'nominal', title: 'model (method)', legend: { labelLimit: 300 }, sort: rows.map((r) => r.series as string).filter((v, i, a) => a.indexOf(v) === i) };
    const spec = {
      ...chartBase('Subspace fine-tuning score against d for every checkpoint'), width: 720, height: 320, data: { values: rows },
      layer: [
        { transform: [{ filter: "datum.kind === 'curve'" }], mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color } },
        { transform: [{ filter: "datum.kind === 'probe'" }], mark: { type: 'point', filled: true, size: 45 }, encoding: { x, y, color } },
        { transform: [{ filter: "datum.kind === 'threshold'" }], mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1 }, encoding: { y, color } },
      ],
    } as unknown as TopLevelSpec;
    write(join(out, folder, 'score-vs-d.svg'), await renderSvg(spec, { idPrefix: 'score-vs-d' }));
    write(join(out, folder, 'd90.md'), `${table.join('\n')}\n`);
  }
}

for (const folder of readdirSync(exp).filter((n) => /^intrinsic-dim(-|$)/.test(n)).sort()) await intrinsicFigures(folder);
process.stderr.write(`wrote ${out}\n`);
