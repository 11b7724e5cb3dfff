/**
 * Flags shared by the commands that run a model over text (`extract`, `report`): where the
 * examples come from and how they are tokenized and selected.
 */
import * as fs from 'node:fs';
import type { Argv } from 'yargs';
import { TASKS, readDataset, type Dataset, type TaskName } from '../io/datasets.js';
import type { ExtractOptions } from '../models/extract.js';
import { TOKEN_SELECTIONS, type TokenSelection } from '../models/token-selection.js';
import { UserError } from '../errors.js';
import type { CommandInputs } from '../io/safe-output.js';
import { numberOption, parseIntegerList } from './common.js';

export interface DataFlags {
  data?: string;
  task?: string;
  split: string;
  limit?: number;
  textField: string;
  textPairField?: string;
  layers: string;
  tokens: string;
  specialTokens: boolean;
  maxLength: number;
  batchSize: number;
  workers?: number;
}

export function withDataFlags<T>(y: Argv<T>): Argv<T> {
  return y
    .option('data', { type: 'string', describe: 'a GLUE task folder or .tsv, a .txt file (one example per line) or a .jsonl file' })
    .option('task', { type: 'string', choices: TASKS as unknown as string[], describe: 'how to read --data (default: from the folder name or extension)' })
    .option('split', { type: 'string', default: 'dev', describe: 'GLUE split: reads <split>.tsv in the task folder' })
    .option('limit', numberOption('limit', { integer: true, min: 1, example: 100, describe: 'use only the first N examples' }))
    .option('text-field', { type: 'string', default: 'text', describe: 'jsonl: the field with the text' })
    .option('text-pair-field', { type: 'string', describe: 'jsonl: the field with the second text of a pair' })
    .option('layers', { type: 'string', default: 'all', describe: "hidden states to keep: 'all' or comma-separated HF layer numbers (0 = embeddings)" })
    .option('tokens', { type: 'string', default: 'all', choices: TOKEN_SELECTIONS as unknown as string[], describe: 'rows per example: every non-padding token, the [CLS] position, or the mean of the tokens' })
    .option('special-tokens', { type: 'boolean', default: false, describe: 'with --tokens all/mean: keep [CLS]/[SEP] (<s>/</s>) too' })
    .option('max-length', numberOption('max-length', { integer: true, min: 2, default: 128, describe: 'tokens per example after truncation (longest first), special tokens included' }))
    .option('batch-size', numberOption('batch-size', { integer: true, min: 1, default: 32, describe: 'examples per forward pass' }))
    .option('workers', numberOption('workers', {
      integer: true, min: 1, example: 2,
      describe: 'worker threads for the model, each with its own copy of the weights (default: one per core, at most 4, when there are more than 4 batches; never more than the cores, the batches or what memory holds)',
    }));
}

export function readDataFlags(argv: DataFlags): Dataset {
  if (argv.data === undefined) throw new UserError('--data is required: give a GLUE task folder, a .txt or a .jsonl file');
  return readDataset(argv.data, {
    task: argv.task as TaskName | undefined, split: argv.split, textField: argv.textField, textPairField: argv.textPairField, limit: argv.limit,
  });
}

/** The numbers were parsed and range-checked by numberOption as yargs read them. */
export function extractOptionsFromFlags(argv: DataFlags): Omit<ExtractOptions, 'onProgress'> {
  return {
    layers: argv.layers === 'all' ? undefined : parseIntegerList(argv.layers, '--layers'),
    tokens: argv.tokens as TokenSelection,
    specialTokens: argv.specialTokens,
    maxLength: argv.maxLength,
    batchSize: argv.batchSize,
    workers: argv.workers ?? 'auto',
  };
}

/** What a data-reading command reads, for the output checks: the data (file or folder) and the model folders. */
export function dataInputs(argv: DataFlags, modelDirs: readonly string[]): CommandInputs {
  const data = argv.data;
  const dataIsFolder = data !== undefined && fs.existsSync(data) && fs.statSync(data).isDirectory();
  return { files: dataIsFolder ? [] : [data], folders: [...modelDirs, ...(dataIsFolder ? [data] : [])] };
}

/** Arrow metadata describing the data. */
export function dataMetadata(dataset: Dataset): Record<string, string> {
  return { 'repgeom.data': dataset.path, 'repgeom.task': dataset.task, 'repgeom.split': dataset.split ?? '' };
}
