/**
 * `repgeom pretrain` as a library call: masked-LM pretraining of a BERT-family model, from a
 * checkpoint or from a config (seeded initial weights, as transformers initialises them) with a
 * tokenizer folder, on a text corpus, into a run folder with `train`'s conventions (DESIGN.md
 * "Run folders"): run.json, log.jsonl, checkpoints/step-N/ (step-0 is the starting model) and
 * final/, exact resume from the newest checkpoint, Ctrl-C saves and stops.
 *
 * Exactness: the data order of epoch e is keyed by (seed, e), every batch's masks by
 * (seed, step) and every dropout mask by (seed, site, step); a checkpoint holds the weights,
 * AdamW's moments and the step, from which the epoch and position follow.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeProducts } from '../backend/products/index.js';
import { yieldToEventLoop } from '../backend/yield.js';
import { UserError, check } from '../errors.js';
import { readTextFileSync } from '../io/file-io.js';
import { removeDeadTemporariesIn, setInterruptHook } from '../io/safe-output.js';
import { maxInputLength, normaliseConfig, readConfig, type EncoderConfig } from '../models/config.js';
import { loadTokenizer, type TextExample, type Tokenizer } from '../models/tokenizer.js';
import { TrainableModel } from '../models/trainable.js';
import { batchCount, epochOrder } from './batches.js';
import { checkpointsNewestFirst, isCheckpointFolder, loadOptimizerState, readTrainerState, saveCheckpoint, verifyCheckpoint, type TrainerState } from './checkpoint.js';
import { readCorpus } from './corpus.js';
import { maskTokens } from './mlm-masking.js';
import { RUN_JSON, openRunFolder, readJsonLinesUpTo, writeJson, writeJsonLines } from './run-folder.js';
import { makeSchedule } from './schedule.js';
import { createOptimizer, trainStep } from './step.js';

/** Every option that shapes the run's results (recorded in run.json and compared on resume). */
export interface PretrainOptions {
  /** Start from this checkpoint folder … */
  model: string | null;
  /** … or from seeded initial weights for this config.json, with this tokenizer folder. */
  config: string | null;
  tokenizer: string | null;
  data: string;
  /** Total optimizer steps, or whole epochs (one of the two; neither = 1 epoch). */
  steps: number | null;
  epochs: number | null;
  maskProb: number;
  maxLength: number;
  batchSize: number;
  lr: number;
  saveEvery: number;
  seed: number;
  /** Fixed for now (HF Trainer's defaults with a linear schedule and no warmup); recorded so a later default change cannot resume an older run. */
  weightDecay: number;
  maxGradNorm: number;
}

export const PRETRAIN_DEFAULTS = { maskProb: 0.15, maxLength: 128, batchSize: 32, lr: 1e-4, saveEvery: 1000, seed: 0, weightDecay: 0.01, maxGradNorm: 1 } as const;

export interface PretrainHooks {
  onStep?(step: number, total: number, loss: number): void;
  onMessage?(text: string): void;
  /** A warning (a stale lock taken over); without it, onMessage gets `warning: …`. */
  onWarning?(text: string): void;
}

export interface PretrainOutcome {
  status: 'finished' | 'already-finished' | 'interrupted';
  signal?: NodeJS.Signals;
  step: number;
  totalSteps: number;
  /** The loss of the last step taken in this call (null when none was). */
  lastLoss: number | null;
  seconds: number;
}

/** Check the options that need no files (run first, so a bad flag costs nothing). */
export function checkPretrainOptions(o: PretrainOptions): void {
  check(o.model === null || o.config === null, '--model and --config both given: pretrain from a checkpoint (--model) or from a config with a tokenizer (--config, --tokenizer), not both');
  check(o.model !== null || o.config !== null, 'pretrain needs --model <checkpoint folder>, or --config config.json with --tokenizer <folder> to start from seeded initial weights');
  check(o.config === null || o.tokenizer !== null, '--config needs --tokenizer <folder> (vocab.txt or tokenizer.json); give the tokenizer the model is pretrained with');
  check(o.model === null || o.tokenizer === null, '--tokenizer goes with --config only; a --model folder brings its own tokenizer');
  check(o.steps === null || o.epochs === null, '--steps and --epochs both given: give the length of the run one way, --steps N or --epochs E');
  check(Number.isFinite(o.maskProb) && o.maskProb > 0 && o.maskProb < 1, `--mask-prob must be a number in (0, 1), got ${o.maskProb}; e.g. --mask-prob 0.15`);
}

