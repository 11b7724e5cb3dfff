/**
 * `repgeom sweep` on this machine: a 2 λ × 2 seeds sweep of tiny-bert-mlm on the first rows of
 * SST-2 end to end (sweep.json and every run folder checked by ../shared/tools/check-output-folder.py;
 * each run is exactly the `repgeom train` command sweep.json records: a plain train with those
 * arguments gives bitwise the same files), --jobs 2 bitwise equal to --jobs 1, Ctrl-C and the same
 * command (the finished run skipped, the rest bitwise as uninterrupted), a failing run that does
 * not stop the others, --status, the Slurm script of --dry-run, and every bad input.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { expectUserError, interruptAtCheckpoint, repgeom } from './helpers/cli.js';
import { SHARED } from './helpers/fixtures.js';
import { shellWord } from '../src/train/sweep-slurm.js';

const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const GLUE = path.resolve(SHARED, 'data', 'glue');
const SST2 = path.join(GLUE, 'SST-2');
const CHECKER = path.resolve(SHARED, 'tools', 'check-output-folder.py');
const MAIN = path.resolve(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-sweep-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// 32 rows, batch 16: 2 steps per run.
const tiny = ['--model', TINY, '--train-limit', '32', '--eval-limit', '16', '--max-length', '16', '--epochs', '1', '--batch-size', '16', '--c0-sample', '200'];
const grid = ['sweep', ...tiny, '--task', 'sst2', '--data', SST2, '--reg', 'istar', '--lambdas=-1,1', '--seeds=0,1'];
const FOLDERS = ['sst2_istar_lambda=-1_seed=0', 'sst2_istar_lambda=-1_seed=1', 'sst2_istar_lambda=1_seed=0', 'sst2_istar_lambda=1_seed=1'];
const read = (p: string) => fs.readFileSync(p);
const json = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8'));

function checkFolder(kind: 'sweep' | 'train', out: string): void {
  const r = spawnSync('python3', [CHECKER, kind, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

function sameFiles(a: string, b: string, files = ['eval.jsonl', 'log.jsonl', 'predictions.csv', 'final/model.safetensors']): void {
  for (const f of files) assert.ok(read(path.join(a, f)).equals(read(path.join(b, f))), `${f} of ${b} differs from ${a}`);
}

const A = path.join(dir, 'a');

describe('sweep: local, 2 λ × 2 seeds', () => {
  let first: ReturnType<typeof repgeom>;
  before(() => {
    first = repgeom([...grid, '--out', A]);
    assert.equal(first.status, 0, first.stderr);
  });

  test('one run folder per (λ, seed), in order, each following the train contract; sweep.json lists them', () => {
    checkFolder('sweep', A);
    const s = json(path.join(A, 'sweep.json'));
    assert.equal(s.command, 'sweep');
    assert.equal(typeof s.version, 'string');
    // λ as written (it names the run folders), so a resume spelled otherwise is refused.
    assert.deepEqual(s.options.lambdas, ['-1', '1']);
    assert.deepEqual(s.options.seeds, [0, 1]);
    assert.deepEqual(s.options.tasks, ['sst2']);
    assert.equal(s.options.trainLimit, 32);
    assert.deepEqual(s.runs.map((r: { folder: string }) => r.folder), FOLDERS);
    assert.deepEqual(s.runs.map((r: { index: number; lambda: number; seed: number }) => [r.index, r.lambda, r.seed]), [[0, -1, 0], [1, -1, 1], [2, 1, 0], [3, 1, 1]]);
    for (const r of s.runs) {
      const out = path.join(A, r.folder);
      checkFolder('train', out);
      assert.equal(r.argv[r.argv.indexOf('--out') + 1], out);
      assert.ok(r.argv.includes(`--lambda=${r.lambda}`));
      const run = json(path.join(out, 'run.json'));
      assert.equal(run.options.lambda, r.lambda);
      assert.equal(run.options.seed, r.seed);
      assert.equal(run.options.reg, 'istar');
      assert.equal(run.options.trainLimit, 32);
    }
    assert.deepEqual(fs.readdirSync(A).filter((n) => n.includes('.tmp')), []);
  });

  test('progress: a line per run start and end with its accuracy (that of eval.jsonl), and the sweep line', () => {
    for (const r of json(path.join(A, 'sweep.json')).runs) {
      const accuracy = json(path.join(A, r.folder, 'eval.jsonl')).metrics.accuracy as number;
      const label = `\\[${r.index + 1}/4\\] sst2 istar λ=${r.lambda} seed ${r.seed}`;
      assert.match(first.stderr, new RegExp(`${label}: started`));
      assert.match(first.stderr, new RegExp(`${label}: finished in \\d+ s, accuracy ${accuracy.toFixed(4)}`));
    }
    assert.match(first.stderr, /sweep: 4\/4 runs done, \d+ s elapsed/);
    assert.match(first.stderr, /all 4 runs finished/);
  });

  test('each run is the recorded repgeom train command: a plain train with its arguments gives the same files', () => {
    const s = json(path.join(A, 'sweep.json'));
    const argv: string[] = [...s.runs[1].argv];
    const plain = path.join(dir, 'plain');
    argv[argv.indexOf('--out') + 1] = plain;
    const r = repgeom(['train', ...argv, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    sameFiles(path.join(A, FOLDERS[1]), plain);
  });

  test('--jobs 2 gives bitwise the same runs as one at a time', () => {
    const B = path.join(dir, 'b');
    const r = repgeom([...grid, '--jobs', '2', '--quiet', '--out', B]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    for (const f of FOLDERS) sameFiles(path.join(A, f), path.join(B, f));
  });

  test('the same command again skips the finished runs and exits 0', () => {
    const before = fs.statSync(path.join(A, FOLDERS[0], 'eval.jsonl')).mtimeMs;
    const r = repgeom([...grid, '--out', A]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.stderr.match(/already finished, skipped/g) ?? []).length, 4);
    assert.doesNotMatch(r.stderr, /started/);
    assert.equal(fs.statSync(path.join(A, FOLDERS[0], 'eval.jsonl')).mtimeMs, before);
  });

  test('--status: every run finished, with its accuracy; --format json', () => {
    const r = repgeom(['sweep', '--status', A]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.filter((l) => /\bfinished\b/.test(l) && l.includes('sst2_istar_lambda=')).length, 4);
    assert.match(lines[lines.length - 1], /4 runs: 4 finished$/);
    const j = repgeom(['sweep', '--status', A, '--format', 'json']);
    const report = JSON.parse(j.stdout);
    assert.deepEqual(report.counts, { pending: 0, running: 0, finished: 4, failed: 0, interrupted: 0 });
    assert.deepEqual(report.runs.map((x: { folder: string }) => x.folder), FOLDERS);
    assert.equal(report.runs[2].metrics, `accuracy ${json(path.join(A, FOLDERS[2], 'eval.jsonl')).metrics.accuracy.toFixed(4)}`);
  });

  test('Ctrl-C after the first run: the sweep stops (130); the same command skips it and ends as an uninterrupted sweep', async () => {
    const C = path.join(dir, 'c');
    const args = ['sweep', ...tiny, '--task', 'sst2', '--data', SST2, '--reg', 'istar', '--lambdas=-1,1', '--seeds=0', '--out', C];
    // interruptAtCheckpoint waits for <out>/checkpoints/<name>: here the first run's final/.
    const stopped = await interruptAtCheckpoint(args, path.join(C, FOLDERS[0]), '../final', 'SIGINT');
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /sweep stopped by SIGINT; the same command resumes it/);
    assert.ok(!fs.existsSync(path.join(C, FOLDERS[2], 'final')), 'the second run did not finish');
    const r = repgeom(args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /\[1\/2\] sst2 istar λ=-1 seed 0: already finished, skipped/);
    assert.match(r.stderr, /\[2\/2\] sst2 istar λ=1 seed 0: finished in/);
    checkFolder('sweep', C);
    for (const f of [FOLDERS[0], FOLDERS[2]]) {
      checkFolder('train', path.join(C, f));
      sameFiles(path.join(A, f), path.join(C, f));
    }
  });

  test('a sweep folder made with other options is refused, naming them', () => {
    expectUserError(repgeom([...grid.map((a) => (a === '--seeds=0,1' ? '--seeds=0,1,2' : a)), '--lr', '3e-5', '--out', A]),
      /--out .*a holds a sweep made with other options: --lr 0\.00002 \(now 0\.00003\), --seeds \[0,1\] \(now \[0,1,2\]\)/);
  });
});

describe('sweep: several tasks, failures, Slurm script', () => {
  test('a failing run does not stop the others; the sweep exits 1 naming it and its log; --status says failed', () => {
    // A GLUE root whose RTE folder lacks train.tsv: the rte run fails (train exits 2), sst2 runs.
    const root = path.join(dir, 'glue');
    fs.mkdirSync(path.join(root, 'RTE'), { recursive: true });
    fs.symlinkSync(SST2, path.join(root, 'SST-2'));
    fs.copyFileSync(path.join(GLUE, 'RTE', 'dev.tsv'), path.join(root, 'RTE', 'dev.tsv'));
    const F = path.join(dir, 'f');
    const r = repgeom(['sweep', ...tiny, '--tasks=rte,sst2', '--data', root, '--out', F]);
    assert.equal(r.status, 1, r.stderr);
    const log = path.join(F, 'logs', 'rte_none_seed=0.log');
    const last = r.stderr.trim().split('\n').pop()!;
    assert.equal(last, `repgeom: 1 of 2 runs failed: rte_none_seed=0 (exit status 2, log ${log}); fix the cause and run the same command to retry them`);
    assert.match(r.stderr, /\[2\/2\] sst2 none seed 0: finished in/);
    assert.match(fs.readFileSync(log, 'utf8'), /no train\.tsv in the folder[^]*train exited with status 2\n$/);
    checkFolder('train', path.join(F, 'sst2_none_seed=0'));
    const s = json(path.join(F, 'sweep.json'));
    assert.deepEqual(s.runs.map((x: { task: string; argv: string[] }) => [x.task, x.argv[x.argv.indexOf('--data') + 1]]),
      [['rte', path.join(root, 'RTE')], ['sst2', path.join(root, 'SST-2')]]);
    assert.equal(s.options.lambdas, null);
    const status = JSON.parse(repgeom(['sweep', '--status', F, '--format', 'json']).stdout);
    assert.deepEqual(status.runs.map((x: { state: string }) => x.state), ['failed', 'finished']);
  });

  test('--status while a run goes says running; after the sweep and its run are killed outright, interrupted', async () => {
    const K = path.join(dir, 'k');
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...grid, '--quiet', '--out', K], { stdio: 'ignore' });
    const log = path.join(K, 'logs', `${FOLDERS[0]}.log`);
    const guard = Date.now() + 60_000;
    let pid: number | null = null;
    while (pid === null) {
      assert.ok(Date.now() < guard, 'hang guard: the first run did not start within 60 s');
      const m = fs.existsSync(log) ? /local pid (\d+) started/.exec(fs.readFileSync(log, 'utf8')) : null;
      pid = m ? Number(m[1]) : null;
      if (pid === null) await sleep(20);
    }
    // Frozen, so it is surely still going while --status looks (it loads for a second before its first step).
    process.kill(pid, 'SIGSTOP');
    const alive = (p: number) => { try { process.kill(p, 0); return true; } catch { return false; } };
    const running = JSON.parse(repgeom(['sweep', '--status', K, '--format', 'json']).stdout);
    assert.deepEqual(running.runs.map((x: { state: string }) => x.state), ['running', 'pending', 'pending', 'pending']);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(20);
    const killed = JSON.parse(repgeom(['sweep', '--status', K, '--format', 'json']).stdout);
    assert.equal(killed.runs[0].state, 'interrupted');
    assert.deepEqual(killed.runs.slice(1).map((x: { state: string }) => x.state), ['pending', 'pending', 'pending']);
  });

  test('--tasks with the GLUE root: each task reads its standard folder (QQP-subset for qqp)', () => {
    const G = path.join(dir, 'g');
    const r = repgeom(['sweep', ...tiny, '--tasks=sst2,qqp,rte', '--data', GLUE, '--dry-run', '--out', G]);
    assert.equal(r.status, 0, r.stderr);
    const s = json(path.join(G, 'sweep.json'));
    assert.deepEqual(s.runs.map((x: { folder: string; argv: string[] }) => [x.folder, x.argv[x.argv.indexOf('--data') + 1]]),
      [['sst2_none_seed=0', SST2], ['qqp_none_seed=0', path.join(GLUE, 'QQP-subset')], ['rte_none_seed=0', path.join(GLUE, 'RTE')]]);
    // The printed commands are the recorded ones; nothing ran.
    assert.equal(r.stdout.trim().split('\n').length, 3);
    assert.ok(r.stdout.includes(s.runs[1].argv.join(' ')));
    assert.deepEqual(fs.readdirSync(G).sort(), ['logs', 'sweep.json']);
  });

  test('--executor slurm --dry-run: sweep.sbatch has the array, the resources, and run i\'s command as task i', () => {
    const D = path.join(dir, 'd');
    const r = repgeom([...grid, '--executor', 'slurm', '--dry-run', '--partition', 'debug', '--time', '0:10:00', '--cpus-per-task', '1', '--out', D]);
    assert.equal(r.status, 0, r.stderr);
    const script = path.join(D, 'sweep.sbatch');
    assert.equal(r.stdout, `sbatch --parsable ${script}\n`);
    checkFolder('sweep', D);
    const text = fs.readFileSync(script, 'utf8');
    assert.ok(text.startsWith('#!/bin/bash\n'));
    for (const line of ['#SBATCH --array=0-3', `#SBATCH --output=${path.join(D, 'slurm', '%A_%a.out')}`, '#SBATCH --partition=debug', '#SBATCH --time=0:10:00', '#SBATCH --cpus-per-task=1', '#SBATCH --job-name=repgeom-sweep-d']) {
      assert.ok(text.split('\n').includes(line), line);
    }
    assert.doesNotMatch(text, /--gres/);
    const s = json(path.join(D, 'sweep.json'));
    for (let i = 0; i < 4; i++) {
      // What bash makes of command i: its words, one per line.
      const words = spawnSync('bash', ['-c', `eval "$(sed -n '/^commands=(/,/^)/p' "$1")"; eval "set -- \${commands[${i}]}"; printf '%s\\n' "$@"`, 'x', script], { encoding: 'utf8' });
      assert.equal(words.status, 0, words.stderr);
      assert.deepEqual(words.stdout.trimEnd().split('\n'), [process.execPath, '--import', 'tsx', MAIN, '--threads', '1', 'train', ...s.runs[i].argv]);
    }
    assert.ok(!fs.existsSync(path.join(D, FOLDERS[0])), 'nothing ran');
    assert.equal(s.slurm, undefined);
  });

  test('--executor slurm without sbatch on PATH: one line, suggests --dry-run', () => {
    const empty = path.join(dir, 'empty-path');
    fs.mkdirSync(empty);
    expectUserError(repgeom([...grid, '--executor', 'slurm', '--out', path.join(dir, 'nosb')], { PATH: empty }), /sbatch is not on PATH .*use --dry-run/);
    assert.ok(!fs.existsSync(path.join(dir, 'nosb')));
  });

  test('--jobs above the cores: a warning, capped', () => {
    const r = repgeom([...grid, '--jobs', '4096', '--dry-run', '--out', path.join(dir, 'j')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^repgeom: warning: --jobs 4096 is more than the ${os.availableParallelism()} cores; running ${os.availableParallelism()} at once`));
  });
});

describe('sweep: bad input (one line, exit 2, nothing written)', () => {
  const out = () => path.join(dir, 'bad');
  const base = ['sweep', ...tiny, '--task', 'sst2', '--data', SST2];
  const cases: [string, () => string[], RegExp][] = [
    ['empty --lambdas=', () => [...base, '--reg', 'istar', '--lambdas=', '--out', out()], /--lambdas is empty; give a comma list/],
    ['empty --seeds=', () => [...base, '--seeds=', '--out', out()], /--seeds is empty/],
    ['a non-number in --lambdas', () => [...base, '--reg', 'istar', '--lambdas=-1,abc', '--out', out()], /--lambdas=-1,abc: 'abc' is not a finite decimal number/],
    ['an empty item in --lambdas', () => [...base, '--reg', 'istar', '--lambdas=-1,,1', '--out', out()], /--lambdas=-1,,1: an empty item/],
    ['a seed that is not an integer', () => [...base, '--seeds=0,1.5', '--out', out()], /--seeds=0,1\.5: '1\.5' is not an integer ≥ 0/],
    ['a repeated λ (1 and 1.0)', () => [...base, '--reg', 'istar', '--lambdas=1,-1,1.0', '--out', out()], /--lambdas=1,-1,1\.0: 1\.0 repeats 1; give each value once/],
    ['a repeated seed', () => [...base, '--seeds=2,2', '--out', out()], /--seeds=2,2: 2 repeats 2/],
    ['--lambda with --lambdas', () => [...base, '--reg', 'istar', '--lambda=1', '--lambdas=-1,1', '--out', out()], /give either --lambda=<value> \(one\) or --lambdas=<list>, not both/],
    ['--seed with --seeds', () => [...base, '--seed', '1', '--seeds=0,1', '--out', out()], /give either --seed \(one\) or --seeds=<list>, not both/],
    ['--task with --tasks', () => ['sweep', ...tiny, '--task', 'sst2', '--tasks=sst2,rte', '--data', GLUE, '--out', out()], /give either --task \(one\) or --tasks=… \(several\), not both/],
    ['--lambdas under --reg none', () => [...base, '--lambdas=-1,1', '--out', out()], /--reg none has no λ to sweep/],
    ['--reg istar without λ', () => [...base, '--reg', 'istar', '--out', out()], /--reg istar needs the λ values: give --lambdas=/],
    ['an unknown task', () => ['sweep', ...tiny, '--tasks=sst2,mnli', '--data', GLUE, '--out', out()], /--task mnli: unknown task/],
    ['a task named twice', () => ['sweep', ...tiny, '--tasks=sst2,sst2', '--data', GLUE, '--out', out()], /a task is named twice/],
    ['several tasks and one task folder', () => ['sweep', ...tiny, '--tasks=sst2,rte', '--data', SST2, '--out', out()], /--data .*SST-2: is one task's folder .* but 2 tasks are swept; give the GLUE root/],
    ['a GLUE root without the task', () => ['sweep', ...tiny, '--tasks=sst2,rte', '--data', path.join(dir, 'glue-no-rte'), '--out', out()], /--data .*glue-no-rte: no folder for rte in the GLUE root \(looked for RTE/],
    ['a Slurm flag without --executor slurm', () => [...base, '--partition', 'debug', '--out', out()], /--partition applies to --executor slurm only/],
    ['--jobs 0', () => [...base, '--jobs', '0', '--out', out()], /--jobs must be an integer ≥ 1, got 0/],
    ['no --out', () => [...base], /--out is required/],
    ['--out inside the model folder', () => [...base, '--out', path.join(TINY, 'sweep')], /--out .*: the sweep folder would overlap the input/],
  ];
  before(() => {
    fs.mkdirSync(path.join(dir, 'glue-no-rte'));
    fs.symlinkSync(SST2, path.join(dir, 'glue-no-rte', 'SST-2'));
  });
  for (const [name, args, pattern] of cases) {
    test(name, () => {
      expectUserError(repgeom(args()), pattern);
      assert.ok(!fs.existsSync(out()), 'nothing written');
    });
  }

  test('--out a train run folder', () => {
    const run = path.join(dir, 'run');
    fs.mkdirSync(run);
    fs.writeFileSync(path.join(run, 'run.json'), '{}');
    expectUserError(repgeom([...base, '--out', run]), /--out .*run: is a train run folder \(it has run\.json\), not a sweep folder/);
    assert.deepEqual(fs.readdirSync(run), ['run.json']);
  });

  test('--out a folder with other content', () => {
    const other = path.join(dir, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'notes.txt'), 'mine');
    expectUserError(repgeom([...base, '--out', other]), /--out .*other: the folder exists and is not a repgeom sweep folder \(no sweep\.json\)/);
    assert.deepEqual(fs.readdirSync(other), ['notes.txt']);
  });

  test('--status of a folder that is not a sweep', () => {
    expectUserError(repgeom(['sweep', '--status', dir]), /not a sweep folder \(no sweep\.json\)/);
  });
});

/** Whether `pid` runs (a zombie, killed and not yet reaped, counts as gone). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The pid of the train process the local executor started last for `folder` (polled; a 60 s hang guard). */
async function runPid(out: string, folder: string, after = 0): Promise<number> {
  const log = path.join(out, 'logs', `${folder}.log`);
  const guard = Date.now() + 60_000;
  for (;;) {
    assert.ok(Date.now() < guard, `hang guard: ${folder} did not start within 60 s`);
    const pids = fs.existsSync(log) ? [...fs.readFileSync(log, 'utf8').matchAll(/local pid (\d+) started/g)].map((m) => Number(m[1])) : [];
    if (pids.length > after) return pids[pids.length - 1];
    await sleep(20);
  }
}

