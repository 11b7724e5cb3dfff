/**
 * `repgeom compare` as a library call: find the runs the inputs name, read them, check they
 * compare (one task without --by-task, the same training settings per task), build the
 * comparison and write the compare folder through the safe output path.
 */
import { planFolderOutput } from '../io/safe-output.js';
import { buildComparison, type Comparison } from './model.js';
import { readRun, runFoldersOf } from './runs.js';
import { DEFAULT_BOOTSTRAP } from './stats.js';
import { checkOutsideInputs } from '../io/safe-output.js';
import { whyNotCompareFolder, writeCompareFolder } from './write.js';

export interface CompareOptions {
  byTask: boolean;
  /** Seed of the bootstrap intervals' resamples. */
  seed: number;
  version: string;
}

export async function runCompare(inputs: readonly string[], out: string, o: CompareOptions): Promise<{ comparison: Comparison; files: string[] }> {
  const refs = runFoldersOf(inputs);
  const loaded = refs.map(readRun);
  // Every check of the inputs (tasks, settings) before anything about the output.
  const comparison = buildComparison({ version: o.version, inputs: [...inputs], byTask: o.byTask, runs: loaded.map((l) => l.record), bootstrap: { ...DEFAULT_BOOTSTRAP, seed: o.seed } });
  const folders = [...inputs, ...refs.map((r) => r.folder)];
  checkOutsideInputs(out, '--out', folders, 'compare folder');
  const plan = planFolderOutput(out, '--out', { folders }, whyNotCompareFolder);
  const files = await writeCompareFolder(plan, comparison, new Map(loaded.map((l) => [l.record.folder, l.curve])));
  return { comparison, files };
}
