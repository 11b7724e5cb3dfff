/**
 * `repgeom compare` end to end on real tiny runs (tiny-bert-mlm, the first rows of SST-2, I-STAR
 * at several λ and seeds) plus one unfinished run: the folder contract
 * (../shared/tools/check-output-folder.py), runs.csv equal to the runs' eval.jsonl, the
 * correlations equal to an independent computation, the unfinished run listed everywhere and
 * used nowhere, sweep folders as inputs, --by-task, the page in headless Chromium, and every bad
 * input (one line, exit 2).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkHtmlInChromium, findChromium } from '../src/report/chromium-check.js';
import { renderSvg } from '../src/report/render-svg.js';
import { taskCharts } from '../src/compare/charts.js';
import { buildComparison } from '../src/compare/model.js';
import { readRun, runFoldersOf } from '../src/compare/runs.js';
import { DEFAULT_BOOTSTRAP } from '../src/compare/stats.js';
import { expectUserError, repgeom } from './helpers/cli.js';
import { SHARED } from './helpers/fixtures.js';

const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const SST2 = path.resolve(SHARED, 'data', 'glue', 'SST-2');
const CHECKER = path.resolve(SHARED, 'tools', 'check-output-folder.py');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-compare-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const SWEEP = path.join(dir, 'sweep');
// λ and seed of each finished run; the head's seed moves the accuracy, so the metric varies.
const FINISHED = { a: ['-1', '0'], b: ['0', '1'], c: ['1', '0'], d: ['1', '1'] } as const;
const runDir = (name: string) => path.join(SWEEP, name);
const UNFINISHED = runDir('u');
const ALL = [...Object.keys(FINISHED).map(runDir), UNFINISHED];

const train = (out: string, extra: string[]) => {
  const r = repgeom(['train', '--model', TINY, '--task', 'sst2', '--data', SST2, '--train-limit', '48', '--eval-limit', '24', '--max-length', '16',
    '--c0-sample', '200', '--lr', '1e-3', '--quiet', ...extra, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
};
const jsonl = (p: string) => fs.readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const readJson = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8'));
const lastEval = (run: string) => jsonl(path.join(run, 'eval.jsonl')).at(-1);

/** A finished run's files that compare reads, without the weights (for made-up variants). */
function lightCopy(from: string, to: string, edit: (runJson: { command: string; options: Record<string, unknown> }) => void = () => {}): void {
  fs.mkdirSync(path.join(to, 'final'), { recursive: true });
  for (const f of ['log.jsonl', 'eval.jsonl', 'predictions.csv']) fs.copyFileSync(path.join(from, f), path.join(to, f));
  for (const f of ['checkpoint.json', 'trainer_state.json']) fs.copyFileSync(path.join(from, 'final', f), path.join(to, 'final', f));
  const runJson = readJson(path.join(from, 'run.json'));
  edit(runJson);
  fs.writeFileSync(path.join(to, 'run.json'), JSON.stringify(runJson));
}

function csvRows(file: string): Record<string, string>[] {
  const [header, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(','));
  return lines.map((l) => Object.fromEntries(header.map((h, i) => [h, l[i]])));
}

// Independent of src/: ranks by counting (ties share the mean rank), Pearson by the textbook formula.
function ranks(v: number[]): number[] {
  return v.map((x) => v.filter((y) => y < x).length + (v.filter((y) => y === x).length + 1) / 2);
}
function pearsonR(x: number[], y: number[]): number {
  const mx = x.reduce((s, v) => s + v, 0) / x.length, my = y.reduce((s, v) => s + v, 0) / y.length;
  const sxy = x.reduce((s, v, i) => s + (v - mx) * (y[i] - my), 0);
  return sxy / Math.sqrt(x.reduce((s, v) => s + (v - mx) ** 2, 0) * y.reduce((s, v) => s + (v - my) ** 2, 0));
}

