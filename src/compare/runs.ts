/**
 * The runs `repgeom compare` reads: run folders made by `repgeom train`, and sweep folders
 * (sweep.json's `runs[].folder`, relative to the sweep folder; without sweep.json, the run folders
 * directly inside). Of each run: all of run.json's options (pooled runs must agree on them), the
 * last line of eval.jsonl (the final evaluation of a finished run) and log.jsonl's loss and batch
 * IsoScore⋆ per step.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readTextFileSync } from '../io/file-io.js';
import { taskSpec, TRAIN_TASKS, type TaskMetricName } from '../train/glue-task.js';
import { RUN_JSON, isFinishedRun, lastEvaluation, readRunFileLines } from '../train/run-folder.js';
import { SWEEP_JSON, readSweepFile } from '../train/sweep-folder.js';

/** Training-curve points kept per run for the page (evenly spaced steps, first and last kept). */
export const MAX_CURVE_POINTS = 500;

export interface RunRecord {
  /** The run folder as found (an input, or a sweep's folder joined to its run's folder). */
  folder: string;
  task: string;
  reg: string;
  /** null under --reg none. */
  lambda: number | null;
  seed: number;
  /** run.json's options (every train option that shapes the run); null for a sweep's run not started. */
  options: Record<string, unknown> | null;
  status: 'finished' | 'unfinished';
  /** The task's primary metric and its value in the last evaluation (null before one). */
  metric: TaskMetricName;
  value: number | null;
  /** Every metric of the last evaluation. */
  metrics: Record<string, number | null>;
  /** Step of the last evaluation; null when eval.jsonl has none. */
  evalStep: number | null;
  /** Per hidden state, HF numbering (0 = embeddings), as eval.jsonl has them. */
  isoscoreStar: (number | null)[];
  twoNN: (number | null)[];
  meanCosine: (number | null)[];
  /** Loss of the last log.jsonl line. */
  finalLoss: number | null;
}

export interface CurvePoint { step: number; loss: number | null; isoscoreStarBatch: number | null }

export interface LoadedRun { record: RunRecord; curve: CurvePoint[] }

/**
 * A run folder to read; `planned` holds what sweep.json says of a run that has not started yet
 * (no run.json), which is listed as unfinished rather than dropped.
 */
export interface RunRef { folder: string; planned: { task: string; reg: string; lambda: number | null; seed: number } | null }

/** The run folders the inputs name, in input order (a sweep's in sweep.json's order), each once. */
export function runFoldersOf(inputs: readonly string[]): RunRef[] {
  if (inputs.length === 0) throw new UserError('compare needs one or more run or sweep folders, e.g. repgeom compare runs/sweep-1 --out cmp');
  const out: RunRef[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    for (const ref of runFoldersOfOne(input)) {
      const key = resolve(ref.folder);
      if (!seen.has(key)) { seen.add(key); out.push(ref); }
    }
  }
  return out;
}

function runFoldersOfOne(input: string): RunRef[] {
  if (!existsSync(input)) throw new UserError(`${input}: no such folder; give a run folder (from repgeom train) or a sweep folder`);
  if (!statSync(input).isDirectory()) throw new UserError(`${input}: is a file; give a run folder (from repgeom train) or a sweep folder`);
  if (existsSync(join(input, RUN_JSON))) return [{ folder: input, planned: null }];
  if (existsSync(join(input, SWEEP_JSON))) return sweepRunFolders(input);
  const runs = readdirSync(input).sort().map((name) => join(input, name))
    .filter((d) => statSync(d, { throwIfNoEntry: false })?.isDirectory() && existsSync(join(d, RUN_JSON)));
  if (runs.length === 0) throw new UserError(`${input}: not a run folder (no ${RUN_JSON}) nor a sweep folder (no ${SWEEP_JSON}, no run folders inside); give folders made by repgeom train or repgeom sweep`);
  return runs.map((folder) => ({ folder, planned: null }));
}

