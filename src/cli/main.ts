#!/usr/bin/env node
/**
 * The `repgeom` command line. Command files stay thin over the library; this file only wires
 * them into yargs and turns user errors into one line on stderr and exit status 2.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from '../errors.js';
import { requestBackend, BACKEND_CHOICES } from '../backend/tf.js';
import { measureCommand } from './measure.js';
import { extractCommand } from './extract.js';
import { reportCommand } from './report.js';
import { trainCommand } from './train.js';
import { pretrainCommand } from './pretrain.js';
import { sweepCommand } from './sweep.js';
import { compareCommand } from './compare.js';
import { intrinsicDimCommand } from './intrinsic-dim.js';
import { VERSION, checkRepeatedFlags, numberOption } from './common.js';
import { configureProducts } from '../backend/products/index.js';

const EXIT_USAGE = 2;

/** Longest error line printed: a file name with a newline or a 1 MB header must not fill the screen. */
const MAX_MESSAGE = 600;

/** The contract: one line, of a length a person reads. */
export function oneLine(message: string): string {
  const flat = message.replace(/[\r\n\t\v\f]+/g, ' ').replace(/[\x00-\x08\x0e-\x1f\x7f]/g, '?');
  return flat.length <= MAX_MESSAGE ? flat : `${flat.slice(0, MAX_MESSAGE - 40)} … (${flat.length - MAX_MESSAGE + 40} more characters)`;
}

/**
 * Output to a closed pipe (`| head`) ends quietly with status 0; any other failure to write
 * stdout (`> /dev/full`) is one line and status 2, never an unhandled 'error' event.
 */
function guardStandardStreams(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.stderr.write(`repgeom: cannot write the output to stdout (${e.code ?? e.message}); check where it goes or use --out\n`);
    process.exit(EXIT_USAGE);
  });
  // Progress and messages are best effort: a closed stderr must not crash the run.
  process.stderr.on('error', () => {});
}

export async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  guardStandardStreams();
  try {
    checkRepeatedFlags(argv);
    await yargs(argv)
      .scriptName('repgeom')
      .version(VERSION)
      .usage('$0 <command> [options]')
      .option('backend', { type: 'string', choices: BACKEND_CHOICES as string[], describe: 'tfjs backend (default: REPGEOM_BACKEND or the best available: node-gpu > node > wasm > cpu)' })
      .option('debug', { type: 'boolean', default: false, describe: 'print stack traces' })
      .option('threads', numberOption('threads', { integer: true, min: 1, max: 1024, describe: 'threads of the matrix products (default: one per core)' }))
      .middleware((a) => {
        requestBackend(a.backend as string | undefined);
        if (a.threads !== undefined) configureProducts({ threads: a.threads as number });
      })
      .command(measureCommand)
      .command(extractCommand)
      .command(reportCommand)
      .command(trainCommand)
      .command(pretrainCommand)
      .command(sweepCommand)
      .command(compareCommand)
      .command(intrinsicDimCommand)
      .demandCommand(1, 'name a command: measure, extract, report, train, pretrain, sweep, compare or intrinsic-dim')
      .strict()
      .wrap(Math.min(110, process.stdout.columns || 110))
      .fail((message, error) => {
        if (error instanceof UserError) throw error;
        // yargs reports its own checks, and rethrows errors of option parsers (our strict number flags), as YError.
        if (error && error.name !== 'YError') throw error;
        throw new UserError(yargsMessage(error?.message ?? message));
      })
      .parseAsync();
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`repgeom: ${oneLine(e.message)}\n`);
      if (debug) process.stderr.write(`${e.stack}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    throw e;
  }
}

/** yargs' messages, as ours read: a missing value names the flag; other messages point at --help. */
function yargsMessage(message: string): string {
  const missing = /^Not enough arguments following: (\S+)$/.exec(message);
  if (missing) return `--${missing[1]} needs a value (see --help)`;
  return `${oneLine(message.trim())}${message.startsWith('--') ? '' : ' (see --help)'}`;
}

await main(hideBin(process.argv));
