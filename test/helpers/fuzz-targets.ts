/**
 * The fuzz targets: for each reader, how a case's folder is built around the corrupted bytes,
 * which file they replace, which CLI command runs, and what a run must leave behind. The run-folder
 * targets start from real tiny folders (a finished train run, a finished intrinsic-dim folder, a
 * sweep folder) built once per fuzz run by `buildFolders`.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openArrowStates } from '../../src/io/arrow.js';
import { folderSeeds, type FuzzSeed, type FuzzTargetName } from './fuzz-inputs.js';
import { SHARED } from './fixtures.js';

const MAIN = path.resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
export const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const SST2 = path.resolve(SHARED, 'data', 'glue', 'SST-2');
const MODEL_FILES = ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

/** The tiny training options shared by the finished run and the sweep (so the sweep's first run is that run). */
const TINY_TRAIN = ['--task', 'sst2', '--data', SST2, '--train-limit', '16', '--eval-limit', '8', '--max-length', '16', '--epochs', '1', '--c0-sample', '50', '--reg', 'istar'];
const trainArgs = (out: string) => ['train', '--model', TINY, ...TINY_TRAIN, '--lambda=-1', '--out', out, '--quiet'];
const idArgs = (out: string) => ['intrinsic-dim', '--model', TINY, '--task', 'sst2', '--data', SST2, '--method', 'did', '--dims=16', '--seeds-per-probe', '1',
  '--train-limit', '16', '--eval-limit', '8', '--max-length', '16', '--epochs', '1', '--baseline', '0.6', '--out', out, '--quiet'];
/** The sweep's run folder that is the finished tiny run (λ = -1, seed 0). */
const SWEEP_RUN = 'sst2_istar_lambda=-1_seed=0';

/** One case: the file the corrupted bytes go to, the command, and the checks after it ran. */
export interface FuzzCase {
  input: string;
  args: string[];
  /** Whether the input must still hold the corrupted bytes after a run that ended with `status`. */
  keepsInput(status: number | null): boolean;
  /** Problems with what the run left (its output folder or file, its stdout). */
  check(status: number | null, stdout: string): Promise<string[]>;
}

export type FuzzTarget = (dir: string, seed: FuzzSeed) => FuzzCase;

interface Folders { run: string; id: string; sweep: string }

/** Run the CLI (in a child, so the builds overlap); rejects unless it ends with exit 0. */
function mustRun(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`fuzz setup: repgeom ${args.join(' ')} failed (${status}): ${stderr}`))));
  });
}

/** A pid that no process has now: a child that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** Build the tiny folders once (a finished train run, a finished intrinsic-dim folder, a sweep folder) and their seeds. */
export async function buildFolders(dir: string): Promise<{ folders: Folders; seeds: FuzzSeed[] }> {
  const folders = { run: path.join(dir, 'run'), id: path.join(dir, 'id'), sweep: path.join(dir, 'sweep') };
  await Promise.all([
    mustRun(trainArgs(folders.run)),
    mustRun(idArgs(folders.id)),
    mustRun(['sweep', '--model', TINY, ...TINY_TRAIN, '--lambdas=-1,0', '--seeds=0,1', '--out', folders.sweep, '--dry-run', '--quiet']),
  ]);
  const read = (...p: string[]) => new Uint8Array(fs.readFileSync(path.join(...p)));
  // A lock left by a process killed with SIGKILL on this host: a resume takes it over.
  const lock = new Uint8Array(Buffer.from(`${JSON.stringify({ host: os.hostname(), pid: deadPid(), started: new Date().toISOString() })}\n`));
  const seeds = folderSeeds({
    sweepJson: read(folders.sweep, 'sweep.json'), runJson: read(folders.run, 'run.json'), evalJsonl: read(folders.run, 'eval.jsonl'),
    logJsonl: read(folders.run, 'log.jsonl'), idRunJson: read(folders.id, 'run.json'), probesJsonl: read(folders.id, 'probes.jsonl'), lock,
  });
  return { folders, seeds };
}

/** A copy of a finished run folder in `to`: the small files copied, final/ and checkpoints/ linked (never written by these commands). */
function copyRun(from: string, to: string): void {
  fs.mkdirSync(to);
  for (const f of fs.readdirSync(from)) {
    const src = path.join(from, f);
    if (fs.statSync(src).isDirectory()) fs.symlinkSync(src, path.join(to, f));
    else fs.copyFileSync(src, path.join(to, f));
  }
}

