/**
 * The runs `repgeom compare` reads: run folders made by `repgeom train`, and sweep folders
 * (sweep.json's `runs[].folder`, relative to the sweep folder; without sweep.json, the run folders
 * directly inside). Of each run: run.json's options, the last line of eval.jsonl (the final
 * evaluation of a finished run) and log.jsonl's loss and batch IsoScore⋆ per step.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readTextFileSync } from '../io/file-io.js';
import { taskSpec, TRAIN_TASKS, type TaskMetricName } from '../train/glue-task.js';
import { RUN_JSON, isFinishedRun } from '../train/run-folder.js';

export const SWEEP_JSON = 'sweep.json';
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
  const sweepJson = join(input, SWEEP_JSON);
  if (existsSync(sweepJson)) return sweepRunFolders(input, sweepJson);
  const runs = readdirSync(input).sort().map((name) => join(input, name))
    .filter((d) => statSync(d, { throwIfNoEntry: false })?.isDirectory() && existsSync(join(d, RUN_JSON)));
  if (runs.length === 0) throw new UserError(`${input}: not a run folder (no ${RUN_JSON}) nor a sweep folder (no ${SWEEP_JSON}, no run folders inside); give folders made by repgeom train or repgeom sweep`);
  return runs.map((folder) => ({ folder, planned: null }));
}

function sweepRunFolders(dir: string, sweepJson: string): RunRef[] {
  const sweep = parseJson(sweepJson) as { runs?: unknown; options?: Record<string, unknown> } | null;
  const runs = sweep?.runs;
  if (!Array.isArray(runs) || runs.length === 0) throw new UserError(`${sweepJson}: has no list \`runs\`; give a sweep folder written by repgeom sweep`);
  return runs.map((r, i) => {
    const entry = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    const folder = entry.folder;
    if (typeof folder !== 'string' || folder === '') throw new UserError(`${sweepJson}: runs[${i}] has no \`folder\`; give a sweep folder written by repgeom sweep`);
    const path = isAbsolute(folder) ? folder : join(dir, folder);
    if (existsSync(join(path, RUN_JSON))) return { folder: path, planned: null };
    // Not started yet: listed as unfinished with what sweep.json plans for it.
    const task = entry.task ?? sweep?.options?.task;
    if (typeof task !== 'string') throw new UserError(`${path}: runs[${i}] of ${sweepJson} has not started (no ${RUN_JSON}) and sweep.json names no task for it; start it, or compare the run folders that exist`);
    const reg = String(entry.reg ?? sweep?.options?.reg ?? 'none');
    return { folder: path, planned: { task, reg, lambda: numberOrNull(entry.lambda), seed: Number(entry.seed ?? 0) } };
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

/**
 * Every JSON line of a run file (blank lines skipped); a line that is not a JSON object is a
 * damaged file, named with its line number (compare must not guess around it).
 */
function jsonLines(path: string): { line: number; row: Record<string, unknown> }[] {
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
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new UserError(`${path}: line ${i + 1} is not a JSON object; the run's file is damaged: rerun the run or leave it out`);
    out.push({ line: i + 1, row: row as Record<string, unknown> });
  });
  return out;
}

const numberOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function perLayer(v: unknown, path: string, line: number, key: string): (number | null)[] {
  if (!Array.isArray(v)) throw new UserError(`${path}: line ${line} has no list \`${key}\` (one value per layer); the file is damaged or not from repgeom train`);
  return v.map(numberOrNull);
}

/** Read one run folder (a sweep's run that has not started: its planned options, no values). */
export function readRun(ref: RunRef): LoadedRun {
  const { folder, planned } = ref;
  if (planned) {
    if (!(TRAIN_TASKS as readonly string[]).includes(planned.task)) throw new UserError(`${folder}: the sweep plans unknown task ${JSON.stringify(planned.task)}; compare takes runs of ${TRAIN_TASKS.join(', ')}`);
    const record: RunRecord = {
      folder, ...planned, status: 'unfinished', metric: taskSpec(planned.task).primaryMetric, value: null, metrics: {}, evalStep: null,
      isoscoreStar: [], twoNN: [], meanCosine: [], finalLoss: null,
    };
    return { record, curve: [] };
  }
  const runJsonPath = join(folder, RUN_JSON);
  const run = parseJson(runJsonPath) as { command?: unknown; seed?: unknown; options?: Record<string, unknown> } | null;
  const o = run?.options;
  if (run?.command !== 'train' || typeof o !== 'object' || o === null) {
    throw new UserError(`${runJsonPath}: not a run of repgeom train (command ${JSON.stringify(run?.command ?? null)}); compare takes fine-tuning runs`);
  }
  const task = String(o.task);
  if (!(TRAIN_TASKS as readonly string[]).includes(task)) throw new UserError(`${runJsonPath}: unknown task ${JSON.stringify(o.task)}; compare takes runs of ${TRAIN_TASKS.join(', ')}`);
  const metric = taskSpec(task).primaryMetric;
  const evalPath = join(folder, 'eval.jsonl');
  const evals = jsonLines(evalPath);
  const last = evals.at(-1);
  const status = isFinishedRun(folder) ? 'finished' : 'unfinished';
  if (status === 'finished' && !last) throw new UserError(`${evalPath}: a finished run without an evaluation; the run folder is damaged: rerun it or leave ${folder} out`);
  const metrics: Record<string, number | null> = {};
  let isoscoreStar: (number | null)[] = [], twoNN: (number | null)[] = [], meanCosine: (number | null)[] = [];
  if (last) {
    const m = last.row.metrics;
    if (typeof m !== 'object' || m === null) throw new UserError(`${evalPath}: line ${last.line} has no \`metrics\`; the file is damaged or not from repgeom train`);
    for (const [k, v] of Object.entries(m)) metrics[k] = numberOrNull(v);
    if (status === 'finished' && !(metric in metrics)) throw new UserError(`${evalPath}: line ${last.line} has no \`${metric}\`, the primary metric of ${task}; the file is damaged or not from repgeom train`);
    isoscoreStar = perLayer(last.row.isoscoreStar, evalPath, last.line, 'isoscoreStar');
    twoNN = perLayer(last.row.twoNN, evalPath, last.line, 'twoNN');
    meanCosine = perLayer(last.row.meanCosine, evalPath, last.line, 'meanCosine');
  }
  const log = jsonLines(join(folder, 'log.jsonl'));
  const curve = thin(log.map(({ row }) => ({ step: Number(row.step), loss: numberOrNull(row.loss), isoscoreStarBatch: numberOrNull(row.isoscoreStarBatch) }))
    .filter((p) => Number.isFinite(p.step)), MAX_CURVE_POINTS);
  const record: RunRecord = {
    folder, task, reg: String(o.reg ?? 'none'), lambda: numberOrNull(o.lambda), seed: Number(o.seed ?? run.seed ?? 0), status,
    metric, value: metrics[metric] ?? null, metrics, evalStep: last ? numberOrNull(last.row.step) : null,
    isoscoreStar, twoNN, meanCosine, finalLoss: log.length ? numberOrNull(log.at(-1)!.row.loss) : null,
  };
  return { record, curve };
}

/** At most `max` points, evenly spaced over the list, first and last kept. */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  return Array.from({ length: max }, (_, i) => points[Math.round((i * (points.length - 1)) / (max - 1))]);
}
