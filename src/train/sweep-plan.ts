/**
 * A sweep's plan: the options that shape its results and the ordered list of runs, one per
 * (task, λ, seed), each a plain `repgeom train` command (DESIGN.md "Sweep folders"). The plan is
 * a pure function of the options, so the local and the Slurm executor run the same commands and
 * a resumed sweep finds its runs where it left them.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError, check } from '../errors.js';
import { detectTask } from '../io/datasets.js';
import { taskSpec } from './glue-task.js';
import type { TrainOptions } from './run.js';

/** A list value and its text as the user wrote it (λ = 1e-3 names its folder `lambda=1e-3`). */
export interface ListValue { value: number; text: string }

/** What a sweep is asked for: train's options without the swept axes, and the axes. */
export interface SweepRequest {
  train: Omit<TrainOptions, 'task' | 'data' | 'lambda' | 'seed'>;
  tasks: string[];
  /** A task folder (one task) or a GLUE root holding the tasks' standard folders. */
  data: string;
  /** null under --reg none: no λ axis. */
  lambdas: ListValue[] | null;
  seeds: number[];
}

export interface SweepRun {
  index: number;
  task: string;
  reg: TrainOptions['reg'];
  lambda: number | null;
  seed: number;
  /** The run folder's name inside the sweep folder. */
  folder: string;
  /** The exact `repgeom train` arguments (after `train`) of this run. */
  argv: string[];
}

export interface SweepPlan {
  /** Everything that shapes the results (recorded in sweep.json, compared on resume). */
  options: Record<string, unknown>;
  runs: SweepRun[];
}

/** The folders of GLUE's download script, looked for first in a GLUE root. */
const STANDARD_FOLDERS: Record<string, string> = {
  sst2: 'SST-2', mrpc: 'MRPC', rte: 'RTE', cola: 'CoLA', stsb: 'STS-B', wnli: 'WNLI', qnli: 'QNLI', qqp: 'QQP',
};

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const isTaskFolder = (p: string) => existsSync(join(p, 'train.tsv')) || existsSync(join(p, 'dev.tsv'));

/**
 * The data folder of each task: `--data` itself when it is a task folder (train.tsv/dev.tsv) and
 * one task is swept; otherwise `--data` is a GLUE root and each task's folder is its standard name
 * (SST-2, RTE, ...) or the one subfolder named like it (QQP-subset).
 */
export function taskDataFolders(data: string, tasks: readonly string[]): Map<string, string> {
  check(data.trim() !== '', '--data is empty; give the task folder (one task) or the GLUE root holding SST-2, RTE, ... (several tasks)');
  const root = resolve(data);
  check(isDir(root), `--data ${data}: no such folder; give the task folder (one task) or the GLUE root holding SST-2, RTE, ... (several tasks)`);
  const folders = new Map<string, string>();
  if (isTaskFolder(root)) {
    check(tasks.length === 1, `--data ${data}: is one task's folder (it holds train.tsv/dev.tsv) but ${tasks.length} tasks are swept; give the GLUE root that holds their folders`);
    folders.set(tasks[0], root);
    return folders;
  }
  const entries = readdirSync(root).filter((n) => isDir(join(root, n)));
  for (const task of tasks) {
    const standard = STANDARD_FOLDERS[task];
    if (entries.includes(standard)) { folders.set(task, join(root, standard)); continue; }
    const named = entries.filter((n) => detectTask(join(root, n)) === task);
    if (named.length !== 1) {
      throw new UserError(named.length === 0
        ? `--data ${data}: no folder for ${task} in the GLUE root (looked for ${standard} or a folder named like it); give the GLUE root that holds it`
        : `--data ${data}: ${named.length} folders could hold ${task} (${named.join(', ')}); name one ${standard}`);
    }
    folders.set(task, join(root, named[0]));
  }
  return folders;
}

/** `sst2_istar_lambda=-5_seed=0`, or `sst2_none_seed=0` without a λ axis: ASCII, read at a glance. */
export function runFolderName(task: string, reg: string, lambda: ListValue | null, seed: number): string {
  return `${task}_${reg}${lambda ? `_lambda=${lambda.text}` : ''}_seed=${seed}`;
}

