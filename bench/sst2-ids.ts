/**
 * The token ids of an SST-2 run, written once by repgeom's own tokenizer so that the PyTorch side
 * of bench/train-run.ts trains on exactly the ids repgeom's `train` command sees:
 *
 *     node --import tsx bench/sst2-ids.ts <model dir> <SST-2 folder> <train limit> <max length> <out.json>
 *
 * Writes {train: {ids, labels}, dev: {ids, labels}}: one unpadded id row per example, truncated to
 * max length with [CLS]/[SEP] included (batches are padded to their longest row on both sides).
 */
import { writeFileSync } from 'node:fs';
import { readDataset } from '../src/io/datasets.js';
import { readConfig } from '../src/models/config.js';
import { loadTokenizer } from '../src/models/tokenizer.js';

const [modelDir, dataDir, limitArg, maxLengthArg, outPath] = process.argv.slice(2);
if (!outPath) throw new Error('usage: sst2-ids.ts <model dir> <SST-2 folder> <train limit> <max length> <out.json>');
const config = readConfig(modelDir);
const tokenizer = loadTokenizer(modelDir, { modelType: config.modelType, modelVocabSize: config.vocabSize });
const maxLength = Number(maxLengthArg);

function split(name: 'train' | 'dev', limit?: number) {
  const d = readDataset(dataDir, { task: 'sst2', split: name, limit });
  const ids = d.examples.map((e) => {
    const enc = tokenizer.encodeBatch([e], { maxLength });
    return Array.from(enc.inputIds.subarray(0, enc.lengths[0]));
  });
  return { ids, labels: d.labels as number[] };
}

writeFileSync(outPath, JSON.stringify({ maxLength, train: split('train', Number(limitArg)), dev: split('dev') }));
