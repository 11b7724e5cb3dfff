/**
 * The Slurm executor: `sweep.sbatch` is an array job whose task i runs run i of sweep.json as a
 * plain `repgeom train` command (absolute node and CLI paths, shell-quoted arguments), its output
 * appended to logs/<run folder>.log with the same ending line as the local executor writes.
 * Submitting records the job id in sweep.json. Submitting again once those jobs have ended is safe
 * (a finished run's train command exits 0 at once); while they still have tasks queued or running
 * it is refused, and train's run-folder lock keeps any two writers of one run folder apart.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError, check } from '../errors.js';
import { planFileOutput, writeOutputFile } from '../io/safe-output.js';
import { readSweepFile, runLogPath, writeSweepFile, type SweepFile } from './sweep-folder.js';
import type { CliCommand } from './sweep-local.js';

export const SBATCH = 'sweep.sbatch';

export interface SlurmResources { partition?: string; time?: string; cpusPerTask?: number; gres?: string }

/** A word as a POSIX shell reads it back. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command line of run i, as the array task runs it (threads from --cpus-per-task when given). */
export function runCommandWords(file: SweepFile, i: number, command: CliCommand, res: SlurmResources): string[] {
  const threads = res.cpusPerTask !== undefined ? ['--threads', String(res.cpusPerTask)] : [];
  return [command.node, ...command.nodeArgs, command.script, ...threads, 'train', ...file.runs[i].argv];
}