/**
 * The train flags of one run: every option written out (a later change of train's defaults does
 * not change a recorded run), numbers as JavaScript prints them (they parse back exactly).
 */
const FLAGS: { [K in keyof TrainOptions]: (v: TrainOptions[K]) => string[] } = {
  model: (v) => ['--model', v],
  task: (v) => ['--task', v],
  data: (v) => ['--data', v],
  reg: (v) => ['--reg', v],
  lambda: () => [], // written from its text, below
  zeta: (v) => ['--zeta', String(v)],
  c0Sample: (v) => ['--c0-sample', String(v)],
  istarIncludePadding: (v) => (v ? ['--istar-include-padding'] : []),
  regLayers: (v) => (v === null ? [] : [`--reg-layers=${v.join(',')}`]),
  epochs: (v) => ['--epochs', String(v)],
  lr: (v) => ['--lr', String(v)],
  batchSize: (v) => ['--batch-size', String(v)],
  maxLength: (v) => ['--max-length', String(v)],
  weightDecay: (v) => ['--weight-decay', String(v)],
  noDecayNormsBiases: (v) => (v ? ['--no-decay-norms-biases'] : []),
  schedule: (v) => ['--schedule', v],
  warmupRatio: (v) => ['--warmup-ratio', String(v)],
  maxGradNorm: (v) => ['--max-grad-norm', String(v)],
  seed: (v) => ['--seed', String(v)],
  trainLimit: (v) => (v === null ? [] : ['--train-limit', String(v)]),
  evalLimit: (v) => (v === null ? [] : ['--eval-limit', String(v)]),
  evalEvery: (v) => (v === null ? [] : ['--eval-every', String(v)]),
  logEvery: (v) => ['--log-every', String(v)],
  saveEvery: (v) => ['--save-every', String(v)],
  newHead: (v) => (v ? ['--new-head'] : []),
};

export function trainArgv(o: TrainOptions, lambdaText: string | null, out: string): string[] {
  const args: string[] = [];
  for (const key of Object.keys(FLAGS) as (keyof TrainOptions)[]) {
    args.push(...(FLAGS[key] as (v: unknown) => string[])(o[key]));
    if (key === 'reg' && lambdaText !== null) args.push(`--lambda=${lambdaText}`);
  }
  args.push('--out', out);
  return args;
}

/** Check the request (no files needed) and make the plan; run folders lie in `sweepDir`. */
export function planSweep(r: SweepRequest, sweepDir: string): SweepPlan {
  for (const task of r.tasks) taskSpec(task);
  check(new Set(r.tasks).size === r.tasks.length, `--tasks=${r.tasks.join(',')}: a task is named twice; name each once`);
  if (r.train.reg === 'none') {
    check(r.lambdas === null, '--reg none has no λ to sweep; leave out --lambdas/--lambda, or choose --reg istar or cosreg');
  } else {
    check(r.lambdas !== null, `--reg ${r.train.reg} needs the λ values: give --lambdas=-5,-1,0,1,5 (or --lambda=<value> for one)`);
  }
  const model = resolve(r.train.model);
  const dataOf = taskDataFolders(r.data, r.tasks);
  const dir = resolve(sweepDir);
  const runs: SweepRun[] = [];
  for (const task of r.tasks) {
    for (const lambda of r.lambdas ?? [null]) {
      for (const seed of r.seeds) {
        const folder = runFolderName(task, r.train.reg, lambda, seed);
        const o: TrainOptions = { ...r.train, model, task, data: dataOf.get(task)!, lambda: lambda?.value ?? null, seed };
        runs.push({ index: runs.length, task, reg: r.train.reg, lambda: lambda?.value ?? null, seed, folder, argv: trainArgv(o, lambda?.text ?? null, join(dir, folder)) });
      }
    }
  }
  const options = {
    ...r.train, model, tasks: r.tasks, data: resolve(r.data),
    // λ as written: it names the run folders, so a resume spelled otherwise (0.001 for 1e-3) is refused.
    lambdas: r.lambdas?.map((l) => l.text) ?? null, seeds: r.seeds,
  };
  return { options, runs };
}