describe('sweep: kills, a second Ctrl-C, and how --status tells them apart', () => {
  test('--status from the logs: 137 and 2 are failed (with how they ended), 130 and 143 interrupted (known answers)', () => {
    const H = path.join(dir, 'h');
    const r = repgeom(['sweep', ...tiny, '--task', 'sst2', '--data', SST2, '--seeds=0,1,2,3', '--dry-run', '--out', H]);
    assert.equal(r.status, 0, r.stderr);
    const dead = spawnSync('true').pid!;
    const endings = [137, 2, 130, 143];
    endings.forEach((status, i) => fs.writeFileSync(path.join(H, 'logs', `sst2_none_seed=${i}.log`),
      `repgeom sweep: 2026-01-01T00:00:00.000Z local pid ${dead} started repgeom train ...\nsome output\nrepgeom sweep: train exited with status ${status}\n`));
    const report = JSON.parse(repgeom(['sweep', '--status', H, '--format', 'json']).stdout);
    assert.deepEqual(report.runs.map((x: { state: string; ending: string }) => [x.state, x.ending]), [
      ['failed', 'killed by signal 9 (SIGKILL)'], ['failed', 'exit status 2'], ['interrupted', 'stopped by SIGINT (exit status 130)'], ['interrupted', 'stopped by SIGTERM (exit status 143)']]);
    const table = repgeom(['sweep', '--status', H]);
    assert.match(table.stdout, /failed .*killed by signal 9 \(SIGKILL\)/);
    assert.match(table.stdout, /4 runs: 2 failed, 2 interrupted\n$/);
  });

  test('a run killed with SIGKILL fails (not "stopped"); a second Ctrl-C kills the running run and exits 130 at once; the same command then finishes both', async () => {
    const K = path.join(dir, 'kill');
    const args = ['sweep', ...tiny, '--task', 'sst2', '--data', SST2, '--seeds=0,1', '--out', K];
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    try {
      // Run 0: killed outright, as the OOM killer would.
      process.kill(await runPid(K, 'sst2_none_seed=0'), 'SIGKILL');
      // Run 1: frozen (so it is surely still going), then Ctrl-C twice. Frozen once it holds its
      // lock, so its signal handlers are in place (a stopped process without them dies of SIGINT).
      const second = await runPid(K, 'sst2_none_seed=1');
      const guardLock = Date.now() + 60_000;
      while (!fs.existsSync(path.join(K, 'sst2_none_seed=1', 'run.lock'))) { assert.ok(Date.now() < guardLock, 'hang guard: run 1 took no lock'); await sleep(5); }
      process.kill(second, 'SIGSTOP');
      child.kill('SIGINT');
      while (!stderr.includes('interrupted: 1 running run(s) save a checkpoint')) {
        assert.ok(running(child.pid!), `the sweep ended after one Ctrl-C: ${stderr}`);
        await sleep(20);
      }
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      const guardKill = Date.now() + 30_000;
      while (running(second)) { assert.ok(Date.now() < guardKill, 'hang guard: the run was not killed'); await sleep(20); }
    } finally {
      clearTimeout(guard);
      child.kill('SIGKILL');
    }
    assert.match(stderr, /\[1\/2\] sst2 none seed 0: failed \(killed by signal 9 \(SIGKILL\)\) after \d+ s; see /);
    assert.match(stderr, /interrupted again: killed 1 running run\(s\) with SIGKILL; the same command resumes them/);
    assert.match(fs.readFileSync(path.join(K, 'logs', 'sst2_none_seed=1.log'), 'utf8'), /killed with SIGKILL after a second SIGINT/);
    const status = JSON.parse(repgeom(['sweep', '--status', K, '--format', 'json']).stdout);
    assert.deepEqual(status.runs.map((x: { state: string; ending: string }) => [x.state, x.ending]), [['failed', 'killed by signal 9 (SIGKILL)'], ['interrupted', '']]);
    // The killed runs may have left their run folder's lock: the next train takes it over.
    const r = repgeom(args);
    assert.equal(r.status, 0, r.stderr);
    for (const f of ['sst2_none_seed=0', 'sst2_none_seed=1']) {
      checkFolder('train', path.join(K, f));
      assert.ok(!fs.existsSync(path.join(K, f, 'run.lock')), `${f}: no lock left`);
    }
  });
});