before(() => {
  fs.mkdirSync(SWEEP);
  for (const [name, [lambda, seed]] of Object.entries(FINISHED)) train(runDir(name), ['--reg', 'istar', `--lambda=${lambda}`, '--seed', seed, '--epochs', '1']);
  // The same settings (evaluation and checkpoint cadence aside), cut back to step 1 of 2: what an
  // interrupted run leaves (no final/).
  train(UNFINISHED, ['--reg', 'istar', '--lambda=5', '--seed', '0', '--epochs', '1', '--save-every', '1', '--eval-every', '1']);
  fs.rmSync(path.join(UNFINISHED, 'final'), { recursive: true });
  fs.rmSync(path.join(UNFINISHED, 'checkpoints', 'step-2'), { recursive: true });
  fs.writeFileSync(path.join(UNFINISHED, 'eval.jsonl'), `${JSON.stringify(jsonl(path.join(UNFINISHED, 'eval.jsonl'))[0])}\n`);
  fs.writeFileSync(path.join(UNFINISHED, 'log.jsonl'), jsonl(path.join(UNFINISHED, 'log.jsonl')).slice(0, 1).map((r) => `${JSON.stringify(r)}\n`).join(''));
  // The sweep lists its runs in its own order, and one that has not started (no folder yet), as
  // repgeom sweep writes its entries.
  const planned: [string, number, number][] = [['d', 1, 1], ['c', 1, 0], ['b', 0, 1], ['a', -1, 0], ['u', 5, 0], ['e', 7, 3]];
  fs.writeFileSync(path.join(SWEEP, 'sweep.json'), JSON.stringify({
    command: 'sweep', version: '0.0.0-test', options: { tasks: ['sst2'], reg: 'istar' },
    runs: planned.map(([folder, lambda, seed], index) => ({ index, task: 'sst2', reg: 'istar', lambda, seed, folder, argv: ['--task', 'sst2', `--lambda=${lambda}`, '--seed', String(seed)] })),
  }));
});

