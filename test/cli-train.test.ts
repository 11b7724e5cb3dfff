/**
 * `repgeom train` end to end on tiny-bert-mlm and the first rows of SST-2: the run folder's
 * contract (checked by ../shared/tools/check-output-folder.py), known answers tying the files
 * together (the final weights give predictions.csv's scores, eval.jsonl's accuracy is that of
 * predictions.csv, the logged rates follow the linear schedule), exact resume after SIGKILL and
 * after Ctrl-C (bitwise the same weights and files as an uninterrupted run), and every bad input.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { expectUserError, repgeom, interruptAtCheckpoint, interruptWhen } from './helpers/cli.js';
import { SHARED } from './helpers/fixtures.js';
import { TrainableModel } from '../src/models/trainable.js';
import { loadTokenizer } from '../src/models/tokenizer.js';
import { readDataset } from '../src/io/datasets.js';

const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const SST2 = path.resolve(SHARED, 'data', 'glue', 'SST-2');
const CHECKER = path.resolve(SHARED, 'tools', 'check-output-folder.py');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-train-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// 96 rows, batch 16: 6 steps per epoch, 18 in all; checkpoints close every epoch (step-6, 12, 18).
const base = ['train', '--model', TINY, '--task', 'sst2', '--data', SST2, '--train-limit', '96', '--eval-limit', '40',
  '--epochs', '3', '--batch-size', '16', '--max-length', '32', '--reg', 'istar', '--lambda=-1', '--c0-sample', '300'];
const run = (out: string, extra: string[] = []) => repgeom([...base, ...extra, '--out', out]);
const read = (p: string) => fs.readFileSync(p);
const jsonl = (p: string) => fs.readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

function checkFolder(out: string): void {
  const r = spawnSync('python3', [CHECKER, 'train', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

const interruptAt = (out: string, checkpoint: string, signal: NodeJS.Signals) => interruptAtCheckpoint([...base, '--out', out], out, checkpoint, signal);

const A = path.join(dir, 'a');

describe('train: an uninterrupted run', () => {
  before(() => {
    const r = run(A);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /finished .*18 steps.*accuracy/);
  });

  test('the run folder follows the contract', () => {
    checkFolder(A);
    assert.ok(!fs.existsSync(path.join(A, 'run.lock')), 'the lock is removed at the end');
    assert.deepEqual(fs.readdirSync(path.join(A, 'checkpoints')).sort(), ['step-12', 'step-18', 'step-6']);
    const runJson = JSON.parse(fs.readFileSync(path.join(A, 'run.json'), 'utf8'));
    assert.equal(runJson.seed, 0);
    assert.equal(runJson.options.lambda, -1);
    assert.equal(runJson.options.reg, 'istar');
    assert.equal(typeof runJson.productsBackend, 'string');
    const config = JSON.parse(fs.readFileSync(path.join(A, 'final', 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
    assert.deepEqual(config.id2label, { 0: '0', 1: '1' });
    for (const f of ['tokenizer.json', 'vocab.txt', 'optimizer.safetensors', 'trainer_state.json']) assert.ok(fs.existsSync(path.join(A, 'final', f)), f);
  });

  test('log.jsonl: a line per step, the linear schedule, the batch IsoScore⋆', () => {
    const log = jsonl(path.join(A, 'log.jsonl'));
    assert.deepEqual(log.map((l) => l.step), Array.from({ length: 18 }, (_, i) => i + 1));
    for (const l of log) {
      assert.ok(Math.abs(l.lr - 2e-5 * (1 - (l.step - 1) / 18)) < 1e-15, `lr at step ${l.step}`);
      assert.ok(Math.abs(l.loss - (l.taskLoss + l.regLoss)) < 1e-12);
      // λ = −1: the penalty is −(1 − IsoScore⋆).
      assert.ok(Math.abs(l.regLoss + (1 - l.isoscoreStarBatch)) < 1e-12);
    }
  });

  test('eval.jsonl closes every epoch; its accuracy is that of predictions.csv, whose scores the final weights give', async () => {
    const evals = jsonl(path.join(A, 'eval.jsonl'));
    assert.deepEqual(evals.map((e) => [e.epoch, e.step]), [[1, 6], [2, 12], [3, 18]]);
    for (const e of evals) for (const k of ['isoscoreStar', 'twoNN', 'meanCosine']) assert.equal(e[k].length, 3, k);
    const rows = fs.readFileSync(path.join(A, 'predictions.csv'), 'utf8').trim().split('\n');
    assert.equal(rows[0], 'index,label,prediction,score_0,score_1');
    const parsed = rows.slice(1).map((r) => r.split(',').map(Number));
    assert.equal(parsed.length, 40);
    const dev = readDataset(SST2, { task: 'sst2', split: 'dev', limit: 40 });
    assert.deepEqual(parsed.map((r) => r[1]), dev.labels);
    const right = parsed.filter((r) => r[1] === r[2]).length;
    assert.equal(evals[2].metrics.accuracy, right / 40);
    // The saved final weights reproduce the scores (eval mode, same batches).
    const model = (await TrainableModel.fromCheckpoint(path.join(A, 'final'), { kind: 'classification', labels: 2 })).eval();
    const tok = loadTokenizer(path.join(A, 'final'), { modelType: 'bert', modelVocabSize: model.config.vocabSize });
    const enc = tok.encodeBatch(dev.examples.slice(0, 16), { maxLength: 32, padding: 'longest' });
    const logits = model.forward(enc).logits;
    for (let i = 0; i < 16; i++) {
      for (let k = 0; k < 2; k++) assert.equal(Math.fround(parsed[i][3 + k]), logits[i * 2 + k]);
      assert.equal(parsed[i][2], logits[i * 2 + 1] > logits[i * 2] ? 1 : 0);
    }
  });

  test('the final checkpoint is a model folder repgeom extract reads', () => {
    const r = repgeom(['extract', '--model', path.join(A, 'final'), '--data', SST2, '--limit', '4', '--max-length', '16', '--quiet', '--out', path.join(dir, 'final.arrow')]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.statSync(path.join(dir, 'final.arrow')).size > 0);
  });

  test('the same command on the finished run exits 0 and says so', () => {
    const r = run(A);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /the run is finished \(18 steps\)/);
  });

  test('SIGKILL mid-run, then the same command: the same final weights and files', async () => {
    const B = path.join(dir, 'b');
    const killed = await interruptAt(B, 'step-6', 'SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(!fs.existsSync(path.join(B, 'final')), 'killed before the end');
    // As if killed while writing a checkpoint too: a half-staged folder of a dead process.
    const dead = spawnSync('true').pid!;
    const half = path.join(B, 'checkpoints', `.step-18.tmp-${dead}`);
    fs.mkdirSync(half, { recursive: true });
    fs.writeFileSync(path.join(half, 'model.safetensors'), 'half');
    const lock = JSON.parse(fs.readFileSync(path.join(B, 'run.lock'), 'utf8'));
    assert.equal(lock.host, os.hostname());
    const r = run(B);
    assert.ok(!fs.existsSync(half), 'the dead process\'s staged folder is removed');
    assert.equal(r.status, 0, r.stderr);
    // The killed run's lock: its process is gone, so it is taken over with a warning.
    assert.match(r.stderr, new RegExp(`repgeom: warning: --out .*b: took over the lock run\\.lock of pid ${lock.pid} \\(started ${lock.started}\\), which is no longer running`));
    assert.ok(!fs.existsSync(path.join(B, 'run.lock')));
    assert.match(r.stderr, /resuming .* from .*step-\d+ \(step \d+ of 18\)/);
    checkFolder(B);
    for (const f of ['final/model.safetensors', 'final/optimizer.safetensors', 'eval.jsonl', 'log.jsonl', 'predictions.csv']) {
      assert.ok(read(path.join(A, f)).equals(read(path.join(B, f))), `${f} differs from the uninterrupted run's`);
    }
    fs.rmSync(B, { recursive: true });
  });

  test('Ctrl-C saves a checkpoint and stops; the same command finishes as an uninterrupted run', async () => {
    const C = path.join(dir, 'c');
    const stopped = await interruptAt(C, 'step-6', 'SIGINT');
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /stopped at step (\d+) of 18; checkpoint saved/);
    const step = Number(/stopped at step (\d+)/.exec(stopped.stderr)![1]);
    assert.ok(fs.existsSync(path.join(C, 'checkpoints', `step-${step}`)));
    assert.deepEqual(fs.readdirSync(path.join(C, 'checkpoints')).filter((n) => n.includes('.tmp')), []);
    assert.ok(!fs.existsSync(path.join(C, 'run.lock')), 'a stopped run leaves no lock');
    const r = run(C);
    assert.equal(r.status, 0, r.stderr);
    for (const f of ['final/model.safetensors', 'eval.jsonl', 'log.jsonl', 'predictions.csv']) {
      assert.ok(read(path.join(A, f)).equals(read(path.join(C, f))), `${f} differs from the uninterrupted run's`);
    }
    fs.rmSync(C, { recursive: true });
  });

  describe('the run folder lock: one train process at a time', () => {
    const LOCK = () => path.join(A, 'run.lock');
    const writeLock = (holder: unknown) => fs.writeFileSync(LOCK(), typeof holder === 'string' ? holder : JSON.stringify(holder));

    test('held by a live process on this host: refused naming the pid, the lock left as it is; once that process is gone, taken over', async () => {
      const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
      const gone = new Promise((resolve) => sleeper.on('exit', resolve));
      try {
        const holder = { host: os.hostname(), pid: sleeper.pid, started: '2026-01-02T03:04:05.000Z' };
        writeLock(holder);
        const text = fs.readFileSync(LOCK(), 'utf8');
        expectUserError(run(A), new RegExp(`--out .*a: another repgeom process \\(pid ${sleeper.pid} on this host ${os.hostname()}, started 2026-01-02T03:04:05\\.000Z\\) is writing this folder \\(lock .*run\\.lock\\); wait for it to end or stop it \\(kill ${sleeper.pid}\\), then run the same command again$`));
        assert.equal(fs.readFileSync(LOCK(), 'utf8'), text);
      } finally {
        sleeper.kill('SIGKILL');
        await gone;
      }
      const r = run(A);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`repgeom: warning: --out .*a: took over the lock run\\.lock of pid ${sleeper.pid} \\(started 2026-01-02T03:04:05\\.000Z\\), which is no longer running`));
      assert.match(r.stderr, /the run is finished \(18 steps\)/);
      assert.ok(!fs.existsSync(LOCK()));
      checkFolder(A);
    });

    test('held on another host: refused (its processes cannot be seen from here), saying to wait or delete the lock', () => {
      writeLock({ host: 'gpu-node-17', pid: 4242, started: '2026-01-02T03:04:05.000Z' });
      try {
        expectUserError(run(A), /--out .*a: a repgeom process on host gpu-node-17 \(pid 4242, started 2026-01-02T03:04:05\.000Z\) is writing this folder \(lock .*run\.lock\); wait for it to end, or, if that job is gone, delete .*a\/run\.lock and run the same command again$/);
        assert.ok(fs.existsSync(LOCK()));
      } finally {
        fs.rmSync(LOCK());
      }
    });

    test('a lock that is not a repgeom lock: refused, saying to delete it if nothing writes the folder', () => {
      for (const bad of ['', 'not json', '{"host": "h", "pid": "12", "started": "x"}', '[]']) {
        writeLock(bad);
        try {
          expectUserError(run(A), /--out .*a: the lock .*run\.lock is not a repgeom lock \(\{host, pid, started\}\); if no repgeom process is writing this folder, delete it/);
        } finally {
          fs.rmSync(LOCK());
        }
      }
    });

    test('a new run folder holding only a live lock (its run not started yet): the lock is named, not "not a run folder"', () => {
      const N = path.join(dir, 'locked-new');
      fs.mkdirSync(N);
      fs.writeFileSync(path.join(N, 'run.lock'), JSON.stringify({ host: os.hostname(), pid: process.pid, started: '2026-01-02T03:04:05.000Z' }));
      expectUserError(run(N), new RegExp(`--out .*locked-new: another repgeom process \\(pid ${process.pid} on this host`));
      assert.deepEqual(fs.readdirSync(N), ['run.lock']);
      fs.rmSync(N, { recursive: true });
    });

    test('SIGTERM as soon as the lock is taken: exit 143 and no lock left', async () => {
      const E = path.join(dir, 'term');
      const stopped = await interruptWhen([...base, '--out', E], () => fs.existsSync(path.join(E, 'run.lock')), 'SIGTERM');
      assert.equal(stopped.code, 143, stopped.stderr);
      assert.ok(!fs.existsSync(path.join(E, 'run.lock')), 'the lock is removed on SIGTERM');
      fs.rmSync(E, { recursive: true, force: true });
    });
  });

  test('a resume with other options is refused, naming them', () => {
    expectUserError(run(A, ['--lr', '3e-5', '--seed', '1']), /other options: --lr 0\.00002 \(now 0\.00003\), --seed 0 \(now 1\)/);
  });

  test('labels that do not fit the checkpoint head: refused without --new-head, a new head with it', () => {
    const r = repgeom(['train', '--model', path.join(A, 'final'), '--task', 'stsb', '--data', path.resolve(SHARED, 'data', 'glue', 'STS-B'), '--train-limit', '8', '--out', path.join(dir, 'x')]);
    expectUserError(r, /classifier\.weight' has shape \[2, 128\] but \[1, 128\].*--new-head/);
    assert.ok(!fs.existsSync(path.join(dir, 'x')), 'no run folder left behind');
    const fresh = repgeom(['train', '--model', path.join(A, 'final'), '--task', 'stsb', '--data', path.resolve(SHARED, 'data', 'glue', 'STS-B'), '--train-limit', '8', '--eval-limit', '8', '--epochs', '1', '--max-length', '16', '--new-head', '--quiet', '--out', path.join(dir, 'x')]);
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'x', 'final', 'config.json'), 'utf8')).id2label, { 0: 'LABEL_0' });
  });
});

describe('train: bad input (one line, exit 2)', () => {
  const out = () => path.join(dir, 'bad');
  const cases: [string, () => string[], RegExp][] = [
    ['unknown task', () => ['train', '--model', TINY, '--task', 'mnli', '--data', SST2, '--out', out()], /--task mnli: unknown task; train takes one of sst2/],
    ['λ not finite', () => ['train', '--model', TINY, '--task', 'sst2', '--data', SST2, '--reg', 'istar', '--lambda=inf', '--out', out()], /--lambda: "inf" is not a number/],
    ['ζ outside [0, 1]', () => [...base, '--zeta', '1.5', '--out', out()], /--zeta must be a number in \[0, 1\], got 1\.5/],
    ['ζ not finite', () => [...base, '--zeta', 'nan', '--out', out()], /--zeta: "nan" is not a number/],
    ['--reg istar without --lambda', () => ['train', '--model', TINY, '--task', 'sst2', '--data', SST2, '--reg', 'istar', '--out', out()], /--reg istar needs --lambda/],
    ['--reg cosreg without --lambda', () => ['train', '--model', TINY, '--task', 'sst2', '--data', SST2, '--reg', 'cosreg', '--out', out()], /--reg cosreg needs --lambda/],
    ['--reg-layers without cosreg', () => [...base, '--reg-layers=1', '--out', out()], /--reg-layers applies to --reg cosreg only/],
    ['--data a file', () => ['train', '--model', TINY, '--task', 'sst2', '--data', path.join(SST2, 'dev.tsv'), '--out', out()], /--data .*dev\.tsv: is a file/],
    ['--max-length beyond the positions', () => ['train', '--model', TINY, '--task', 'sst2', '--data', SST2, '--max-length', '600', '--out', out()], /--max-length 600 is larger than the model's 512 positions/],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, () => {
      expectUserError(repgeom(args()), pattern);
      assert.ok(!fs.existsSync(out()), 'nothing written');
    });
  }

  test('a data folder without the train split', () => {
    const data = path.join(dir, 'SST-2');
    fs.mkdirSync(data);
    fs.copyFileSync(path.join(SST2, 'dev.tsv'), path.join(data, 'dev.tsv'));
    expectUserError(repgeom(['train', '--model', TINY, '--task', 'sst2', '--data', data, '--out', out()]), /--data .*SST-2: no train\.tsv in the folder/);
  });

  test('a damaged complete checkpoint is refused by name and left as it is', () => {
    const D = path.join(dir, 'd');
    const args = ['train', '--model', TINY, '--task', 'sst2', '--data', SST2, '--train-limit', '32', '--eval-limit', '8', '--epochs', '2', '--batch-size', '16', '--max-length', '16', '--out', D];
    assert.equal(repgeom(args).status, 0);
    fs.rmSync(path.join(D, 'final'), { recursive: true });
    const weights = path.join(D, 'checkpoints', 'step-4', 'model.safetensors');
    const bytes = read(weights);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(weights, bytes);
    const listing = fs.readdirSync(path.join(D, 'checkpoints')).sort();
    expectUserError(repgeom(args), /checkpoints\/step-4\/model\.safetensors: the checkpoint file was changed or damaged/);
    assert.ok(read(weights).equals(bytes), 'the damaged checkpoint is not overwritten');
    assert.deepEqual(fs.readdirSync(path.join(D, 'checkpoints')).sort(), listing);
    assert.ok(!fs.existsSync(path.join(D, 'final')));
    assert.ok(!fs.existsSync(path.join(D, 'run.lock')), 'a refused run leaves no lock');
  });
});

describe('train: the other tasks, heads and regularizers', () => {
  const small = (task: string, data: string, extra: string[], out: string) => repgeom(['train', '--model', TINY, '--task', task, '--data', path.resolve(SHARED, 'data', 'glue', data),
    '--train-limit', '24', '--eval-limit', '20', '--epochs', '1', '--batch-size', '8', '--max-length', '24', ...extra, '--out', out]);

  test('STS-B: a regression head under CosReg; Pearson and Spearman of predictions.csv', async () => {
    const out = path.join(dir, 'stsb');
    const r = small('stsb', 'STS-B', ['--reg', 'cosreg', '--lambda=1'], out);
    assert.equal(r.status, 0, r.stderr);
    checkFolder(out);
    const { pearson, spearman } = await import('../src/train/task-metrics.js');
    const rows = fs.readFileSync(path.join(out, 'predictions.csv'), 'utf8').trim().split('\n');
    assert.equal(rows[0], 'index,label,prediction,score');
    const parsed = rows.slice(1).map((l) => l.split(',').map(Number));
    const e = jsonl(path.join(out, 'eval.jsonl'))[0];
    assert.deepEqual(Object.keys(e.metrics).sort(), ['pearson', 'spearman']);
    assert.ok(Math.abs(e.metrics.pearson - pearson(parsed.map((p) => p[1]), parsed.map((p) => p[2]))) < 1e-12);
    assert.ok(Math.abs(e.metrics.spearman - spearman(parsed.map((p) => p[1]), parsed.map((p) => p[2]))) < 1e-12);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'final', 'config.json'), 'utf8'));
    assert.equal(config.problem_type, 'regression');
    const log = jsonl(path.join(out, 'log.jsonl'));
    assert.ok(log.every((l) => l.regLoss !== 0 && !('isoscoreStarBatch' in l)));
  });

  test('MRPC without a regularizer: accuracy and F1, no regularizer term', () => {
    const out = path.join(dir, 'mrpc');
    // 24 rows, batch 8: 3 steps; --eval-every 2 adds an evaluation at step 2, --log-every 2 logs steps 2 and 3 (the epoch's end).
    const r = small('mrpc', 'MRPC', ['--eval-every', '2', '--log-every', '2'], out);
    assert.equal(r.status, 0, r.stderr);
    checkFolder(out);
    const evals = jsonl(path.join(out, 'eval.jsonl'));
    assert.deepEqual(evals.map((e) => [e.epoch, e.step]), [[0, 2], [1, 3]]);
    assert.deepEqual(Object.keys(evals[0].metrics).sort(), ['accuracy', 'f1']);
    const log = jsonl(path.join(out, 'log.jsonl'));
    assert.deepEqual(log.map((l) => l.step), [2, 3]);
    assert.ok(log.every((l) => l.regLoss === 0 && l.loss === l.taskLoss));
  });
});
