/**
 * `repgeom report`: a layerwise isotropy and intrinsic-dimension report (report.json,
 * layers.csv, index.html with charts) from one or more models over a dataset, or from
 * hidden-state files. With `--model a,b,c` (e.g. pretraining checkpoints) each metric gets one
 * line per checkpoint, so a trajectory over pretraining is one picture.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import type { CheckedModel } from '../models/check.js';
import type { Dataset } from '../io/datasets.js';
import type { CheckpointStates } from '../report/build.js';
import { STATES_FOLDER, whyNotReportFolder } from '../report/folder.js';
import { StagedFolder, planFolderOutput } from '../io/safe-output.js';
import type { Report, ReportData } from '../report/model.js';
import { check } from '../errors.js';
import { createProgress } from './progress.js';
import { VERSION, parseIntegerList } from './common.js';
import { dataInputs, dataMetadata, extractOptionsFromFlags, readDataFlags, withDataFlags, type DataFlags } from './data-options.js';
import { measureInputs, measureOptionsFromArgs, withMeasureFlags, type MeasureFlags } from './measure-options.js';

interface ReportArgs extends DataFlags, MeasureFlags {
  model?: string;
  states?: string;
  out: string;
  title?: string;
  quiet: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report',
  describe: 'Layerwise isotropy/intrinsic-dimension report (report.json, layers.csv, index.html) from models + data or from Arrow files',
  builder: (y: Argv) => withMeasureFlags(withDataFlags(y), { twonnSubsets: 20 })
    .option('model', { type: 'string', describe: 'model folder(s), comma-separated (e.g. pretraining checkpoints: one line per checkpoint)' })
    .option('states', { type: 'string', describe: 'instead of --model/--data: hidden-state file(s), comma-separated (.arrow from extract, .npy, …)' })
    .option('out', { type: 'string', default: 'repgeom-report', describe: 'report folder (created; the extracted Arrow files go in its states/ folder)' })
    .option('title', { type: 'string', describe: 'title of the page (default: the models and data)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }) as unknown as Argv<ReportArgs>,
  handler: async (argv: ArgumentsCamelCase<ReportArgs>) => {
    check(!!argv.model !== !!argv.states, 'give either --model (with --data) or --states, not both or neither');
    const models = argv.model ? splitList(argv.model, '--model') : [];
    const statesFiles = argv.states ? splitList(argv.states, '--states') : [];
    const data = dataInputs(argv, models);
    const inputs = { files: [...measureInputs(argv, statesFiles), ...(data.files ?? [])], folders: data.folders };
    const plan = planFolderOutput(argv.out, '--out', inputs, whyNotReportFolder);
    const measureOptions = await measureOptionsFromArgs(argv);
    const layers = argv.layers === 'all' ? undefined : parseIntegerList(argv.layers, '--layers');
    let source: ModelSource | undefined;
    if (models.length > 0) {
      const extract = extractOptionsFromFlags(argv);
      const dataset = readDataFlags(argv);
      const { checkModel } = await import('../models/check.js');
      // Every folder is checked before the first model runs: a typo in the last costs nothing.
      const checked: CheckedModel[] = [];
      for (const model of models) checked.push(await checkModel(model, extract, dataset.examples.length));
      for (const w of new Set([...dataset.warnings, ...checked.flatMap((c) => c.warnings)])) process.stderr.write(`repgeom: warning: ${w}\n`);
      source = { models, checked, extract, dataset };
    }
    const staged = new StagedFolder(plan);
    try {
      const report = await buildFromFlags(argv, { source, statesFiles, measureOptions, layers, out: staged.dir });
      // The page renderer (vega) loads only here: the other commands start faster without it.
      const { writeReportFiles } = await import('../report/write.js');
      await writeReportFiles(staged.dir, report);
      staged.commit();
      process.stdout.write(summaryText(report, argv.out));
    } catch (e) {
      staged.abort();
      throw e;
    }
  },
};

/** The checked models and the data they run over (`report --model`). */
interface ModelSource {
  models: string[];
  checked: CheckedModel[];
  extract: ReturnType<typeof extractOptionsFromFlags>;
  dataset: Dataset;
}

