/**
 * `repgeom compare`: compare finished training runs (run folders or sweep folders) — the task
 * metric per λ over seeds, and how IsoScore⋆ and TwoNN correlate with it — into compare.json,
 * runs.csv and index.html.
 */
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import { VERSION, numberOption } from './common.js';

interface CompareArgs { inputs: string[]; byTask: boolean; out: string; seed: number }

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare [inputs..]',
  describe: 'Compare training runs: task metric per λ and its correlation with IsoScore⋆ and TwoNN',
  builder: (y: Argv) => y
    .positional('inputs', { type: 'string', array: true, describe: 'run folders (repgeom train) and sweep folders (repgeom sweep)' })
    .option('by-task', { type: 'boolean', default: false, describe: 'compare each task separately (needed when the runs are of several tasks)' })
    .option('out', { type: 'string', default: 'repgeom-compare', describe: 'compare folder (created; an earlier compare folder is replaced)' })
    .option('seed', numberOption('seed', { integer: true, min: 0, below: 2 ** 32, default: 0, describe: "seed of the bootstrap intervals' resamples" })) as unknown as Argv<CompareArgs>,
  handler: async (argv: ArgumentsCamelCase<CompareArgs>) => {
    const { runCompare } = await import('../compare/run.js');
    const { summaryText } = await import('../compare/summary.js');
    const { comparison } = await runCompare((argv.inputs ?? []).map(String), argv.out, { byTask: argv.byTask, seed: argv.seed, version: VERSION });
    process.stdout.write(summaryText(comparison, argv.out));
  },
};
