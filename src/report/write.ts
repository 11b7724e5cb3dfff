/** Writes a report folder: report.json, layers.csv and index.html. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/file-io.js';
import { StagedFolder, planFolderOutput } from '../io/safe-output.js';
import type { Report } from './model.js';
import { layersCsv } from './csv.js';
import { reportHtml } from './html.js';

export const REPORT_FILES = ['report.json', 'layers.csv', 'index.html'] as const;
/** The folder of a report that holds the extracted hidden states. */
export const STATES_FOLDER = 'states';

/**
 * Write a report folder at `dir` safely: staged beside it and swapped in whole (io/safe-output),
 * replacing only an earlier report. Returns the paths written, in the order of REPORT_FILES.
 */
export async function writeReport(dir: string, report: Report, flag = 'report folder'): Promise<{ files: string[] }> {
  const staged = new StagedFolder(planFolderOutput(dir, flag, {}, whyNotReportFolder));
  try {
    await writeReportFiles(staged.dir, report);
    staged.commit();
  } catch (e) {
    staged.abort();
    throw e;
  }
  return { files: REPORT_FILES.map((name) => join(dir, name)) };
}

/**
 * Write the three report files into the existing folder `dir` (a staged folder, swapped into
 * place by the caller). The page is rendered before anything is written.
 */
export async function writeReportFiles(dir: string, report: Report): Promise<{ files: string[] }> {
  const contents: Record<(typeof REPORT_FILES)[number], string> = {
    'report.json': `${JSON.stringify(report, null, 2)}\n`,
    'layers.csv': layersCsv(report),
    'index.html': await reportHtml(report),
  };
  const encoder = new TextEncoder();
  const files = REPORT_FILES.map((name) => join(dir, name));
  REPORT_FILES.forEach((name, i) => writeFileAtomic(files[i], [encoder.encode(contents[name])], '--out'));
  return { files };
}

/**
 * Null when `dir` holds nothing but an earlier report (its files and states/*.arrow), so replacing
 * it loses nothing the user made; else why it is not one.
 */
export function whyNotReportFolder(dir: string): string | null {
  const known = new Set<string>(REPORT_FILES);
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (known.has(name) && statSync(full).isFile()) continue;
    if (name === STATES_FOLDER && statSync(full).isDirectory()) {
      const other = readdirSync(full).find((f) => !f.endsWith('.arrow'));
      if (other === undefined) continue;
      return `is not only a repgeom report (it holds ${STATES_FOLDER}/${other})`;
    }
    return `is not only a repgeom report (it holds ${name})`;
  }
  return null;
}
