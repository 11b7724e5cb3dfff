/** `repgeom train`: fine-tune a Hugging Face checkpoint on a GLUE task (optionally with I-STAR or CosReg) into a resumable run folder. */
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import { VERSION } from './common.js';
import { trainOptionsFromFlags, withTrainFlags, type TrainFlags } from './train-flags.js';
import { interruptedStatus, runProgress } from './run-progress.js';
import type { TrainOptions } from '../train/run.js';

export const trainCommand: CommandModule<object, TrainFlags> = {
  command: 'train',
  describe: 'Fine-tune a Hugging Face BERT-family checkpoint on a GLUE task into a run folder (resumes if the folder exists)',
  builder: (y: Argv) => withTrainFlags(y, true, {
    task: 'sst2, mrpc, rte, cola, qqp, qnli, stsb or wnli',
    data: 'the GLUE task folder (train.tsv for training, dev.tsv for evaluation)',
    out: 'the run folder (created; an existing run folder is resumed)',
  }),
  handler: async (argv: ArgumentsCamelCase<TrainFlags>) => {
    const options: TrainOptions = trainOptionsFromFlags(argv);
    const { runTraining, checkTrainOptions } = await import('../train/run.js');
    const { metricsText } = await import('../train/run-folder.js');
    checkTrainOptions(options);
    const progress = runProgress('train', argv.quiet);
    const outcome = await runTraining(options, argv.out, { version: VERSION }, { ...progress, onWarning: (text) => progress.say(`repgeom: warning: ${text}`) });
    progress.done();
    if (outcome.status === 'finished' && !argv.quiet) {
      const metrics = metricsText(outcome.finalEval?.metrics ?? {});
      progress.say(`finished ${argv.out}: ${outcome.step} steps in ${outcome.seconds.toFixed(1)}s; dev ${metrics}`);
    }
    if (outcome.status === 'interrupted') process.exitCode = interruptedStatus(outcome.signal);
  },
};
