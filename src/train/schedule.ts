/**
 * Learning-rate schedules as Hugging Face's Trainer builds them: `constant` (after an optional
 * linear warmup) and `linear` (get_linear_schedule_with_warmup: linear warmup from 0, then linear
 * decay to 0 at the last step). `lrAt(s)` is the rate of the optimizer step that follows `s`
 * completed steps, as the scheduler stands when step s + 1 runs.
 */
export type ScheduleKind = 'constant' | 'linear';

export interface Schedule {
  kind: ScheduleKind;
  baseLr: number;
  totalSteps: number;
  warmupSteps: number;
  lrAt(completedSteps: number): number;
}

/** Warmup steps for a ratio, as TrainingArguments.get_warmup_steps: ⌈ratio × total⌉. */
export function warmupSteps(ratio: number, totalSteps: number): number {
  return Math.ceil(ratio * totalSteps);
}

export function makeSchedule(kind: ScheduleKind, baseLr: number, totalSteps: number, warmup: number): Schedule {
  const factor = (s: number): number => {
    if (s < warmup) return s / Math.max(1, warmup);
    if (kind === 'constant') return 1;
    return Math.max(0, (totalSteps - s) / Math.max(1, totalSteps - warmup));
  };
  return { kind, baseLr, totalSteps, warmupSteps: warmup, lrAt: (s) => baseLr * factor(s) };
}
