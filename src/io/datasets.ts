/**
 * Text datasets: the GLUE tasks' TSV files (as distributed by the GLUE download script and read by
 * transformers' `glue_processors`), plain text (one example per line) and JSON Lines.
 *
 * GLUE TSVs are read like `csv.reader(f, delimiter="\t", quotechar=None)` in transformers'
 * DataProcessor._read_tsv: split on tabs only, NO quote handling (MRPC and QQP have fields that
 * begin with a double quote; it is part of the text). Columns are found by header name where the
 * file has a header, so files with extra columns work; CoLA train/dev and the QQP subset have no
 * header and are read by position. Rows with the wrong number of fields (QQP has some) or a label
 * outside the task's label list are skipped and counted in `warnings`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { UserError, check } from '../errors.js';
import { readLinesSync } from './file-io.js';
import { MAX_JSON_DEPTH, excessiveNesting, preview, shownName, syntaxError } from './json-limits.js';

/** One example's text: a sentence, or a sentence pair. (Defined here, the lowest layer that reads text, so io/ imports nothing from models/.) */
export interface TextExample {
  text: string;
  textPair?: string;
}

export const TASKS = ['sst2', 'mrpc', 'rte', 'cola', 'qqp', 'qnli', 'stsb', 'wnli', 'text', 'jsonl'] as const;
export type TaskName = (typeof TASKS)[number];

export interface Dataset {
  task: TaskName;
  /** The file actually read. */
  path: string;
  /** The split read from a task folder; null when a file was given (or a folder's only .tsv was read). */
  split: string | null;
  examples: TextExample[];
  /** Class index (float score for stsb) per example; null entries where unlabeled; null for text or label-less files. */
  labels: (number | null)[] | null;
  /** Human-readable notes, e.g. "skipped 3 rows with the wrong number of fields (lines 12, 40, 77)". */
  warnings: string[];
  /** Rows skipped as malformed. */
  skipped: number;
}

export interface ReadDatasetOptions {
  task?: TaskName;
  /** Split of a task folder: the file `<split>.tsv` (default 'dev'). */
  split?: string;
  /** jsonl: the field holding the text (default 'text'). */
  textField?: string;
  /** jsonl: the field holding the second text of a pair. */
  textPairField?: string;
  /** Keep only the first N examples. */
  limit?: number;
}

type GlueTask = Exclude<TaskName, 'text' | 'jsonl'>;

/** Where a GLUE task's text and label live: header names, and positions for header-less files. */
interface TsvSpec {
  text: string;
  pair?: string;
  label: string;
  /** Label strings in class-index order (transformers' `glue_processors[task]().get_labels()`), or 'float'. */
  labels: readonly string[] | 'float';
  /** Layout of the header-less variant (CoLA train/dev, QQP subset): field count and positions. */
  positional?: { fields: number; text: number; pair?: number; label: number };
}

const BINARY = ['0', '1'] as const;
const ENTAILMENT = ['entailment', 'not_entailment'] as const;

const SPECS: Record<GlueTask, TsvSpec> = {
  sst2: { text: 'sentence', label: 'label', labels: BINARY },
  // CoLA train/dev: source, label, original label, sentence; its test file has a header (index, sentence).
  cola: { text: 'sentence', label: 'label', labels: BINARY, positional: { fields: 4, text: 3, label: 1 } },
  mrpc: { text: '#1 String', pair: '#2 String', label: 'Quality', labels: BINARY },
  rte: { text: 'sentence1', pair: 'sentence2', label: 'label', labels: ENTAILMENT },
  wnli: { text: 'sentence1', pair: 'sentence2', label: 'label', labels: BINARY },
  qnli: { text: 'question', pair: 'sentence', label: 'label', labels: ENTAILMENT },
  // GLUE's QQP files have a header; a subset cut from them may not: id, qid1, qid2, q1, q2, is_duplicate.
  qqp: { text: 'question1', pair: 'question2', label: 'is_duplicate', labels: BINARY, positional: { fields: 6, text: 3, pair: 4, label: 5 } },
  stsb: { text: 'sentence1', pair: 'sentence2', label: 'score', labels: 'float' },
};

