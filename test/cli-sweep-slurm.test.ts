/**
 * `repgeom sweep --executor slurm` through a real Slurm: scripts/slurm-single-node.sh starts a
 * single-node Slurm on this machine (or finds one running); where it cannot, the tests say why and
 * skip. A 2 λ × 1 seed sweep goes through sbatch to the end: --status follows it to finished,
 * every folder follows the contract, the runs are bitwise those of a local sweep, and submitting
 * again only re-checks the finished runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { expectUserError, repgeom } from './helpers/cli.js';
import { SHARED } from './helpers/fixtures.js';

const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const SST2 = path.resolve(SHARED, 'data', 'glue', 'SST-2');
const CHECKER = path.resolve(SHARED, 'tools', 'check-output-folder.py');
const SETUP = path.resolve(import.meta.dirname, '..', 'scripts', 'slurm-single-node.sh');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-slurm-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const args = ['sweep', '--model', TINY, '--task', 'sst2', '--data', SST2, '--reg', 'istar', '--lambdas=-1,1', '--seeds=0',
  '--train-limit', '32', '--eval-limit', '16', '--max-length', '16', '--epochs', '1', '--c0-sample', '200'];
const FOLDERS = ['sst2_istar_lambda=-1_seed=0', 'sst2_istar_lambda=1_seed=0'];
const json = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8'));

/** null when Slurm is ready, else why not. */
function startSlurm(): string | null {
  if (spawnSync('sbatch', ['--version']).status !== 0) return 'sbatch is not installed (apt-get install slurm-wlm munge)';
  const r = spawnSync('bash', [SETUP], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return null;
  return (r.stderr || r.stdout || `exit status ${r.status}`).trim().split('\n').pop()!;
}

function checkFolder(kind: 'sweep' | 'train', out: string): void {
  const r = spawnSync('python3', [CHECKER, kind, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

/** Poll --status until no run is pending or running (a 5-minute hang guard). */
async function waitForSweep(out: string): Promise<{ counts: Record<string, number>; runs: { state: string; folder: string; slurm: string | null }[] }> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const r = repgeom(['sweep', '--status', out, '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    if (report.counts.pending === 0 && report.counts.running === 0) return report;
    if (Date.now() > deadline) assert.fail(`hang guard: the Slurm sweep did not end within 5 minutes: ${JSON.stringify(report.counts)}; squeue: ${spawnSync('squeue', { encoding: 'utf8' }).stdout}`);
    await sleep(1000);
  }
}

/** Wait until squeue lists none of the job's tasks. */
async function waitForJob(job: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (spawnSync('squeue', ['-h', '-j', job], { encoding: 'utf8' }).stdout.trim() !== '') {
    if (Date.now() > deadline) assert.fail(`hang guard: Slurm job ${job} still queued after 5 minutes`);
    await sleep(500);
  }
}

describe('sweep --executor slurm through a real single-node Slurm', () => {
  let why: string | null = 'not started';
  // A space and a % in the path: sbatch must neither split it nor expand %x in --output (written %%).
  const S = path.join(dir, 'slurm sweep %x');
  before(() => {
    why = startSlurm();
    if (why !== null) process.stderr.write(`Slurm could not start: ${why}\n`);
  });

  test('submitted, followed by --status to the end; the folders follow the contract; bitwise a local sweep', async (t) => {
    if (why !== null) { t.skip(`Slurm could not start: ${why}`); return; }
    const r = repgeom([...args, '--executor', 'slurm', '--cpus-per-task', '1', '--out', S]);
    assert.equal(r.status, 0, r.stderr);
    const job = r.stdout.trim();
    assert.match(job, /^\d+$/);
    assert.match(r.stderr, new RegExp(`submitted Slurm array job ${job} \\(2 runs\\)`));
    assert.deepEqual(json(path.join(S, 'sweep.json')).slurm, { jobs: [job] });
    const report = await waitForSweep(S);
    assert.deepEqual(report.runs.map((x) => [x.folder, x.state]), FOLDERS.map((f) => [f, 'finished']));
    const table = repgeom(['sweep', '--status', S]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`2 runs: 2 finished \\(Slurm jobs ${job}\\)\\n$`));
    checkFolder('sweep', S);
    for (const f of FOLDERS) {
      checkFolder('train', path.join(S, f));
      assert.match(fs.readFileSync(path.join(S, 'logs', `${f}.log`), 'utf8'), new RegExp(`Slurm task ${job}_\\d starting [^]*train exited with status 0\\n$`));
    }
    await waitForJob(job);
    assert.deepEqual(fs.readdirSync(path.join(S, 'slurm')).sort(), [`${job}_0.out`, `${job}_1.out`]);
    // The same runs here, one after another: bitwise the same files.
    const L = path.join(dir, 'local-sweep');
    const local = repgeom([...args, '--quiet', '--out', L]);
    assert.equal(local.status, 0, local.stderr);
    for (const f of FOLDERS) {
      for (const file of ['eval.jsonl', 'log.jsonl', 'predictions.csv', 'final/model.safetensors']) {
        assert.ok(fs.readFileSync(path.join(S, f, file)).equals(fs.readFileSync(path.join(L, f, file))), `${f}/${file} differs between Slurm and local`);
      }
    }
  });

  test('submitting again: a second job in sweep.json whose tasks find the runs finished', async (t) => {
    if (why !== null) { t.skip(`Slurm could not start: ${why}`); return; }
    const first = json(path.join(S, 'sweep.json')).slurm.jobs[0];
    const weights = fs.readFileSync(path.join(S, FOLDERS[0], 'final', 'model.safetensors'));
    const r = repgeom([...args, '--executor', 'slurm', '--cpus-per-task', '1', '--out', S]);
    assert.equal(r.status, 0, r.stderr);
    const job = r.stdout.trim();
    assert.deepEqual(json(path.join(S, 'sweep.json')).slurm, { jobs: [first, job] });
    await waitForJob(job);
    for (const f of FOLDERS) {
      assert.match(fs.readFileSync(path.join(S, 'logs', `${f}.log`), 'utf8'), new RegExp(`Slurm task ${job}_\\d starting [^]*the run is finished \\(1 steps\\)[^]*train exited with status 0\\n$`));
    }
    assert.ok(fs.readFileSync(path.join(S, FOLDERS[0], 'final', 'model.safetensors')).equals(weights));
    const report = await waitForSweep(S);
    assert.deepEqual(report.runs.map((x) => x.state), ['finished', 'finished']);
  });

  test('while a recorded job still has tasks queued: submitting again, or running the sweep here, is refused naming the job', async (t) => {
    if (why !== null) { t.skip(`Slurm could not start: ${why}`); return; }
    // A job that stays pending (held) stands for a sweep job still queued.
    const held = spawnSync('sbatch', ['--parsable', '--hold', '--output=/dev/null', '--wrap', 'true'], { encoding: 'utf8' });
    assert.equal(held.status, 0, held.stderr);
    const job = held.stdout.trim().split(';')[0];
    try {
      const file = path.join(S, 'sweep.json');
      const s = json(file);
      s.slurm.jobs.push(job);
      fs.writeFileSync(file, JSON.stringify(s, null, 2));
      const before = fs.readFileSync(file, 'utf8');
      const refused = new RegExp(`--out .*: Slurm job ${job} of this sweep still has tasks pending or running; follow it with repgeom sweep --status '.*slurm sweep %x' and run this command once it ends, or cancel it first \\(scancel ${job}\\)$`);
      expectUserError(repgeom([...args, '--executor', 'slurm', '--cpus-per-task', '1', '--out', S]), refused);
      expectUserError(repgeom([...args, '--out', S]), refused);
      assert.equal(fs.readFileSync(file, 'utf8'), before, 'sweep.json is not touched (no job was submitted)');
    } finally {
      spawnSync('scancel', [job]);
    }
    await waitForJob(job);
    // Once it has left the queue, the sweep runs (here: every run already finished).
    const r = repgeom([...args, '--out', S]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /all 2 runs finished \(2 already were\)/);
  });
});
