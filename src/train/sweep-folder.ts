/**
 * The sweep folder (DESIGN.md "Sweep folders"): `sweep.json` (version, options, the ordered runs,
 * the Slurm jobs submitted for it), one run folder per run, `logs/<run folder>.log` with each
 * run's output. sweep.json is written through the one safe output path.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UserError, check } from '../errors.js';
import { checkOutsideInputs, planFileOutput, writeOutputFile } from '../io/safe-output.js';
import { RUN_JSON, differingOptions } from './run-folder.js';
import type { SweepPlan, SweepRun } from './sweep-plan.js';
import { readTextFileSync } from '../io/file-io.js';

export const SWEEP_JSON = 'sweep.json';
export const LOGS = 'logs';

export interface SweepFile {
  command: 'sweep';
  version: string;
  options: Record<string, unknown>;
  runs: SweepRun[];
  /** Slurm array jobs submitted for this sweep, oldest first. */
  slurm?: { jobs: string[] };
}

/** Where run `r`'s output (the train command's stdout and stderr, and how it ended) is kept. */
export function runLogPath(sweepDir: string, r: SweepRun): string {
  return join(sweepDir, LOGS, `${r.folder}.log`);
}

/**
 * Check --out before anything is written: a new or empty folder, or an earlier sweep's (it has
 * sweep.json). A run folder or any other folder with content is refused, so a typo never writes
 * into a folder of the user's.
 */
export function checkSweepFolder(out: string, inputs: readonly string[]): 'new' | 'existing' {
  check(out.trim() !== '', '--out is empty; give the sweep folder to write');
  const abs = resolve(out);
  checkOutsideInputs(out, '--out', inputs, 'sweep folder');
  if (!existsSync(abs)) {
    check(existsSync(dirname(abs)), `--out ${out}: the folder ${dirname(abs)} does not exist; create it first`);
    return 'new';
  }
  check(statSync(abs).isDirectory(), `--out ${out}: is a file, not a folder; give a sweep folder (it is created)`);
  if (existsSync(join(abs, SWEEP_JSON))) return 'existing';
  check(!existsSync(join(abs, RUN_JSON)), `--out ${out}: is a train run folder (it has ${RUN_JSON}), not a sweep folder; give a new folder for the sweep`);
  check(readdirSync(abs).length === 0, `--out ${out}: the folder exists and is not a repgeom sweep folder (no ${SWEEP_JSON}); choose another --out`);
  return 'new';
}

export function readSweepFile(dir: string): SweepFile {
  const path = join(dir, SWEEP_JSON);
  check(existsSync(path), `${dir}: not a sweep folder (no ${SWEEP_JSON}); give the --out of a repgeom sweep`);
  let s: SweepFile;
  try {
    s = JSON.parse(readTextFileSync(path)) as SweepFile;
  } catch (e) {
    if (e instanceof UserError) throw e; // a FIFO, a device, a file too large: said by the reader
    throw new UserError(`${path}: not readable JSON; the file is damaged (repgeom sweep writes it), so restore it or run the sweep into a new --out`);
  }
  check(isObject(s) && Array.isArray(s.runs) && isObject(s.options), `${path}: has no options and runs; it is not a repgeom sweep.json, so restore it or run the sweep into a new --out`);
  const damaged = (where: string, what: string, value: unknown) => new UserError(
    `${path}: ${where}: ${what}, got ${shortJson(value)}; the file is damaged (repgeom sweep writes it), so restore it or run the sweep into a new --out`);
  const folders = new Set<string>();
  s.runs.forEach((r: unknown, i: number) => {
    const where = `runs[${i}]`;
    if (!isObject(r)) throw damaged(where, 'is not an object', r);
    const e = r as Record<string, unknown>;
    if (e.index !== i) throw damaged(where, `\`index\` must be ${i} (runs are in order)`, e.index);
    // Run folders lie inside the sweep folder: a plain name, never a path that leads out of it.
    const f = e.folder;
    if (typeof f !== 'string' || f === '' || f === '.' || f === '..' || /[/\\\0]/.test(f)) throw damaged(where, '`folder` must be a folder name inside the sweep folder', f);
    if (folders.has(f)) throw damaged(where, '`folder` repeats an earlier run\'s', f);
    folders.add(f);
    if (typeof e.task !== 'string' || e.task === '') throw damaged(where, '`task` must be a task name', e.task);
    if (!REGS.includes(e.reg as string)) throw damaged(where, `\`reg\` must be one of ${REGS.join(', ')}`, e.reg);
    if (!(e.lambda === null || (typeof e.lambda === 'number' && Number.isFinite(e.lambda)))) throw damaged(where, '`lambda` must be a number or null', e.lambda);
    if (!(Number.isInteger(e.seed) && (e.seed as number) >= 0)) throw damaged(where, '`seed` must be an integer ≥ 0', e.seed);
    if (!(Array.isArray(e.argv) && e.argv.every((a) => typeof a === 'string'))) throw damaged(where, '`argv` must be a list of strings', e.argv);
  });
  if (s.slurm !== undefined) {
    const jobs = isObject(s.slurm) ? (s.slurm as { jobs?: unknown }).jobs : undefined;
    if (!(Array.isArray(jobs) && jobs.every((j) => typeof j === 'string' && /^\d+$/.test(j)))) throw damaged('slurm', '`jobs` must be a list of Slurm job ids', jobs);
  }
  return s;
}