/** Folder names of the GLUE tasks as the GLUE download script names them (SST-2, STS-B, QQP...), loosely. */
const FOLDER_NAMES: [RegExp, GlueTask][] = [
  [/^sst[-_]?2(?:$|[-_. ])/i, 'sst2'],
  [/^mrpc(?:$|[-_. ])/i, 'mrpc'],
  [/^rte(?:$|[-_. ])/i, 'rte'],
  [/^cola(?:$|[-_. ])/i, 'cola'],
  [/^qqp(?:$|[-_. ])/i, 'qqp'],
  [/^qnli(?:$|[-_. ])/i, 'qnli'],
  [/^sts[-_]?b(?:$|[-_. ])/i, 'stsb'],
  [/^wnli(?:$|[-_. ])/i, 'wnli'],
];

const taskOfFolder = (name: string): GlueTask | null => FOLDER_NAMES.find(([re]) => re.test(name))?.[1] ?? null;

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/**
 * The task a path holds, or null: a folder by its name (SST-2, MRPC, RTE, CoLA, QQP*, QNLI, STS-B,
 * WNLI, any case, dash optional); a file by its extension (.jsonl → jsonl, .txt → text), else by
 * the name of the folder it is in.
 */
export function detectTask(path: string): TaskName | null {
  if (isDir(path)) return taskOfFolder(basename(path));
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl') return 'jsonl';
  if (ext === '.txt') return 'text';
  return taskOfFolder(basename(dirname(path)));
}

/**
 * Read a dataset: a task folder (`<split>.tsv`, split default 'dev'; a folder whose only .tsv is
 * not named after a split, such as QQP-subset/qqp_subset.tsv, gives that file with a warning and
 * split null) or a file (.tsv of a GLUE task, .txt, .jsonl). The task comes from `options.task`,
 * else `detectTask`; `limit` keeps the first N examples.
 */
export function readDataset(path: string, options: ReadDatasetOptions = {}): Dataset {
  const { limit } = options;
  check(existsSync(path), `no such file or folder: ${path}`);
  check(options.task === undefined || (TASKS as readonly string[]).includes(options.task), `unknown task '${options.task}' (known: ${TASKS.join(', ')})`);
  check(limit === undefined || (Number.isSafeInteger(limit) && limit > 0), `limit must be a positive integer, got ${limit}`);
  const task = options.task ?? detectTask(path);
  check(task !== null, `cannot tell which task ${path} holds; pass --task (${TASKS.join(', ')})`);
  const warnings: string[] = [];
  const { file, split } = resolveFile(path, task, options.split, warnings);
  // Lines are read as they are parsed: with `limit`, the rest of the file is never read.
  const lines = numbered(readLinesSync(file, 'a dataset file (.tsv, .txt or .jsonl) or a task folder'));
  const cap = limit ?? Infinity;
  let parsed: Parsed;
  try {
    parsed = task === 'text' ? readText(lines, cap)
      : task === 'jsonl' ? readJsonl(lines, cap, file, options, warnings)
      : readTsv(lines, cap, file, task, warnings);
  } finally {
    lines.return(undefined); // closes the file when parsing stopped early or failed
  }
  check(parsed.examples.length > 0, `${file} has no examples${parsed.skipped ? ` (${parsed.skipped} malformed rows skipped)` : ''}`);
  return { task, path: file, split, ...parsed, warnings };
}

const SPLIT_NAME = /^(train|dev|test|valid|validation|val)([-_.].*)?\.tsv$/i;

