/**
 * `repgeom intrinsic-dim` as a library call: the smallest subspace dimension d whose
 * subspace-trained model beats 90 % of full fine-tuning (d90; Li et al. 2018, Aghajanyan et al.
 * 2021; RESEARCH.md §5), into a resumable folder (DESIGN.md "intrinsic-dim folders"):
 *
 *   run.json      the options (a rerun with other options is refused, naming them);
 *   baseline/     full fine-tuning with runTraining, a normal `train` run folder (unless --baseline);
 *   probes.jsonl  one line per finished (d, seed) probe: the resume record, never rerun;
 *   result.json, probes.csv, index.html   written at the end from all probes.
 *
 * Probes come from a grid (--dims) or a search (bracketing over powers of two, then bisection in
 * log d; src/subspace/d90.ts), each with k seeds and the best of the learning rates; the decision
 * (isotonic smoothing, strict > 0.9 × baseline, a bootstrap interval) is d90.ts's.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, check } from '../errors.js';
import { setInterruptHook } from '../io/safe-output.js';
import { TrainableModel } from '../models/trainable.js';
import { bootstrapD90, decideD90, nextSearchProbe, type Probe } from '../subspace/d90.js';
import type { ProjectionMode } from '../subspace/projection.js';
import { batchCount } from '../train/batches.js';
import { RUN_JSON, differingOptions, lastEvaluation, lockRunFolder, prepareRunFolder, writeJson, writeJsonLines } from '../train/run-folder.js';
import type { FolderLock } from '../io/folder-lock.js';
import { readTaskInputs, runTraining, type TrainOptions } from '../train/run.js';
import type { ScheduleKind } from '../train/schedule.js';
import { chanceScore } from './chance.js';
import { costMessage, estimatedRuns, timeSteps } from './estimate.js';
import { readProbeRecords, writeResultFiles, type IntrinsicResult } from './outputs.js';
import { primaryScore, runProbe, type ProbeContext } from './probe.js';
import { checkSubspaceDim, tensorSpecs, type SubspaceMethod } from './subspace-model.js';
import { selectTensors } from './tensor-selection.js';
import { readTextFileSync } from '../io/file-io.js';

export interface IntrinsicDimOptions {
  model: string;
  task: string;
  data: string;
  method: SubspaceMethod;
  projection: ProjectionMode;
  publicCodeSizing: boolean;
  gradientScaleOneOverL: boolean;
  /** Grid mode: the d to probe; null in search mode. */
  dims: number[] | null;
  search: boolean;
  seedsPerProbe: number;
  epochs: number;
  trainLimit: number | null;
  evalLimit: number | null;
  maxLength: number;
  batchSize: number;
  /** θ_d's (and λ's) learning rates: each probe keeps the best. */
  lrs: number[];
  baselineLr: number;
  /** A known full fine-tuning score instead of the baseline run. */
  baseline: number | null;
  include: string[] | null;
  exclude: string[];
  /**
   * Search: the smallest d, where the ladder of powers of two starts (default: 1, or m + 1 for
   * SAID). A user who knows small d cannot reach the threshold saves the probes below it.
   */
  minDim: number | null;
  /** Search: the largest d (default: the parameter count). */
  maxDim: number | null;
  /** Search: stop bisecting when hi/lo ≤ 1 + tolerance. */
  tolerance: number;
  schedule: ScheduleKind;
  maxGradNorm: number;
  /** AdamW's weight decay on θ_d (0: none). */
  subspaceWeightDecay: number;
  /**
   * Worker threads of the per-tensor Fastfood (1: the main thread). Not recorded: θ_d's gradient
   * is then summed in another order, equal to rounding.
   */
  threads: number;
}

export interface IntrinsicHooks {
  /** Steps of the training that runs now (a probe's or the baseline's). */
  onStep?(label: string, step: number, total: number, loss: number): void;
  onMessage?(text: string): void;
}

/** How one probe run trains and scores: runProbe; tests pass a known score function instead. */
export type ProbeRunner = typeof runProbe;

export interface IntrinsicOutcome {
  status: 'finished' | 'interrupted';
  signal?: NodeJS.Signals;
  result: IntrinsicResult | null;
}

