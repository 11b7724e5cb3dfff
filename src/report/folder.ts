/**
 * What a report folder holds, kept apart from the page renderer so the CLI can check an output
 * folder before loading the charting libraries.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const REPORT_FILES = ['report.json', 'layers.csv', 'index.html'] as const;
/** The folder of a report that holds the extracted hidden states. */
export const STATES_FOLDER = 'states';

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