/** The model's config: a checkpoint's config.json, or the --config file. */
function startingConfig(o: PretrainOptions): EncoderConfig {
  if (o.model !== null) return readConfig(o.model);
  const file = o.config!;
  check(existsSync(file), `--config ${file}: no such file; give a Hugging Face config.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(readTextFileSync(file, { expected: 'a config.json file' }));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`--config ${file}: not valid JSON; give a Hugging Face config.json`);
  }
  check(typeof raw === 'object' && raw !== null && !Array.isArray(raw), `--config ${file}: expected a JSON object (a Hugging Face config.json)`);
  return normaliseConfig(raw as Record<string, unknown>, file);
}

/** The tokenizer's mask id and every special token id (never chosen for masking, as HF's all_special_ids). */
function specialIds(tokenizer: Tokenizer, dir: string): { maskId: number; excluded: Set<number> } {
  const named = new Map<string, string>();
  for (const f of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const path = join(dir, f);
    if (!existsSync(path)) continue;
    try {
      const json = JSON.parse(readTextFileSync(path)) as Record<string, unknown>;
      for (const [k, v] of Object.entries(json)) {
        const s = typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : null;
        if (k.endsWith('_token') && s !== null) named.set(k, s);
      }
    } catch {
      // An unreadable file was already refused or ignored by the tokenizer loader.
    }
  }
  const ids = new Map<string, number>();
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    try { ids.set(tokenizer.idToToken(id), id); } catch { /* a gap in the ids */ }
  }
  const maskToken = named.get('mask_token') ?? (ids.has('[MASK]') ? '[MASK]' : '<mask>');
  const maskId = ids.get(maskToken);
  if (maskId === undefined) throw new UserError(`the tokenizer in ${dir} has no mask token ('${maskToken}'); masked-LM pretraining needs one: add it to the vocabulary and special_tokens_map.json`);
  const excluded = new Set<number>();
  for (const t of [...named.values(), '[CLS]', '[SEP]', '[PAD]', '[UNK]', '[MASK]', '<s>', '</s>', '<pad>', '<unk>', '<mask>']) {
    const id = ids.get(t);
    if (id !== undefined) excluded.add(id);
  }
  return { maskId, excluded };
}

export async function runPretraining(o: PretrainOptions, outDir: string, env: { version: string }, hooks: PretrainHooks = {}): Promise<PretrainOutcome> {
  const started = Date.now();
  checkPretrainOptions(o);
  const config = startingConfig(o);
  const positions = maxInputLength(config);
  const configFile = o.model !== null ? join(o.model, 'config.json') : o.config!;
  check(o.maxLength <= positions, `--max-length ${o.maxLength} is larger than the model's ${positions} positions (max_position_embeddings in ${configFile}); give --max-length ${positions} or less`);
  const tokenizerDir = o.model ?? o.tokenizer!;
  const tokenizer = loadTokenizer(tokenizerDir, { modelType: config.modelType, modelVocabSize: config.vocabSize });
  const { maskId, excluded } = specialIds(tokenizer, tokenizerDir);
  const corpus = readCorpus(o.data);
  const options = { ...o };
  const runJson = { command: 'pretrain', version: env.version, node: process.version, productsBackend: describeProducts(), seed: o.seed, options };
  const inputs = [o.model, o.config, o.tokenizer, o.data].filter((p): p is string => p !== null);
  const folder = openRunFolder(outDir, inputs, 'pretrain', options, hooks.onWarning ?? ((t: string) => hooks.onMessage?.(`warning: ${t}`)));
  try {
    return await pretrainLoop({ o, config, tokenizer, tokenizerDir, maskId, excluded, corpus, out: outDir }, hooks, started, () => {
      if (folder.kind === 'new') writeJson(join(outDir, RUN_JSON), runJson);
      mkdirSync(join(outDir, 'checkpoints'), { recursive: true });
    });
  } finally {
    folder.close();
  }
}

interface Context {
  o: PretrainOptions;
  config: EncoderConfig;
  tokenizer: Tokenizer;
  tokenizerDir: string;
  maskId: number;
  excluded: Set<number>;
  corpus: TextExample[];
  out: string;
}

/** The newest complete checkpoint (verified), or null for a fresh start. */
function resumePoint(out: string): { dir: string; state: TrainerState } | null {
  const final = join(out, 'final');
  const dir = isCheckpointFolder(final) ? final : checkpointsNewestFirst(join(out, 'checkpoints'))[0]?.dir;
  if (!dir) return null;
  verifyCheckpoint(dir);
  return { dir, state: readTrainerState(dir) };
}

async function startingModel(c: Context, resumeDir: string | null): Promise<TrainableModel> {
  const head = { kind: 'mlm' } as const;
  if (resumeDir !== null || c.o.model !== null) return TrainableModel.fromCheckpoint(resumeDir ?? c.o.model!, head, { seed: c.o.seed });
  const model = new TrainableModel(c.config, head, { seed: c.o.seed });
  model.params.initialise(c.o.seed);
  return model;
}

async function pretrainLoop(c: Context, hooks: PretrainHooks, started: number, begin: () => void): Promise<PretrainOutcome> {
  const { o, tokenizer, corpus, out } = c;
  const perEpoch = batchCount(corpus.length, o.batchSize);
  const totalSteps = o.steps ?? perEpoch * (o.epochs ?? 1);
  for (const d of [out, join(out, 'checkpoints')]) removeDeadTemporariesIn(d);
  const resume = resumePoint(out);
  const seconds = () => (Date.now() - started) / 1000;
  if (resume?.state.finished) {
    hooks.onMessage?.(`${out}: the run is finished (${resume.state.step} steps); final weights in ${join(out, 'final')}`);
    return { status: 'already-finished', step: resume.state.step, totalSteps, lastLoss: null, seconds: seconds() };
  }
  const model = await startingModel(c, resume?.dir ?? null);
  begin();
  const optimizer = createOptimizer(model, { weightDecay: o.weightDecay, noDecayNormsBiases: true });
  const state: TrainerState = resume?.state ?? { step: 0, epoch: 0, batchInEpoch: 0, finished: false };
  if (resume) {
    await loadOptimizerState(resume.dir, optimizer);
    hooks.onMessage?.(`resuming ${out} from ${resume.dir} (step ${state.step} of ${totalSteps})`);
  }
  const logPath = join(out, 'log.jsonl');
  const log = readJsonLinesUpTo(logPath, state.step);
  const schedule = makeSchedule('linear', o.lr, totalSteps, 0);
  const checkpoint = (dir: string) => {
    writeJsonLines(logPath, log);
    saveCheckpoint(dir, { model, labels: null, optimizer, state, c0: null, tokenizerDir: c.tokenizerDir });
  };
  let interrupted: NodeJS.Signals | null = null;
  setInterruptHook((signal) => {
    if (interrupted) return false;
    interrupted = signal;
    hooks.onMessage?.('interrupted: saving a checkpoint after this step (Ctrl-C again to stop at once)');
    return true;
  });
  let order: Int32Array | null = null, orderEpoch = -1, lastLoss: number | null = null, lastFlush = Date.now();
  try {
    // The starting weights are checkpoint step-0, so a run's checkpoints span random init → final.
    if (!resume) checkpoint(join(out, 'checkpoints', 'step-0'));
    while (state.step < totalSteps && !interrupted) {
      const epoch = Math.floor(state.step / perEpoch), b = state.step % perEpoch;
      if (epoch !== orderEpoch) { order = epochOrder(corpus.length, o.seed, epoch); orderEpoch = epoch; }
      const rows = Array.from(order!.subarray(b * o.batchSize, Math.min(corpus.length, (b + 1) * o.batchSize)), (i) => corpus[i]);
      const encoded = tokenizer.encodeBatch(rows, { maxLength: o.maxLength, padding: 'longest' });
      const batch = maskTokens(encoded, { maskProb: o.maskProb, maskId: c.maskId, vocabSize: tokenizer.vocabSize, excludedIds: c.excluded, seed: o.seed, step: state.step });
      let masked = 0;
      for (const l of batch.labels!) if (l !== -100) masked++;
      const r = trainStep(model, optimizer, batch, { lr: schedule.lrAt(state.step), maxGradNorm: o.maxGradNorm });
      state.step = r.step;
      state.epoch = Math.floor(state.step / perEpoch);
      state.batchInEpoch = state.step % perEpoch;
      lastLoss = r.loss;
      log.push({ step: r.step, epoch, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm, maskedTokens: masked });
      hooks.onStep?.(state.step, totalSteps, r.loss);
      if (state.step < totalSteps && (state.step % o.saveEvery === 0 || interrupted)) {
        checkpoint(join(out, 'checkpoints', `step-${state.step}`));
        lastFlush = Date.now();
      } else if (Date.now() - lastFlush > 10_000) {
        writeJsonLines(logPath, log);
        lastFlush = Date.now();
      }
      await yieldToEventLoop();
    }
    if (interrupted && state.step < totalSteps) {
      hooks.onMessage?.(`stopped at step ${state.step} of ${totalSteps}; checkpoint saved; run the same command to resume`);
      return { status: 'interrupted', signal: interrupted, step: state.step, totalSteps, lastLoss, seconds: seconds() };
    }
    state.finished = true;
    checkpoint(join(out, 'final'));
    return { status: 'finished', step: state.step, totalSteps, lastLoss, seconds: seconds() };
  } finally {
    setInterruptHook(null);
  }
}
