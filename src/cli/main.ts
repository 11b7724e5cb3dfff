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
import { VERSION, checkRepeatedFlags } from './common.js';

const EXIT_USAGE = 2;

export async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  try {
    checkRepeatedFlags(argv);
    await yargs(argv)
      .scriptName('repgeom')
      .version(VERSION)
      .usage('$0 <command> [options]')
      .option('backend', { type: 'string', choices: BACKEND_CHOICES as string[], describe: 'tfjs backend (default: REPGEOM_BACKEND or the best available: node-gpu > node > wasm > cpu)' })
      .option('debug', { type: 'boolean', default: false, describe: 'print stack traces' })
      .middleware((a) => requestBackend(a.backend as string | undefined))
      .command(measureCommand)
      .command(extractCommand)
      .command(reportCommand)
      .demandCommand(1, 'name a command: measure, extract or report')
      .strict()
      .wrap(Math.min(110, process.stdout.columns || 110))
      .fail((message, error) => {
        if (error instanceof UserError) throw error;
        // yargs reports its own checks, and rethrows errors of option parsers (our strict number flags), as YError.
        if (error && error.name !== 'YError') throw error;
        throw new UserError(oneLine(error?.message ?? message));
      })
      .parseAsync();
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`repgeom: ${e.message}\n`);
      if (debug) process.stderr.write(`${e.stack}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    throw e;
  }
}

/** yargs' messages span lines; the contract is one line. */
function oneLine(message: string): string {
  const missing = /^Not enough arguments following: (\S+)$/.exec(message);
  if (missing) return `--${missing[1]} needs a value (see --help)`;
  return `${message.replace(/\s*\n\s*/g, ' ')}${message.startsWith('--') ? '' : ' (see --help)'}`;
}

await main(hideBin(process.argv));
