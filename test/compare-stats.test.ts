/**
 * The statistics of `repgeom compare` on known answers: Spearman (average ranks for ties) and
 * Pearson on hand-computed examples and against SciPy when it is installed, the percentile
 * bootstrap (seeded, skipped resamples counted, [1, 1] for a perfectly monotone relation), the
 * per-λ summaries and the layer averages.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { Rng } from '../src/backend/rng.js';
import { averagedLayers, buildComparison, lambdaSummaries, tasksOf } from '../src/compare/model.js';
import type { RunRecord } from '../src/compare/runs.js';
import { thin } from '../src/compare/runs.js';
import { DEFAULT_BOOTSTRAP, correlation, percentile, sampleStd } from '../src/compare/stats.js';
import { sharedSettings } from '../src/compare/settings.js';
import { taskSpec } from '../src/train/glue-task.js';
import { throwsUser } from './helpers/errors.js';

const close = (a: number, b: number, tol = 1e-12, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

describe('correlations (known answers)', () => {
  test('a perfectly monotone relation: Spearman 1 with interval [1, 1]; Pearson below 1', () => {
    const x = [1, 2, 3, 4, 5, 6], y = [1, 4, 9, 16, 25, 36];
    const s = correlation('spearman', x, y);
    assert.equal(s.value, 1);
    assert.deepEqual(s.interval, [1, 1]);
    assert.equal(s.n, 6);
    // Only resamples of one repeated run are constant: (1/6)^5 of them; none in 1000 draws here.
    assert.ok(s.resamplesSkipped <= 2);
    const p = correlation('pearson', x, y);
    assert.ok(p.value! < 1 && p.value! > 0.95);
    const down = correlation('spearman', x, y.map((v) => -v));
    assert.equal(down.value, -1);
    assert.deepEqual(down.interval, [-1, -1]);
  });

  test('Spearman with ties uses average ranks: x = [1, 2, 2, 3], y = [1, 3, 2, 4] gives 3/√10', () => {
    // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]; Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5 → 4.5/√22.5 = 3/√10.
    close(correlation('spearman', [1, 2, 2, 3], [1, 3, 2, 4]).value!, 3 / Math.sqrt(10), 1e-15);
  });

  test('Pearson: x = 1..5, y = [2, 4, 5, 4, 5] gives 6/√60 = √0.6', () => {
    close(correlation('pearson', [1, 2, 3, 4, 5], [2, 4, 5, 4, 5]).value!, Math.sqrt(0.6), 1e-15);
  });

  test('fewer than 3 runs, or a constant side: null with a reason, no interval', () => {
    const two = correlation('spearman', [1, 2], [3, 4]);
    assert.equal(two.value, null);
    assert.equal(two.interval, null);
    assert.match(two.reason!, /2 finished runs .*at least 3/);
    const flat = correlation('pearson', [1, 2, 3, 4], [0.5, 0.5, 0.5, 0.5]);
    assert.equal(flat.value, null);
    assert.match(flat.reason!, /task metric is the same in every run/);
    assert.match(correlation('spearman', [2, 2, 2], [1, 2, 3]).reason!, /geometry measure is the same/);
  });

  test('percentile interpolates linearly between closest ranks (numpy\'s default)', () => {
    // np.percentile([1, 2, 3, 4], [2.5, 97.5]) = [1.075, 3.925]
    close(percentile([1, 2, 3, 4], 0.025), 1.075, 1e-15);
    close(percentile([1, 2, 3, 4], 0.975), 3.925, 1e-15);
    assert.equal(percentile([7], 0.5), 7);
  });

  test('the bootstrap is the same for the same seed, differs for another, and contains the estimate here', () => {
    const rng = new Rng(5);
    const x = Array.from({ length: 20 }, (_, i) => i), y = x.map((v) => v + 6 * rng.normal());
    const a = correlation('pearson', x, y), b = correlation('pearson', x, y);
    assert.deepEqual(a, b);
    const other = correlation('pearson', x, y, { ...DEFAULT_BOOTSTRAP, seed: 1 });
    assert.equal(other.value, a.value);
    assert.notDeepEqual(other.interval, a.interval);
    assert.ok(a.interval![0] < a.value! && a.value! < a.interval![1], JSON.stringify(a));
    assert.ok(a.interval![0] > 0 && a.interval![1] < 1, 'a clear positive relation: the interval excludes 0 and 1');
  });

  test('resamples with a constant side are skipped and counted (about 1/3 of them for x = [1, 1, 2])', () => {
    // x is constant when all three draws avoid run 3 ((2/3)³ = 8/27) or all are run 3 (1/27): 9/27.
    const c = correlation('spearman', [1, 1, 2], [1, 2, 3]);
    assert.ok(c.resamplesSkipped > 280 && c.resamplesSkipped < 390, String(c.resamplesSkipped));
    assert.notEqual(c.interval, null);
  });

  test('sample standard deviation (n − 1)', () => {
    close(sampleStd([1, 2, 3, 4])!, Math.sqrt(5 / 3), 1e-15);
    assert.equal(sampleStd([3]), null);
  });
});

function scipyAvailable(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import scipy'], { encoding: 'utf8' }).status === 0;
}

test('Spearman and Pearson equal scipy.stats on data with ties', (t) => {
  if (!scipyAvailable()) { t.skip('scipy not installed'); return; }
  const rng = new Rng(11);
  const cases = Array.from({ length: 6 }, (_, k) => {
    const n = 5 + 4 * k;
    // Rounded values give ties on both sides.
    const x = Array.from({ length: n }, () => Math.round(rng.normal() * 3) / 2);
    const y = x.map((v) => Math.round((v + rng.normal()) * 4) / 4);
    return { x, y };
  });
  const script = 'import json,sys\nfrom scipy import stats\nfor c in json.load(sys.stdin):\n  print(json.dumps([stats.spearmanr(c["x"], c["y"])[0], stats.pearsonr(c["x"], c["y"])[0]]))';
  const r = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  r.stdout.trim().split('\n').forEach((line, i) => {
    const [s, p] = JSON.parse(line) as number[];
    close(correlation('spearman', cases[i].x, cases[i].y).value!, s, 1e-12, `case ${i} spearman`);
    close(correlation('pearson', cases[i].x, cases[i].y).value!, p, 1e-12, `case ${i} pearson`);
  });
});

/** run.json options of one setting (what sharedSettings compares); reg, λ and seed vary per run. */
const OPTIONS = { model: 'models/tiny', task: 'sst2', data: 'glue/SST-2', epochs: 1, lr: 1e-3, batchSize: 32, maxLength: 16, trainLimit: 48, evalLimit: 24, evalEvery: null, logEvery: 1, saveEvery: 200 };

