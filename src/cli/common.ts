/** Small helpers shared by the command files: the package version and strict flag parsing. */
import { readFileSync } from 'node:fs';
import type { Options } from 'yargs';
import { UserError } from '../errors.js';

/** The package version (src/cli and dist/cli are both two levels below package.json). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface NumberSpec {
  describe?: string;
  default?: number;
  integer?: boolean;
  /** Inclusive bounds. */
  min?: number;
  max?: number;
  /** An exclusive upper bound. */
  below?: number;
  /** Shown in the fix of a message when there is no default. */
  example?: number;
}

/**
 * A numeric flag, read as a string and parsed strictly: yargs' own numbers turn '' into 0,
 * 'abc' into NaN and '0x10' into 16. Every numeric flag of every command is declared here.
 */
export function numberOption(flag: string, spec: NumberSpec): Options {
  return {
    type: 'string',
    requiresArg: true,
    describe: spec.describe,
    default: spec.default,
    // yargs calls this with undefined for a flag that is absent and has no default.
    coerce: (value: unknown) => (value === undefined ? undefined : parseNumberFlag(value, `--${flag}`, spec)),
  };
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function parseNumberFlag(value: unknown, flag: string, spec: NumberSpec): number {
  const example = `e.g. ${flag} ${spec.default ?? spec.example ?? spec.min ?? 1}`;
  if (Array.isArray(value)) throw new UserError(`${flag} is given ${value.length} times; give it once`);
  const text = String(value).trim();
  // Defaults arrive as numbers; user input always as text.
  const n = typeof value === 'number' ? value : DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n)) throw new UserError(`${flag}: ${JSON.stringify(String(value))} is not a number; give a decimal number, ${example}`);
  const range = [
    spec.integer ? 'an integer' : 'a number',
    spec.min !== undefined && spec.max !== undefined ? `in [${spec.min}, ${spec.max}]` : '',
    spec.min !== undefined && spec.below !== undefined ? `in [${spec.min}, ${spec.below})` : '',
    spec.min !== undefined && spec.max === undefined && spec.below === undefined ? `≥ ${spec.min}` : '',
  ].filter(Boolean).join(' ');
  const ok = (!spec.integer || Number.isSafeInteger(n)) && (spec.min === undefined || n >= spec.min) &&
    (spec.max === undefined || n <= spec.max) && (spec.below === undefined || n < spec.below);
  if (!ok) throw new UserError(`${flag} must be ${range}, got ${text}; ${example}`);
  return n;
}

/** "0,2,5" -> [0, 2, 5]; each a non-negative integer; a repeated value is kept once, in first-seen order. */
export function parseIntegerList(text: string, flag: string): number[] {
  const parts = String(text).split(',').map((s) => s.trim());
  const values = parts.map((p) => {
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(Number(p))) throw new UserError(`${flag}: '${p}' is not a non-negative integer (use e.g. ${flag}=0,2,5)`);
    return Number(p);
  });
  return [...new Set(values)];
}

/**
 * Refuse a flag given twice, in any spelling (`--out a --out b`, `--zeta=1 --zeta 2`,
 * `--batch-rows 3 --batchRows 4`, `--quiet --no-quiet`): yargs would make an array of it (a
 * TypeError later) or keep one value silently. Scans the raw arguments, so it holds for every
 * command in one place.
 */
export function checkRepeatedFlags(argv: readonly string[]): void {
  const seen = new Map<string, string>();
  const names: [string, string][] = [];
  for (const arg of argv) {
    if (arg === '--') break;
    if (!arg.startsWith('--') || arg.length === 2) continue;
    const written = arg.slice(2).split('=')[0];
    names.push([written.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), `--${written}`]);
  }
  const plain = new Set(names.map(([n]) => n));
  for (const [name, written] of names) {
    const key = name.startsWith('no-') && plain.has(name.slice(3)) ? name.slice(3) : name;
    const first = seen.get(key);
    if (first !== undefined) throw new UserError(`--${key} is given twice${first === written ? '' : ` (as ${first} and ${written})`}; give it once`);
    seen.set(key, written);
  }
}

/**
 * A list flag's values ("-5,-1,0" after `=`), each parsed strictly as `spec` says, with its text
 * kept as written (run folders are named by it, so λ = 1e-3 never becomes 0.001000000001). An
 * empty list, an empty item and a value given twice (1 and 1.0 alike) are refused. `example` is
 * a valid list for the fix in messages (default 0,1,2 for integers, -1,0,1 otherwise).
 */
export function parseNumberList(text: unknown, flag: string, spec: NumberSpec, example = spec.integer ? '0,1,2' : '-1,0,1'): { value: number; text: string }[] {
  if (Array.isArray(text)) throw new UserError(`${flag} is given ${text.length} times; give it once, as one comma list`);
  const raw = String(text ?? '').trim();
  example = `e.g. ${flag}=${example}`;
  if (raw === '') throw new UserError(`${flag} is empty; give a comma list after '=', ${example}`);
  const items = raw.split(',').map((s) => s.trim());
  const seen = new Map<number, string>();
  return items.map((item) => {
    if (item === '') throw new UserError(`${flag}=${raw}: an empty item; give values separated by single commas, ${example}`);
    let value: number;
    try {
      value = parseNumberFlag(item, flag, spec);
    } catch {
      const what = spec.integer ? `an integer${spec.min !== undefined ? ` ≥ ${spec.min}` : ''}${spec.below !== undefined ? ` below ${spec.below}` : ''}` : `a finite decimal number${spec.min !== undefined ? ` ≥ ${spec.min}` : ''}`;
      throw new UserError(`${flag}=${raw}: '${item}' is not ${what}; ${example}`);
    }
    const first = seen.get(value);
    if (first !== undefined) throw new UserError(`${flag}=${raw}: ${item} repeats ${first}; give each value once`);
    seen.set(value, item);
    return { value, text: item };
  });
}
