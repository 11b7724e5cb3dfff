/**
 * The one output path (src/io/safe-output.ts): outputs that never destroy anything. In process
 * for the plans and writers; through the CLI for inputs given as outputs, devices, FIFOs,
 * symbolic links, /dev/full, closed pipes, signals and folder swaps.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { OutputFile, StagedFolder, checkOutsideInputs, planFileOutput, planFolderOutput, writeOutputFile } from '../src/io/safe-output.js';
import { whyNotReportFolder } from '../src/report/write.js';
import { throwsUser } from './helpers/errors.js';
import { expectUserError, repgeom, type CliResult } from './helpers/cli.js';
import { fixturePath } from './helpers/fixtures.js';

const MAIN = path.resolve(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const SHARED = path.resolve(import.meta.dirname, '..', '..', 'shared');
const TINY = path.join(SHARED, 'models', 'tiny-bert-mlm');
const SST2 = path.join(SHARED, 'data', 'glue', 'SST-2');
const FIXTURE = fixturePath('aniso_outliers_n2000_d50');

const fresh = () => fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-out-'));
const temporaries = (dir: string) => fs.readdirSync(dir).filter((f) => /\.(tmp|old)-\d+$/.test(f));

describe('file outputs: plans', () => {
  test('refused before any work: empty path, missing parent, a folder, an input, inside an input folder', () => {
    const dir = fresh();
    const input = path.join(dir, 'in.npy');
    fs.writeFileSync(input, 'x');
    throwsUser(() => planFileOutput('', '--out'), /--out is empty/);
    throwsUser(() => planFileOutput('  ', '--out'), /--out is empty/);
    throwsUser(() => planFileOutput(path.join(dir, 'no', 'x.json'), '--out'), /does not exist; create it first/);
    throwsUser(() => planFileOutput(dir, '--out'), /is a folder/);
    throwsUser(() => planFileOutput(input, '--out', { files: [input] }), /is the input .*in\.npy/);
    // The same file by another name: a relative path, and a hard link.
    const rel = path.relative(process.cwd(), input);
    throwsUser(() => planFileOutput(rel, '--out', { files: [input] }), /is the input/);
    fs.linkSync(input, path.join(dir, 'hard.npy'));
    throwsUser(() => planFileOutput(path.join(dir, 'hard.npy'), '--out', { files: [input] }), /is the input/);
    const model = path.join(dir, 'model');
    fs.mkdirSync(model);
    throwsUser(() => planFileOutput(path.join(model, 'states.arrow'), '--out', { folders: [model] }), /inside the input folder/);
    assert.equal(planFileOutput(path.join(dir, 'ok.json'), '--out', { files: [input], folders: [model] }).mode, 'atomic');
  });

  test('a symbolic link is written through to its target (atomically there), the link kept', () => {
    const dir = fresh();
    fs.writeFileSync(path.join(dir, 'target.json'), 'old');
    fs.symlinkSync('target.json', path.join(dir, 'link.json'));
    const plan = planFileOutput(path.join(dir, 'link.json'), '--out');
    assert.equal(plan.target, fs.realpathSync(path.join(dir, 'target.json')));
    writeOutputFile(plan, ['new']);
    assert.ok(fs.lstatSync(path.join(dir, 'link.json')).isSymbolicLink());
    assert.equal(fs.readFileSync(path.join(dir, 'target.json'), 'utf8'), 'new');
    // A dangling link: the file is created where it points.
    fs.symlinkSync('made.json', path.join(dir, 'dangling.json'));
    writeOutputFile(planFileOutput(path.join(dir, 'dangling.json'), '--out'), ['made']);
    assert.equal(fs.readFileSync(path.join(dir, 'made.json'), 'utf8'), 'made');
    // A link to an input is the input.
    fs.writeFileSync(path.join(dir, 'in.npy'), 'data');
    fs.symlinkSync('in.npy', path.join(dir, 'in-link.npy'));
    throwsUser(() => planFileOutput(path.join(dir, 'in-link.npy'), '--out', { files: [path.join(dir, 'in.npy')] }), /is the input/);
  });

  test('devices and FIFOs are streamed, never replaced', () => {
    assert.equal(planFileOutput('/dev/null', '--out').mode, 'stream');
    const dir = fresh();
    const fifo = path.join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    assert.equal(planFileOutput(fifo, '--out').mode, 'stream');
    writeOutputFile(planFileOutput('/dev/null', '--out'), ['gone']);
    assert.ok(fs.statSync('/dev/null').isCharacterDevice());
  });

  test('a failed write leaves nothing and the old file whole; /dev/full is one line', () => {
    const dir = fresh();
    const out = path.join(dir, 'out.json');
    fs.writeFileSync(out, 'old');
    const file = OutputFile.open(planFileOutput(out, '--out'));
    file.write('partial');
    assert.equal(temporaries(dir).length, 1);
    file.abort();
    assert.deepEqual(temporaries(dir), []);
    assert.equal(fs.readFileSync(out, 'utf8'), 'old');
    throwsUser(() => writeOutputFile(planFileOutput('/dev/full', '--out'), ['x']), /--out \/dev\/full: cannot write \(no space left/);
  });

  test('stale temporaries of a killed process are removed; a live process keeps its own', () => {
    const dir = fresh();
    const out = path.join(dir, 'out.json');
    // A pid that is not running: the highest pid the kernel can give plus one.
    const dead = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1;
    fs.writeFileSync(path.join(dir, `.out.json.tmp-${dead}`), 'half');
    const alive = spawn('sleep', ['30']);
    fs.writeFileSync(path.join(dir, `.out.json.tmp-${alive.pid}`), 'being written');
    fs.writeFileSync(path.join(dir, `.other.json.tmp-${dead}`), 'not ours to judge');
    try {
      writeOutputFile(planFileOutput(out, '--out'), ['done']);
      assert.deepEqual(fs.readdirSync(dir).sort(), [`.other.json.tmp-${dead}`, `.out.json.tmp-${alive.pid}`, 'out.json']);
    } finally {
      alive.kill();
    }
  });
});

describe('checkOutsideInputs: an output folder overlapping an input (the one check train, sweep and report use)', () => {
  test('inside an input, holding an input, the input itself, through a symbolic link: refused; beside it: accepted', () => {
    const dir = fresh();
    const input = path.join(dir, 'model');
    fs.mkdirSync(input);
    fs.symlinkSync(input, path.join(dir, 'alias'));
    throwsUser(() => checkOutsideInputs(path.join(input, 'run'), '--out', [input], 'run folder'), /^--out .*model\/run: the run folder would overlap the input .*model; choose another --out$/);
    throwsUser(() => checkOutsideInputs(dir, '--out', [undefined, input], 'sweep folder'), /the sweep folder would overlap the input/);
    throwsUser(() => checkOutsideInputs(input, '--out', [input], 'run folder'), /would overlap/);
    throwsUser(() => checkOutsideInputs(path.join(dir, 'alias', 'run'), '--out', [input], 'run folder'), /alias\/run: the run folder would overlap the input/);
    checkOutsideInputs(path.join(dir, 'model-runs'), '--out', [input, undefined], 'run folder');
  });
});

describe('folder outputs: staged and swapped whole', () => {
  const notOurs = (dir: string) => whyNotReportFolder(dir);

  test('a new folder appears only at commit; an old report is replaced whole', () => {
    const parent = fresh();
    const out = path.join(parent, 'report');
    const first = new StagedFolder(planFolderOutput(out, '--out', {}, notOurs));
    fs.writeFileSync(path.join(first.dir, 'report.json'), '1');
    assert.equal(fs.existsSync(out), false);
    first.commit();
    assert.equal(fs.readFileSync(path.join(out, 'report.json'), 'utf8'), '1');
    const second = new StagedFolder(planFolderOutput(out, '--out', {}, notOurs));
    fs.writeFileSync(path.join(second.dir, 'report.json'), '2');
    assert.equal(fs.readFileSync(path.join(out, 'report.json'), 'utf8'), '1', 'the old report stays whole until the swap');
    second.commit();
    assert.equal(fs.readFileSync(path.join(out, 'report.json'), 'utf8'), '2');
    assert.deepEqual(fs.readdirSync(parent), ['report']);
    const third = new StagedFolder(planFolderOutput(out, '--out', {}, notOurs));
    third.abort();
    assert.deepEqual(fs.readdirSync(parent), ['report']);
    assert.equal(fs.readFileSync(path.join(out, 'report.json'), 'utf8'), '2');
  });

  test('refused: a file, a folder of the user\'s, a folder holding an input, a missing parent', () => {
    const parent = fresh();
    fs.writeFileSync(path.join(parent, 'file'), 'x');
    throwsUser(() => planFolderOutput(path.join(parent, 'file'), '--out', {}, notOurs), /is a file, not a folder/);
    const mine = path.join(parent, 'thesis');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'chapter1.tex'), 'years of work');
    throwsUser(() => planFolderOutput(mine, '--out', {}, notOurs), /not only a repgeom report \(it holds chapter1\.tex\).*choose another --out/);
    const rep = path.join(parent, 'rep');
    fs.mkdirSync(path.join(rep, 'states'), { recursive: true });
    fs.writeFileSync(path.join(rep, 'report.json'), '{}');
    fs.writeFileSync(path.join(rep, 'states', 'a.arrow'), 'x');
    assert.equal(planFolderOutput(rep, '--out', {}, notOurs).exists, true);
    throwsUser(() => planFolderOutput(rep, '--out', { files: [path.join(rep, 'states', 'a.arrow')] }, notOurs), /overlap the input/);
    throwsUser(() => planFolderOutput(path.join(parent, 'a', 'b'), '--out', {}, notOurs), /does not exist; create it first/);
    throwsUser(() => planFolderOutput('', '--out', {}, notOurs), /--out is empty/);
  });

  test('a swap interrupted between its renames is put back by the next run', () => {
    const parent = fresh();
    const dead = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1;
    const old = path.join(parent, `.rep.old-${dead}`);
    fs.mkdirSync(old);
    fs.writeFileSync(path.join(old, 'report.json'), 'old');
    fs.mkdirSync(path.join(parent, `.rep.tmp-${dead}`));
    const plan = planFolderOutput(path.join(parent, 'rep'), '--out', {}, notOurs);
    assert.equal(plan.exists, false, 'checked before the folder was put back');
    assert.equal(fs.readFileSync(path.join(parent, 'rep', 'report.json'), 'utf8'), 'old');
    assert.deepEqual(fs.readdirSync(parent), ['rep']);
  });
});

describe('the commands write through the one path', () => {
  test('measure --out: an input, the C0 file, a folder, a missing folder, empty: refused before any work', () => {
    const dir = fresh();
    expectUserError(repgeom(['measure', FIXTURE, '--out', FIXTURE, '--quiet']), /--out .*: is the input .*aniso_outliers/);
    const c0 = path.join(dir, 'c0.npy');
    fs.copyFileSync(FIXTURE, c0);
    const before = fs.readFileSync(c0);
    expectUserError(repgeom(['measure', FIXTURE, '--c0-points', c0, '--out', c0, '--quiet']), /is the input/);
    assert.deepEqual(fs.readFileSync(c0), before);
    expectUserError(repgeom(['measure', FIXTURE, '--out', dir, '--quiet']), /is a folder/);
    expectUserError(repgeom(['measure', FIXTURE, '--out', path.join(dir, 'nope', 'x.json'), '--quiet']), /does not exist/);
    expectUserError(repgeom(['measure', FIXTURE, '--out=', '--quiet']), /--out is empty/);
  });

  test('measure to /dev/full: one line, status 2, on stdout and with --out', () => {
    const full = fs.openSync('/dev/full', 'w');
    const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'measure', FIXTURE, '--metrics', 'cosine', '--quiet'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
    fs.closeSync(full);
    expectUserError({ status: r.status, stdout: '', stderr: r.stderr }, /cannot write the output to stdout \(ENOSPC\)/);
    expectUserError(repgeom(['measure', FIXTURE, '--metrics', 'cosine', '--out', '/dev/full', '--quiet']), /--out \/dev\/full: cannot write \(no space left/);
  });

  test('measure into a closed pipe ends quietly with status 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'measure', FIXTURE, '--metrics', 'cosine', '--format', 'csv', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // as `| head` does once it has read enough
    let stderr = '';
    child.stderr.on('data', (c) => { stderr += c; });
    const status = await new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    assert.equal(stderr, '');
    assert.equal(status, 0);
  });

  test('measure --out /dev/stdout and a FIFO are written through; a symbolic link keeps pointing at its file', () => {
    const r = repgeom(['measure', FIXTURE, '--metrics', 'cosine', '--out', '/dev/stdout', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).layers[0].points, 2000);
    const dir = fresh();
    const fifo = path.join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const reader = spawnSync('sh', ['-c', `cat "${fifo}" > "${dir}/got" & ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(MAIN)} measure ${JSON.stringify(FIXTURE)} --metrics cosine --out "${fifo}" --quiet; wait`], { encoding: 'utf8' });
    assert.equal(reader.status, 0, reader.stderr);
    assert.ok(fs.statSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'got'), 'utf8')).layers[0].points, 2000);
    fs.symlinkSync('real.json', path.join(dir, 'link.json'));
    assert.equal(repgeom(['measure', FIXTURE, '--metrics', 'cosine', '--out', path.join(dir, 'link.json'), '--quiet']).status, 0);
    assert.ok(fs.lstatSync(path.join(dir, 'link.json')).isSymbolicLink());
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'real.json'), 'utf8')).layers[0].points, 2000);
    assert.deepEqual(temporaries(dir), []);
  });

  test('extract --out inside the model folder or onto the data file: refused, nothing written', () => {
    const dir = fresh();
    const model = path.join(dir, 'model');
    fs.cpSync(TINY, model, { recursive: true, filter: (src) => !src.includes('checkpoint-') && !src.includes('reference') });
    const listing = fs.readdirSync(model).sort();
    expectUserError(repgeom(['extract', '--model', model, '--data', path.join(SST2, 'dev.tsv'), '--task', 'sst2', '--out', path.join(model, 'model.safetensors'), '--quiet']), /inside the input folder/);
    const data = path.join(dir, 'lines.txt');
    fs.writeFileSync(data, 'a sentence\nanother one\n');
    expectUserError(repgeom(['extract', '--model', model, '--data', data, '--out', data, '--quiet']), /is the input .*lines\.txt/);
    assert.equal(fs.readFileSync(data, 'utf8'), 'a sentence\nanother one\n');
    assert.deepEqual(fs.readdirSync(model).sort(), listing);
  });

  test('report --out: a file, a folder of the user\'s, the folder holding its --states: refused', () => {
    const dir = fresh();
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    expectUserError(repgeom(['report', '--states', FIXTURE, '--out', path.join(dir, 'notes.txt'), '--quiet']), /is a file, not a folder/);
    expectUserError(repgeom(['report', '--states', FIXTURE, '--out', dir, '--quiet']), /not only a repgeom report \(it holds notes\.txt\)/);
    assert.equal(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'mine');
    const rep = path.join(dir, 'rep');
    fs.mkdirSync(path.join(rep, 'states'), { recursive: true });
    fs.copyFileSync(FIXTURE, path.join(rep, 'states', 'x.arrow'));
    expectUserError(repgeom(['report', '--states', path.join(rep, 'states', 'x.arrow'), '--out', rep, '--quiet']), /overlap the input/);
  });

  test('SIGTERM during extract removes the temporary file; SIGINT during report leaves the old report whole', async () => {
    const dir = fresh();
    const out = path.join(dir, 'states.arrow');
    await interruptWhen(['extract', '--model', TINY, '--data', path.join(SST2, 'train.tsv'), '--task', 'sst2', '--limit', '20000', '--workers', '1', '--out', out, '--quiet'],
      () => temporaries(dir).length > 0, 'SIGTERM');
    assert.deepEqual(fs.readdirSync(dir), [], 'no temporary and no half file');

    const rep = path.join(dir, 'rep');
    const first = repgeom(['report', '--model', TINY, '--data', SST2, '--limit', '16', '--metrics', 'isoscore,cosine', '--out', rep, '--quiet']);
    assert.equal(first.status, 0, first.stderr);
    const snapshot = () => Object.fromEntries(['report.json', 'layers.csv', 'index.html', 'states/tiny-bert-mlm.arrow'].map((f) => [f, fs.readFileSync(path.join(rep, f)).toString('base64')]));
    const before = snapshot();
    await interruptWhen(['report', '--model', TINY, '--data', path.join(SST2, 'train.tsv'), '--task', 'sst2', '--limit', '20000', '--workers', '1', '--out', rep, '--quiet'],
      () => temporaries(dir).length > 0 && fs.existsSync(path.join(dir, temporaries(dir)[0], 'states')), 'SIGINT');
    assert.deepEqual(fs.readdirSync(dir), ['rep']);
    assert.deepEqual(snapshot(), before, 'the old report is whole');
  });
});

/** Start the CLI, wait until `ready()` holds, send `signal`, and check it stopped with the status a shell expects. */
async function interruptWhen(args: string[], ready: () => boolean, signal: NodeJS.Signals): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += c; });
  const closed = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  const deadline = Date.now() + 60_000;
  while (!ready()) {
    assert.ok(Date.now() < deadline, `the run never reached the point to interrupt; stderr: ${stderr}`);
    assert.equal(child.exitCode, null, `the run ended before it could be interrupted; stderr: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill(signal);
  assert.equal(await closed, 128 + os.constants.signals[signal], `status 128 + the signal's number; stderr: ${stderr}`);
}