const run = (o: Partial<RunRecord>): RunRecord => ({
  folder: 'r', task: 'sst2', reg: 'istar', lambda: 0, seed: 0, options: OPTIONS, status: 'finished', metric: 'accuracy', value: 0.5, metrics: {}, evalStep: 1,
  isoscoreStar: [0.1, 0.2], twoNN: [null, 3], meanCosine: [0.9, 0.8], finalLoss: 0.7, ...o,
});

describe('summaries over runs', () => {
  test('per-λ mean and sample std over finished runs only; none first, then λ ascending', () => {
    const s = lambdaSummaries([
      run({ lambda: 1, seed: 0, value: 0.6 }), run({ lambda: 1, seed: 1, value: 0.8 }), run({ lambda: 1, seed: 2, value: 0.1, status: 'unfinished' }),
      run({ lambda: -1, value: 0.4 }), run({ reg: 'none', lambda: null, value: 0.5 }),
    ]);
    assert.deepEqual(s.map((l) => l.label), ['none', 'λ=-1', 'λ=1']);
    const one = s[2];
    assert.equal(one.n, 2);
    assert.deepEqual(one.seeds, [0, 1]);
    close(one.mean!, 0.7, 1e-15);
    close(one.std!, Math.sqrt(0.02), 1e-15);
    assert.equal(s[1].std, null);
  });

  test('the layer average covers the layers with a value in every run', () => {
    assert.deepEqual(averagedLayers([[null, 1, 2], [0.5, 1, null]]), [1]);
    assert.deepEqual(averagedLayers([[1, 2], [3, 4, 5]]), [0, 1]);
    assert.deepEqual(averagedLayers([]), []);
  });

  test('compare.json correlations: per layer and averaged; unfinished runs are listed and not used', () => {
    const runs = [
      run({ folder: 'a', seed: 0, value: 0.1, isoscoreStar: [0.1, 0.3], twoNN: [null, 5] }),
      run({ folder: 'b', seed: 1, value: 0.2, isoscoreStar: [0.2, 0.2], twoNN: [null, 6] }),
      run({ folder: 'c', seed: 2, value: 0.3, isoscoreStar: [0.3, 0.5], twoNN: [null, 7] }),
      run({ folder: 'u', seed: 3, value: 0.9, isoscoreStar: [0, 0], twoNN: [null, 0], status: 'unfinished' }),
    ];
    const c = buildComparison({ version: 'v', inputs: ['x'], byTask: false, runs, bootstrap: DEFAULT_BOOTSTRAP });
    assert.deepEqual(c.unfinished, ['u']);
    const t = c.tasks[0];
    assert.equal(t.finishedRuns, 3);
    assert.equal(t.unfinishedRuns, 1);
    assert.equal(t.spearman.isoscoreStar.layers[0].value, 1);
    close(t.spearman.isoscoreStar.layers[1].value!, 0.5, 1e-15);
    // means over layers 0, 1: 0.2, 0.2, 0.4 → ranks 1.5, 1.5, 3 against 1, 2, 3: ρ = √3/2.
    assert.deepEqual(t.spearman.isoscoreStar.mean.layers, [0, 1]);
    close(t.spearman.isoscoreStar.mean.value!, Math.sqrt(3) / 2, 1e-15);
    assert.deepEqual(t.pearson.twoNN.mean.layers, [1]);
    close(t.pearson.twoNN.mean.value!, 1, 1e-15);
    assert.equal(t.pearson.twoNN.layers[0].value, null);
    assert.match(t.pearson.twoNN.layers[0].reason!, /0 finished runs/);
  });

  test('runs of several tasks need --by-task', () => {
    const runs = [run({ task: 'sst2' }), run({ task: 'rte' })];
    throwsUser(() => tasksOf(runs, false), /several tasks \(sst2, rte\)/, /--by-task/);
    assert.deepEqual(tasksOf(runs, true), ['sst2', 'rte']);
  });

  test('primary metrics: GLUE\'s headline number per task', () => {
    const want = { sst2: 'accuracy', rte: 'accuracy', qnli: 'accuracy', wnli: 'accuracy', mrpc: 'f1', qqp: 'f1', cola: 'matthews', stsb: 'spearman' };
    for (const [task, metric] of Object.entries(want)) assert.equal(taskSpec(task).primaryMetric, metric, task);
  });

  test('training curves are thinned to at most 500 evenly spaced points, first and last kept', () => {
    const points = Array.from({ length: 1234 }, (_, i) => i);
    const kept = thin(points, 500);
    assert.equal(kept.length, 500);
    assert.equal(kept[0], 0);
    assert.equal(kept.at(-1), 1233);
    assert.deepEqual(thin([1, 2, 3], 500), [1, 2, 3]);
  });
});

