/**
 * `repgeom train` as a library call: fine-tune a Hugging Face checkpoint on a GLUE task with an
 * optional I-STAR or CosReg term, into a run folder (DESIGN.md "Run folders") that resumes
 * exactly: the same call on an existing folder continues from its newest checkpoint and ends with
 * the same weights and metrics as an uninterrupted run.
 *
 * Exactness rests on three facts: the data order of epoch e is a permutation keyed by (seed, e);
 * every dropout mask is keyed by (seed, site, step); and a checkpoint holds the weights, AdamW's
 * moments and step, the position in the epoch and I-STAR's C0. Evaluation and logging are
 * deterministic functions of these, so the files after a resume equal an uninterrupted run's.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { yieldToEventLoop } from '../backend/yield.js';
import { describeProducts } from '../backend/products/index.js';
import { UserError, check } from '../errors.js';
import { readDataset, type Dataset } from '../io/datasets.js';
import { removeDeadTemporariesIn, setInterruptHook } from '../io/safe-output.js';
import { checkZeta } from '../metrics/isoscore-star.js';
import { maxInputLength, readConfig, type EncoderConfig } from '../models/config.js';
import { loadTokenizer, type Tokenizer } from '../models/tokenizer.js';
import { TrainableModel } from '../models/trainable.js';
import { CosReg } from '../regularizers/cosreg.js';
import { IStar } from '../regularizers/istar.js';
import type { Regularizer } from '../regularizers/regularizer.js';
import { batchCount, epochOrder, orderedBatch, type LabelledExamples } from './batches.js';
import { checkpointsNewestFirst, isCheckpointFolder, loadOptimizerState, readTrainerState, saveCheckpoint, verifyCheckpoint, type TrainerState } from './checkpoint.js';
import { evaluate, trainingTokenCovariances, type Evaluation } from './evaluate.js';
import { taskSpec, type TaskSpec } from './glue-task.js';
import { makeSchedule, warmupSteps, type ScheduleKind } from './schedule.js';
import { createOptimizer, refreshRegularizer, trainStep } from './step.js';
import { FINAL_FOLDER, RUN_JSON, openRunFolder, runFolderProgress, readJsonLinesUpTo, writeJson, writeJsonLines, writePredictions } from './run-folder.js';

/** Every option that shapes the run's results (recorded in run.json and compared on resume). */
export interface TrainOptions {
  model: string;
  task: string;
  data: string;
  reg: 'none' | 'istar' | 'cosreg';
  lambda: number | null;
  zeta: number;
  c0Sample: number;
  istarIncludePadding: boolean;
  /** CosReg's hidden states (HF numbering); null = the last layer. */
  regLayers: number[] | null;
  epochs: number;
  lr: number;
  batchSize: number;
  maxLength: number;
  weightDecay: number;
  noDecayNormsBiases: boolean;
  schedule: ScheduleKind;
  warmupRatio: number;
  maxGradNorm: number;
  seed: number;
  trainLimit: number | null;
  evalLimit: number | null;
  evalEvery: number | null;
  logEvery: number;
  saveEvery: number;
  newHead: boolean;
}

export interface TrainHooks {
  /** After every step: steps done, total, the step's loss. */
  onStep?(step: number, total: number, loss: number): void;
  /** A line for the user (resuming, finished, interrupted). */
  onMessage?(text: string): void;
  /** A warning (a stale lock taken over); without it, onMessage gets `warning: …`. */
  onWarning?(text: string): void;
}

export interface TrainOutcome {
  status: 'finished' | 'already-finished' | 'interrupted';
  /** The signal that stopped an interrupted run. */
  signal?: NodeJS.Signals;
  step: number;
  totalSteps: number;
  finalEval: Evaluation | null;
  seconds: number;
}

interface Context {
  o: TrainOptions;
  spec: TaskSpec;
  tokenizer: Tokenizer;
  train: LabelledExamples;
  dev: LabelledExamples;
  out: string;
}