const REGS: readonly string[] = ['none', 'istar', 'cosreg'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A value for a message: its JSON, cut short (a damaged file may hold anything). */
function shortJson(v: unknown): string {
  const text = v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function writeSweepFile(dir: string, s: SweepFile): void {
  const plan = planFileOutput(join(dir, SWEEP_JSON), '--out');
  writeOutputFile(plan, [`${JSON.stringify(s, null, 2)}\n`]);
}

/**
 * Create the sweep folder (or open an earlier one made with the same options) and write its
 * sweep.json; returns what it holds now. Earlier Slurm jobs are kept.
 */
export function openSweepFolder(out: string, kind: 'new' | 'existing', plan: SweepPlan, version: string): SweepFile {
  const dir = resolve(out);
  let slurm: SweepFile['slurm'];
  if (kind === 'existing') {
    const before = readSweepFile(dir);
    const diff = differingOptions(before.options, plan.options);
    check(diff.length === 0, () => `--out ${out} holds a sweep made with other options: ${diff.join(', ')}; ${respelledLambdas(before.options.lambdas, plan.options.lambdas) ?? 'run it with the same options or choose another --out'}`);
    slurm = before.slurm;
  } else {
    mkdirSync(dir, { recursive: true });
  }
  mkdirSync(join(dir, LOGS), { recursive: true });
  const file: SweepFile = { command: 'sweep', version, options: plan.options, runs: plan.runs, ...(slurm ? { slurm } : {}) };
  writeSweepFile(dir, file);
  return file;
}

/**
 * When only the spelling of λ changed (1e-3 then 0.001), how to resume: run folders are named by
 * λ as written, so another spelling would plan new folders and leave the earlier runs behind.
 */
function respelledLambdas(before: unknown, now: unknown): string | null {
  if (!Array.isArray(before) || !Array.isArray(now) || before.length !== now.length) return null;
  if (!before.every((b, i) => typeof b === 'string' && Number(b) === Number(now[i]))) return null;
  return `the λ values are the same but written differently, and run folders are named by λ as written, so resume with --lambdas=${before.join(',')} or choose another --out`;
}

/** The line the local executor writes when it starts a run's train process (`pid` on this machine). */
export const startLine = (pid: number): string => `repgeom sweep: ${new Date().toISOString()} local pid ${pid} started`;

/** Who last started the run in this log: a local process (its pid) or a Slurm array task; null if none did. */
export function lastStart(log: string): { local: number } | { slurm: string } | null {
  if (!existsSync(log)) return null;
  const text = readTextFileSync(log);
  const starts = [...text.matchAll(/^repgeom sweep: \S+ (?:local pid (\d+) started|Slurm task (\S+) starting)/gm)];
  const last = starts[starts.length - 1];
  if (!last) return null;
  return last[1] !== undefined ? { local: Number(last[1]) } : { slurm: last[2] };
}

/**
 * The last line an executor appends to a run's log when its train command ends (the local
 * executor and the Slurm script write the same words), so --status tells a failed run from one
 * still going.
 */
export const exitLine = (status: number): string => `repgeom sweep: train exited with status ${status}`;

/**
 * How a train command ended, for messages: "exit status 2", "stopped by SIGINT (exit status 130)"
 * (it caught the signal and saved a checkpoint), "killed by signal 9 (SIGKILL)".
 */
export function exitText(status: number): string {
  if (status <= 128) return `exit status ${status}`;
  const n = status - 128;
  const name = Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0];
  if (isInterruptStatus(status)) return `stopped by ${name} (exit status ${status})`;
  return `killed by signal ${n}${name ? ` (${name})` : ''}`;
}

/**
 * The statuses of a train run that caught SIGINT, SIGTERM or SIGHUP, saved a checkpoint and
 * stopped (resumable); any other status above 128 is a kill (the OOM killer, a time limit's
 * SIGKILL) and a failure.
 */
export function isInterruptStatus(status: number): boolean {
  return (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).some((s) => status === 128 + os.constants.signals[s]);
}

/** The status of the last ending a run's log records, or null (never ran, or still running). */
export function lastExitStatus(log: string): number | null {
  if (!existsSync(log)) return null;
  const text = readTextFileSync(log);
  const all = [...text.matchAll(/^repgeom sweep: train exited with status (\d+)$/gm)];
  if (all.length === 0) return null;
  const last = all[all.length - 1];
  // Output after the last ending line belongs to a later attempt, still running.
  return text.slice(last.index! + last[0].length).trim() === '' ? Number(last[1]) : null;
}
