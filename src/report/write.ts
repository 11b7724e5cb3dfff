/** Writes a report folder: report.json, layers.csv and index.html. */
import { join } from 'node:path';
import { writeFileAtomic } from '../io/file-io.js';
import { StagedFolder, planFolderOutput } from '../io/safe-output.js';
import type { Report } from './model.js';
import { layersCsv } from './csv.js';
import { reportHtml } from './html.js';
import { REPORT_FILES, whyNotReportFolder } from './folder.js';

export { REPORT_FILES, STATES_FOLDER, whyNotReportFolder } from './folder.js';


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
