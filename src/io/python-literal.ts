/**
 * A parser for the small subset of Python literals that numpy writes in a .npy header, e.g.
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`: dicts, tuples, lists, strings,
 * integers (with the `L` suffix of old Python 2 files), True/False/None. Evaluating the header
 * any other way would either be unsafe (eval) or too lax to give a useful error.
 */
import { UserError } from '../errors.js';

/** A .npy header nests two levels (dict, shape tuple); deeper input is refused before it can overflow the stack. */
const MAX_DEPTH = 16;
/** An integer (Python 2 files may end it with L), True, False or None, matched where the parser stands. */
const WORD = /(-?\d+)L?|True|False|None/y;

export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Parse `text` as one literal; `where` prefixes error messages (e.g. "x.npy: header"). */
export function parsePythonLiteral(text: string, where: string): PyValue {
  let i = 0;
  let depth = 0;
  const fail = (what: string): never => {
    // Show the text around the place, never the whole of a long header.
    const from = Math.max(0, i - 30);
    const around = text.slice(from, i + 30).replace(/\s+/g, ' ');
    const shown = `${from > 0 ? '…' : ''}${around}${i + 30 < text.length ? '…' : ''}`;
    throw new UserError(`${where}: ${what} at character ${i} of ${JSON.stringify(shown)}; re-save the array with numpy.save`);
  };
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (ch: string): void => {
    skipSpace();
    if (text[i] !== ch) fail(`expected '${ch}'`);
    i++;
  };
  /** Items up to `close`, separated by commas, a trailing comma allowed (Python's rule). */
  const sequence = <T>(close: string, item: () => T): T[] => {
    const items: T[] = [];
    for (;;) {
      skipSpace();
      if (text[i] === close) break;
      items.push(item());
      skipSpace();
      if (text[i] === ',') i++;
      else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
    i++;
    return items;
  };
  const value = (): PyValue => {
    skipSpace();
    const ch = text[i];
    if (ch === '{' || ch === '(' || ch === '[') {
      if (depth >= MAX_DEPTH) fail(`brackets nested more than ${MAX_DEPTH} deep`);
      depth++;
      const v = container(ch);
      depth--;
      return v;
    }
    return scalar(ch);
  };
  const container = (ch: string): PyValue => {
    if (ch === '{') {
      i++;
      const entries = sequence('}', () => {
        const key = value();
        if (typeof key !== 'string') fail('dict key is not a string');
        expect(':');
        return [key as string, value()] as const;
      });
      return Object.fromEntries(entries);
    }
    if (ch === '(') {
      i++;
      return sequence(')', value);
    }
    i++;
    return sequence(']', value);
  };
  const scalar = (ch: string): PyValue => {
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(text);
    if (!word) return fail('unexpected text');
    i += word[0].length;
    if (word[1] !== undefined) return Number(word[1]);
    return word[0] === 'True' ? true : word[0] === 'False' ? false : null;
  };
  const result = value();
  skipSpace();
  if (i !== text.length) fail('unexpected text after the literal');
  return result;
}
