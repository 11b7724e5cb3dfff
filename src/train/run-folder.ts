/**
 * The files of a training run folder besides its checkpoints (DESIGN.md "Run folders"):
 * run.json (the options, versions, backend, seed), log.jsonl and eval.jsonl (rewritten whole
 * through the safe output path, so a reader never sees half a line; on resume cut back to the
 * steps of the checkpoint resumed from), predictions.csv.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError, check } from '../errors.js';
import { writeFileAtomic, readTextFileSync } from '../io/file-io.js';
import { lockFolder, type FolderLock } from '../io/folder-lock.js';
import { checkOutsideInputs } from '../io/safe-output.js';
import { checkpointsNewestFirst, isCheckpointFolder, readTrainerState } from './checkpoint.js';

export const RUN_JSON = 'run.json';
/** The lock a train process holds in its run folder (io/folder-lock.ts); never left by a finished run. */
export const RUN_LOCK = 'run.lock';
/** The checkpoint a run writes when its last step is done and evaluated. */
export const FINAL_FOLDER = 'final';

/**
 * How far the run in `dir` got: finished (its final/ checkpoint is complete and its trainer state
 * says so), partial (the step of its newest checkpoint) or new. The one test of "finished",
 * shared by train (which then does nothing), sweep (which skips the run) and compare (which uses
 * only finished runs); a damaged trainer state reads as not finished.
 */
export function runFolderProgress(dir: string): { state: 'finished' | 'partial' | 'new'; step: number } {
  const final = join(dir, FINAL_FOLDER);
  if (isCheckpointFolder(final)) {
    try {
      const state = readTrainerState(final);
      if (state.finished === true) return { state: 'finished', step: state.step };
    } catch {
      // unreadable state: not finished
    }
  }
  const newest = checkpointsNewestFirst(join(dir, 'checkpoints'))[0];
  return newest ? { state: 'partial', step: newest.step } : { state: 'new', step: 0 };
}

export const isFinishedRun = (dir: string): boolean => runFolderProgress(dir).state === 'finished';

/**
 * Make (or accept) the run folder: a new folder, an empty one (a lock aside), or an earlier run's
 * (it has run.json). Anything else is refused, so a typo in --out never writes into a folder of
 * the user's.
 */
export function prepareRunFolder(out: string, inputs: readonly string[]): 'new' | 'existing' {
  if (out.trim() === '') throw new UserError('--out is empty; give the run folder to write');
  const abs = resolve(out);
  checkOutsideInputs(out, '--out', inputs, 'run folder');
  if (!existsSync(abs)) {
    if (!existsSync(dirname(abs))) throw new UserError(`--out ${out}: the folder ${dirname(abs)} does not exist; create it first`);
    mkdirSync(abs);
    return 'new';
  }
  if (!statSync(abs).isDirectory()) throw new UserError(`--out ${out}: is a file, not a folder; give a run folder (it is created)`);
  if (existsSync(join(abs, RUN_JSON))) return 'existing';
  // A run that has not written run.json yet holds only its lock: lockRunFolder says who has it.
  if (readdirSync(abs).some((n) => n !== RUN_LOCK)) throw new UserError(`--out ${out}: the folder exists and is not a repgeom run folder (no ${RUN_JSON}); choose another --out`);
  return 'new';
}

/**
 * The run folder's lock, held while a train process writes it (sweeps, Slurm tasks and
 * intrinsic-dim's baseline all train through runTraining, so one lock covers them all).
 */
export function lockRunFolder(out: string): FolderLock {
  return lockFolder(resolve(out), RUN_LOCK, `--out ${out}`);
}

export interface OpenRunFolder {
  kind: 'new' | 'existing';
  /** Release the lock, and remove the folder again when this call made it and nothing was written. */
  close(): void;
}

/**
 * Open a run folder for `command` (train, pretrain): make or accept it (prepareRunFolder), take its
 * lock before anything in it is read or written, and for an earlier run check that it was made by
 * the same command with the same options (a resume continues exactly that run). The caller
 * closes it when the run ends, however it ends.
 */
export function openRunFolder(out: string, inputs: readonly string[], command: string, options: Record<string, unknown>, onWarning: (text: string) => void): OpenRunFolder {
  const kind = prepareRunFolder(out, inputs);
  let lock: FolderLock | null = null;
  const close = () => {
    lock?.release();
    if (kind === 'new' && existsSync(out) && readdirSync(out).length === 0) rmdirSync(out);
  };
  try {
    lock = lockRunFolder(out);
    if (lock.tookOverFrom) {
      const h = lock.tookOverFrom;
      onWarning(`--out ${out}: took over the lock ${RUN_LOCK} of pid ${h.pid} (started ${h.started}), which is no longer running`);
    }
    if (kind === 'existing') {
      let before: { command?: string; options?: Record<string, unknown> };
      try {
        before = JSON.parse(readTextFileSync(join(out, RUN_JSON)));
      } catch {
        throw new UserError(`${join(out, RUN_JSON)}: not a readable run.json, so the run cannot be resumed; choose another --out`);
      }
      check(before.command === undefined || before.command === command, `--out ${out} holds a '${before.command}' run, not a ${command} run; choose another --out`);
      const diff = differingOptions(before.options ?? {}, options);
      check(diff.length === 0, `--out ${out} holds a run made with other options: ${diff.join(', ')}; resume with the same options or choose another --out`);
    }
  } catch (e) {
    close();
    throw e;
  }
  return { kind, close };
}

