/**
 * `repgeom intrinsic-dim` end to end on tiny-bert-mlm and the first rows of SST-2: the folder's
 * contract (../shared/tools/check-output-folder.py), the measured baseline (a `train` run folder)
 * and the d90 decision when it sits at chance, a grid and a search with a given baseline, resume
 * after Ctrl-C (finished probes are never rerun; the same result), the page in headless
 * Chromium, and every bad input (one line, exit 2).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { expectUserError, interruptWhen, repgeom } from './helpers/cli.js';
import { SHARED } from './helpers/fixtures.js';
import { checkHtmlInChromium, findChromium } from '../src/report/chromium-check.js';
import { decideD90 } from '../src/subspace/d90.js';

const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const SST2 = path.resolve(SHARED, 'data', 'glue', 'SST-2');
const CHECKER = path.resolve(SHARED, 'tools', 'check-output-folder.py');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-id-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// 64 rows, batch 32: 2 steps per probe. The first 32 dev rows hold 18 positives: chance 0.5625.
const base = ['intrinsic-dim', '--model', TINY, '--task', 'sst2', '--data', SST2, '--train-limit', '64', '--eval-limit', '32',
  '--max-length', '16', '--epochs', '1', '--seeds-per-probe', '1'];
const run = (out: string, extra: string[]) => repgeom([...base, ...extra, '--out', out]);
const json = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8'));
const jsonl = (p: string) => fs.readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

function checkFolder(kind: string, out: string): void {
  const r = spawnSync('python3', [CHECKER, kind, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

const RESULT_KEYS = ['d90', 'interval', 'baseline', 'threshold', 'chance', 'method', 'projection', 'probes'];

describe('intrinsic-dim: a measured baseline at chance', () => {
  const out = path.join(dir, 'measured');
  test('the baseline is a train run folder; 0.9 × baseline ≤ chance gives d90 null with the reason, exit 0, no probes', () => {
    const r = run(out, ['--method', 'did', '--dims=16,64']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /about 2 probe runs × 2 steps × [\d.]+ s ≈ .* \(\+ baseline 2 steps × [\d.]+ s/);
    checkFolder('intrinsic-dim', out);
    checkFolder('train', path.join(out, 'baseline'));
    const res = json(path.join(out, 'result.json'));
    for (const k of RESULT_KEYS) assert.ok(k in res, k);
    assert.equal(res.chance, 18 / 32);
    assert.equal(res.baselineSource, 'measured');
    // The baseline is the final evaluation of the baseline run.
    const evals = jsonl(path.join(out, 'baseline', 'eval.jsonl'));
    assert.equal(res.baseline, evals[evals.length - 1].metrics.accuracy);
    assert.equal(res.threshold, 0.9 * res.baseline);
    assert.ok(res.threshold <= res.chance, `this tiny budget gives a baseline at chance (${res.baseline})`);
    assert.equal(res.d90, null);
    assert.match(res.reason, /at or below chance/);
    assert.deepEqual(res.probes, []);
    assert.ok(!fs.existsSync(path.join(out, 'probes.jsonl')));
    assert.match(r.stderr, /d90: null \(.*at or below chance/);
  });
});

describe('intrinsic-dim: grid and search with a given baseline', () => {
  const grid = path.join(dir, 'grid');
  test('grid --dims=16,64 (DID, one seed, two learning rates): one probe line per (d, seed) with its best lr; the folder and page', async () => {
    const r = run(grid, ['--method', 'did', '--dims=64,16', '--baseline', '0.7', '--lrs=1e-2,1e-1']);
    assert.equal(r.status, 0, r.stderr);
    checkFolder('intrinsic-dim', grid);
    assert.ok(!fs.existsSync(path.join(grid, 'baseline')), 'a given baseline runs no fine-tuning');
    assert.match(r.stderr, /probe 1: d=16 seed 0 lr 1e-2: accuracy [\d.]+ \(threshold 0\.6300\) in \d+ s/);
    assert.match(r.stderr, /probe 2: d=64 seed 0 lr 1e-1: accuracy/);
    const lines = jsonl(path.join(grid, 'probes.jsonl'));
    assert.deepEqual(lines.map((l) => [l.d, l.seed]), [[16, 0], [64, 0]]);
    for (const l of lines) {
      assert.deepEqual(l.lrScores.map((s: { lr: number }) => s.lr), [0.01, 0.1]);
      assert.equal(l.score, Math.max(...l.lrScores.map((s: { score: number }) => s.score)));
      assert.equal(l.lr, l.lrScores.find((s: { score: number }) => s.score === l.score).lr);
      assert.equal(l.steps, 4);
      // Scores are accuracies on 32 rows.
      assert.ok(Number.isInteger(l.score * 32));
    }
    const res = json(path.join(grid, 'result.json'));
    assert.deepEqual(res.probes, lines.map((l) => ({ d: l.d, seed: l.seed, score: l.score, lr: l.lr })));
    assert.equal(res.baseline, 0.7);
    assert.ok(Math.abs(res.threshold - 0.63) < 1e-12);
    assert.deepEqual(res.projection, { mode: 'fastfood', publicCodeSizing: false, gradientScaleOneOverL: false, seeds: res.projection.seeds });
    assert.equal(res.budget.stepsPerProbe, 2);
    assert.equal(typeof res.parameters, 'number');
    // The decision is decideD90's on these scores (so far every tiny probe stays below 0.63: null).
    const expected = decideD90(lines.map((l) => ({ d: l.d, seed: l.seed, score: l.score })), { baseline: 0.7, chance: 18 / 32 });
    assert.equal(res.d90, expected.d90);
    assert.equal(res.reason, expected.reason);
    assert.deepEqual(res.decision.curve, expected.curve);
    const csv = fs.readFileSync(path.join(grid, 'probes.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'd,seed,score,lr,steps,seconds,lr_scores');
    assert.deepEqual(csv.slice(1).map((l) => l.split(',').slice(0, 4).map(Number)), lines.map((l) => [l.d, l.seed, l.score, l.lr]));
    const html = fs.readFileSync(path.join(grid, 'index.html'), 'utf8');
    assert.match(html, /<svg/);
    assert.match(html, /subspace dimension d \(log scale\)/);
    for (const s of ['threshold (0.9 × baseline)', 'chance (best constant prediction)', 'baseline (full fine-tuning)', 'smoothed mean over seeds']) assert.ok(html.includes(s), s);
    assert.doesNotMatch(html, /<script/);
  });

  test('the same command on the finished folder reruns no probe and writes the same result', () => {
    const before = fs.readFileSync(path.join(grid, 'probes.jsonl'), 'utf8');
    const res = json(path.join(grid, 'result.json'));
    const r = run(grid, ['--method', 'did', '--dims=64,16', '--baseline', '0.7', '--lrs=1e-2,1e-1']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /probe \d+:/);
    assert.equal(fs.readFileSync(path.join(grid, 'probes.jsonl'), 'utf8'), before);
    const again = json(path.join(grid, 'result.json'));
    delete res.timing; delete again.timing;
    assert.deepEqual(again, res);
  });

  test('a probes.jsonl line that is JSON but not a probe (found by fuzzing: a crash writing probes.csv) is one line naming it; the folder is left as it was', () => {
    const copy = path.join(dir, 'damaged-probes');
    fs.cpSync(grid, copy, { recursive: true });
    const probes = path.join(copy, 'probes.jsonl');
    const lines = fs.readFileSync(probes, 'utf8').split('\n');
    lines[1] = lines[1].replace('"lrScores"', '"rScores"');
    fs.writeFileSync(probes, lines.join('\n'));
    const before = fs.readFileSync(probes, 'utf8');
    const r = run(copy, ['--method', 'did', '--dims=64,16', '--baseline', '0.7', '--lrs=1e-2,1e-1']);
    expectUserError(r, /damaged-probes\/probes\.jsonl line 2: not a finished probe \(lrScores is not a list of \{lr, score\}\); delete that line to run its probe again/);
    assert.equal(fs.readFileSync(probes, 'utf8'), before);
  });

  test('a probes.jsonl probe outside the command\'s grid, or twice, is one line naming it (it would enter the decision)', () => {
    const cmd = ['--method', 'did', '--dims=64,16', '--baseline', '0.7', '--lrs=1e-2,1e-1'];
    for (const [name, edit, pattern] of [
      ['other-d', (ls: string[]) => { ls[0] = ls[0].replace(/"d":\d+/, '"d":17'); }, /probes\.jsonl: probe 1 \(d=17 seed 0\) is not one this command runs \(--dims 64,16, --seeds-per-probe 1\); delete that line/],
      ['other-seed', (ls: string[]) => { ls[1] = ls[1].replace(/"seed":0/, '"seed":3'); }, /probes\.jsonl: probe 2 \(d=\d+ seed 3\) is not one this command runs/],
      ['twice', (ls: string[]) => { ls[1] = ls[0]; }, /probes\.jsonl: probe 2 \(d=\d+ seed 0\) is there twice; delete one of its lines/],
    ] as const) {
      const copy = path.join(dir, `probes-${name}`);
      fs.cpSync(grid, copy, { recursive: true });
      const probes = path.join(copy, 'probes.jsonl');
      const lines = fs.readFileSync(probes, 'utf8').split('\n');
      edit(lines);
      fs.writeFileSync(probes, lines.join('\n'));
      const before = fs.readFileSync(probes, 'utf8');
      expectUserError(run(copy, cmd), pattern);
      assert.equal(fs.readFileSync(probes, 'utf8'), before);
    }
  });

  test('Ctrl-C after the first probe (exit 130, says so), then the same command: that probe is kept, the rest run, the result equals an uninterrupted run', async () => {
    const out = path.join(dir, 'killed');
    const args = [...base, '--method', 'did', '--dims=64,16', '--baseline', '0.7', '--lrs=1e-2,1e-1', '--out', out];
    const probes = path.join(out, 'probes.jsonl');
    const killed = await interruptWhen(args, () => fs.existsSync(probes) && fs.readFileSync(probes, 'utf8').trim().split('\n').length >= 1, 'SIGINT');
    assert.equal(killed.code, 130, killed.stderr);
    assert.match(killed.stderr, /interrupted: 1 finished probe\(s\) kept in .*probes\.jsonl; run the same command to continue/);
    assert.deepEqual(fs.readdirSync(out).filter((n) => n.includes('.tmp')), [], 'no temporaries left');
    const first = fs.readFileSync(probes, 'utf8');
    assert.equal(first.trim().split('\n').length, 1, 'killed after one probe');
    assert.ok(!fs.existsSync(path.join(out, 'result.json')));
    const r = repgeom(args);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /probe \d+: d=16/, 'the finished probe is not rerun');
    assert.match(r.stderr, /probe 2: d=64 seed 0/);
    const lines = fs.readFileSync(probes, 'utf8');
    assert.ok(lines.startsWith(first), 'the finished probe\'s line is kept as it was');
    checkFolder('intrinsic-dim', out);
    const a = json(path.join(out, 'result.json')), b = json(path.join(grid, 'result.json'));
    delete a.timing; delete b.timing;
    assert.deepEqual(a, b);
  });

  test('search (SAID, --max-dim 128): the ladder m + 1, powers of two, max-dim; nothing reaches → null', () => {
    const out = path.join(dir, 'search');
    // 32 training rows: one step per probe.
    const r = repgeom([...base.map((a) => (a === '64' ? '32' : a)), '--method', 'said', '--search', '--max-dim', '128', '--baseline', '0.7', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    checkFolder('intrinsic-dim', out);
    const res = json(path.join(out, 'result.json'));
    assert.equal(res.m, 41);
    assert.deepEqual(res.search, { mode: 'search', minDim: 42, maxDim: 128, tolerance: 0.1, seedsPerProbe: 1 });
    const ds = res.probes.map((p: { d: number }) => p.d);
    if (res.d90 === null) assert.deepEqual(ds, [42, 64, 128]);
    else assert.ok(ds.includes(res.d90));
    assert.equal(res.method, 'said');
  });

  test('search with --min-dim: the ladder starts there (DID, 100 → 128 → --max-dim 200)', () => {
    const out = path.join(dir, 'search-min');
    const r = repgeom([...base.map((a) => (a === '64' ? '32' : a)), '--method', 'did', '--search', '--min-dim', '100', '--max-dim', '200', '--baseline', '0.7', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const res = json(path.join(out, 'result.json'));
    assert.deepEqual(res.search, { mode: 'search', minDim: 100, maxDim: 200, tolerance: 0.1, seedsPerProbe: 1 });
    const ds = res.probes.map((p: { d: number }) => p.d);
    assert.ok(ds.every((d: number) => d >= 100), `no probe below --min-dim: ${ds}`);
    if (res.d90 === null) assert.deepEqual(ds, [100, 128, 200]);
  });

  test('the page renders in headless Chromium: one SVG chart, no console error, no request', async (t) => {
    if (!findChromium()) { t.skip('chromium not installed'); return; }
    const result = await checkHtmlInChromium(path.join(grid, 'index.html'));
    assert.equal(result.svgCount, 1);
    assert.deepEqual(result.consoleErrors, []);
    assert.deepEqual(result.externalRequests, []);
  });
});

describe('intrinsic-dim: bad input (one line, exit 2)', () => {
  const bad = (extra: string[], pattern: RegExp, out = path.join(dir, 'never')) => {
    expectUserError(run(out, extra), pattern);
    assert.ok(!fs.existsSync(path.join(dir, 'never')), 'nothing written');
  };
  test('d ≤ 0, d beyond the parameter count, SAID with d ≤ m', () => {
    bad(['--method', 'did', '--dims=0,16'], /--dims=0,16: '0' is not an integer ≥ 1; e.g. --dims=10,100,1000$/);
    bad(['--method', 'did', '--dims=999999999'], /d = 999999999 exceeds the \d+ trainable parameters; use d ≤ \d+/);
    bad(['--method', 'said', '--dims=41,100'], /SAID needs d > m = 41 .* got d = 41; use d ≥ 42 or --method did/);
    bad(['--method', 'did', '--search', '--max-dim', '999999999'], /--max-dim 999999999 exceeds the \d+ trainable parameters/);
    bad(['--method', 'said', '--search', '--min-dim', '41'], /--min-dim 41: SAID needs d > m = 41/);
    bad(['--method', 'did', '--dims=16', '--min-dim', '8'], /--min-dim applies to --search only/);
    bad(['--method', 'did', '--search', '--min-dim', '300', '--max-dim', '200'], /--min-dim 300 is above --max-dim 200/);
  });
  test('a dense projection too big names its size; filters that select no tensor', () => {
    bad(['--method', 'did', '--projection', 'dense', '--dims=1000000'], /dense projection: d × D × 4 bytes = 1000000 × \d+ × 4 = [\d.]+ GiB would not fit .* use --projection fastfood/);
    bad(['--method', 'did', '--dims=16', '--include=no_such_tensor'], /--include=no_such_tensor select none of the model's \d+ tensors/);
    bad(['--method', 'did', '--dims=16', '--exclude=*'], /--exclude=\* select none/);
  });
  test('--baseline at or below chance; --dims with --search, or neither; --lr with --lrs', () => {
    bad(['--method', 'did', '--dims=16', '--baseline', '0.5625'], /--baseline 0\.5625 is at or below chance \(0\.5625, the accuracy of the best constant prediction/);
    bad(['--method', 'did', '--dims=16', '--search'], /--dims and --search exclude each other/);
    bad(['--method', 'did'], /give --dims=10,100,1000 \(a grid\) or --search/);
    bad(['--method', 'did', '--dims=16', '--lr', '0.1', '--lrs=0.1,0.2'], /--lr and --lrs exclude each other/);
  });
  test('--dims and --lrs lists: a non-number, an empty item, a repeat (the examples are valid lists)', () => {
    bad(['--method', 'did', '--dims=abc'], /^repgeom: --dims=abc: 'abc' is not an integer ≥ 1; e.g. --dims=10,100,1000$/);
    bad(['--method', 'did', '--dims=16,016'], /--dims=16,016: 016 repeats 16; give each value once/);
    bad(['--method', 'did', '--dims=16,,64'], /--dims=16,,64: an empty item; give values separated by single commas, e.g. --dims=10,100,1000$/);
    bad(['--method', 'did', '--dims=16', '--lrs=0.01,0.01'], /--lrs=0.01,0.01: 0.01 repeats 0.01; give each value once/);
    bad(['--method', 'did', '--dims=16', '--lrs=0.01,1e-2'], /--lrs=0.01,1e-2: 1e-2 repeats 0.01/);
    bad(['--method', 'did', '--dims=16', '--lrs=0.01,,0.1'], /--lrs=0.01,,0.1: an empty item; give values separated by single commas, e.g. --lrs=1e-2,3e-2,1e-1$/);
    bad(['--method', 'did', '--dims=16', '--lrs=0.01,abc'], /--lrs=0.01,abc: 'abc' is not a finite decimal number ≥ 0; e.g. --lrs=1e-2,3e-2,1e-1$/);
    bad(['--method', 'did', '--dims=16', '--lrs=0,0.1'], /--lrs: every learning rate must be a positive number, got 0,0.1/);
  });

  test('a folder made with other options, or by train', () => {
    const grid = path.join(dir, 'grid');
    assert.ok(fs.existsSync(path.join(grid, 'run.json')), 'the grid test above made it');
    const before = fs.readdirSync(grid).sort();
    expectUserError(run(grid, ['--method', 'did', '--dims=64,16', '--baseline', '0.7', '--lrs=1e-2,3e-2']), /--out .*grid holds an intrinsic-dim folder made with other options: --lrs \[0\.01,0\.1\] \(now \[0\.01,0\.03\]\)/);
    assert.deepEqual(fs.readdirSync(grid).sort(), before);
    // A train run folder is not resumed as one either.
    const trainRun = path.join(dir, 'measured', 'baseline');
    assert.ok(fs.existsSync(path.join(trainRun, 'run.json')), 'the measured-baseline test above made it');
    expectUserError(run(trainRun, ['--method', 'did', '--dims=16']), /holds a train run, not an intrinsic-dim folder; choose another --out/);
  });

  test('a folder another live process works in is refused (its lock), and left as it is', async () => {
    const grid = path.join(dir, 'grid');
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    const gone = new Promise((resolve) => sleeper.on('exit', resolve));
    const lock = path.join(grid, 'run.lock');
    try {
      fs.writeFileSync(lock, JSON.stringify({ host: os.hostname(), pid: sleeper.pid, started: '2026-01-02T03:04:05.000Z' }));
      const before = fs.readFileSync(path.join(grid, 'result.json'), 'utf8');
      expectUserError(run(grid, ['--method', 'did', '--dims=64,16', '--baseline', '0.7', '--lrs=1e-2,1e-1']), new RegExp(`another repgeom process \\(pid ${sleeper.pid} on this host`));
      assert.equal(fs.readFileSync(path.join(grid, 'result.json'), 'utf8'), before);
      assert.ok(fs.existsSync(lock), 'the live lock is left alone');
    } finally {
      sleeper.kill('SIGKILL');
      await gone;
      fs.rmSync(lock, { force: true });
    }
  });
});