/** The file to read: `path` itself, or `<split>.<ext>` in a folder. */
function resolveFile(path: string, task: TaskName, requested: string | undefined, warnings: string[]): { file: string; split: string | null } {
  if (!isDir(path)) return { file: path, split: null };
  const ext = task === 'text' ? '.txt' : task === 'jsonl' ? '.jsonl' : '.tsv';
  const split = requested ?? 'dev';
  const file = join(path, split + ext);
  if (existsSync(file)) return { file, split };
  const present = readdirSync(path).filter((f) => f.endsWith(ext)).sort();
  // A folder holding one data file that is not itself a split (QQP-subset/qqp_subset.tsv) serves
  // any split; a folder with only dev.tsv asked for train must fail, not silently give dev.
  if (present.length === 1 && ext === '.tsv' && !SPLIT_NAME.test(present[0])) {
    warnings.push(`${path} has no ${split}${ext}; read its only ${ext} file, ${present[0]}`);
    return { file: join(path, present[0]), split: null };
  }
  const splits = present.map((f) => f.slice(0, -ext.length));
  throw new UserError(`${path} has no split '${split}' (${split}${ext}); splits present: ${splits.length ? splits.join(', ') : `none (no ${ext} files)`}`);
}

/** A line and its 1-based number in the file. */
interface Line {
  text: string;
  number: number;
}

function* numbered(lines: Iterable<string>): Generator<Line> {
  let number = 0;
  for (const text of lines) yield { text, number: ++number };
}

interface Parsed {
  examples: TextExample[];
  labels: (number | null)[] | null;
  skipped: number;
}

/** One example per line; blank lines are not examples. */
function readText(lines: Iterator<Line>, cap: number): Parsed {
  const examples: TextExample[] = [];
  while (examples.length < cap) {
    const next = lines.next();
    if (next.done) break;
    if (next.value.text.trim().length > 0) examples.push({ text: next.value.text });
  }
  return { examples, labels: null, skipped: 0 };
}

/** `first`, then the rest of `rest`. */
function* prepend(first: Line, rest: Iterator<Line>): Generator<Line> {
  yield first;
  for (let next = rest.next(); !next.done; next = rest.next()) yield next.value;
}

/** "(lines 12, 40, 77, 90, 91 …)": up to 5 line numbers. */
const lineList = (lines: number[]): string => `(line${lines.length > 1 ? 's' : ''} ${lines.slice(0, 5).join(', ')}${lines.length > 5 ? ' …' : ''})`;

function readTsv(lines: Iterator<Line>, cap: number, file: string, task: GlueTask, warnings: string[]): Parsed {
  const spec = SPECS[task];
  const head = lines.next();
  const first = head.done ? [] : head.value.text.split('\t');
  let fields: number, textCol: number, pairCol: number | undefined, labelCol: number | undefined, headerLine: boolean;
  if (first.includes(spec.text) && (spec.pair === undefined || first.includes(spec.pair))) {
    // A header: find columns by name. A file without the label column (a GLUE test file) is unlabeled.
    fields = first.length;
    textCol = first.indexOf(spec.text);
    pairCol = spec.pair === undefined ? undefined : first.indexOf(spec.pair);
    labelCol = first.includes(spec.label) ? first.indexOf(spec.label) : undefined;
    headerLine = true;
  } else if (spec.positional) {
    ({ fields, text: textCol, pair: pairCol, label: labelCol } = spec.positional);
    headerLine = false;
  } else {
    const wanted = [spec.text, spec.pair].filter((c) => c !== undefined).map((c) => `'${c}'`).join(' and ');
    throw new UserError(
      `${file}: the first line is not a ${task} header with columns ${wanted} (it has ${first.slice(0, 10).map((c) => `'${shownName(c, 40)}'`).join(', ')}); ` +
        `check the file or pass the right --task`,
    );
  }
  const examples: TextExample[] = [];
  const labels: (number | null)[] = [];
  const wrongFields: number[] = [], badLabels: number[] = [];
  // The first line is a row too when it is not a header (header-less CoLA and QQP files).
  const rest: Iterator<Line> = headerLine || head.done ? lines : prepend(head.value, lines);
  while (examples.length < cap) {
    const next = rest.next();
    if (next.done) break;
    const { text: line, number } = next.value;
    if (line.length === 0) continue;
    const row = line.split('\t');
    if (row.length !== fields) {
      wrongFields.push(number);
      continue;
    }
    let label: number | null = null;
    if (labelCol !== undefined) {
      const raw = row[labelCol].trim();
      label = spec.labels === 'float' ? (raw === '' ? NaN : Number(raw)) : spec.labels.indexOf(raw);
      if (spec.labels === 'float' ? !Number.isFinite(label) : label < 0) {
        badLabels.push(number);
        continue;
      }
    }
    examples.push(pairCol === undefined ? { text: row[textCol] } : { text: row[textCol], textPair: row[pairCol] });
    labels.push(label);
  }
  if (wrongFields.length) {
    warnings.push(`${file}: skipped ${wrongFields.length} malformed row${wrongFields.length > 1 ? 's' : ''} with other than ${fields} tab-separated fields ${lineList(wrongFields)}`);
  }
  if (badLabels.length) {
    const expected = spec.labels === 'float' ? 'a number' : spec.labels.map((l) => `'${l}'`).join(' or ');
    warnings.push(`${file}: skipped ${badLabels.length} row${badLabels.length > 1 ? 's' : ''} whose label is not ${expected} ${lineList(badLabels)}`);
  }
  return { examples, labels: labelCol === undefined ? null : labels, skipped: wrongFields.length + badLabels.length };
}

