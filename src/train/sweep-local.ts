/**
 * The local executor: each run of a sweep is a child `repgeom train` process with exactly the
 * arguments sweep.json records (as on Slurm), up to `jobs` at once. A finished run is skipped, an
 * interrupted one resumes from its checkpoint (train does that by itself), a failed one does not
 * stop the others. SIGINT/SIGTERM are passed on to the running children, which save a checkpoint
 * and stop; the sweep then starts no new run. A second signal kills the children at once
 * (SIGKILL; they resume from their last checkpoint) and ends the sweep.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { duration } from '../duration.js';
import { setInterruptHook } from '../io/safe-output.js';
import { lastMetricsText, runFolderProgress } from './run-folder.js';
import { exitLine, exitText, runLogPath, startLine } from './sweep-folder.js';
import type { SweepRun } from './sweep-plan.js';

/** How to start this `repgeom`: node, its flags (`--import tsx` when run from source) and the CLI script. */
export interface CliCommand { node: string; nodeArgs: string[]; script: string }

export interface LocalSweepOptions {
  jobs: number;
  /** --threads of each run (the sweep's threads shared among the runs at once). */
  threadsPerRun: number;
  command: CliCommand;
  /** A progress line (nothing under --quiet). */
  say(text: string): void;
}

export interface FailedRun { run: SweepRun; status: number; log: string }

export interface LocalOutcome {
  finished: number;
  skipped: number;
  failed: FailedRun[];
  /** The signal that stopped the sweep, if one did. */
  interrupted: NodeJS.Signals | null;
}

/** `sst2 istar λ=-1 seed 2`. */
export function runLabel(r: SweepRun): string {
  return `${r.task} ${r.reg}${r.lambda === null ? '' : ` λ=${r.lambda}`} seed ${r.seed}`;
}

/** The command line of a run here (what --dry-run prints and what is spawned): its --threads, then train's arguments. */
export function localRunWords(command: CliCommand, threadsPerRun: number, r: SweepRun): string[] {
  return [command.node, ...command.nodeArgs, command.script, '--threads', String(threadsPerRun), 'train', ...r.argv];
}

export async function runSweepLocally(sweepDir: string, runs: readonly SweepRun[], o: LocalSweepOptions): Promise<LocalOutcome> {
  const total = runs.length, started = Date.now();
  const tag = (r: SweepRun) => `[${r.index + 1}/${total}] ${runLabel(r)}`;
  const outcome: LocalOutcome = { finished: 0, skipped: 0, failed: [], interrupted: null };
  const queue: SweepRun[] = [];
  for (const r of runs) {
    if (runFolderProgress(join(sweepDir, r.folder)).state === 'finished') {
      outcome.skipped++;
      o.say(`${tag(r)}: already finished, skipped`);
    } else {
      queue.push(r);
    }
  }
  const active = new Map<number, number>(); // run index -> child pid
  let signals = 0;
  setInterruptHook((signal) => {
    outcome.interrupted ??= signal;
    signals++;
    if (signals === 1) {
      o.say(`interrupted: ${active.size} running run(s) save a checkpoint and stop; no new run starts (${signal} again to kill them at once)`);
      for (const pid of active.values()) {
        try { process.kill(pid, signal); } catch { /* it has just ended */ }
      }
      return true;
    }
    // The second signal: kill the children (their process groups, as they are detached) and end now.
    for (const [index, pid] of active) {
      try { process.kill(-pid, 'SIGKILL'); } catch { try { process.kill(pid, 'SIGKILL'); } catch { /* it has just ended */ } }
      const r = runs.find((x) => x.index === index);
      if (r) appendFileSync(runLogPath(sweepDir, r), `repgeom sweep: ${new Date().toISOString()} killed with SIGKILL after a second ${signal}; the same command resumes it from its last checkpoint\n`);
    }
    o.say(`interrupted again: killed ${active.size} running run(s) with SIGKILL; the same command resumes them from their last checkpoints`);
    return false; // safe-output's handler exits now with the signal's status (130 for Ctrl-C)
  });

  const sweepLine = () => {
    const done = outcome.finished + outcome.skipped + outcome.failed.length;
    const ran = outcome.finished + outcome.failed.length;
    const elapsed = (Date.now() - started) / 1000;
    const eta = ran > 0 && done < total ? `, ETA ${duration((elapsed / ran) * (total - done))}` : '';
    o.say(`sweep: ${done}/${total} runs done${outcome.failed.length ? ` (${outcome.failed.length} failed)` : ''}, ${duration(elapsed)} elapsed${eta}`);
  };

  const runOne = (r: SweepRun): Promise<void> => new Promise((resolveRun) => {
    const log = runLogPath(sweepDir, r);
    const runStart = Date.now();
    // The log grows while the run goes (a reader follows it), so it is appended to, not staged.
    const fd = openSync(log, 'a');
    const [node, ...args] = localRunWords(o.command, o.threadsPerRun, r);
    // Its own process group: a Ctrl-C in the terminal reaches the sweep only, which passes it on once.
    const child = spawn(node, args, { stdio: ['ignore', fd, fd], detached: true });
    // The pid lets --status tell a run still going from one whose sweep was killed outright.
    appendFileSync(fd, `${startLine(child.pid ?? 0)} repgeom train ${r.argv.join(' ')}\n`);
    closeSync(fd);
    o.say(`${tag(r)}: started (log ${log})`);
    if (child.pid !== undefined) active.set(r.index, child.pid);
    let ended = false;
    const end = (status: number) => {
      if (ended) return;
      ended = true;
      active.delete(r.index);
      appendFileSync(log, `${exitLine(status)}\n`);
      const seconds = (Date.now() - runStart) / 1000;
      if (status === 0) {
        outcome.finished++;
        const metrics = lastMetricsText(join(sweepDir, r.folder));
        o.say(`${tag(r)}: finished in ${duration(seconds)}${metrics ? `, ${metrics}` : ''}`);
      } else if (outcome.interrupted !== null && status === 128 + os.constants.signals[outcome.interrupted]) {
        // It caught the signal the sweep passed on, saved a checkpoint and stopped.
        o.say(`${tag(r)}: stopped after ${duration(seconds)}; the same command resumes it`);
      } else {
        // Any other ending (137: the OOM killer's SIGKILL) is a failure, not a stop.
        outcome.failed.push({ run: r, status, log });
        o.say(`${tag(r)}: failed (${exitText(status)}) after ${duration(seconds)}; see ${log}`);
      }
      if (status === 0 || outcome.interrupted === null) sweepLine();
      resolveRun();
    };
    child.on('error', () => end(127));
    child.on('exit', (code, signal) => end(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });

  try {
    const workers = Array.from({ length: Math.min(o.jobs, queue.length) }, async () => {
      for (let r = queue.shift(); r !== undefined && outcome.interrupted === null; r = queue.shift()) await runOne(r);
    });
    await Promise.all(workers);
  } finally {
    setInterruptHook(null);
  }
  return outcome;
}