describe('pooled runs share their training settings', () => {
  // A run of regularizer `reg` at λ, seed, with `extra` options over OPTIONS (as run.json records them).
  const trained = (folder: string, reg: string, lambda: number | null, seed: number, extra: Record<string, unknown> = {}): RunRecord => {
    const own = reg === 'istar' ? { zeta: 0.2, c0Sample: 250000, istarIncludePadding: false, regLayers: null } : { regLayers: null };
    return run({ folder, reg, lambda, seed, options: { ...OPTIONS, ...own, reg, lambda, seed, ...extra } });
  };

  test('runs that differ only in reg, λ, seed and the evaluation/log/checkpoint cadence pool; the settings are recorded', () => {
    const runs = [
      trained('a', 'istar', -1, 0), trained('b', 'istar', 1, 1, { evalEvery: 5, logEvery: 10, saveEvery: 3 }),
      trained('c', 'cosreg', 1, 0), trained('d', 'none', null, 2),
    ];
    const s = sharedSettings(runs, 'sst2');
    assert.deepEqual(s.options, { model: 'models/tiny', task: 'sst2', data: 'glue/SST-2', epochs: 1, lr: 1e-3, batchSize: 32, maxLength: 16, trainLimit: 48, evalLimit: 24 });
    // Each regularizer's own options, among its runs only (CosReg's layers are not I-STAR's).
    assert.deepEqual(s.regularizers, { istar: { zeta: 0.2, c0Sample: 250000, istarIncludePadding: false }, cosreg: { regLayers: null } });
    const c = buildComparison({ version: 'v', inputs: ['x'], byTask: false, runs, bootstrap: DEFAULT_BOOTSTRAP });
    assert.deepEqual(c.tasks[0].settings, s);
  });

  test('runs trained with another lr are refused, naming the option, both values and both runs', () => {
    const runs = [trained('sweepA/r0', 'istar', 0, 0), trained('sweepA/r1', 'istar', 1, 0), trained('sweepB/r0', 'istar', 0, 1, { lr: 2e-5 })];
    throwsUser(() => sharedSettings(runs, 'sst2'), /^the sst2 runs were trained with different settings \(--lr\): --lr 0\.001 in sweepA\/r0, 0\.00002 in sweepB\/r0; .*compare them separately/);
    throwsUser(() => buildComparison({ version: 'v', inputs: ['x'], byTask: false, runs, bootstrap: DEFAULT_BOOTSTRAP }), /different settings \(--lr\)/);
  });

  test('every differing option is named (model, epochs, max length, limits, an I-STAR ζ among I-STAR runs)', () => {
    const a = trained('a', 'istar', 0, 0);
    const b = trained('b', 'istar', 1, 0, { model: 'models/other', epochs: 3, maxLength: 64, trainLimit: null, zeta: 0.5 });
    throwsUser(() => sharedSettings([a, b], 'rte'), /\(--model, --epochs, --max-length, --train-limit, --zeta\): --model "models\/tiny" in a, "models\/other" in b;/);
    // CosReg's layers differ between CosReg runs: refused too.
    throwsUser(() => sharedSettings([trained('c', 'cosreg', 1, 0), trained('d', 'cosreg', 2, 0, { regLayers: [1, 2] })], 'sst2'), /\(--reg-layers\): --reg-layers null in c, \[1,2\] in d/);
  });

  test('a sweep\'s run not started (no options) is skipped; per task with --by-task, each task has its own settings', () => {
    const planned = run({ folder: 'p', lambda: 7, seed: 3, options: null, status: 'unfinished', value: null });
    assert.equal(sharedSettings([trained('a', 'istar', 0, 0), planned], 'sst2').options.lr, 1e-3);
    const rte = run({ folder: 'r', task: 'rte', options: { ...OPTIONS, task: 'rte', data: 'glue/RTE', lr: 2e-5 } });
    const c = buildComparison({ version: 'v', inputs: ['x'], byTask: true, runs: [trained('a', 'istar', 0, 0), rte], bootstrap: DEFAULT_BOOTSTRAP });
    assert.deepEqual(c.tasks.map((t) => [t.task, t.settings.options.lr, t.settings.options.data]), [['sst2', 1e-3, 'glue/SST-2'], ['rte', 2e-5, 'glue/RTE']]);
  });

  test('the same (regularizer, λ, seed) twice is refused: it would count twice', () => {
    throwsUser(() => sharedSettings([trained('x/a', 'istar', 1, 0), trained('x/b', 'istar', 2, 0), trained('y/a', 'istar', 1, 0)], 'sst2'),
      /^x\/a and y\/a are the same run \(istar λ=1, seed 0, same settings\); it would count twice, so leave one out$/);
    // The same λ and seed under another regularizer is another run.
    assert.doesNotThrow(() => sharedSettings([trained('a', 'istar', 1, 0), trained('b', 'cosreg', 1, 0)], 'sst2'));
  });
});
