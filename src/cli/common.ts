/** Small helpers shared by the command files. */
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';

/** The package version (src/cli and dist/cli are both two levels below package.json). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function positiveInteger(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 1) throw new UserError(`${flag} must be a positive integer, got ${value}`);
  return value;
}

/** "0,2,5" -> [0, 2, 5]; each a non-negative integer. */
export function parseIntegerList(text: string, flag: string): number[] {
  const parts = String(text).split(',').map((s) => s.trim());
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UserError(`${flag}: '${p}' is not a non-negative integer (use e.g. ${flag}=0,2,5)`);
    return Number(p);
  });
}
