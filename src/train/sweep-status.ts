/**
 * `repgeom sweep --status`: the state of every run of a sweep folder, from its run folders (train's
 * own finished test; a checkpoint means partial), the ending line each executor appends to the
 * run's log, and Slurm (squeue, then sacct where accounting is on) for the jobs sweep.json records.
 */
import { join, resolve } from 'node:path';
import { processAlive } from '../io/safe-output.js';
import { lastMetricsText, runFolderProgress } from './run-folder.js';
import { exitText, isInterruptStatus, lastExitStatus, lastStart, readSweepFile, runLogPath } from './sweep-folder.js';
import { SLURM_LIVE, slurmTaskStates } from './sweep-slurm.js';

export const RUN_STATES = ['pending', 'running', 'finished', 'failed', 'interrupted'] as const;
export type RunState = (typeof RUN_STATES)[number];

export interface RunStatus {
  index: number;
  task: string;
  reg: string;
  lambda: number | null;
  seed: number;
  folder: string;
  state: RunState;
  /** Steps done: the finished run's, else the newest checkpoint's. */
  step: number;
  /** The last evaluation's dev metrics ("accuracy 0.7420"), or ''. */
  metrics: string;
  /** Slurm's word for the array task, when Slurm knows it. */
  slurm: string | null;
  /** How a failed or interrupted run's last attempt ended ("killed by signal 9 (SIGKILL)", "exit status 2"), or ''. */
  ending: string;
}

export interface SweepStatus { sweep: string; runs: RunStatus[]; counts: Record<RunState, number>; summary: string }

const SLURM_STOPPED = new Set(['CANCELLED', 'TIMEOUT', 'PREEMPTED']);
const SLURM_FAILED = new Set(['FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE']);

export function sweepStatus(dirGiven: string): SweepStatus {
  const dir = resolve(dirGiven);
  const file = readSweepFile(dir);
  const slurm = file.slurm?.jobs?.length ? slurmTaskStates(file.slurm.jobs) : { states: new Map<number, string>(), answered: false };
  const runs = file.runs.map((r): RunStatus => {
    const runDir = join(dir, r.folder);
    const progress = runFolderProgress(runDir);
    const log = runLogPath(dir, r);
    const exit = lastExitStatus(log);
    const start = lastStart(log);
    const word = slurm.states.get(r.index) ?? null;
    const slurmState = word === null ? null : word.split(/[\s+]/)[0];
    let state: RunState;
    if (progress.state === 'finished') state = 'finished';
    else if (slurmState !== null && SLURM_LIVE[slurmState]) state = SLURM_LIVE[slurmState];
    // A caught SIGINT/SIGTERM/SIGHUP saved a checkpoint; any other ending (137: the OOM killer, a time limit's SIGKILL) is a failure.
    else if (exit !== null) state = isInterruptStatus(exit) ? 'interrupted' : 'failed';
    else if (slurmState !== null && SLURM_FAILED.has(slurmState)) state = 'failed';
    else if (slurmState !== null && SLURM_STOPPED.has(slurmState)) state = progress.state === 'partial' ? 'interrupted' : 'failed';
    else if (start !== null) {
      // Started and not ended: still going, unless its process is gone (the sweep killed outright,
      // or a Slurm task squeue no longer lists: killed at its time limit, the node lost).
      const gone = 'local' in start ? !processAlive(start.local) : slurm.answered && slurmState === null;
      state = gone ? 'interrupted' : 'running';
    }
    else if (progress.state === 'partial') state = 'interrupted';
    else state = 'pending';
    return {
      index: r.index, task: r.task, reg: r.reg, lambda: r.lambda, seed: r.seed, folder: r.folder, state,
      step: progress.step, metrics: progress.state === 'finished' ? lastMetricsText(runDir) : '', slurm: word,
      ending: exit !== null && (state === 'failed' || state === 'interrupted') ? exitText(exit) : '',
    };
  });
  const counts = Object.fromEntries(RUN_STATES.map((s) => [s, runs.filter((r) => r.state === s).length])) as Record<RunState, number>;
  const parts = RUN_STATES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  const summary = `${dirGiven}: ${runs.length} runs: ${parts.join(', ')}${file.slurm?.jobs?.length ? ` (Slurm jobs ${file.slurm.jobs.join(', ')})` : ''}`;
  return { sweep: dir, runs, counts, summary };
}
