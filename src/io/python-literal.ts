/**
 * A parser for the small subset of Python literals that numpy writes in a .npy header, e.g.
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`: dicts, tuples, lists, strings,
 * integers (with the `L` suffix of old Python 2 files), True/False/None. Evaluating the header
 * any other way would either be unsafe (eval) or too lax to give a useful error.
 */
import { UserError } from '../errors.js';

export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Parse `text` as one literal; `where` prefixes error messages (e.g. "x.npy: header"). */
export function parsePythonLiteral(text: string, where: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new UserError(`${where}: ${what} at character ${i} of ${JSON.stringify(text.trim())}; re-save the array with numpy.save`);
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
    if (ch === '[') {
      i++;
      return sequence(']', value);
    }
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const word = /^(-?\d+)L?|^True|^False|^None/.exec(text.slice(i));
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