/** Check the options that need no files (run first, so a bad flag costs nothing). */
export function checkTrainOptions(o: TrainOptions): TaskSpec {
  const spec = taskSpec(o.task);
  if (o.reg !== 'none') {
    check(o.lambda !== null, `--reg ${o.reg} needs --lambda (e.g. --lambda=-1; λ < 0 lowers isotropy, λ > 0 raises it)`);
    check(Number.isFinite(o.lambda), `--lambda must be a finite number, got ${o.lambda}`);
  }
  check(Number.isFinite(o.zeta) && o.zeta >= 0 && o.zeta <= 1, `--zeta must be a number in [0, 1], got ${o.zeta}; e.g. --zeta 0.2`);
  checkZeta(o.zeta);
  return spec;
}

function labelled(d: Dataset, spec: TaskSpec, flag: string): LabelledExamples {
  const missing = d.labels?.findIndex((l) => l === null) ?? 0;
  if (!d.labels || missing >= 0) throw new UserError(`${d.path}: row ${missing + 1} has no label; ${flag} needs a labelled ${d.split ?? ''} split`);
  return { examples: d.examples, labels: d.labels as number[], regression: spec.head.kind === 'regression' };
}

function readSplit(o: TaskInputOptions, split: 'train' | 'dev', spec: TaskSpec, limit: number | null): LabelledExamples {
  const file = join(o.data, `${split}.tsv`);
  check(existsSync(o.data), `--data ${o.data}: no such folder; give the GLUE task folder (train.tsv, dev.tsv)`);
  check(statSync(o.data).isDirectory(), `--data ${o.data}: is a file; train needs the task folder with train.tsv and dev.tsv`);
  if (!existsSync(file)) throw new UserError(`--data ${o.data}: no ${split}.tsv in the folder; train needs the task folder with train.tsv and dev.tsv (as the GLUE download script writes them)`);
  return labelled(readDataset(o.data, { task: o.task as Dataset['task'], split, limit: limit ?? undefined }), spec, '--data');
}

export type TaskInputOptions = Pick<TrainOptions, 'model' | 'task' | 'data' | 'maxLength' | 'trainLimit' | 'evalLimit'>;

/** What a run reads before it trains: the task, the model's config and tokenizer, both splits (checked). */
export interface TaskInputs {
  spec: TaskSpec;
  config: EncoderConfig;
  tokenizer: Tokenizer;
  train: LabelledExamples;
  dev: LabelledExamples;
}

/** Read and check the inputs of a fine-tuning run (train, and intrinsic-dim's probes and baseline). */
export function readTaskInputs(o: TaskInputOptions): TaskInputs {
  const spec = taskSpec(o.task);
  const config = readConfig(o.model);
  const positions = maxInputLength(config);
  check(o.maxLength <= positions, `--max-length ${o.maxLength} is larger than the model's ${positions} positions (max_position_embeddings in ${join(o.model, 'config.json')}); give --max-length ${positions} or less`);
  const tokenizer = loadTokenizer(o.model, { modelType: config.modelType, modelVocabSize: config.vocabSize });
  return { spec, config, tokenizer, train: readSplit(o, 'train', spec, o.trainLimit), dev: readSplit(o, 'dev', spec, o.evalLimit) };
}

export async function runTraining(o: TrainOptions, outDir: string, env: { version: string }, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  const started = Date.now();
  checkTrainOptions(o);
  const { spec, config, tokenizer, train, dev } = readTaskInputs(o);
  check(o.regLayers === null || o.reg === 'cosreg', `--reg-layers applies to --reg cosreg only (I-STAR reads hidden states 1..L); leave it out`);
  if (o.regLayers) for (const l of o.regLayers) check(l >= 0 && l <= config.numLayers, `--reg-layers: layer ${l} does not exist; the model has hidden states 0..${config.numLayers}`);
  const ctx: Context = { o, spec, tokenizer, train, dev, out: outDir };
  const options = recordedOptions(o);
  const runJson = { command: 'train', version: env.version, node: process.version, productsBackend: describeProducts(), seed: o.seed, options };
  const folder = openRunFolder(outDir, [o.model, o.data], 'train', options, hooks.onWarning ?? ((t: string) => hooks.onMessage?.(`warning: ${t}`)));
  try {
    // run.json is written once the model has loaded, so a refused head leaves no run behind.
    return await trainLoop(ctx, hooks, started, () => {
      if (folder.kind === 'new') writeJson(join(outDir, RUN_JSON), runJson);
      mkdirSync(join(outDir, 'checkpoints'), { recursive: true });
    });
  } finally {
    folder.close();
  }
}