describe('compare: run folders', () => {
  const OUT = path.join(dir, 'out');
  let stdout = '';
  before(() => {
    const r = repgeom(['compare', ...ALL, '--out', OUT]);
    assert.equal(r.status, 0, r.stderr);
    stdout = r.stdout;
  });

  test('the folder follows the contract', () => {
    const r = spawnSync('python3', [CHECKER, 'compare', OUT], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(fs.readdirSync(OUT).sort(), ['compare.json', 'index.html', 'runs.csv']);
  });

  test('compare.json records the settings the runs share; the page and the summary show model, lr and epochs', () => {
    const c = readJson(path.join(OUT, 'compare.json'));
    const s = c.tasks[0].settings;
    assert.deepEqual([s.options.model, s.options.lr, s.options.epochs, s.options.maxLength, s.options.trainLimit, s.options.evalLimit], [TINY, 1e-3, 1, 16, 48, 24]);
    // The cadence (the unfinished run saved and evaluated every step) and the per-run axes are not settings.
    for (const key of ['reg', 'lambda', 'seed', 'evalEvery', 'saveEvery', 'logEvery']) assert.ok(!(key in s.options), key);
    assert.deepEqual(s.regularizers, { istar: { zeta: 0.2, c0Sample: 200, istarIncludePadding: false } });
    assert.equal(c.runs[0].options.lr, 1e-3);
    const html = fs.readFileSync(path.join(OUT, 'index.html'), 'utf8');
    assert.match(html, new RegExp(`<dt>settings</dt><dd>model <code>${TINY.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</code>, lr 0\\.001, epochs 1, batch size 32, max length 16, train limit 48, eval limit 24</dd>`));
    assert.match(stdout, new RegExp(`^  settings: model .*tiny-bert-mlm, lr 0\\.001, epochs 1$`, 'm'));
  });

  test('runs.csv has one row per run with exactly the values of its eval.jsonl', () => {
    const rows = csvRows(path.join(OUT, 'runs.csv'));
    assert.deepEqual(rows.map((r) => r.folder), ALL);
    for (const row of rows) {
      const ev = lastEval(row.folder);
      const runJson = readJson(path.join(row.folder, 'run.json'));
      assert.equal(row.task, 'sst2');
      assert.equal(row.lambda, String(runJson.options.lambda));
      assert.equal(row.seed, String(runJson.options.seed));
      assert.equal(row.status, row.folder === UNFINISHED ? 'unfinished' : 'finished');
      assert.equal(row.metric, 'accuracy');
      assert.equal(Number(row.value), ev.metrics.accuracy);
      assert.equal(ev.isoscoreStar.length, 3, 'tiny-bert-mlm: embeddings + 2 layers');
      for (const key of ['isoscoreStar', 'twoNN', 'meanCosine']) {
        ev[key].forEach((v: number | null, l: number) => assert.equal(row[`${key}_layer${l}`], v === null ? '' : String(v), `${row.folder} ${key} layer ${l}`));
      }
      assert.equal(Number(row.finalLoss), jsonl(path.join(row.folder, 'log.jsonl')).at(-1).loss);
    }
  });

  test('the unfinished run is listed (compare.json, runs.csv, page, summary) and left out of every statistic', () => {
    const c = readJson(path.join(OUT, 'compare.json'));
    assert.deepEqual(c.unfinished, [UNFINISHED]);
    assert.equal(c.runs.find((r: { folder: string }) => r.folder === UNFINISHED).status, 'unfinished');
    assert.equal(c.tasks[0].finishedRuns, 4);
    assert.equal(c.tasks[0].unfinishedRuns, 1);
    assert.equal(c.tasks[0].spearman.isoscoreStar.mean.n, 4);
    const five = c.tasks[0].lambdas.find((l: { lambda: number }) => l.lambda === 5);
    assert.equal(five.n, 0);
    assert.equal(five.mean, null);
    assert.match(fs.readFileSync(path.join(OUT, 'index.html'), 'utf8'), /Unfinished runs \(left out of every statistic\)[^]*?sweep\/u</);
    assert.match(stdout, /unfinished \(left out of the statistics\): .*sweep\/u/);
  });

  test('per-λ mean ± std and the correlations equal an independent computation from the runs\' numbers', () => {
    const c = readJson(path.join(OUT, 'compare.json'));
    const t = c.tasks[0];
    assert.equal(t.metric, 'accuracy');
    const finished = Object.keys(FINISHED).map(runDir);
    const acc = finished.map((r) => lastEval(r).metrics.accuracy as number);
    assert.ok(new Set(acc).size > 1, `the accuracies should differ between runs: ${acc}`);
    const ones = t.lambdas.find((l: { lambda: number }) => l.lambda === 1);
    const [c1, d1] = [acc[2], acc[3]];
    assert.equal(ones.n, 2);
    assert.ok(Math.abs(ones.mean - (c1 + d1) / 2) < 1e-15);
    assert.ok(Math.abs(ones.std - Math.abs(c1 - d1) / Math.SQRT2) < 1e-15);
    for (const key of ['isoscoreStar', 'twoNN'] as const) {
      const perRun = finished.map((r) => lastEval(r)[key] as (number | null)[]);
      const layers = [0, 1, 2].filter((l) => perRun.every((v) => v[l] !== null));
      assert.deepEqual(t.spearman[key].mean.layers, layers);
      assert.deepEqual(layers, key === 'twoNN' ? [1, 2] : [0, 1, 2], 'TwoNN of the embeddings is undefined (identical [CLS] vectors)');
      const avg = perRun.map((v) => layers.reduce((s, l) => s + v[l]!, 0) / layers.length);
      const spear = pearsonR(ranks(avg), ranks(acc)), pear = pearsonR(avg, acc);
      assert.ok(Math.abs(t.spearman[key].mean.value - spear) < 1e-12, `${key} spearman ${t.spearman[key].mean.value} vs ${spear}`);
      assert.ok(Math.abs(t.pearson[key].mean.value - pear) < 1e-12, `${key} pearson ${t.pearson[key].mean.value} vs ${pear}`);
      for (const l of layers) {
        const v = perRun.map((x) => x[l]!);
        assert.ok(Math.abs(t.spearman[key].layers[l].value - pearsonR(ranks(v), ranks(acc))) < 1e-12, `${key} layer ${l}`);
        assert.ok(Math.abs(t.pearson[key].layers[l].value - pearsonR(v, acc)) < 1e-12, `${key} layer ${l}`);
      }
      for (const kind of ['spearman', 'pearson'] as const) {
        const e = t[kind][key].mean;
        assert.ok(e.interval[0] <= e.interval[1] && e.interval[0] >= -1 - 1e-12 && e.interval[1] <= 1 + 1e-12, JSON.stringify(e));
        assert.equal(typeof e.resamplesSkipped, 'number');
      }
    }
    assert.equal(t.pearson.twoNN.layers[0].value, null);
    assert.match(t.pearson.twoNN.layers[0].reason, /0 finished runs/);
    assert.deepEqual(c.bootstrap, { resamples: 1000, seed: 0, level: 0.95, method: 'percentile', unit: 'run' });
    assert.match(stdout, /λ=1 +\S+ ± \S+ +\(n = 2\)/);
    assert.match(stdout, /IsoScore⋆ \(mean over layers 0,1,2\) vs accuracy: Spearman \S+/);
  });

  test('the same inputs and seed give the same compare.json (but its time); another --seed other intervals', () => {
    const again = path.join(dir, 'again'), seeded = path.join(dir, 'seeded');
    assert.equal(repgeom(['compare', ...ALL, '--out', again]).status, 0);
    assert.equal(repgeom(['compare', ...ALL, '--out', seeded, '--seed', '7']).status, 0);
    const strip = (p: string) => ({ ...readJson(path.join(p, 'compare.json')), created: null });
    assert.deepEqual(strip(again), strip(OUT));
    const s7 = strip(seeded);
    assert.equal(s7.bootstrap.seed, 7);
    assert.deepEqual(s7.tasks[0].lambdas, strip(OUT).tasks[0].lambdas);
    assert.notDeepEqual(s7.tasks[0].spearman, strip(OUT).tasks[0].spearman);
  });

  test('an earlier compare folder is replaced; a folder of the user\'s is not', () => {
    assert.equal(repgeom(['compare', ...ALL, '--out', OUT]).status, 0);
    const mine = path.join(dir, 'mine');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'notes.txt'), 'x');
    expectUserError(repgeom(['compare', ...ALL, '--out', mine]), /--out .*mine: the folder exists and is not only a repgeom compare folder \(it holds notes\.txt\)/);
    assert.equal(fs.readFileSync(path.join(mine, 'notes.txt'), 'utf8'), 'x');
  });

  test('every chart compiles and renders without a Vega warning', async () => {
    const loaded = runFoldersOf(ALL).map(readRun);
    const c = buildComparison({ version: 'test', inputs: ALL, byTask: false, runs: loaded.map((l) => l.record), bootstrap: DEFAULT_BOOTSTRAP });
    const { charts, skipped } = taskCharts(c.tasks[0], c.runs, new Map(loaded.map((l) => [l.record.folder, l.curve])));
    assert.deepEqual(charts.map((x) => x.id), ['sst2-metric-vs-lambda', 'sst2-isoscore-vs-metric', 'sst2-isoscore-layers', 'sst2-twonn-layers', 'sst2-loss', 'sst2-batch-isoscore']);
    assert.deepEqual(skipped, []);
    for (const chart of charts) {
      const warnings: string[] = [];
      const svg = await renderSvg(chart.spec, { onWarning: (w) => warnings.push(w), idPrefix: chart.id });
      assert.deepEqual(warnings, [], chart.id);
      assert.match(svg, /^<svg/);
    }
    // The training curves: every logged step of every run (fewer than 500 here), the unfinished run's too.
    const loss = charts.find((x) => x.id === 'sst2-loss')!.spec as unknown as { data: { values: { run: string; step: number; value: number }[] } };
    const want = ALL.flatMap((r) => jsonl(path.join(r, 'log.jsonl')).map((l) => ({ run: r, step: l.step, value: l.loss })));
    assert.deepEqual(loss.data.values.map(({ run, step, value }) => ({ run, step, value })), want);
  });

  test('the page renders every chart in headless Chromium with no console error', async (t) => {
    const html = fs.readFileSync(path.join(OUT, 'index.html'), 'utf8');
    const figures = html.match(/<figure class="chart"/g)?.length ?? 0;
    assert.equal(figures, 6, 'metric vs λ, IsoScore⋆ vs metric, IsoScore⋆ and TwoNN per layer, loss, batch IsoScore⋆');
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
    if (!findChromium()) { t.skip('chromium not installed'); return; }
    const result = await checkHtmlInChromium(path.join(OUT, 'index.html'));
    assert.equal(result.svgCount, figures);
    assert.deepEqual(result.consoleErrors, []);
    assert.deepEqual(result.externalRequests, []);
  });
});