describe('sweep: resume, dry runs and a damaged sweep.json', () => {
  test('λ written another way on resume (1e-3, then 0.001): refused, naming --lambdas and both spellings; sweep.json kept', () => {
    const L = path.join(dir, 'spelling');
    const first = repgeom(['sweep', ...tiny, '--task', 'sst2', '--data', SST2, '--reg', 'istar', '--lambdas=+1,1e-3', '--dry-run', '--out', L]);
    assert.equal(first.status, 0, first.stderr);
    const before = fs.readFileSync(path.join(L, 'sweep.json'), 'utf8');
    assert.deepEqual(JSON.parse(before).options.lambdas, ['+1', '1e-3']);
    assert.deepEqual(JSON.parse(before).runs.map((x: { folder: string }) => x.folder), ['sst2_istar_lambda=+1_seed=0', 'sst2_istar_lambda=1e-3_seed=0']);
    expectUserError(repgeom(['sweep', ...tiny, '--task', 'sst2', '--data', SST2, '--reg', 'istar', '--lambdas=1,0.001', '--dry-run', '--out', L]),
      /--out .*spelling holds a sweep made with other options: --lambdas \["\+1","1e-3"\] \(now \["1","0\.001"\]\); the λ values are the same but written differently, .* so resume with --lambdas=\+1,1e-3 or choose another --out$/);
    assert.equal(fs.readFileSync(path.join(L, 'sweep.json'), 'utf8'), before);
    // The same spelling resumes.
    assert.equal(repgeom(['sweep', ...tiny, '--task', 'sst2', '--data', SST2, '--reg', 'istar', '--lambdas=+1,1e-3', '--dry-run', '--out', L]).status, 0);
  });

  test('local --dry-run prints the commands as they run, with the --threads each run gets', () => {
    const T = path.join(dir, 'threads');
    const r = repgeom(['--threads', '3', ...grid, '--jobs', '1', '--dry-run', '--out', T]);
    assert.equal(r.status, 0, r.stderr);
    const s = json(path.join(T, 'sweep.json'));
    assert.deepEqual(r.stdout.trimEnd().split('\n'),
      s.runs.map((x: { argv: string[] }) => [process.execPath, '--import', 'tsx', MAIN, '--threads', '3', 'train', ...x.argv].map(shellWord).join(' ')));
  });

  test('Slurm --dry-run of a folder with a space and %: the sbatch command shell-quoted, % written %% in --output', () => {
    const P = path.join(dir, 'sw %x');
    const r = repgeom([...grid, '--executor', 'slurm', '--dry-run', '--out', P]);
    assert.equal(r.status, 0, r.stderr);
    const script = path.join(P, 'sweep.sbatch');
    assert.equal(r.stdout, `sbatch --parsable '${script}'\n`);
    // What a shell makes of the printed command: the script's path as one word.
    const words = spawnSync('bash', ['-c', `set -- ${r.stdout.trim()}; printf '%s\\n' "$@"`], { encoding: 'utf8' });
    assert.deepEqual(words.stdout.trimEnd().split('\n'), ['sbatch', '--parsable', script]);
    const lines = fs.readFileSync(script, 'utf8').split('\n');
    assert.ok(lines.includes(`#SBATCH --output='${path.join(dir, 'sw %%x', 'slurm', '%A_%a.out')}'`), lines.join('\n'));
    // sbatch takes a job name as written (no % patterns there).
    assert.ok(lines.includes(`#SBATCH --job-name='repgeom-sweep-sw %x'`));
  });

  describe('a damaged sweep.json: one line naming the file and the entry, for --status and for a resume', () => {
    const good = () => {
      const G = path.join(dir, 'good');
      if (!fs.existsSync(G)) assert.equal(repgeom(['sweep', ...tiny, '--task', 'sst2', '--data', SST2, '--seeds=0,1', '--dry-run', '--out', G]).status, 0);
      return json(path.join(G, 'sweep.json'));
    };
    const cases: [string, (s: { runs: Record<string, unknown>[]; slurm?: unknown }) => unknown, RegExp][] = [
      ['a run without folder', (s) => { delete s.runs[1].folder; }, /runs\[1\]: `folder` must be a folder name inside the sweep folder, got nothing/],
      ['a folder leading out of the sweep folder', (s) => { s.runs[0].folder = '../../etc'; }, /runs\[0\]: `folder` must be a folder name inside the sweep folder, got "\.\.\/\.\.\/etc"/],
      ['an absolute folder', (s) => { s.runs[0].folder = '/etc'; }, /runs\[0\]: `folder` must be a folder name inside the sweep folder, got "\/etc"/],
      ['the sweep folder itself', (s) => { s.runs[1].folder = '..'; }, /runs\[1\]: `folder` must be a folder name inside the sweep folder, got "\.\."/],
      ['a folder twice', (s) => { s.runs[1].folder = s.runs[0].folder; }, /runs\[1\]: `folder` repeats an earlier run's, got "sst2_none_seed=0"/],
      ['an empty entry', (s) => { s.runs[0] = {}; }, /runs\[0\]: `index` must be 0 \(runs are in order\), got nothing/],
      ['a seed as text', (s) => { s.runs[1].seed = '1'; }, /runs\[1\]: `seed` must be an integer ≥ 0, got "1"/],
      ['λ as text', (s) => { s.runs[0].lambda = 'x'; }, /runs\[0\]: `lambda` must be a number or null, got "x"/],
      ['argv not a list', (s) => { s.runs[0].argv = 'train'; }, /runs\[0\]: `argv` must be a list of strings, got "train"/],
      ['an unknown regularizer', (s) => { s.runs[0].reg = 'l2'; }, /runs\[0\]: `reg` must be one of none, istar, cosreg, got "l2"/],
      ['a run that is not an object', (s) => { (s.runs as unknown[])[1] = 7; }, /runs\[1\]: is not an object, got 7/],
      ['Slurm jobs that are not job ids', (s) => { s.slurm = { jobs: ['12; rm -rf ~'] }; }, /slurm: `jobs` must be a list of Slurm job ids, got \["12; rm -rf ~"\]/],
    ];
    for (const [name, damage, pattern] of cases) {
      test(name, () => {
        const D = path.join(dir, `damaged-${name.replace(/\W+/g, '-')}`);
        fs.mkdirSync(path.join(D, 'logs'), { recursive: true });
        const s = good();
        damage(s);
        const text = JSON.stringify(s);
        fs.writeFileSync(path.join(D, 'sweep.json'), text);
        const full = new RegExp(`${path.join(D, 'sweep.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${pattern.source}; the file is damaged`);
        expectUserError(repgeom(['sweep', '--status', D]), full);
        expectUserError(repgeom(['sweep', ...tiny, '--task', 'sst2', '--data', SST2, '--seeds=0,1', '--dry-run', '--out', D]), full);
        assert.equal(fs.readFileSync(path.join(D, 'sweep.json'), 'utf8'), text, 'left as it was');
      });
    }
  });
});
