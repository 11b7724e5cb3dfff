/**
 * `repgeom sweep`: a grid of `repgeom train` runs over tasks × λ × seeds into one sweep folder,
 * locally (child processes, --jobs at once) or as a Slurm array job; `--status` reports on one.
 */
import { accessSync, constants } from 'node:fs';
import * as os from 'node:os';
import { resolve } from 'node:path';
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import { check } from '../errors.js';
import { VERSION, numberOption, parseNumberList } from './common.js';
import { interruptedStatus } from './run-progress.js';
import { trainOptionsFromFlags, withTrainFlags, type TrainFlags } from './train-flags.js';
import { toTable } from './output.js';
import { checkSweepFolder, exitText, openSweepFolder, readSweepFile } from '../train/sweep-folder.js';
import { planSweep, type SweepRequest } from '../train/sweep-plan.js';
import { localRunWords, runSweepLocally, type CliCommand } from '../train/sweep-local.js';
import { checkNoLiveJobs, shellWord, submitSweep, writeSbatchScript } from '../train/sweep-slurm.js';
import { sweepStatus } from '../train/sweep-status.js';

interface SweepFlags extends TrainFlags {
  tasks?: string; lambdas?: string; seeds?: string; jobs: number; executor: string; dryRun: boolean;
  partition?: string; time?: string; cpusPerTask?: number; gres?: string; status?: string; format: string; threads?: number;
}

export const sweepCommand: CommandModule<object, SweepFlags> = {
  command: 'sweep',
  describe: 'Run repgeom train over tasks × λ × seeds into a sweep folder, locally or as a Slurm array job (resumes if the folder exists)',
  builder: (y: Argv) => withTrainFlags(y, false, {
    sweep: true,
    task: 'one task (sst2, mrpc, rte, cola, qqp, qnli, stsb or wnli); --tasks for several',
    data: 'with one task its GLUE folder (train.tsv, dev.tsv); with several --tasks the GLUE root holding their standard folders (SST-2, MRPC, RTE, CoLA, STS-B, WNLI, QNLI, QQP)',
    out: 'the sweep folder: sweep.json, one run folder per (task, λ, seed), logs/ (an existing sweep folder is resumed)',
  })
    .option('tasks', { type: 'string', requiresArg: true, describe: 'several tasks, e.g. --tasks=sst2,rte (runs are ordered task, λ, seed)' })
    .option('lambdas', { type: 'string', requiresArg: true, describe: 'the λ values, e.g. --lambdas=-5,-1,0,1,5 (folders are named by λ as written)' })
    .option('seeds', { type: 'string', requiresArg: true, describe: 'the seeds, e.g. --seeds=0,1,2 (default: --seed, else 0)' })
    .option('jobs', numberOption('jobs', { integer: true, min: 1, default: 1, describe: 'local runs at once (each gets --threads / jobs threads; at most one per core)' }))
    .option('executor', { type: 'string', choices: ['local', 'slurm'], default: 'local', describe: 'run here, or write sweep.sbatch and submit it as a Slurm array job' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'write sweep.json (and sweep.sbatch) and print what would run; run nothing' })
    .option('partition', { type: 'string', requiresArg: true, describe: 'Slurm: #SBATCH --partition' })
    .option('time', { type: 'string', requiresArg: true, describe: 'Slurm: #SBATCH --time per run, e.g. 4:00:00' })
    .option('cpus-per-task', numberOption('cpus-per-task', { integer: true, min: 1, example: 8, describe: 'Slurm: #SBATCH --cpus-per-task (and --threads of each run)' }))
    .option('gres', { type: 'string', requiresArg: true, describe: 'Slurm: #SBATCH --gres, e.g. gpu:1' })
    .option('status', { type: 'string', requiresArg: true, describe: 'report the state of each run of this sweep folder (nothing else needed)' })
    .option('format', { type: 'string', choices: ['table', 'json'], default: 'table', describe: '--status output' }) as unknown as Argv<SweepFlags>,
  handler: async (argv: ArgumentsCamelCase<SweepFlags>) => {
    if (argv.status !== undefined) {
      const report = sweepStatus(argv.status);
      if (argv.format === 'json') process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write(`${toTable(report.runs.map((r) => ({ index: r.index, state: r.state, task: r.task, reg: r.reg, lambda: r.lambda, seed: r.seed, step: r.step, metrics: r.metrics, slurm: r.slurm ?? undefined, ending: r.ending || undefined, folder: r.folder })))}\n${report.summary}\n`);
      return;
    }
    check(argv.model !== undefined, '--model is required: give the Hugging Face model folder');
    check(argv.data !== undefined, '--data is required: the task folder (one task) or the GLUE root (several --tasks)');
    check(argv.out !== undefined, '--out is required: give the sweep folder (created; an existing sweep folder is resumed)');
    if (argv.executor !== 'slurm') {
      for (const [flag, v] of [['--partition', argv.partition], ['--time', argv.time], ['--cpus-per-task', argv.cpusPerTask], ['--gres', argv.gres]] as const) {
        check(v === undefined, `${flag} applies to --executor slurm only; add --executor slurm or leave ${flag} out`);
      }
    }
    const request = sweepRequest(argv);
    const kind = checkSweepFolder(argv.out, [argv.model, argv.data]);
    const plan = planSweep(request, argv.out);
    const dir = resolve(argv.out);
    const say = (text: string) => { if (!argv.quiet) process.stderr.write(`${text}\n`); };
    const command: CliCommand = { node: process.execPath, nodeArgs: process.execArgv, script: resolve(process.argv[1]) };
    // Never two sweeps on one folder: not while Slurm jobs recorded for it still have tasks queued or running.
    if (kind === 'existing' && !argv.dryRun) checkNoLiveJobs(argv.out, readSweepFile(dir));
    if (argv.executor === 'slurm') {
      const slurm = { partition: argv.partition, time: argv.time, cpusPerTask: argv.cpusPerTask, gres: argv.gres };
      if (!argv.dryRun) checkSbatch();
      const file = openSweepFolder(argv.out, kind, plan, VERSION);
      const script = writeSbatchScript(dir, file, slurm, command, process.cwd());
      if (argv.dryRun) {
        process.stdout.write(`sbatch --parsable ${shellWord(script)}\n`);
        say(`wrote ${script} (${plan.runs.length} array tasks); submit it with the command above`);
        return;
      }
      const job = submitSweep(dir, script);
      say(`submitted Slurm array job ${job} (${plan.runs.length} runs); follow it with: repgeom sweep --status ${argv.out}`);
      process.stdout.write(`${job}\n`);
      return;
    }
    const cores = os.availableParallelism();
    let jobs = argv.jobs;
    if (jobs > cores) {
      process.stderr.write(`repgeom: warning: --jobs ${jobs} is more than the ${cores} cores; running ${cores} at once\n`);
      jobs = cores;
    }
    const file = openSweepFolder(argv.out, kind, plan, VERSION);
    const threadsPerRun = Math.max(1, Math.floor((argv.threads ?? cores) / jobs));
    if (argv.dryRun) {
      for (const r of file.runs) process.stdout.write(`${localRunWords(command, threadsPerRun, r).map(shellWord).join(' ')}\n`);
      return;
    }
    const outcome = await runSweepLocally(dir, file.runs, { jobs, threadsPerRun, command, say });
    if (outcome.interrupted) {
      say(`sweep stopped by ${outcome.interrupted}; the same command resumes it`);
      process.exitCode = interruptedStatus(outcome.interrupted);
    } else if (outcome.failed.length > 0) {
      const named = outcome.failed.map((f) => `${f.run.folder} (${exitText(f.status)}, log ${f.log})`).join(', ');
      process.stderr.write(`repgeom: ${outcome.failed.length} of ${file.runs.length} runs failed: ${named}; fix the cause and run the same command to retry them\n`);
      process.exitCode = 1;
    } else {
      say(`sweep ${argv.out}: all ${file.runs.length} runs finished (${outcome.skipped} already were)`);
    }
  },
};