/** The text of sweep.sbatch; `cwd` is where the commands run (what relative node flags such as `--import tsx` resolve against). */
export function sbatchScript(dir: string, file: SweepFile, res: SlurmResources, command: CliCommand, cwd: string): string {
  const n = file.runs.length;
  const header = [
    '#!/bin/bash',
    // sbatch does not expand % in a job name (tried: `a%%b%x` stays as written), so it is kept.
    `#SBATCH --job-name=${shellWord(`repgeom-sweep-${basename(dir)}`)}`,
    `#SBATCH --array=0-${n - 1}`,
    // In --output sbatch expands %A, %j, %x...: a % of the sweep's path is written %% (a literal %).
    `#SBATCH --output=${shellWord(join(dir.replace(/%/g, '%%'), 'slurm', '%A_%a.out'))}`,
    ...(res.partition !== undefined ? [`#SBATCH --partition=${shellWord(res.partition)}`] : []),
    ...(res.time !== undefined ? [`#SBATCH --time=${shellWord(res.time)}`] : []),
    ...(res.cpusPerTask !== undefined ? [`#SBATCH --cpus-per-task=${res.cpusPerTask}`] : []),
    ...(res.gres !== undefined ? [`#SBATCH --gres=${shellWord(res.gres)}`] : []),
  ];
  const commands = file.runs.map((_, i) => `  ${shellWord(runCommandWords(file, i, command, res).map(shellWord).join(' '))}`);
  const logs = file.runs.map((r) => `  ${shellWord(runLogPath(dir, r))}`);
  return `${[
    ...header,
    `# Written by repgeom sweep ${file.version}: array task i runs run i of ${join(dir, 'sweep.json')},`,
    '# a plain `repgeom train` command (the same command on a finished run exits 0 at once).',
    'set -u',
    `cd ${shellWord(cwd)} || exit 1`,
    'commands=(', ...commands, ')',
    'logs=(', ...logs, ')',
    'i=${SLURM_ARRAY_TASK_ID:?submit this script with sbatch (array task i runs run i)}',
    'log=${logs[$i]}',
    'echo "repgeom sweep: $(date -u +%Y-%m-%dT%H:%M:%SZ) Slurm task ${SLURM_ARRAY_JOB_ID:-?}_${i} starting ${commands[$i]}" >> "$log"',
    '# A TERM (scancel, the time limit) reaches train too, which saves a checkpoint and stops; this',
    '# shell waits for it and records how it ended.',
    "trap ':' TERM INT",
    'eval "${commands[$i]}" >> "$log" 2>&1 &',
    'child=$!',
    '# wait returns above 128 when a trapped signal arrives; the child may still be saving.',
    'while :; do',
    '  wait "$child"; status=$?',
    '  if [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; then continue; fi',
    '  break',
    'done',
    'echo "repgeom sweep: train exited with status $status" >> "$log"',
    'exit "$status"',
  ].join('\n')}\n`;
}

/** Write sweep.sbatch (and the slurm/ folder its --output names); returns its path. */
export function writeSbatchScript(dir: string, file: SweepFile, res: SlurmResources, command: CliCommand, cwd: string): string {
  mkdirSync(join(dir, 'slurm'), { recursive: true });
  const path = join(dir, SBATCH);
  writeOutputFile(planFileOutput(path, '--out'), [sbatchScript(dir, file, res, command, cwd)]);
  return path;
}

/** `sbatch --parsable` the script; the job id is appended to sweep.json's slurm.jobs. */
export function submitSweep(dir: string, script: string): string {
  const r = spawnSync('sbatch', ['--parsable', script], { encoding: 'utf8', timeout: 120_000 });
  const firstLine = (s: string | null) => (s ?? '').trim().split('\n')[0] ?? '';
  if (r.error) throw new UserError(`sbatch could not run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); ${script} is written: submit it with sbatch where Slurm runs`);
  const id = firstLine(r.stdout).split(';')[0];
  if (r.status !== 0 || !/^\d+$/.test(id)) {
    throw new UserError(`sbatch ${script} failed (exit status ${r.status}): ${firstLine(r.stderr) || firstLine(r.stdout) || 'no message'}; fix the Slurm options (--partition, --time, --cpus-per-task, --gres) and run the same command again`);
  }
  const file = readSweepFile(dir);
  file.slurm = { jobs: [...(file.slurm?.jobs ?? []), id] };
  writeSweepFile(dir, file);
  return id;
}

/** Slurm's words for an array task still queued or running, and the run state each stands for. */
export const SLURM_LIVE: Record<string, 'pending' | 'running'> = {
  PENDING: 'pending', CONFIGURING: 'pending', REQUEUED: 'pending', REQUEUE_HOLD: 'pending', SUSPENDED: 'pending',
  RUNNING: 'running', COMPLETING: 'running', STAGE_OUT: 'running', SIGNALING: 'running', RESIZING: 'running',
};

/**
 * Refuse to start a sweep (submit again, or run it here) while Slurm jobs sweep.json records still
 * have tasks queued or running: both would train the same run folders. Where squeue cannot be
 * asked nothing is known, and train's run-folder lock is what keeps writers apart.
 */
export function checkNoLiveJobs(out: string, file: SweepFile): void {
  const live = (file.slurm?.jobs ?? []).filter((job) => (query('squeue', ['-h', '-r', '-j', job, '-o', '%i %T']) ?? [])
    .some((line) => { const m = /^(\d+)(?:_\S*)?\s+(\S+)/.exec(line.trim()); return m !== null && m[1] === job && SLURM_LIVE[m[2]] !== undefined; }));
  check(live.length === 0, () => `--out ${out}: Slurm job${live.length > 1 ? 's' : ''} ${live.join(', ')} of this sweep still ${live.length > 1 ? 'have' : 'has'} tasks pending or running; follow ${live.length > 1 ? 'them' : 'it'} with repgeom sweep --status ${shellWord(out)} and run this command once ${live.length > 1 ? 'they end' : 'it ends'}, or cancel ${live.length > 1 ? 'them' : 'it'} first (scancel ${live.join(' ')})`);
}

/**
 * Slurm's state of each array task of these jobs (later jobs win), from sacct where accounting is
 * on and squeue (what is live now wins); `answered` says whether squeue could be asked at all.
 */
export function slurmTaskStates(jobs: readonly string[]): { states: Map<number, string>; answered: boolean } {
  const states = new Map<number, string>();
  let answered = false;
  for (const job of jobs) {
    for (const line of query('sacct', ['-n', '-P', '-j', job, '-o', 'JobID,State']) ?? []) {
      const m = /^(\d+)_(\d+)\|(\S+)/.exec(line);
      if (m && m[1] === job) states.set(Number(m[2]), m[3]);
    }
    const live = query('squeue', ['-h', '-r', '-j', job, '-o', '%i %T']);
    answered ||= live !== null;
    for (const line of live ?? []) {
      const m = /^(\d+)_(\d+)\s+(\S+)/.exec(line.trim());
      if (m && m[1] === job) states.set(Number(m[2]), m[3]);
    }
  }
  return { states, answered };
}

/** The lines a Slurm client printed, or null when it could not run or refused (no Slurm here). */
function query(program: string, args: string[]): string[] | null {
  const r = spawnSync(program, args, { encoding: 'utf8', timeout: 30_000 });
  // squeue -j of a job that has left the queue exits 1 ("Invalid job id") on some versions: an empty answer.
  if (r.error || typeof r.stdout !== 'string') return null;
  if (r.status !== 0) return /invalid job id/i.test(r.stderr ?? '') ? [] : null;
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}
