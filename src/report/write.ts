/** Writes a report folder: report.json, layers.csv and index.html, each atomically. */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { tempPathFor, writeFileAtomic } from '../io/file-io.js';
import type { Report } from './model.js';
import { layersCsv } from './csv.js';
import { reportHtml } from './html.js';

export const REPORT_FILES = ['report.json', 'layers.csv', 'index.html'] as const;

/**
 * Create `dir` (and its parents) and write the three report files into it, each through a
 * temporary name and a rename. Returns the paths written, in the order of REPORT_FILES. The
 * page is rendered before anything is written, so a chart that fails leaves no file behind.
 */
export async function writeReport(dir: string, report: Report): Promise<{ files: string[] }> {
  const contents: Record<(typeof REPORT_FILES)[number], string> = {
    'report.json': `${JSON.stringify(report, null, 2)}\n`,
    'layers.csv': layersCsv(report),
    'index.html': await reportHtml(report),
  };
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create the report folder ${dir}: ${errorCode(e)}; choose another --out`);
  }
  const files: string[] = [];
  const encoder = new TextEncoder();
  for (const name of REPORT_FILES) {
    const path = join(dir, name);
    try {
      writeFileAtomic(path, [encoder.encode(contents[name])]);
    } catch (e) {
      rmSync(tempPathFor(path), { force: true }); // a failed rename leaves the temporary file
      throw new UserError(`cannot write ${path}: ${errorCode(e)}; check the permissions and free space of ${dir}`);
    }
    files.push(path);
  }
  return { files };
}

function errorCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}
