/**
 * Open a report page in headless Chromium and check it: prints one JSON line
 * {svgCount, consoleErrors, externalRequests, screenshot} and exits 0 when the page logged no
 * console error and requested nothing outside the local file, 1 otherwise (2 on a usage error).
 *
 *     node --import tsx scripts/check-report-html.ts report/index.html [--screenshot out.png]
 */
import { checkHtmlInChromium } from '../src/report/chromium-check.js';

function usage(message: string): never {
  process.stderr.write(`check-report-html: ${message}\nusage: check-report-html <index.html> [--screenshot out.png] [--width 1280]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let page: string | undefined;
let screenshot: string | undefined;
let width: number | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--screenshot') screenshot = args[++i] ?? usage('--screenshot needs a file name');
  else if (a.startsWith('--screenshot=')) screenshot = a.slice('--screenshot='.length);
  else if (a === '--width') width = Number(args[++i] ?? usage('--width needs a number'));
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else if (page === undefined) page = a;
  else usage(`unexpected argument ${a}`);
}
if (page === undefined) usage('give the HTML file to check');
if (width !== undefined && !(width > 0)) usage('--width must be a positive number');

try {
  const result = await checkHtmlInChromium(page, { screenshot, width });
  process.stdout.write(`${JSON.stringify({ svgCount: result.svgCount, consoleErrors: result.consoleErrors, externalRequests: result.externalRequests, screenshot: result.screenshot ?? null })}\n`);
  process.exit(result.consoleErrors.length === 0 && result.externalRequests.length === 0 ? 0 : 1);
} catch (e) {
  process.stderr.write(`check-report-html: ${(e as Error).message}\n`);
  process.exit(2);
}