/** The options run.json records and a resume compares: I-STAR's own only under --reg istar, where they shape the run. */
function recordedOptions(o: TrainOptions): Record<string, unknown> {
  const { zeta, c0Sample, istarIncludePadding, ...rest } = o;
  return o.reg === 'istar' ? { ...rest, zeta, c0Sample, istarIncludePadding } : rest;
}

/** The newest complete checkpoint to resume from (verified), or null for a fresh start. */
function resumePoint(out: string): { dir: string; state: TrainerState } | null {
  const final = join(out, FINAL_FOLDER);
  if (isCheckpointFolder(final)) {
    verifyCheckpoint(final);
    return { dir: final, state: readTrainerState(final) };
  }
  const newest = checkpointsNewestFirst(join(out, 'checkpoints'))[0];
  if (!newest) return null;
  verifyCheckpoint(newest.dir);
  return { dir: newest.dir, state: readTrainerState(newest.dir) };
}

async function trainLoop(ctx: Context, hooks: TrainHooks, started: number, begin: () => void): Promise<TrainOutcome> {
  const { o, spec, tokenizer, train, dev, out } = ctx;
  const perEpoch = batchCount(train.examples.length, o.batchSize);
  const totalSteps = perEpoch * o.epochs;
  // A run killed while writing left staged folders or files; never resumed from, removed now.
  for (const d of [out, join(out, 'checkpoints')]) removeDeadTemporariesIn(d);
  const progress = runFolderProgress(out);
  if (progress.state === 'finished') {
    verifyCheckpoint(join(out, FINAL_FOLDER));
    hooks.onMessage?.(`${out}: the run is finished (${progress.step} steps); final weights in ${join(out, FINAL_FOLDER)}`);
    return { status: 'already-finished', step: progress.step, totalSteps, finalEval: null, seconds: (Date.now() - started) / 1000 };
  }
  const resume = resumePoint(out);
  const model = await TrainableModel.fromCheckpoint(resume?.dir ?? o.model, spec.head, { seed: o.seed, newHead: resume ? false : o.newHead });
  begin();
  const optimizer = createOptimizer(model, { weightDecay: o.weightDecay, noDecayNormsBiases: o.noDecayNormsBiases });
  const regularizer: Regularizer | null = o.reg === 'istar'
    ? new IStar({ lambda: o.lambda!, zeta: o.zeta, c0: 'identity', layers: model.config.numLayers, includePadding: o.istarIncludePadding, c0Sample: o.c0Sample })
    : o.reg === 'cosreg' ? new CosReg({ lambda: o.lambda!, layers: o.regLayers ?? [model.config.numLayers], includePadding: false })
    : null;
  const state: TrainerState = resume?.state ?? { step: 0, epoch: 0, batchInEpoch: 0, finished: false };
  if (resume) {
    const c0 = await loadOptimizerState(resume.dir, optimizer);
    if (regularizer instanceof IStar && c0) regularizer.c0 = c0;
    hooks.onMessage?.(`resuming ${out} from ${resume.dir} (step ${state.step} of ${totalSteps})`);
  }
  const logPath = join(out, 'log.jsonl'), evalPath = join(out, 'eval.jsonl');
  const log = readJsonLinesUpTo(logPath, state.step);
  const evals = readJsonLinesUpTo(evalPath, state.step);
  const schedule = makeSchedule(o.schedule, o.lr, totalSteps, warmupSteps(o.warmupRatio, totalSteps));
  const settings = { batchSize: o.batchSize, maxLength: o.maxLength };
  const runEval = async (): Promise<Evaluation> => {
    const c0 = trainingTokenCovariances(model, train, tokenizer, settings);
    const e = await evaluate(model, spec, dev, tokenizer, settings, c0);
    evals.push({ epoch: state.epoch, step: state.step, metrics: e.metrics, geometryRows: e.geometryRows, isoscoreStar: e.isoscoreStar, twoNN: e.twoNN, meanCosine: e.meanCosine });
    writeJsonLines(evalPath, evals);
    return e;
  };
  const checkpoint = (dir: string) => {
    writeJsonLines(logPath, log);
    saveCheckpoint(dir, { model, labels: spec.labels, optimizer, state, c0: regularizer instanceof IStar && regularizer.c0 !== 'identity' ? regularizer.c0 : null, tokenizerDir: o.model });
  };
  let interrupted: NodeJS.Signals | null = null;
  setInterruptHook((signal) => {
    if (interrupted) return false; // a second Ctrl-C ends the run at once
    interrupted = signal;
    hooks.onMessage?.('interrupted: saving a checkpoint after this step (Ctrl-C again to stop at once)');
    return true;
  });
  let lastEval: Evaluation | null = null, lastFlush = Date.now();
  try {
    while (state.epoch < o.epochs && !interrupted) {
      const order = epochOrder(train.examples.length, o.seed, state.epoch);
      const batchAt = (b: number) => orderedBatch(train, order, b, o.batchSize, tokenizer, o.maxLength);
      if (regularizer && state.batchInEpoch === 0) {
        // I-STAR's C0 from eval-mode states of this epoch's batches, before its first step.
        refreshRegularizer(model, regularizer, (function* () { for (let b = 0; b < perEpoch; b++) yield batchAt(b); })());
      }
      while (state.batchInEpoch < perEpoch) {
        const r = trainStep(model, optimizer, batchAt(state.batchInEpoch), { lr: schedule.lrAt(state.step), maxGradNorm: o.maxGradNorm, regularizer });
        state.step = r.step;
        state.batchInEpoch++;
        const epochDone = state.batchInEpoch === perEpoch;
        if (state.step % o.logEvery === 0 || epochDone) {
          log.push({ step: r.step, epoch: state.epoch, loss: r.loss, taskLoss: r.taskLoss, regLoss: r.regLoss, lr: r.lr, gradNorm: r.gradNorm, ...(o.reg === 'istar' ? { isoscoreStarBatch: r.regValue } : {}) });
        }
        hooks.onStep?.(state.step, totalSteps, r.loss);
        if (epochDone) { state.epoch++; state.batchInEpoch = 0; }
        // Evaluations belong to the epoch they close (epoch counts completed epochs then).
        if (epochDone || (o.evalEvery !== null && state.step % o.evalEvery === 0)) lastEval = await runEval();
        if (epochDone || state.step % o.saveEvery === 0 || interrupted) {
          checkpoint(join(out, 'checkpoints', `step-${state.step}`));
          lastFlush = Date.now();
        } else if (Date.now() - lastFlush > 10_000) {
          // Progress readers see the log grow; a resume cuts it back to its checkpoint.
          writeJsonLines(logPath, log);
          lastFlush = Date.now();
        }
        if (epochDone || interrupted) break;
        await yieldToEventLoop();
      }
      await yieldToEventLoop();
    }
    if (interrupted && state.step < totalSteps) {
      hooks.onMessage?.(`stopped at step ${state.step} of ${totalSteps}; checkpoint saved; run the same command to resume`);
      return { status: 'interrupted', signal: interrupted, step: state.step, totalSteps, finalEval: lastEval, seconds: (Date.now() - started) / 1000 };
    }
    // The final evaluation: the last epoch's (already in eval.jsonl); recomputed, not logged again, after a resume at the very end.
    const final = lastEval ?? (await evaluate(model, spec, dev, tokenizer, settings, trainingTokenCovariances(model, train, tokenizer, settings)));
    writePredictions(join(out, 'predictions.csv'), final.gold, final.predicted, final.scores);
    state.finished = true;
    checkpoint(join(out, FINAL_FOLDER));
    return { status: 'finished', step: state.step, totalSteps, finalEval: final, seconds: (Date.now() - started) / 1000 };
  } finally {
    setInterruptHook(null);
  }
}
