/** Writing command output: to stdout, or to a file through the one safe output path (io/safe-output). */
import { writeOutputFile, type FileOutputPlan } from '../io/safe-output.js';

/** Write `text` (plus a final newline) to the planned file, or to stdout when there is no plan. */
export function emit(text: string, out: FileOutputPlan | undefined): void {
  const body = text.endsWith('\n') ? text : `${text}\n`;
  if (out === undefined) process.stdout.write(body);
  else writeOutputFile(out, [body]);
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
