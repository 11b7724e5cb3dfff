/**
 * What `train` and `pretrain` show while a run goes: a bar with the step, the loss and steps/s,
 * messages on their own lines, and the exit status of a run stopped by a signal.
 */
import * as os from 'node:os';
import { createProgress } from './progress.js';

export interface RunProgress {
  /** The run loop's callbacks. */
  onStep: (step: number, total: number, loss: number) => void;
  onMessage: (text: string) => void;
  /** A line of its own below the bar. */
  say: (text: string) => void;
  done: () => void;
}

export function runProgress(label: string, quiet: boolean): RunProgress {
  const progress = createProgress(process.stderr, quiet, 'steps');
  const say = (text: string) => { progress.done(); process.stderr.write(`${text}\n`); };
  // The rate counts from the first step this process ran (a resumed run starts part-way).
  let first = 0, firstAt = 0;
  return {
    onStep: (step, total, loss) => {
      const now = Date.now();
      if (firstAt === 0) { first = step - 1; firstAt = now; }
      const rate = (step - first) / Math.max(1e-3, (now - firstAt) / 1000);
      progress.update(label, step, total, `loss ${loss.toFixed(4)} ${rate.toFixed(2)} steps/s`);
    },
    onMessage: (text) => { if (!quiet || !text.startsWith('resuming')) say(text); },
    say,
    done: () => progress.done(),
  };
}

/** The status a shell gives a process stopped by that signal (130 for Ctrl-C). */
export function interruptedStatus(signal: NodeJS.Signals | null | undefined): number {
  return 128 + os.constants.signals[signal ?? 'SIGINT'];
}
