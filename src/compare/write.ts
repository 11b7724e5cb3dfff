/**
 * Writes a compare folder — compare.json, runs.csv, index.html — staged beside its final place
 * and swapped in whole (io/safe-output), replacing only an earlier compare folder.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../io/file-io.js';
import type { FolderOutputPlan } from '../io/safe-output.js';
import { StagedFolder } from '../io/safe-output.js';
import { runsCsv } from './csv.js';
import type { Comparison, Curves } from './model.js';
import { comparePage } from './page.js';

export const COMPARE_FILES = ['compare.json', 'runs.csv', 'index.html'] as const;

/** Null when `dir` holds nothing but an earlier compare folder's files; else why it is not one. */
export function whyNotCompareFolder(dir: string): string | null {
  const known = new Set<string>(COMPARE_FILES);
  for (const name of readdirSync(dir)) {
    if (!known.has(name) || !statSync(join(dir, name)).isFile()) return `is not only a repgeom compare folder (it holds ${name})`;
  }
  return null;
}

/**
 * Refuse an --out that is one of the runs' folders or lies inside one, before anything else: the
 * swap would replace (or write into) a run. (The general overlap check of io/safe-output also
 * holds, but would first say the folder is not a compare folder.)
 */
export function checkOutsideInputs(out: string, folders: readonly string[]): void {
  const abs = resolve(out);
  for (const f of folders) {
    const input = resolve(f);
    if (abs === input || abs.startsWith(input + sep)) throw new UserError(`--out ${out}: ${abs === input ? 'is' : 'lies inside'} the input ${f}; the compare folder would replace or write into it, so choose an --out outside the runs`);
  }
}

/** Render everything first (the page is the slow part), then write the three files and swap the folder in. */
export async function writeCompareFolder(plan: FolderOutputPlan, c: Comparison, curves: Curves): Promise<string[]> {
  const contents: Record<(typeof COMPARE_FILES)[number], string> = {
    'compare.json': `${JSON.stringify(c, null, 2)}\n`,
    'runs.csv': runsCsv(c.runs),
    'index.html': await comparePage(c, curves),
  };
  const staged = new StagedFolder(plan);
  try {
    const encoder = new TextEncoder();
    for (const name of COMPARE_FILES) writeFileAtomic(join(staged.dir, name), [encoder.encode(contents[name])], '--out');
    staged.commit();
  } catch (e) {
    staged.abort();
    throw e;
  }
  return COMPARE_FILES.map((name) => join(plan.path, name));
}
