/** `repgeom intrinsic-dim`: d90 of fine-tuning in random subspaces (DID or SAID) into a resumable folder. */
import * as os from 'node:os';
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import { UserError } from '../errors.js';
import { VERSION, numberOption, parseNumberList } from './common.js';
import { createProgress } from './progress.js';
import { interruptedStatus } from './run-progress.js';
import type { IntrinsicDimOptions } from '../intrinsic/run.js';

interface IntrinsicArgs {
  model: string; task: string; data: string; out: string; method: string; projection: string;
  publicCodeSizing: boolean; gradientScaleOneOverL: boolean; dims?: string; search: boolean; seedsPerProbe: number;
  epochs: number; trainLimit?: number; evalLimit?: number; maxLength: number; batchSize: number;
  lr?: number; lrs?: string; baselineLr: number; baseline?: number; include?: string; exclude?: string;
  minDim?: number; maxDim?: number; tolerance: number; threads?: number; schedule: string; maxGradNorm: number; subspaceWeightDecay: number; quiet: boolean;
}

export const intrinsicDimCommand: CommandModule<object, IntrinsicArgs> = {
  command: 'intrinsic-dim',
  describe: 'The intrinsic dimension of fine-tuning (d90, DID or SAID) on a GLUE task, into a resumable folder',
  builder: (y: Argv) => y
    .option('model', { type: 'string', demandOption: true, describe: 'Hugging Face model folder (config.json, model.safetensors, tokenizer)' })
    .option('task', { type: 'string', demandOption: true, describe: 'sst2, mrpc, rte, cola, qqp, qnli, stsb or wnli' })
    .option('data', { type: 'string', demandOption: true, describe: 'the GLUE task folder (train.tsv for training, dev.tsv for scoring)' })
    .option('out', { type: 'string', demandOption: true, describe: 'the intrinsic-dim folder (created; an existing one made with the same options is resumed)' })
    .option('method', { type: 'string', choices: ['did', 'said'], demandOption: true, describe: 'did: θ = θ0 + Pθ_d; said: θᵢ = θ0ᵢ + λᵢPᵢθ_{d−m}, one trained λ per tensor' })
    .option('projection', { type: 'string', choices: ['fastfood', 'global-fastfood', 'dense'], default: 'fastfood', describe: 'fastfood: one per tensor sharing θ_d (the authors\u2019 code); global-fastfood: one over all parameters (Li et al.); dense: an explicit Gaussian matrix' })
    .option('public-code-sizing', { type: 'boolean', default: false, describe: 'the public code\u2019s Fastfood sizing: L from the tensor alone, θ_d cropped to L coordinates' })
    .option('gradient-scale-one-over-l', { type: 'boolean', default: false, describe: 'the public code\u2019s gradient scale: each tensor\u2019s share of θ_d\u2019s gradient times 1/L' })
    .option('dims', { type: 'string', describe: 'grid mode: the subspace dimensions to probe, e.g. --dims=10,100,1000' })
    .option('search', { type: 'boolean', default: false, describe: 'search mode: powers of two up to --max-dim, then bisection in log d to --tolerance' })
    .option('seeds-per-probe', numberOption('seeds-per-probe', { integer: true, min: 1, default: 3, describe: 'seeds per d (0..k−1: projection, data order, head and dropout)' }))
    .option('epochs', numberOption('epochs', { integer: true, min: 1, default: 3 }))
    .option('train-limit', numberOption('train-limit', { integer: true, min: 1, example: 3000, describe: 'train on the first N rows of train.tsv' }))
    .option('eval-limit', numberOption('eval-limit', { integer: true, min: 1, example: 872, describe: 'score on the first N rows of dev.tsv' }))
    .option('max-length', numberOption('max-length', { integer: true, min: 2, default: 128, describe: 'tokens per example after truncation' }))
    .option('batch-size', numberOption('batch-size', { integer: true, min: 1, default: 32 }))
    .option('lr', numberOption('lr', { min: 0, example: 0.01, describe: 'learning rate of θ_d (and λ); default 1e-2' }))
    .option('lrs', { type: 'string', describe: 'several learning rates of θ_d; each probe keeps the best, e.g. --lrs=1e-2,3e-2,1e-1' })
    .option('baseline-lr', numberOption('baseline-lr', { min: 0, default: 1e-4, describe: 'learning rate of the full fine-tuning baseline' }))
    .option('baseline', numberOption('baseline', { example: 0.9, describe: 'a known full fine-tuning score (the task metric) instead of running the baseline' }))
    .option('include', { type: 'string', describe: 'project only tensors matching these patterns (substring, or glob with * ?), e.g. --include=attention,classifier.*' })
    .option('exclude', { type: 'string', describe: 'leave tensors matching these patterns at θ0, e.g. --exclude=word_embeddings' })
    .option('min-dim', numberOption('min-dim', { integer: true, min: 1, example: 1024, describe: 'search: the smallest d, where the powers of two start (default: 1; SAID: m + 1)' }))
    .option('max-dim', numberOption('max-dim', { integer: true, min: 1, example: 100000, describe: 'search: the largest d (default: the parameter count)' }))
    .option('tolerance', numberOption('tolerance', { min: 0, default: 0.1, describe: 'search: stop when the bracket hi/lo ≤ 1 + tolerance' }))
    .option('schedule', { type: 'string', choices: ['linear', 'constant'], default: 'linear', describe: 'learning-rate schedule (probes and baseline)' })
    .option('max-grad-norm', numberOption('max-grad-norm', { min: 0, default: 1, describe: 'gradient clipping of θ_d (and of the baseline; 0 = off)' }))
    .option('subspace-weight-decay', numberOption('subspace-weight-decay', { min: 0, default: 0, describe: 'AdamW weight decay on θ_d (not on SAID\u2019s λ scalars, which start at 1)' }))
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }) as unknown as Argv<IntrinsicArgs>,
  handler: async (argv: ArgumentsCamelCase<IntrinsicArgs>) => {
    const { parsePatterns } = await import('../intrinsic/tensor-selection.js');
    const options: IntrinsicDimOptions = {
      model: argv.model, task: argv.task, data: argv.data,
      method: argv.method as IntrinsicDimOptions['method'], projection: argv.projection as IntrinsicDimOptions['projection'],
      publicCodeSizing: argv.publicCodeSizing, gradientScaleOneOverL: argv.gradientScaleOneOverL,
      dims: argv.dims === undefined ? null : parseNumberList(argv.dims, '--dims', { integer: true, min: 1 }, '10,100,1000').map((v) => v.value), search: argv.search, seedsPerProbe: argv.seedsPerProbe,
      epochs: argv.epochs, trainLimit: argv.trainLimit ?? null, evalLimit: argv.evalLimit ?? null, maxLength: argv.maxLength, batchSize: argv.batchSize,
      lrs: argv.lrs === undefined ? [argv.lr ?? 1e-2] : parseNumberList(argv.lrs, '--lrs', { min: 0 }, '1e-2,3e-2,1e-1').map((v) => v.value), baselineLr: argv.baselineLr, baseline: argv.baseline ?? null,
      include: argv.include === undefined ? null : parsePatterns(argv.include, '--include'),
      exclude: argv.exclude === undefined ? [] : parsePatterns(argv.exclude, '--exclude'),
      minDim: argv.minDim ?? null, maxDim: argv.maxDim ?? null, tolerance: argv.tolerance, schedule: argv.schedule as IntrinsicDimOptions['schedule'],
      maxGradNorm: argv.maxGradNorm, subspaceWeightDecay: argv.subspaceWeightDecay,
      // --threads (a global flag) also sets the matrix products' threads; default one per core.
      threads: argv.threads ?? os.availableParallelism(),
    };
    if (argv.lrs !== undefined && argv.lr !== undefined) throw new UserError('--lr and --lrs exclude each other; give one');
    const { runIntrinsicDim, checkIntrinsicOptions } = await import('../intrinsic/run.js');
    checkIntrinsicOptions(options);
    const progress = createProgress(process.stderr, argv.quiet, 'steps');
    const say = (text: string) => { progress.done(); if (!argv.quiet) process.stderr.write(`${text}\n`); };
    const outcome = await runIntrinsicDim(options, argv.out, { version: VERSION }, {
      onStep: (label, step, total, loss) => progress.update(label, step, total, `loss ${loss.toFixed(4)}`),
      onMessage: say,
    });
    progress.done();
    if (outcome.status === 'interrupted') {
      process.exitCode = interruptedStatus(outcome.signal);
      return;
    }
    const r = outcome.result!;
    say(r.d90 === null
      ? `d90: null (${r.reason}); written to ${argv.out}`
      : `d90 = ${r.d90}${r.interval ? ` (interval ${r.interval[0]}–${r.interval[1] ?? '>max'})` : ''}, threshold ${r.threshold.toFixed(4)} = 0.9 × baseline ${r.baseline.toFixed(4)}; written to ${argv.out}`);
  },
};