/**
 * JSON Lines: one object per non-blank line with the text in `textField` (default 'text'), an
 * optional second text in `textPairField` and an optional `label` (a number, a boolean, or a
 * string: numeric strings are numbers, other strings become class indices in sorted order).
 */
function readJsonl(lines: Iterator<Line>, cap: number, file: string, options: ReadDatasetOptions, warnings: string[]): Parsed {
  const textField = options.textField ?? 'text', pairField = options.textPairField;
  const examples: TextExample[] = [];
  const rawLabels: unknown[] = [];
  let first = true;
  while (examples.length < cap) {
    const next = lines.next();
    if (next.done) break;
    const { text, number } = next.value;
    if (text.trim().length === 0) continue;
    const where = `${file}:${number}`;
    const deep = excessiveNesting(text, MAX_JSON_DEPTH);
    check(deep < 0, () => `${where}: JSON nested more than ${MAX_JSON_DEPTH} levels deep (at character ${deep}); each line must be one flat JSON object`);
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (e) {
      throw new UserError(`${where}: not valid JSON (${syntaxError(e)}); each line must be one JSON object`);
    }
    check(typeof record === 'object' && record !== null && !Array.isArray(record), `${where}: expected a JSON object, found ${Array.isArray(record) ? 'an array' : preview(record)}`);
    const r = record as Record<string, unknown>;
    for (const field of pairField === undefined ? [textField] : [textField, pairField]) {
      if (first) {
        check(field in r, () => `${where}: the first record has no field '${field}' (it has ${Object.keys(r).slice(0, 10).map((k) => `'${shownName(k, 40)}'`).join(', ') || 'none'}); pass --text-field`);
      }
      check(typeof r[field] === 'string', () => `${where}: field '${field}' is ${r[field] === undefined ? 'missing' : `not a string (${preview(r[field])})`}`);
    }
    first = false;
    examples.push(pairField === undefined ? { text: r[textField] as string } : { text: r[textField] as string, textPair: r[pairField] as string });
    rawLabels.push(r.label);
  }
  return { examples, labels: jsonlLabels(rawLabels, file, warnings), skipped: 0 };
}

/** Labels of JSONL records: null overall when no record has one. */
function jsonlLabels(raw: unknown[], file: string, warnings: string[]): (number | null)[] | null {
  if (raw.every((l) => l === undefined || l === null)) return null;
  const names = [...new Set(raw.filter((l): l is string => typeof l === 'string' && !isNumeric(l)))].sort();
  if (names.length > 0) warnings.push(`${file}: string labels mapped to class indices: ${names.map((n, k) => `${n}=${k}`).join(', ')}`);
  return raw.map((l) => {
    if (l === undefined || l === null) return null;
    if (typeof l === 'number') return l;
    if (typeof l === 'boolean') return l ? 1 : 0;
    if (typeof l === 'string') return isNumeric(l) ? Number(l) : names.indexOf(l);
    throw new UserError(`${file}: label ${preview(l)} is not a number, boolean or string`);
  });
}

const isNumeric = (s: string): boolean => s.trim() !== '' && Number.isFinite(Number(s));
