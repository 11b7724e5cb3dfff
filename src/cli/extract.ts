/** `repgeom extract`: hidden states of every layer of a Hugging Face model over a dataset, to Arrow. */
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import { createProgress } from './progress.js';
import { VERSION } from './common.js';
import { planFileOutput } from '../io/safe-output.js';
import { dataInputs, dataMetadata, extractOptionsFromFlags, readDataFlags, withDataFlags, type DataFlags } from './data-options.js';

interface ExtractArgs extends DataFlags {
  model: string;
  out: string;
  quiet: boolean;
}

export const extractCommand: CommandModule<object, ExtractArgs> = {
  command: 'extract',
  describe: 'Run a Hugging Face BERT-family model over text and write the hidden states of every layer to an Arrow file',
  builder: (y: Argv) => withDataFlags(y)
    .option('model', { type: 'string', demandOption: true, describe: 'Hugging Face model folder (config.json, model.safetensors, tokenizer)' })
    .option('out', { type: 'string', demandOption: true, describe: 'the Arrow IPC file to write (atomically)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }) as unknown as Argv<ExtractArgs>,
  handler: async (argv: ArgumentsCamelCase<ExtractArgs>) => {
    const options = extractOptionsFromFlags(argv);
    const out = planFileOutput(argv.out, '--out', dataInputs(argv, [argv.model]));
    const dataset = readDataFlags(argv);
    // The model code loads only when a command needs it: `repgeom measure` starts faster.
    const [{ checkModel }, { extractToFile }] = await Promise.all([import('../models/check.js'), import('../models/extract.js')]);
    const model = await checkModel(argv.model, options, dataset.examples.length);
    for (const w of [...dataset.warnings, ...model.warnings]) process.stderr.write(`repgeom: warning: ${w}\n`);
    const progress = createProgress(process.stderr, argv.quiet, 'examples');
    const summary = await extractToFile({
      modelDir: argv.model, model, examples: dataset.examples, out, version: VERSION, metadata: dataMetadata(dataset),
      options: { ...options, onProgress: (done, total) => progress.update('extract', done, total) },
    });
    progress.done();
    if (!argv.quiet) {
      process.stderr.write(
        `wrote ${argv.out}: ${summary.examples} examples, ${summary.rowsPerLayer} rows × ${summary.layers.length} layers ` +
          `(${summary.tokens} tokens, ${Math.round(summary.tokens / summary.seconds)} tokens/s, products: ${summary.productsBackend}` +
          `${summary.truncatedExamples ? `, ${summary.truncatedExamples} examples truncated to --max-length ${options.maxLength}` : ''})\n`,
      );
    }
  },
};