/** Check the options that need no files (run first, so a bad flag costs nothing). */
export function checkIntrinsicOptions(o: IntrinsicDimOptions): void {
  check((o.dims !== null) !== o.search, o.search ? '--dims and --search exclude each other; give one' : 'give --dims=10,100,1000 (a grid) or --search');
  if (o.dims) {
    check(o.dims.length > 0, '--dims is empty; e.g. --dims=10,100,1000');
    for (const d of o.dims) check(Number.isInteger(d) && d >= 1, `--dims: d = ${d} is not a positive integer; subspace dimensions start at 1, e.g. --dims=10,100,1000`);
  }
  check(o.lrs.length > 0 && o.lrs.every((lr) => Number.isFinite(lr) && lr > 0), `--lrs: every learning rate must be a positive number, got ${o.lrs.join(',')}; e.g. --lrs=1e-2,3e-2,1e-1`);
  if (o.baseline !== null) check(Number.isFinite(o.baseline), `--baseline must be a finite number, got ${o.baseline}`);
  check(o.maxDim === null || o.search, '--max-dim applies to --search only; leave it out with --dims');
  check(o.minDim === null || o.search, '--min-dim applies to --search only; leave it out with --dims');
  if (o.minDim !== null && o.maxDim !== null) check(o.minDim <= o.maxDim, `--min-dim ${o.minDim} is above --max-dim ${o.maxDim}; give min ≤ max`);
}

/** The options run.json records and a resume compares. */
function recorded(o: IntrinsicDimOptions): Record<string, unknown> {
  const { threads, ...rest } = o;
  return { ...rest, dims: o.dims ? [...o.dims].sort((a, b) => a - b) : null };
}

function baselineOptions(o: IntrinsicDimOptions): TrainOptions {
  return {
    model: o.model, task: o.task, data: o.data, reg: 'none', lambda: null, zeta: 0.2, c0Sample: 250_000, istarIncludePadding: false, regLayers: null,
    epochs: o.epochs, lr: o.baselineLr, batchSize: o.batchSize, maxLength: o.maxLength, weightDecay: 0.01, noDecayNormsBiases: false,
    schedule: o.schedule, warmupRatio: 0, maxGradNorm: o.maxGradNorm, seed: 0, trainLimit: o.trainLimit, evalLimit: o.evalLimit,
    evalEvery: null, logEvery: 1, saveEvery: Number.MAX_SAFE_INTEGER, newHead: true,
  };
}

const fmt = (x: number) => x.toFixed(4);
const lrText = (lr: number) => lr.toExponential().replace(/e\+?/, 'e').replace(/\.0+e/, 'e');

/**
 * Make the folder (run.json records the options), or accept an earlier intrinsic-dim folder made
 * with the same options; anything else is refused before any work.
 */
function openFolder(out: string, o: IntrinsicDimOptions, version: string, hooks: IntrinsicHooks): FolderLock {
  const kind = prepareRunFolder(out, [o.model, o.data]);
  // One process at a time appends to probes.jsonl (as train locks its run folder).
  const lock = lockRunFolder(out);
  try {
    if (lock.tookOverFrom) hooks.onMessage?.(`warning: --out ${out}: took over the lock of pid ${lock.tookOverFrom.pid}, which is no longer running`);
    const options = recorded(o);
    if (kind === 'new') {
      writeJson(join(out, RUN_JSON), { command: 'intrinsic-dim', version, node: process.version, options });
      return lock;
    }
    let before: { command?: string; options?: Record<string, unknown> };
    try {
      before = JSON.parse(readTextFileSync(join(out, RUN_JSON)));
    } catch {
      throw new UserError(`${join(out, RUN_JSON)}: not readable, so the intrinsic-dim folder cannot be resumed; choose another --out`);
    }
    check(before.command === 'intrinsic-dim', `--out ${out} holds a ${before.command ?? 'repgeom'} run, not an intrinsic-dim folder; choose another --out`);
    const diff = differingOptions(before.options ?? {}, options);
    check(diff.length === 0, `--out ${out} holds an intrinsic-dim folder made with other options: ${diff.join(', ')}; rerun with the same options or choose another --out`);
    return lock;
  } catch (e) {
    lock.release();
    throw e;
  }
}

/**
 * @param probe the probe runner; the default trains for real. Only the probes go through it: the
 * folder, baseline, search, decision and resume are the production path whatever it is.
 */