/** The swept axes from the flags: one of --task/--tasks, --lambda/--lambdas, --seed/--seeds. */
function sweepRequest(argv: SweepFlags): SweepRequest {
  check(!(argv.task !== undefined && argv.tasks !== undefined), 'give either --task (one) or --tasks=… (several), not both');
  check(!(argv.lambda !== undefined && argv.lambdas !== undefined), 'give either --lambda=<value> (one) or --lambdas=<list>, not both');
  check(!(argv.seed !== undefined && argv.seeds !== undefined), 'give either --seed (one) or --seeds=<list>, not both');
  let tasks: string[];
  if (argv.tasks !== undefined) {
    tasks = String(argv.tasks).split(',').map((t) => t.trim());
    check(tasks.every((t) => t !== ''), `--tasks=${argv.tasks}: an empty item; give task names separated by commas, e.g. --tasks=sst2,rte`);
  } else {
    check(argv.task !== undefined, '--task or --tasks is required: e.g. --task sst2 or --tasks=sst2,rte');
    tasks = [argv.task];
  }
  const lambdas = argv.lambdas !== undefined ? parseNumberList(argv.lambdas, '--lambdas', {})
    : argv.lambda !== undefined ? parseNumberList(argv.lambda, '--lambda', {}) : null;
  check(argv.lambdas !== undefined || lambdas === null || lambdas.length === 1, '--lambda takes one value; give several as --lambdas=-1,0,1');
  const seedSpec = { integer: true, min: 0, below: 2 ** 32 };
  const seeds = argv.seeds !== undefined ? parseNumberList(argv.seeds, '--seeds', seedSpec).map((s) => s.value) : [argv.seed ?? 0];
  const { task: _task, data: _data, lambda: _lambda, seed: _seed, ...train } = trainOptionsFromFlags(argv);
  return { train, tasks, data: argv.data, lambdas, seeds };
}

function checkSbatch(): void {
  const found = (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsExecutable(resolve(d, 'sbatch')));
  check(found, '--executor slurm: sbatch is not on PATH (no Slurm here); use --dry-run to write sweep.sbatch and submit it where Slurm runs');
}

function existsExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