/** Dev metrics as "accuracy 0.7420, f1 0.8100". */
export function metricsText(metrics: Record<string, number | null>): string {
  return Object.entries(metrics).map(([k, v]) => `${k} ${v === null ? 'null' : v.toFixed(4)}`).join(', ');
}

/** The last evaluation's metrics as text for status lines: '' when there is none or eval.jsonl is damaged (a status must not fail). */
export function lastMetricsText(runDir: string): string {
  try {
    return metricsText(lastEvaluation(runDir)?.metrics ?? {});
  } catch {
    return '';
  }
}

export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, [Buffer.from(`${JSON.stringify(value, null, 2)}\n`)], '--out');
}

/** Options of an earlier run that differ from these, as `--flag old (now new)`. */
export function differingOptions(before: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])];
  const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return keys.filter((k) => JSON.stringify(before[k] ?? null) !== JSON.stringify(now[k] ?? null))
    .map((k) => `${flag(k)} ${JSON.stringify(before[k] ?? null)} (now ${JSON.stringify(now[k] ?? null)})`);
}

/** JSON lines of a run file with `step` ≤ `upTo` (a resume drops what came after its checkpoint). */
export function readJsonLinesUpTo(path: string, upTo: number): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of readTextFileSync(path).split('\n')) {
    if (!line.trim()) continue;
    try {
      const row = JSON.parse(line) as Record<string, unknown>;
      if (typeof row.step === 'number' && row.step <= upTo) out.push(row);
    } catch {
      // A torn or edited line after the checkpoint is simply dropped; the run writes it again.
    }
  }
  return out;
}

export function writeJsonLines(path: string, rows: readonly unknown[]): void {
  writeFileAtomic(path, [Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(''))], '--out');
}

/** predictions.csv: eval row index (file order), gold label, predicted label, the head's scores. */
export function writePredictions(path: string, gold: readonly number[], predicted: readonly number[], scores: readonly Float32Array[]): void {
  const width = scores[0]?.length ?? 0;
  const header = ['index', 'label', 'prediction', ...(width === 1 ? ['score'] : Array.from({ length: width }, (_, k) => `score_${k}`))];
  const lines = [header.join(',')];
  for (let i = 0; i < gold.length; i++) lines.push([i, gold[i], predicted[i], ...Array.from(scores[i])].join(','));
  writeFileAtomic(path, [Buffer.from(`${lines.join('\n')}\n`)], '--out');
}

/**
 * Every JSON object line of a run file (log.jsonl, eval.jsonl; blank lines skipped) with its line
 * number; none when the file does not exist. A line that is not a JSON object is a damaged file,
 * named with its line (readers that use the values must not guess around it; a resume, which
 * rewrites the file, uses the lenient readJsonLinesUpTo instead).
 */
export function readRunFileLines(path: string): { line: number; row: Record<string, unknown> }[] {
  if (!existsSync(path)) return [];
  const out: { line: number; row: Record<string, unknown> }[] = [];
  readTextFileSync(path).split('\n').forEach((text, i) => {
    if (!text.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch {
      throw new UserError(`${path}: line ${i + 1} is not JSON; the run's file is damaged: rerun the run into a new folder or leave ${dirname(path)} out`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new UserError(`${path}: line ${i + 1} is not a JSON object; the run's file is damaged: rerun the run or leave ${dirname(path)} out`);
    out.push({ line: i + 1, row: row as Record<string, unknown> });
  });
  return out;
}

/** The last evaluation of a run (eval.jsonl's last line), as `train` writes it. */
export interface LastEvaluation {
  /** eval.jsonl's path and the line read (for messages). */
  path: string;
  line: number;
  step: number | null;
  epoch: number | null;
  /** The task metrics; null where undefined (a correlation of a constant prediction). */
  metrics: Record<string, number | null>;
  /** Per hidden state, HF numbering (0 = embeddings); null where undefined on that layer. */
  isoscoreStar: (number | null)[];
  twoNN: (number | null)[];
  meanCosine: (number | null)[];
}

const finiteOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The one reader of a run's last evaluation (compare, intrinsic-dim's baseline, sweep's
 * messages): null when eval.jsonl is missing or empty; a damaged file is a UserError naming the
 * file and line.
 */
export function lastEvaluation(runDir: string): LastEvaluation | null {
  const path = join(runDir, 'eval.jsonl');
  const last = readRunFileLines(path).at(-1);
  if (!last) return null;
  const { line, row } = last;
  const damaged = (what: string) => new UserError(`${path}: line ${line} has no ${what}; the file is damaged or not from repgeom train`);
  if (typeof row.metrics !== 'object' || row.metrics === null || Array.isArray(row.metrics)) throw damaged('`metrics`');
  const metrics: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(row.metrics)) metrics[k] = finiteOrNull(v);
  const perLayer = (key: string): (number | null)[] => {
    const v = row[key];
    if (!Array.isArray(v)) throw damaged(`list \`${key}\` (one value per layer)`);
    return v.map(finiteOrNull);
  };
  return {
    path, line, step: finiteOrNull(row.step), epoch: finiteOrNull(row.epoch), metrics,
    isoscoreStar: perLayer('isoscoreStar'), twoNN: perLayer('twoNN'), meanCosine: perLayer('meanCosine'),
  };
}