/** A sweep's runs through the sweep module's reader of sweep.json (the one parser of that file). */
function sweepRunFolders(dir: string): RunRef[] {
  const sweepJson = join(dir, SWEEP_JSON);
  const { runs } = readSweepFile(dir);
  if (runs.length === 0) throw new UserError(`${sweepJson}: has no list \`runs\`; give a sweep folder written by repgeom sweep`);
  return runs.map((entry, i) => {
    const folder: unknown = entry?.folder;
    if (typeof folder !== 'string' || folder === '') throw new UserError(`${sweepJson}: runs[${i}] has no \`folder\`; give a sweep folder written by repgeom sweep`);
    const path = isAbsolute(folder) ? folder : join(dir, folder);
    if (existsSync(join(path, RUN_JSON))) return { folder: path, planned: null };
    // Not started yet: listed as unfinished with what sweep.json plans for it.
    if (typeof entry.task !== 'string') throw new UserError(`${path}: runs[${i}] of ${sweepJson} has not started (no ${RUN_JSON}) and sweep.json names no task for it; start it, or compare the run folders that exist`);
    return { folder: path, planned: { task: entry.task, reg: String(entry.reg ?? 'none'), lambda: numberOrNull(entry.lambda), seed: Number(entry.seed ?? 0) } };
  });
}

function parseJson(path: string): unknown {
  try {
    return JSON.parse(readTextFileSync(path, { maxBytes: 64 << 20 }));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path}: not valid JSON (${(e as Error).message.slice(0, 120)}); the file is damaged`);
  }
}

const numberOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Read one run folder (a sweep's run that has not started: its planned options, no values). */
export function readRun(ref: RunRef): LoadedRun {
  const { folder, planned } = ref;
  if (planned) {
    if (!(TRAIN_TASKS as readonly string[]).includes(planned.task)) throw new UserError(`${folder}: the sweep plans unknown task ${JSON.stringify(planned.task)}; compare takes runs of ${TRAIN_TASKS.join(', ')}`);
    const record: RunRecord = {
      folder, ...planned, options: null, status: 'unfinished', metric: taskSpec(planned.task).primaryMetric, value: null, metrics: {}, evalStep: null,
      isoscoreStar: [], twoNN: [], meanCosine: [], finalLoss: null,
    };
    return { record, curve: [] };
  }
  const runJsonPath = join(folder, RUN_JSON);
  const run = parseJson(runJsonPath) as { command?: unknown; seed?: unknown; options?: Record<string, unknown> } | null;
  const o = run?.options;
  if (run?.command !== 'train' || typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new UserError(`${runJsonPath}: not a run of repgeom train (command ${JSON.stringify(run?.command ?? null)}); compare takes fine-tuning runs`);
  }
  const task = String(o.task);
  if (!(TRAIN_TASKS as readonly string[]).includes(task)) throw new UserError(`${runJsonPath}: unknown task ${JSON.stringify(o.task)}; compare takes runs of ${TRAIN_TASKS.join(', ')}`);
  const metric = taskSpec(task).primaryMetric;
  const last = lastEvaluation(folder);
  const status = isFinishedRun(folder) ? 'finished' : 'unfinished';
  const evalPath = join(folder, 'eval.jsonl');
  if (status === 'finished' && !last) throw new UserError(`${evalPath}: a finished run without an evaluation; the run folder is damaged: rerun it or leave ${folder} out`);
  if (last && status === 'finished' && !(metric in last.metrics)) throw new UserError(`${evalPath}: line ${last.line} has no \`${metric}\`, the primary metric of ${task}; the file is damaged or not from repgeom train`);
  const log = readRunFileLines(join(folder, 'log.jsonl'));
  const curve = thin(log.map(({ row }) => ({ step: Number(row.step), loss: numberOrNull(row.loss), isoscoreStarBatch: numberOrNull(row.isoscoreStarBatch) }))
    .filter((p) => Number.isFinite(p.step)), MAX_CURVE_POINTS);
  const record: RunRecord = {
    folder, task, reg: String(o.reg ?? 'none'), lambda: numberOrNull(o.lambda), seed: Number(o.seed ?? run.seed ?? 0), options: o, status,
    metric, value: last?.metrics[metric] ?? null, metrics: last?.metrics ?? {}, evalStep: last?.step ?? null,
    isoscoreStar: last?.isoscoreStar ?? [], twoNN: last?.twoNN ?? [], meanCosine: last?.meanCosine ?? [],
    finalLoss: log.length ? numberOrNull(log.at(-1)!.row.loss) : null,
  };
  return { record, curve };
}

/** At most `max` points, evenly spaced over the list, first and last kept. */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  return Array.from({ length: max }, (_, i) => points[Math.round((i * (points.length - 1)) / (max - 1))]);
}
