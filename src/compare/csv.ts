/**
 * `runs.csv`: one row per run, finished or not — folder, task, reg, lambda, seed, status, metric,
 * value, then one column per layer (HF numbering, as eval.jsonl has them) of IsoScore⋆, TwoNN and
 * mean cosine, and the final training loss. Written by the report's CSV writer (full precision,
 * empty field for null).
 */
import { csvLine } from '../report/csv.js';
import type { RunRecord } from './runs.js';

const PER_LAYER = ['isoscoreStar', 'twoNN', 'meanCosine'] as const;

export function runsCsv(runs: readonly RunRecord[]): string {
  const layers = Math.max(0, ...runs.flatMap((r) => PER_LAYER.map((k) => r[k].length)));
  const layerColumns = PER_LAYER.flatMap((k) => Array.from({ length: layers }, (_, l) => ({ key: k, layer: l })));
  const header = ['folder', 'task', 'reg', 'lambda', 'seed', 'status', 'metric', 'value', ...layerColumns.map((c) => `${c.key}_layer${c.layer}`), 'finalLoss'];
  const lines = [csvLine(header)];
  for (const r of runs) {
    lines.push(csvLine([r.folder, r.task, r.reg, r.lambda, r.seed, r.status, r.metric, r.value, ...layerColumns.map((c) => r[c.key][c.layer]), r.finalLoss]));
  }
  return `${lines.join('\n')}\n`;
}
