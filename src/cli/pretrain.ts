/** `repgeom pretrain`: masked-LM pretraining from a checkpoint or a config on a text corpus into a resumable run folder. */
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import { VERSION, numberOption } from './common.js';
import { interruptedStatus, runProgress } from './run-progress.js';
import { PRETRAIN_DEFAULTS as D, type PretrainOptions } from '../train/pretrain.js';

interface PretrainArgs {
  model?: string; config?: string; tokenizer?: string; data: string; out: string;
  steps?: number; epochs?: number; maskProb: number; maxLength: number; batchSize: number; lr: number; saveEvery: number; seed: number; quiet: boolean;
}

export const pretrainCommand: CommandModule<object, PretrainArgs> = {
  command: 'pretrain',
  describe: 'Masked-LM pretraining from a checkpoint or a config on a text corpus into a run folder (resumes if the folder exists)',
  builder: (y: Argv) => y
    .option('model', { type: 'string', describe: 'start from this Hugging Face model folder (config.json, model.safetensors, tokenizer)' })
    .option('config', { type: 'string', describe: 'start from seeded initial weights for this config.json (needs --tokenizer)' })
    .option('tokenizer', { type: 'string', describe: 'with --config: the tokenizer folder (vocab.txt or tokenizer.json)' })
    .option('data', { type: 'string', demandOption: true, describe: 'the corpus: a .txt file (one example per line), a folder of .txt files, or a .jsonl file ({"text": …} per line)' })
    .option('out', { type: 'string', demandOption: true, describe: 'the run folder (created; an existing run folder is resumed)' })
    .option('steps', numberOption('steps', { integer: true, min: 1, example: 2000, describe: 'optimizer steps in all' }))
    .option('epochs', numberOption('epochs', { integer: true, min: 1, example: 3, describe: 'passes over the corpus (default 1 when --steps is not given)' }))
    .option('mask-prob', numberOption('mask-prob', { min: 0, max: 1, default: D.maskProb, describe: 'share of tokens chosen for the MLM loss (80% [MASK], 10% random, 10% unchanged)' }))
    .option('max-length', numberOption('max-length', { integer: true, min: 2, default: D.maxLength, describe: 'tokens per example after truncation' }))
    .option('batch-size', numberOption('batch-size', { integer: true, min: 1, default: D.batchSize }))
    .option('lr', numberOption('lr', { min: 0, default: D.lr, describe: 'peak learning rate (linear decay to 0, AdamW, weight decay 0.01)' }))
    .option('save-every', numberOption('save-every', { integer: true, min: 1, default: D.saveEvery, describe: 'a checkpoint every N steps (and step-0, and final/ at the end)' }))
    .option('seed', numberOption('seed', { integer: true, min: 0, below: 2 ** 32, default: D.seed }))
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }) as unknown as Argv<PretrainArgs>,
  handler: async (argv: ArgumentsCamelCase<PretrainArgs>) => {
    const options: PretrainOptions = {
      model: argv.model ?? null, config: argv.config ?? null, tokenizer: argv.tokenizer ?? null, data: argv.data,
      steps: argv.steps ?? null, epochs: argv.epochs ?? null, maskProb: argv.maskProb, maxLength: argv.maxLength,
      batchSize: argv.batchSize, lr: argv.lr, saveEvery: argv.saveEvery, seed: argv.seed, weightDecay: D.weightDecay, maxGradNorm: D.maxGradNorm,
    };
    const { runPretraining, checkPretrainOptions } = await import('../train/pretrain.js');
    checkPretrainOptions(options);
    const progress = runProgress('pretrain', argv.quiet);
    const outcome = await runPretraining(options, argv.out, { version: VERSION }, { ...progress, onWarning: (text) => progress.say(`repgeom: warning: ${text}`) });
    progress.done();
    if (outcome.status === 'finished' && !argv.quiet) {
      progress.say(`finished ${argv.out}: ${outcome.step} steps in ${outcome.seconds.toFixed(1)}s; last MLM loss ${outcome.lastLoss?.toFixed(4) ?? 'n/a'}`);
    }
    if (outcome.status === 'interrupted') process.exitCode = interruptedStatus(outcome.signal);
  },
};
