/**
 * A pretraining corpus: a .txt file (one example per non-blank line), a folder of .txt files
 * (in natural name order, each read as one), or a .jsonl file (one object per line with a string
 * `text`). Lines are trimmed; blank lines are skipped.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { UserError, check } from '../errors.js';
import { readTextFileSync } from '../io/file-io.js';
import { naturalCompare } from '../io/natural-compare.js';
import type { TextExample } from '../models/tokenizer.js';

export function readCorpus(path: string): TextExample[] {
  check(existsSync(path), `--data ${path}: no such file or folder; give a .txt or .jsonl corpus, or a folder of .txt files`);
  let examples: TextExample[];
  if (statSync(path).isDirectory()) {
    const files = readdirSync(path).filter((f) => f.endsWith('.txt')).sort(naturalCompare);
    check(files.length > 0, `--data ${path}: the folder holds no .txt files; put the corpus in .txt files (one example per line)`);
    examples = files.flatMap((f) => textLines(join(path, f)));
  } else if (extname(path) === '.jsonl') {
    examples = jsonLines(path);
  } else if (extname(path) === '.txt') {
    examples = textLines(path);
  } else {
    throw new UserError(`--data ${path}: unknown corpus format '${extname(path) || '(no extension)'}'; give a .txt file (one example per line), a .jsonl file ({"text": …} per line) or a folder of .txt files`);
  }
  check(examples.length > 0, `--data ${path}: the corpus is empty (no non-blank line); give a corpus with text in it`);
  return examples;
}

function textLines(file: string): TextExample[] {
  return readTextFileSync(file, { expected: 'a text corpus file' }).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '').map((text) => ({ text }));
}

function jsonLines(file: string): TextExample[] {
  const out: TextExample[] = [];
  readTextFileSync(file, { expected: 'a .jsonl corpus file' }).split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new UserError(`${file}:${i + 1}: not a JSON line; each line must be an object such as {"text": "…"}`);
    }
    const text = typeof row === 'object' && row !== null ? (row as Record<string, unknown>).text : undefined;
    check(typeof text === 'string', `${file}:${i + 1}: no string "text" field; each line must be an object such as {"text": "…"}`);
    if (text.trim() !== '') out.push({ text: text.trim() });
  });
  return out;
}