/** Extract (or read) the states of every checkpoint into the (staged) report folder and measure them. */
async function buildFromFlags(argv: ReportArgs, run: {
  source: ModelSource | undefined; statesFiles: string[];
  measureOptions: Awaited<ReturnType<typeof measureOptionsFromArgs>>; layers: number[] | undefined; out: string;
}): Promise<Report> {
  const { source, statesFiles, measureOptions, layers, out } = run;
  const progress = createProgress(process.stderr, argv.quiet);
  let checkpoints: CheckpointStates[];
  let data: ReportData;
  if (source) {
    const { models, checked, extract, dataset } = source;
    const { extractToFile } = await import('../models/extract.js');
    const names = checkpointNames(models);
    fs.mkdirSync(path.join(out, STATES_FOLDER));
    const extractProgress = createProgress(process.stderr, argv.quiet, 'examples');
    checkpoints = [];
    for (const [i, model] of models.entries()) {
      const states = path.join(out, STATES_FOLDER, `${names[i]}.arrow`);
      const summary = await extractToFile({
        modelDir: model, model: checked[i], examples: dataset.examples, out: states, version: VERSION, metadata: dataMetadata(dataset),
        options: { ...extract, onProgress: (done, total) => extractProgress.update(`extract ${names[i]}`, done, total) },
      });
      extractProgress.done();
      checkpoints.push({ name: names[i], modelPath: model, modelType: summary.modelType, states });
    }
    data = { path: dataset.path, task: dataset.task, split: dataset.split, examples: dataset.examples.length, tokens: extract.tokens, maxLength: extract.maxLength };
  } else {
    const names = checkpointNames(statesFiles.map((f) => f.replace(/\.[^.]+$/, '')));
    checkpoints = statesFiles.map((f, i) => ({ name: names[i], modelPath: null, modelType: null, states: f }));
    data = await dataFromStates(statesFiles[0]);
  }
  const { buildReport } = await import('../report/build.js');
  const report = await buildReport({
    title: argv.title ?? defaultTitle(checkpoints, data), version: VERSION, reportDir: out, data, checkpoints,
    measureOptions: { ...measureOptions, layers },
    options: {
      zeta: measureOptions.zeta, c0: argv.c0Points ?? argv.c0, transform: argv.transform, sample: measureOptions.sample, seed: measureOptions.seed,
      twoNNSubsets: measureOptions.twoNNSubsets, duplicates: measureOptions.duplicates, mleK: measureOptions.mleK, layers: argv.layers,
      specialTokens: argv.specialTokens,
    },
    onProgress: (label, done, total) => progress.update(label, done, total),
  });
  progress.done();
  return report;
}

function splitList(text: string, flag: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  check(items.length > 0, `${flag} is empty; give one or more comma-separated paths`);
  return items;
}

/** Folder names as labels; a repeated name gets its parent folder in front (then a number). */
export function checkpointNames(paths: string[]): string[] {
  const base = paths.map((p) => path.basename(path.resolve(p)));
  const named = base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${path.basename(path.dirname(path.resolve(paths[i])))}-${b}` : b));
  const seen = new Map<string, number>();
  return named.map((n) => {
    const k = (seen.get(n) ?? 0) + 1;
    seen.set(n, k);
    return (k > 1 ? `${n}-${k}` : n).replace(/[^A-Za-z0-9._-]/g, '_');
  });
}

async function dataFromStates(file: string): Promise<ReportData> {
  const nothing: ReportData = { path: file, task: null, split: null, examples: null, tokens: null, maxLength: null };
  if (!file.endsWith('.arrow')) return nothing;
  const { openArrowStates } = await import('../io/arrow.js');
  const m = (await openArrowStates(file)).metadata;
  const tokens = m['repgeom.tokens'];
  return {
    path: m['repgeom.data'] || file, task: m['repgeom.task'] || null, split: m['repgeom.split'] || null,
    examples: m['repgeom.examples'] ? Number(m['repgeom.examples']) : null,
    tokens: tokens === 'all' || tokens === 'cls' || tokens === 'mean' ? tokens : null,
    maxLength: m['repgeom.max_length'] ? Number(m['repgeom.max_length']) : null,
  };
}

function defaultTitle(checkpoints: CheckpointStates[], data: ReportData): string {
  const what = data.task ? `${data.task}${data.split ? ` ${data.split}` : ''}` : path.basename(data.path);
  return `Layerwise geometry of ${checkpoints.map((c) => c.name).join(', ')} on ${what}`;
}

/** The short text summary printed to the terminal. */
function summaryText(report: Report, out: string): string {
  const f = (v: number | null, digits = 3) => (v === null ? '—' : v.toFixed(digits));
  const lines = [report.title, ''];
  const header = ['checkpoint', 'layer', 'points', 'IsoScore', 'IsoScore*', 'cos', 'TwoNN', 'PCA90', 'selfsim'];
  const body = report.rows.map((r) => [r.checkpoint, String(r.layer), String(r.points), f(r.isoscore), f(r.isoscoreStar), f(r.meanCosine), f(r.twoNN, 1), r.pcaId90 === null ? '—' : String(r.pcaId90), f(r.selfSimilarity)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  for (const row of [header, ...body]) lines.push(row.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  lines.push('', `report: ${path.join(out, 'index.html')} (also report.json, layers.csv)`, '');
  return lines.join('\n');
}