describe('compare: sweep folders', () => {
  test('a sweep folder gives its runs in sweep.json\'s order; a run not started is listed as unfinished', () => {
    const out = path.join(dir, 'from-sweep');
    const r = repgeom(['compare', SWEEP, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const rows = csvRows(path.join(out, 'runs.csv'));
    assert.deepEqual(rows.map((x) => path.basename(x.folder)), ['d', 'c', 'b', 'a', 'u', 'e']);
    const e = rows[5];
    assert.deepEqual([e.status, e.lambda, e.seed, e.value], ['unfinished', '7', '3', '']);
    const c = readJson(path.join(out, 'compare.json'));
    assert.deepEqual(c.unfinished.map((f: string) => path.basename(f)), ['u', 'e']);
    // The statistics are those of the same runs given one by one.
    const direct = readJson(path.join(dir, 'out', 'compare.json'));
    assert.deepEqual(c.tasks[0].spearman.isoscoreStar.mean.value, direct.tasks[0].spearman.isoscoreStar.mean.value);
  });

  test('without sweep.json, the run folders inside a folder are taken', () => {
    const plain = path.join(dir, 'plain');
    fs.mkdirSync(plain);
    lightCopy(runDir('a'), path.join(plain, 'x'));
    lightCopy(runDir('b'), path.join(plain, 'y'));
    const out = path.join(dir, 'from-plain');
    const r = repgeom(['compare', plain, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const rows = csvRows(path.join(out, 'runs.csv'));
    assert.deepEqual(rows.map((x) => [path.basename(x.folder), x.status, x.value]),
      [['x', 'finished', String(lastEval(runDir('a')).metrics.accuracy)], ['y', 'finished', String(lastEval(runDir('b')).metrics.accuracy)]]);
    const c = readJson(path.join(out, 'compare.json'));
    assert.equal(c.tasks[0].spearman.isoscoreStar.mean.value, null);
    assert.match(c.tasks[0].spearman.isoscoreStar.mean.reason, /2 finished runs .*at least 3/);
  });
});

describe('compare: tasks', () => {
  const RTE = path.join(dir, 'tasks', 'rte-run');
  before(() => lightCopy(runDir('a'), RTE, (j) => { j.options.task = 'rte'; }));

  test('runs of several tasks without --by-task: exit 2 naming the tasks', () => {
    expectUserError(repgeom(['compare', runDir('a'), runDir('b'), RTE, '--out', path.join(dir, 'mixed')]), /several tasks \(sst2, rte\).*--by-task/);
    assert.ok(!fs.existsSync(path.join(dir, 'mixed')));
  });

  test('--by-task compares each task on its own', () => {
    const out = path.join(dir, 'by-task');
    const r = repgeom(['compare', ...ALL, RTE, '--by-task', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const c = readJson(path.join(out, 'compare.json'));
    assert.deepEqual(c.tasks.map((t: { task: string }) => t.task), ['sst2', 'rte']);
    assert.equal(c.tasks[0].spearman.isoscoreStar.mean.value, readJson(path.join(dir, 'out', 'compare.json')).tasks[0].spearman.isoscoreStar.mean.value);
    assert.equal(c.tasks[1].finishedRuns, 1);
    assert.match(c.tasks[1].pearson.twoNN.mean.reason, /1 finished run with a value; a correlation needs at least 3/);
    assert.match(r.stdout, /^rte \(accuracy, 1 finished run\):/m);
    assert.match(fs.readFileSync(path.join(out, 'index.html'), 'utf8'), /<section id="task-rte">/);
  });

  test('I-STAR and CosReg runs with the same settings compare together, each regularizer\'s own options recorded', () => {
    const cos = path.join(dir, 'cos', 'run');
    lightCopy(runDir('a'), cos, (j) => {
      Object.assign(j.options, { reg: 'cosreg', lambda: 2, regLayers: [2] });
      for (const k of ['zeta', 'c0Sample', 'istarIncludePadding']) delete j.options[k];
    });
    const out = path.join(dir, 'istar-cosreg');
    const r = repgeom(['compare', ...ALL, cos, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const t = readJson(path.join(out, 'compare.json')).tasks[0];
    assert.deepEqual(t.settings.regularizers, { istar: { zeta: 0.2, c0Sample: 200, istarIncludePadding: false }, cosreg: { regLayers: [2] } });
    assert.ok(t.lambdas.some((l: { label: string }) => l.label === 'cosreg λ=2'));
  });

  test('runs without a regularizer: a note for the batch IsoScore⋆ plot, which has no data', () => {
    const none = path.join(dir, 'none-run');
    train(none, ['--epochs', '1']);
    const out = path.join(dir, 'none-out');
    const r = repgeom(['compare', none, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    assert.match(html, /<strong>Batch IsoScore⋆ during training<\/strong>: No run logged a batch IsoScore⋆ \(only runs with --reg istar do\)/);
    assert.equal(html.match(/<figure class="chart"/g)?.length, 5);
    assert.match(r.stdout, /none +\S+ ± — +\(n = 1\)/);
  });
});

describe('compare: bad inputs (one line, exit 2)', () => {
  const out = path.join(dir, 'bad-out');

  test('a missing folder', () => {
    expectUserError(repgeom(['compare', path.join(dir, 'nope'), '--out', out]), /nope: no such folder; give a run folder/);
  });

  test('a folder that is neither a run nor a sweep folder', () => {
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'readme.txt'), 'x');
    expectUserError(repgeom(['compare', empty, '--out', out]), /empty: not a run folder \(no run\.json\) nor a sweep folder/);
  });

  test('--out equal to an input folder, inside one, or holding one', () => {
    expectUserError(repgeom(['compare', runDir('a'), '--out', runDir('a')]), /--out .*sweep\/a: the compare folder would overlap the input .*sweep\/a; choose another --out/);
    expectUserError(repgeom(['compare', SWEEP, '--out', path.join(SWEEP, 'cmp')]), /--out .*sweep\/cmp: the compare folder would overlap the input .*sweep; choose another --out/);
    // The output may not hold the runs either (replacing it would remove them).
    expectUserError(repgeom(['compare', runDir('a'), '--out', dir]), /--out .*: the compare folder would overlap the input .*sweep\/a; choose another --out/);
    assert.ok(!fs.existsSync(path.join(SWEEP, 'cmp')));
  });

  test('a corrupt eval.jsonl: the file and the line are named', () => {
    const broken = path.join(dir, 'broken');
    lightCopy(runDir('a'), broken);
    fs.writeFileSync(path.join(broken, 'eval.jsonl'), '{"epoch": 1, "step": 2, "metr');
    expectUserError(repgeom(['compare', broken, runDir('b'), '--out', out]), /broken\/eval\.jsonl: line 1 is not JSON/);
    assert.ok(!fs.existsSync(out));
  });

  test('a pretraining run, and a sweep.json without runs', () => {
    const pre = path.join(dir, 'pre');
    lightCopy(runDir('a'), pre, (j) => { j.command = 'pretrain'; });
    expectUserError(repgeom(['compare', pre, '--out', out]), /pre\/run\.json: not a run of repgeom train \(command "pretrain"\); compare takes fine-tuning runs/);
    const sweep = path.join(dir, 'empty-sweep');
    fs.mkdirSync(sweep);
    fs.writeFileSync(path.join(sweep, 'sweep.json'), '{"command": "sweep", "options": {}, "runs": []}');
    expectUserError(repgeom(['compare', sweep, '--out', out]), /empty-sweep\/sweep\.json: has no list `runs`/);
    // Not a sweep.json at all: the sweep module's reader refuses it (its wording is the sweep's).
    fs.writeFileSync(path.join(sweep, 'sweep.json'), '{"runs": [');
    expectUserError(repgeom(['compare', sweep, '--out', out]), /empty-sweep\/sweep\.json: /);
  });

  test('runs trained with other settings: two one-run sweeps differing only in --lr are refused, naming it', () => {
    const [a, b] = [path.join(dir, 'lr', 'sweepA'), path.join(dir, 'lr', 'sweepB')];
    lightCopy(runDir('a'), path.join(a, 'run'));
    lightCopy(runDir('b'), path.join(b, 'run'), (j) => { j.options.lr = 2e-5; });
    expectUserError(repgeom(['compare', a, b, '--out', out]),
      /^repgeom: the sst2 runs were trained with different settings \(--lr\): --lr 0\.001 in .*lr\/sweepA\/run, 0\.00002 in .*lr\/sweepB\/run; their metrics do not pool, so compare them separately/);
    assert.ok(!fs.existsSync(out));
    // Each alone compares.
    assert.equal(repgeom(['compare', b, '--out', path.join(dir, 'lr', 'cmp-b')]).status, 0);
  });

  test('the same run twice (a copy under another folder) is refused', () => {
    const copy = path.join(dir, 'copy-of-a');
    lightCopy(runDir('a'), copy);
    expectUserError(repgeom(['compare', runDir('a'), copy, '--out', out]), /sweep\/a and .*copy-of-a are the same run \(istar λ=-1, seed 0, same settings\)/);
  });

  test('a bad --seed', () => {
    expectUserError(repgeom(['compare', runDir('a'), '--out', out, '--seed', 'x']), /--seed: "x" is not a number/);
    expectUserError(repgeom(['compare', runDir('a'), '--out', out, '--seed=-1']), /--seed/);
  });

  test('no inputs', () => {
    expectUserError(repgeom(['compare', '--out', out]), /compare needs one or more run or sweep folders/);
  });
});
