/** Writing command output: to stdout, or to a file through a temporary name and a rename. */
import { promises as fs } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { UserError } from '../errors.js';

/** Write `text` to `path` atomically (never a half-written file), or to stdout when path is undefined. */
export async function emit(text: string, path: string | undefined): Promise<void> {
  if (path === undefined) {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    return;
  }
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    await fs.writeFile(tmp, text.endsWith('\n') ? text : `${text}\n`);
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new UserError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

type Row = Record<string, string | number | null | undefined>;

/** The columns that have a value in at least one row, in first-seen order. */
function columnsOf(rows: Row[]): string[] {
  return [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => r[k] !== undefined)))];
}

/** Rows of scalars as CSV (RFC 4180 quoting). */
export function toCsv(rows: Row[]): string {
  const columns = columnsOf(rows);
  const cell = (v: Row[string]) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n');
}

/** Rows of scalars as an aligned text table. */
export function toTable(rows: Row[]): string {
  const columns = columnsOf(rows);
  const text = (v: Row[string]) =>
    v === null || v === undefined ? '-' : typeof v === 'number' ? formatNumber(v) : v;
  const cells = rows.map((r) => columns.map((c) => text(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padStart(widths[i])).join('  ');
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4);
}
