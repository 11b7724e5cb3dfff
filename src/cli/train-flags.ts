/**
 * The flags of `repgeom train`, shared by `train` and `sweep` (a sweep takes every train flag and
 * runs plain `repgeom train` commands), and their reading into TrainOptions.
 */
import type { Argv } from 'yargs';
import { numberOption, parseIntegerList } from './common.js';
import type { TrainOptions } from '../train/run.js';

export interface TrainFlags {
  model: string; task: string; data: string; out: string;
  reg: string; lambda?: number | string; zeta: number; c0Sample: number; istarIncludePadding: boolean; regLayers?: string;
  epochs: number; lr: number; batchSize: number; maxLength: number; weightDecay: number; decayNormsBiases: boolean;
  schedule: string; warmupRatio: number; maxGradNorm: number; seed: number;
  trainLimit?: number; evalLimit?: number; evalEvery?: number; logEvery: number; saveEvery: number; newHead: boolean; quiet: boolean;
}

/**
 * Every train flag. `required` marks --model, --task, --data and --out as demanded (train); a
 * sweep checks them itself, as --tasks may stand for --task and --status needs none of them.
 */
export function withTrainFlags<T>(y: Argv<T>, required: boolean, describe: { task: string; data: string; out: string; sweep?: boolean }): Argv<T & TrainFlags> {
  return y
    .option('model', { type: 'string', demandOption: required, describe: 'Hugging Face model folder (config.json, model.safetensors, tokenizer)' })
    .option('task', { type: 'string', demandOption: required, describe: describe.task })
    .option('data', { type: 'string', demandOption: required, describe: describe.data })
    .option('out', { type: 'string', demandOption: required, describe: describe.out })
    .option('reg', { type: 'string', choices: ['none', 'istar', 'cosreg'], default: 'none', describe: 'representation regularizer' })
    .option('lambda', describe.sweep
      // A sweep names run folders by λ as written, so it parses the text itself (as one --lambdas value).
      ? { type: 'string', requiresArg: true, describe: 'one λ (as --lambdas with one value)' }
      : numberOption('lambda', { example: -1, describe: "the regularizer's weight (required with --reg istar|cosreg; write --lambda=-1 for negative values)" }))
    .option('zeta', numberOption('zeta', { min: 0, max: 1, default: 0.2, describe: "I-STAR's shrinkage weight ζ" }))
    .option('c0-sample', numberOption('c0-sample', { integer: true, min: 2, default: 250_000, describe: "points behind I-STAR's C0, recomputed every epoch" }))
    .option('istar-include-padding', { type: 'boolean', default: false, describe: "the regularizer's cloud includes padding positions (the released I-STAR code)" })
    .option('reg-layers', { type: 'string', describe: 'CosReg: hidden states (HF numbering), e.g. --reg-layers=4,12 (default: the last)' })
    .option('epochs', numberOption('epochs', { integer: true, min: 1, default: 3 }))
    .option('lr', numberOption('lr', { min: 0, default: 2e-5, describe: 'peak learning rate' }))
    .option('batch-size', numberOption('batch-size', { integer: true, min: 1, default: 32 }))
    .option('max-length', numberOption('max-length', { integer: true, min: 2, default: 128, describe: 'tokens per example after truncation' }))
    .option('weight-decay', numberOption('weight-decay', { min: 0, default: 0.01, describe: "AdamW's decoupled weight decay" }))
    .option('decay-norms-biases', { type: 'boolean', default: true, describe: '--no-decay-norms-biases: no weight decay on biases and LayerNorm weights (HF Trainer)' })
    .option('schedule', { type: 'string', choices: ['linear', 'constant'], default: 'linear', describe: 'learning-rate schedule after the warmup' })
    .option('warmup-ratio', numberOption('warmup-ratio', { min: 0, max: 1, default: 0 }))
    .option('max-grad-norm', numberOption('max-grad-norm', { min: 0, default: 1, describe: 'gradient clipping (0 = off)' }))
    // A sweep tells --seed from --seeds, so its --seed has no default (a sweep's seeds default to 0).
    .option('seed', numberOption('seed', { integer: true, min: 0, below: 2 ** 32, default: describe.sweep ? undefined : 0, example: 0, describe: describe.sweep ? 'one seed (--seeds=… for several; default 0)' : undefined }))
    .option('train-limit', numberOption('train-limit', { integer: true, min: 1, example: 1000, describe: 'train on the first N rows of train.tsv' }))
    .option('eval-limit', numberOption('eval-limit', { integer: true, min: 1, example: 872, describe: 'evaluate on the first N rows of dev.tsv' }))
    .option('eval-every', numberOption('eval-every', { integer: true, min: 1, example: 100, describe: 'also evaluate every N steps (default: at the end of every epoch only)' }))
    .option('log-every', numberOption('log-every', { integer: true, min: 1, default: 1, describe: 'a log.jsonl line every N steps' }))
    .option('save-every', numberOption('save-every', { integer: true, min: 1, default: 200, describe: 'a checkpoint every N steps (and at the end of every epoch)' }))
    .option('new-head', { type: 'boolean', default: false, describe: 'start a new task head even if the checkpoint has one' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }) as unknown as Argv<T & TrainFlags>;
}

/** The run's options from the parsed flags (numbers were parsed and range-checked as yargs read them). */
export function trainOptionsFromFlags(argv: TrainFlags): TrainOptions {
  return {
    model: argv.model, task: argv.task, data: argv.data,
    reg: argv.reg as TrainOptions['reg'], lambda: typeof argv.lambda === 'number' ? argv.lambda : null, zeta: argv.zeta, c0Sample: argv.c0Sample,
    istarIncludePadding: argv.istarIncludePadding, regLayers: argv.regLayers === undefined ? null : parseIntegerList(argv.regLayers, '--reg-layers'),
    epochs: argv.epochs, lr: argv.lr, batchSize: argv.batchSize, maxLength: argv.maxLength, weightDecay: argv.weightDecay,
    noDecayNormsBiases: !argv.decayNormsBiases, schedule: argv.schedule as TrainOptions['schedule'], warmupRatio: argv.warmupRatio,
    maxGradNorm: argv.maxGradNorm, seed: argv.seed, trainLimit: argv.trainLimit ?? null, evalLimit: argv.evalLimit ?? null,
    evalEvery: argv.evalEvery ?? null, logEvery: argv.logEvery, saveEvery: argv.saveEvery, newHead: argv.newHead,
  };
}
