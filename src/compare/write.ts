/**
 * Writes a compare folder — compare.json, runs.csv, index.html — staged beside its final place
 * and swapped in whole (io/safe-output), replacing only an earlier compare folder.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