/** Problems with an output folder: absent is fine unless the run succeeded; present, it must be complete. */
function checkFolder(dir: string, status: number | null, files: string[], json: string[]): string[] {
  if (!fs.existsSync(dir)) return status === 0 ? [`exit 0 but no ${path.basename(dir)}/`] : [];
  const problems = files.filter((f) => !fs.existsSync(path.join(dir, f))).map((f) => `${path.basename(dir)}/${f} missing`);
  for (const f of json) {
    try { JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')); } catch { problems.push(`${path.basename(dir)}/${f} is not complete JSON`); }
  }
  return problems;
}

const always = () => true;

export function fuzzTargets(folders: Folders, metrics: string): Record<FuzzTargetName, FuzzTarget> {
  const sweepStatus = (format: 'table' | 'json'): FuzzTarget => (dir) => {
    const sweep = path.join(dir, 'sweep');
    fs.mkdirSync(path.join(sweep, 'logs'), { recursive: true });
    fs.symlinkSync(folders.run, path.join(sweep, SWEEP_RUN));
    return {
      input: path.join(sweep, 'sweep.json'),
      args: ['sweep', '--status', sweep, ...(format === 'json' ? ['--format', 'json'] : [])],
      keepsInput: always,
      check: async (status, stdout) => {
        if (status !== 0) return stdout === '' ? [] : ['exit 2 but output on stdout'];
        if (format === 'table') return /^index\s+state\s/m.test(stdout) ? [] : [`exit 0 but no status table: ${stdout.slice(0, 200)}`];
        try { JSON.parse(stdout); return []; } catch { return [`--format json printed no complete JSON: ${stdout.slice(0, 200)}`]; }
      },
    };
  };
  return {
    measure: (dir, seed) => {
      const out = path.join(dir, 'out.json');
      return {
        input: path.join(dir, `input${seed.ext}`),
        args: ['measure', path.join(dir, `input${seed.ext}`), '--metrics', metrics, '--out', out, '--quiet'],
        keepsInput: always,
        check: async (status) => {
          if (!fs.existsSync(out)) return status === 0 ? ['exit 0 but no output file'] : [];
          try { JSON.parse(fs.readFileSync(out, 'utf8')); return []; } catch { return ['out.json is not complete JSON']; }
        },
      };
    },
    extract: (dir) => {
      const model = path.join(dir, 'model');
      fs.mkdirSync(model);
      for (const f of MODEL_FILES) fs.symlinkSync(path.join(TINY, f), path.join(model, f));
      const data = path.join(dir, 'data.txt');
      fs.writeFileSync(data, 'the cat sat on the mat\na second example\n');
      const out = path.join(dir, 'states.arrow');
      return {
        input: path.join(model, 'config.json'),
        args: ['extract', '--model', model, '--data', data, '--limit', '2', '--tokens', 'cls', '--out', out, '--quiet'],
        keepsInput: always,
        check: async (status) => {
          if (!fs.existsSync(out)) return status === 0 ? ['exit 0 but no output file'] : [];
          try { await openArrowStates(out); return []; } catch (e) { return [`states.arrow is not readable: ${(e as Error).message}`]; }
        },
      };
    },
    'sweep-status': sweepStatus('table'),
    'sweep-status-json': sweepStatus('json'),
    compare: (dir, seed) => {
      const run = path.join(dir, 'run');
      copyRun(folders.run, run);
      const out = path.join(dir, 'cmp');
      return {
        input: path.join(run, seed.ext),
        args: ['compare', run, '--out', out],
        keepsInput: always,
        check: async (status) => checkFolder(out, status, ['compare.json', 'runs.csv', 'index.html'], ['compare.json']),
      };
    },
    'intrinsic-dim': (dir, seed) => {
      const out = path.join(dir, 'id');
      fs.cpSync(folders.id, out, { recursive: true });
      return {
        input: path.join(out, seed.ext),
        args: idArgs(out),
        // A resume that succeeds may rewrite a damaged probes.jsonl (probes run again).
        keepsInput: (status) => status !== 0,
        check: async (status) => status === 0 ? checkFolder(out, status, ['result.json', 'probes.csv', 'index.html', 'probes.jsonl'], ['result.json', 'run.json']) : [],
      };
    },
    'train-lock': (dir, seed) => {
      const run = path.join(dir, 'run');
      copyRun(folders.run, run);
      const lock = path.join(run, seed.ext);
      return {
        input: lock,
        args: trainArgs(run),
        // Taken over (a dead process's lock on this host) and released at the end.
        keepsInput: (status) => status !== 0,
        check: async (status) => status === 0 && fs.existsSync(lock) ? ['exit 0 but run.lock is still there'] : [],
      };
    },
  };
}

/** Files whose names hold `.tmp-` anywhere under `dir` (links not followed). */
export function temporaries(dir: string): string[] {
  const found: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.name.includes('.tmp-')) found.push(path.relative(dir, p));
    if (e.isDirectory() && !e.isSymbolicLink()) found.push(...temporaries(p).map((f) => path.join(e.name, f)));
  }
  return found;
}
