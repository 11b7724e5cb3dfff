/** `repgeom measure <file>`: every metric of a hidden-state file, layer by layer. */
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import { openHiddenStates, type HiddenStates } from '../io/hidden-states.js';
import { measure, type MeasureResult, type LayerMeasures } from '../metrics/measure.js';
import { createProgress } from './progress.js';
import { emit, toCsv, toTable } from './output.js';
import { VERSION, parseIntegerList } from './common.js';
import { measureInputs, measureOptionsFromArgs, withMeasureFlags, type MeasureFlags } from './measure-options.js';
import { planFileOutput } from '../io/safe-output.js';

interface MeasureArgs extends MeasureFlags {
  file: string;
  layers: string;
  format: string;
  out?: string;
  quiet: boolean;
}

export const measureCommand: CommandModule<object, MeasureArgs> = {
  command: 'measure <file>',
  describe: 'Isotropy and intrinsic dimension of the hidden states in a .npy/.npz/.safetensors/.arrow file, per layer',
  builder: (y: Argv) => withMeasureFlags(y)
    .positional('file', { type: 'string', describe: 'hidden states: .npy, .npz, .safetensors or .arrow', demandOption: true })
    .option('layers', { type: 'string', default: 'all', describe: "'all' or comma-separated layer numbers (HF numbering for .arrow)" })
    .option('format', { type: 'string', default: 'json', choices: ['json', 'table', 'csv'] })
    .option('out', { type: 'string', describe: 'write here instead of stdout (atomically)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }) as unknown as Argv<MeasureArgs>,
  handler: async (argv: ArgumentsCamelCase<MeasureArgs>) => {
    const layers = argv.layers === 'all' ? undefined : parseIntegerList(argv.layers, '--layers');
    const out = argv.out === undefined ? undefined : planFileOutput(argv.out, '--out', { files: measureInputs(argv, [argv.file]) });
    const options = await measureOptionsFromArgs(argv);
    const hs = await openHiddenStates(argv.file);
    try {
      const progress = createProgress(process.stderr, argv.quiet);
      const result = await measure(hs, {
        ...options,
        layers,
        onProgress: (label, done, total) => progress.update(label, done, total),
      });
      progress.done();
      emit(render(result, hs, argv), out);
    } finally {
      await hs.close();
    }
  },
};

function render(result: MeasureResult, hs: HiddenStates, argv: MeasureArgs): string {
  if (argv.format === 'json') {
    return JSON.stringify({
      version: VERSION,
      backend: result.backend,
      products: result.products,
      productsBackend: result.productsBackend,
      seed: argv.seed,
      input: { path: hs.path, format: hs.format, layers: hs.layers.length },
      transform: result.transform,
      layers: result.layers,
    }, null, 2);
  }
  const rows = result.layers.map(flatRow);
  return argv.format === 'csv' ? toCsv(rows) : toTable(rows);
}

/** One scalar row per layer for the table and CSV formats (the spectrum stays in JSON). */
function flatRow(l: LayerMeasures): Record<string, number | string | null | undefined> {
  return {
    layer: l.layer, points: l.points, dim: l.dim,
    isoscore: l.isoscore, participationRatio: l.participationRatio,
    isoscoreStar: l.isoscoreStar?.value,
    meanCosine: l.cosine?.meanPairwise, cosReg: l.cosine?.cosReg,
    partition: l.partitionIsotropy,
    twoNN: l.twoNN?.id, twoNNZeroDistance: l.twoNN?.zeroDistancePoints,
    mle: l.mle?.id,
    pcaFO: l.pcaId?.fo, pcaRatio90: l.pcaId?.ratio90, pcaRatio99: l.pcaId?.ratio99, pcaKaiser: l.pcaId?.kaiser,
    rogue: l.rogueDimensions?.slice(0, 3).map((r) => r.dim).join(' '),
  };
}
