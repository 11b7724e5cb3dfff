/** `layers.csv`: one line per (checkpoint, layer) row of the report; the CSV writing shared with compare's runs.csv. */
import type { Report, ReportRow } from './model.js';

/** The columns of `layers.csv`: the keys of ReportRow in declaration order. */
export const ROW_KEYS = [
  'checkpoint',
  'layer',
  'points',
  'dim',
  'isoscore',
  'isoscoreStar',
  'meanCosine',
  'partitionIsotropy',
  'twoNN',
  'twoNNStd',
  'mle',
  'pcaId90',
  'pcaId99',
  'participationRatio',
  'selfSimilarity',
  'selfSimilarityAdjusted',
  'intraSentenceSimilarity',
  'intraSentenceSimilarityAdjusted',
] as const satisfies readonly (keyof ReportRow)[];

// Fails to compile when ReportRow gains a key that ROW_KEYS does not list.
type MissingKeys = Exclude<keyof ReportRow, (typeof ROW_KEYS)[number]>;
const allKeysListed: [MissingKeys] extends [never] ? true : MissingKeys = true;
void allKeysListed;

/**
 * The rows as CSV: a header of the ReportRow keys, one line per row, `\n` line ends and a final
 * newline; null is an empty field, numbers are written in full precision (String(x)), and a field
 * holding a comma, quote or line break is quoted as RFC 4180 says.
 */
export function layersCsv(report: Report): string {
  const lines = [ROW_KEYS.join(',')];
  for (const row of report.rows) lines.push(csvLine(ROW_KEYS.map((k) => row[k])));
  return `${lines.join('\n')}\n`;
}

/** One CSV line (no line end) of these fields, written as `layersCsv` writes its fields. */
export function csvLine(fields: readonly (string | number | null | undefined)[]): string {
  return fields.map(csvField).join(',');
}

function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