export async function runIntrinsicDim(o: IntrinsicDimOptions, out: string, env: { version: string }, hooks: IntrinsicHooks = {}, probe: ProbeRunner = runProbe): Promise<IntrinsicOutcome> {
  const started = Date.now();
  checkIntrinsicOptions(o);
  const inputs = readTaskInputs(o);
  const { spec } = inputs;
  // The trainable tensors (the new head included) and the parameter count D.
  const sizing = await TrainableModel.fromCheckpoint(o.model, spec.head, { seed: 0, newHead: true });
  const tensors = tensorSpecs(selectTensors(sizing.params.list, o.include, o.exclude));
  const parameters = tensors.reduce((n, t) => n + t.size, 0);
  const m = tensors.length;
  const subspace = { method: o.method, mode: o.projection, publicCodeSizing: o.publicCodeSizing, gradientScaleOneOverL: o.gradientScaleOneOverL };
  const smallest = o.method === 'said' ? m + 1 : 1;
  const minDim = o.minDim ?? smallest;
  const maxDim = o.maxDim ?? parameters;
  if (o.search) {
    check(minDim >= smallest, `--min-dim ${minDim}: SAID needs d > m = ${m} (one scalar per tensor counts in d); use --min-dim ${smallest} or more, or --method did`);
    check(minDim <= parameters, `--min-dim ${minDim} exceeds the ${parameters} trainable parameters; use --min-dim ${parameters} or less`);
    check(maxDim <= parameters, `--max-dim ${maxDim} exceeds the ${parameters} trainable parameters; use --max-dim ${parameters} or less`);
    check(maxDim >= minDim, `--max-dim ${maxDim} is below the smallest d the search can probe (${minDim}${o.method === 'said' ? `: SAID needs d > m = ${m}` : ''})`);
    checkSubspaceDim(subspace, tensors, maxDim);
  } else {
    for (const d of o.dims!) checkSubspaceDim(subspace, tensors, d);
  }
  const chance = chanceScore(spec, inputs.dev.labels);
  if (o.baseline !== null) {
    check(o.baseline > chance, `--baseline ${o.baseline} is at or below chance (${fmt(chance)}, the ${spec.primaryMetric} of the best constant prediction on the eval split): d90 means nothing there; give the full fine-tuning score`);
  }

  const lock = openFolder(out, o, env.version, hooks);
  try {

    const probesPath = join(out, 'probes.jsonl');
    const records = readProbeRecords(probesPath);
    const seeds = Array.from({ length: o.seedsPerProbe }, (_, i) => i);
    // Every record must be a probe this command would run, once: an edited line would enter the decision.
    records.forEach((r, i) => {
      const inGrid = (o.search ? r.d >= minDim && r.d <= maxDim : o.dims!.includes(r.d)) && r.seed < o.seedsPerProbe;
      const where = `${probesPath}: probe ${i + 1} (d=${r.d} seed ${r.seed})`;
      check(inGrid, `${where} is not one this command runs (${o.search ? `--min-dim ${minDim} … --max-dim ${maxDim}` : `--dims ${o.dims!.join(',')}`}, --seeds-per-probe ${o.seedsPerProbe}); delete that line, or run the command that made this folder`);
      check(!records.slice(0, i).some((q) => q.d === r.d && q.seed === r.seed), `${where} is there twice; delete one of its lines`);
    });
    const ctx: ProbeContext = {
      modelDir: o.model, inputs, subspace, include: o.include, exclude: o.exclude, threads: o.threads,
      budget: { epochs: o.epochs, batchSize: o.batchSize, maxLength: o.maxLength, schedule: o.schedule, maxGradNorm: o.maxGradNorm, weightDecay: o.subspaceWeightDecay },
    };
    const stepsPerRun = batchCount(inputs.train.examples.length, o.batchSize) * o.epochs;

    const baselineDir = join(out, 'baseline');
    const needBaseline = o.baseline === null && !existsSync(join(baselineDir, 'final'));
    const runs = estimatedRuns(o, minDim, maxDim, records);
    const timing = runs > 0 || needBaseline
      ? await timeSteps(ctx, o.search ? minDim : o.dims![0], o.lrs[0], needBaseline ? o.baselineLr : null)
      : { subspaceStepSeconds: null, baselineStepSeconds: null };
    if (timing.subspaceStepSeconds !== null) hooks.onMessage?.(costMessage(runs, stepsPerRun, timing));

    // The baseline.
    let baseline = o.baseline;
    let baselineSeconds = 0;
    if (baseline === null) {
      const t = Date.now();
      const b = await runTraining(baselineOptions(o), baselineDir, env, {
        onStep: (step, total, loss) => hooks.onStep?.('baseline', step, total, loss),
        onMessage: (text) => hooks.onMessage?.(`baseline: ${text}`),
      });
      if (b.status === 'interrupted') return { status: 'interrupted', signal: b.signal, result: null };
      baselineSeconds = (Date.now() - t) / 1000;
      baseline = baselineScore(baselineDir, spec.primaryMetric);
      hooks.onMessage?.(`baseline (full fine-tuning, lr ${lrText(o.baselineLr)}): ${spec.primaryMetric} ${fmt(baseline)}; chance ${fmt(chance)}`);
    }
    const threshold = 0.9 * baseline;
    const decision = { baseline, chance };

    // The probes.
    let probeNumber = records.length;
    const probeSeconds = { total: 0 };
    const probeAt = async (d: number, seed: number): Promise<void> => {
      const lrScores: { lr: number; score: number }[] = [];
      let steps = 0, seconds = 0;
      for (const lr of o.lrs) {
        const label = `probe ${probeNumber + 1}: d=${d} seed ${seed} lr ${lrText(lr)}`;
        const r = await probe(ctx, d, seed, lr, (step, total, loss) => hooks.onStep?.(label, step, total, loss));
        lrScores.push({ lr, score: r.score });
        steps += r.steps; seconds += r.seconds;
        hooks.onMessage?.(`${label}: ${spec.primaryMetric} ${fmt(r.score)} (threshold ${fmt(threshold)}) in ${Math.round(r.seconds)} s`);
      }
      const best = lrScores.reduce((a, b) => (b.score > a.score ? b : a));
      records.push({ d, seed, score: best.score, lr: best.lr, lrScores, steps, seconds });
      probeNumber++;
      probeSeconds.total += seconds;
      writeJsonLines(probesPath, records);
    };
    const has = (d: number, seed: number) => records.some((r) => r.d === d && r.seed === seed);
    const done = (): Probe[] => records.map((r) => ({ d: r.d, seed: r.seed, score: r.score }));
    // A signal ends the run at once (temporaries removed); the probes finished so far are kept.
    setInterruptHook(() => {
      hooks.onMessage?.(`interrupted: ${records.length} finished probe(s) kept in ${probesPath}; run the same command to continue (the probe that was running starts again)`);
      return false;
    });
    try {
      if (threshold > chance) await runProbes();
      else hooks.onMessage?.(`0.9 × baseline = ${fmt(threshold)} is at or below chance (${fmt(chance)}): no probes run`);
    } finally {
      setInterruptHook(null);
    }
    async function runProbes(): Promise<void> {
      if (o.dims) {
        for (const d of [...o.dims].sort((a, b) => a - b)) for (const s of seeds) if (!has(d, s)) await probeAt(d, s);
      } else {
        for (;;) {
          // A d probed with fewer than k seeds (an interrupted run) is completed first.
          const partial = [...new Set(records.map((r) => r.d))].find((d) => seeds.some((s) => !has(d, s)));
          const d = partial ?? nextSearchProbe(done(), { ...decision, minDim, maxDim, tolerance: o.tolerance });
          if (d === null) break;
          for (const s of seeds) if (!has(d, s)) await probeAt(d, s);
        }
      }
    }

    const probes = done();
    const d90 = decideD90(probes, decision);
    const interval = d90.d90 === null ? null : bootstrapD90(probes, { ...decision, resamples: 100, seed: 0 }).interval;
    const result: IntrinsicResult = {
      d90: d90.d90,
      ...(d90.d90 === null ? { reason: d90.reason ?? 'no probed d reaches the threshold' } : {}),
      interval,
      baseline,
      threshold,
      chance,
      method: o.method,
      projection: {
        mode: o.projection, publicCodeSizing: o.publicCodeSizing, gradientScaleOneOverL: o.gradientScaleOneOverL,
        seeds: 'probe seed s: projection seed s, data order seed s, new head and dropout seed s',
      },
      probes: records.map((r) => ({ d: r.d, seed: r.seed, score: r.score, lr: r.lr })),
      metric: spec.primaryMetric,
      task: o.task,
      baselineSource: o.baseline === null ? 'measured' : 'given',
      learningRates: { subspace: o.lrs, baseline: o.baseline === null ? o.baselineLr : null },
      budget: {
        epochs: o.epochs, stepsPerProbe: stepsPerRun, trainRows: inputs.train.examples.length, evalRows: inputs.dev.examples.length,
        trainLimit: o.trainLimit, evalLimit: o.evalLimit, batchSize: o.batchSize, maxLength: o.maxLength, schedule: o.schedule,
        maxGradNorm: o.maxGradNorm, subspaceWeightDecay: o.subspaceWeightDecay,
      },
      seeds,
      search: o.search
        ? { mode: 'search', minDim, maxDim, tolerance: o.tolerance, seedsPerProbe: o.seedsPerProbe }
        : { mode: 'grid', dims: [...o.dims!].sort((a, b) => a - b), seedsPerProbe: o.seedsPerProbe },
      decision: { fraction: 0.9, rule: 'strict (smoothed score > threshold)', smoothing: 'isotonic non-decreasing, weighted by seeds', bootstrapResamples: 100, curve: d90.curve },
      parameters,
      tensors: m,
      ...(o.method === 'said' ? { m } : {}),
      include: o.include,
      exclude: o.exclude,
      version: env.version,
      timing: { seconds: (Date.now() - started) / 1000, probeSeconds: probeSeconds.total, baselineSeconds, ...timing },
    };
    await writeResultFiles(out, result, records);
    return { status: 'finished', result };
  } finally {
    lock.release();
  }
}

/** The final evaluation's primary metric of a finished baseline run folder (scored as a probe is). */
function baselineScore(dir: string, primary: string): number {
  const last = lastEvaluation(dir);
  if (!last) throw new UserError(`${join(dir, 'eval.jsonl')}: the finished baseline run has no evaluation; the folder is damaged: remove ${dir} to run the baseline again, or give --baseline`);
  return primaryScore(last.metrics, primary);
}
