/**
 * `repgeom extract` and `repgeom report` end to end with tiny-bert-mlm on GLUE data from
 * ../shared: the Arrow rows are the encoder's hidden states at the positions the DESIGN contract
 * names, the report's numbers are exactly `repgeom measure`'s on the same file, and every bad
 * input is one line with exit status 2 and no output file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { Encoder } from '../src/models/encoder.js';
import { loadTokenizer } from '../src/models/tokenizer.js';
import { readDataset } from '../src/io/datasets.js';
import { expectUserError, repgeom } from './helpers/cli.js';
import { SHARED } from './helpers/fixtures.js';

const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const SST2 = path.resolve(SHARED, 'data', 'glue', 'SST-2');
const MRPC = path.resolve(SHARED, 'data', 'glue', 'MRPC');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-extract-'));
const out = (name: string) => path.join(tmp, name);

interface Rows { layer: number[]; example: number[]; position: number[]; tokenId: number[]; vectors: Float32Array[]; metadata: Map<string, string> }

function readRows(file: string): Rows {
  const table = tableFromIPC(fs.readFileSync(file));
  const col = (name: string) => [...table.getChild(name)!.toArray()].map(Number);
  const vectors = [...table.getChild('vector')!].map((v) => Float32Array.from(v!.toArray() as Float32Array));
  return { layer: col('layer'), example: col('example'), position: col('position'), tokenId: col('token_id'), vectors, metadata: table.schema.metadata };
}

function ok(args: string[]) {
  const r = repgeom(args);
  assert.equal(r.status, 0, r.stderr);
  return r;
}

test('extract --tokens all: every non-special token of every layer, equal to the encoder\'s hidden states', async () => {
  ok(['extract', '--model', TINY, '--data', MRPC, '--limit', '20', '--batch-size', '8', '--out', out('mrpc.arrow'), '--quiet']);
  const rows = readRows(out('mrpc.arrow'));
  assert.equal(rows.metadata.get('repgeom.tokens'), 'all');
  assert.equal(rows.metadata.get('repgeom.model_type'), 'bert');
  // Recompute directly: the same tokenizer and model, one batch of the 20 pairs.
  const dataset = readDataset(MRPC, { limit: 20 });
  const tokenizer = loadTokenizer(TINY, { modelType: 'bert', modelVocabSize: 30522 });
  const enc = tokenizer.encodeBatch(dataset.examples, { maxLength: 128 });
  const encoder = await Encoder.load(TINY);
  const states = encoder.forward({ batch: enc.batch, seqLen: enc.seqLen, inputIds: enc.inputIds, attentionMask: enc.attentionMask, tokenTypeIds: enc.tokenTypeIds }).hiddenStates;
  encoder.dispose();
  const expected: string[] = [];
  for (let layer = 0; layer <= 2; layer++) {
    for (let b = 0; b < enc.batch; b++) {
      for (let t = 0; t < enc.seqLen; t++) {
        const i = b * enc.seqLen + t;
        if (enc.attentionMask[i] && !enc.specialTokensMask[i]) expected.push(`${layer}/${b}/${t}/${enc.inputIds[i]}`);
      }
    }
  }
  const got = rows.layer.map((l, r) => `${l}/${rows.example[r]}/${rows.position[r]}/${rows.tokenId[r]}`);
  assert.deepEqual([...got].sort(), [...expected].sort(), 'the same (layer, example, position, token) rows');
  assert.equal(new Set(got).size, got.length);
  assert.ok(!rows.tokenId.includes(101) && !rows.tokenId.includes(102), 'no [CLS]/[SEP] without --special-tokens');
  // Vectors: batches of 8 and one batch of 20 pad differently, so compare within float32 noise.
  const H = 128;
  let worst = 0;
  rows.vectors.forEach((v, r) => {
    const s = states.get(rows.layer[r])!;
    const base = (rows.example[r] * enc.seqLen + rows.position[r]) * H;
    for (let k = 0; k < H; k++) worst = Math.max(worst, Math.abs(v[k] - s[base + k]));
  });
  assert.ok(worst < 1e-5, `max abs difference ${worst}`);
});

test('extract --tokens cls / mean / --layers / --special-tokens select the documented rows', () => {
  ok(['extract', '--model', TINY, '--data', SST2, '--limit', '10', '--tokens', 'all', '--special-tokens', '--layers', '0,2', '--out', out('all.arrow'), '--quiet']);
  ok(['extract', '--model', TINY, '--data', SST2, '--limit', '10', '--tokens', 'cls', '--layers', '0,2', '--out', out('cls.arrow'), '--quiet']);
  ok(['extract', '--model', TINY, '--data', SST2, '--limit', '10', '--tokens', 'mean', '--special-tokens', '--layers', '0,2', '--out', out('mean.arrow'), '--quiet']);
  const all = readRows(out('all.arrow'));
  const cls = readRows(out('cls.arrow'));
  const mean = readRows(out('mean.arrow'));
  assert.deepEqual([...new Set(all.layer)], [0, 2]);
  assert.ok(all.tokenId.includes(101) && all.tokenId.includes(102), '[CLS] and [SEP] kept with --special-tokens');
  assert.equal(cls.layer.length, 20);
  assert.deepEqual(cls.position, new Array(20).fill(0));
  assert.deepEqual(cls.tokenId, new Array(20).fill(101));
  assert.deepEqual(mean.position, new Array(20).fill(-1));
  for (let r = 0; r < 20; r++) {
    const layer = cls.layer[r], example = cls.example[r];
    const own = all.vectors.filter((_, i) => all.layer[i] === layer && all.example[i] === example);
    const cl = own[all.position.filter((_, i) => all.layer[i] === layer && all.example[i] === example).indexOf(0)];
    assert.deepEqual(cls.vectors[r], cl, 'cls row = the position-0 row');
    for (let k = 0; k < 128; k++) {
      const m = own.reduce((s, v) => s + v[k], 0) / own.length;
      assert.ok(Math.abs(mean.vectors[r][k] - m) < 1e-5, 'mean row = mean of the token rows');
    }
  }
});

test('report: the numbers equal `repgeom measure` on the extracted Arrow file; --states gives the same report', () => {
  const dir = out('report');
  const r = ok(['report', '--model', TINY, '--data', SST2, '--split', 'dev', '--limit', '120', '--out', dir, '--quiet']);
  assert.match(r.stdout, /IsoScore/);
  for (const f of ['report.json', 'layers.csv', 'index.html', 'states/tiny-bert-mlm.arrow']) assert.ok(fs.existsSync(path.join(dir, f)), f);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  // The products implementation is named (OpenBLAS when it loads, our wasm kernel otherwise).
  assert.match(report.productsBackend, /^(openblas [\d.]+|wasm (relaxed-simd|simd128)), \d+ threads?$/);
  const measured = JSON.parse(ok(['measure', path.join(dir, 'states', 'tiny-bert-mlm.arrow'), '--twonn-subsets', '20', '--quiet']).stdout);
  assert.deepEqual(report.measures['tiny-bert-mlm'], measured.layers);
  assert.equal(report.rows.length, 3);
  for (const row of report.rows) {
    const m = measured.layers[row.layer];
    assert.equal(row.isoscore, m.isoscore);
    assert.equal(row.twoNN, m.twoNN.id);
    assert.equal(row.twoNNStd, m.twoNN.subsets.std);
    assert.equal(row.pcaId90, m.pcaId.ratio90);
    assert.ok(row.selfSimilarity > 0 && row.selfSimilarity <= 1);
  }
  assert.equal(report.data.task, 'sst2');
  assert.equal(report.data.examples, 120);
  const fromStates = out('report-states');
  ok(['report', '--states', path.join(dir, 'states', 'tiny-bert-mlm.arrow'), '--out', fromStates, '--quiet']);
  const again = JSON.parse(fs.readFileSync(path.join(fromStates, 'report.json'), 'utf8'));
  assert.deepEqual(again.rows, report.rows);
  assert.equal(again.data.task, 'sst2');
});

test('report --model a,b: one row per layer per checkpoint, in the order given', () => {
  const dir = out('trajectory');
  ok(['report', '--model', `${TINY}/checkpoint-250,${TINY}`, '--data', SST2, '--limit', '40', '--metrics', 'isoscore,cosine', '--out', dir, '--quiet']);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  assert.deepEqual(report.checkpoints.map((c: { name: string }) => c.name), ['checkpoint-250', 'tiny-bert-mlm']);
  assert.deepEqual(report.rows.map((r: { checkpoint: string; layer: number }) => `${r.checkpoint}:${r.layer}`),
    ['checkpoint-250:0', 'checkpoint-250:1', 'checkpoint-250:2', 'tiny-bert-mlm:0', 'tiny-bert-mlm:1', 'tiny-bert-mlm:2']);
  assert.notEqual(report.rows[2].isoscore, report.rows[5].isoscore, 'different checkpoints, different geometry');
  assert.equal(report.rows[0].twoNN, null, 'metrics not asked for are null');
});

test('bad input: one line, exit status 2, no output file', () => {
  const noConfig = out('no-config');
  fs.mkdirSync(noConfig);
  const arrow = out('bad.arrow');
  const base = ['extract', '--data', SST2, '--out', arrow, '--quiet'];
  expectUserError(repgeom([...base, '--model', noConfig]), /no config\.json/);
  const noWeights = out('no-weights');
  fs.mkdirSync(noWeights);
  for (const f of ['config.json', 'vocab.txt', 'tokenizer_config.json']) fs.copyFileSync(path.join(TINY, f), path.join(noWeights, f));
  expectUserError(repgeom([...base, '--model', noWeights]), /no model\.safetensors/);
  const unknown = out('unknown');
  fs.mkdirSync(unknown);
  fs.writeFileSync(path.join(unknown, 'config.json'), JSON.stringify({ model_type: 't5' }));
  expectUserError(repgeom([...base, '--model', unknown]), /model_type 't5' is not supported/);
  const smallVocab = out('small-vocab');
  fs.mkdirSync(smallVocab);
  const config = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(smallVocab, 'config.json'), JSON.stringify({ ...config, vocab_size: 1000 }));
  fs.copyFileSync(path.join(TINY, 'tokenizer.json'), path.join(smallVocab, 'tokenizer.json'));
  expectUserError(repgeom([...base, '--model', smallVocab]), /30522 tokens but the model's vocab_size is 1000/);
  expectUserError(repgeom([...base, '--model', TINY, '--max-length', '600']), /--max-length 600 is larger than the model's 512 positions/);
  const empty = out('empty.txt');
  fs.writeFileSync(empty, '');
  expectUserError(repgeom(['extract', '--model', TINY, '--data', empty, '--out', arrow, '--quiet']), /no examples/);
  const jsonl = out('data.jsonl');
  fs.writeFileSync(jsonl, '{"sentence": "a b c"}\n');
  expectUserError(repgeom(['extract', '--model', TINY, '--data', jsonl, '--text-field', 'text', '--out', arrow, '--quiet']), /'text'.*sentence/);
  expectUserError(repgeom(['extract', '--model', TINY, '--data', SST2, '--layers', '5', '--out', arrow, '--quiet']), /layer 5 does not exist; the model has hidden states 0\.\.2/);
  expectUserError(repgeom(['extract', '--model', TINY, '--data', SST2, '--out', path.join(tmp, 'nowhere', 'x.arrow'), '--quiet']), /does not exist/);
  expectUserError(repgeom(['report', '--data', SST2, '--out', out('r')]), /either --model \(with --data\) or --states/);
  // A failure in the middle of a run (an example with no tokens to average) leaves no file behind.
  const blank = out('blank.jsonl');
  fs.writeFileSync(blank, ['{"text": "fine"}', '{"text": ""}'].join('\n'));
  expectUserError(repgeom(['extract', '--model', TINY, '--data', blank, '--tokens', 'mean', '--out', arrow, '--quiet']), /no tokens left to average/);
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('bad.arrow')), [], 'no output or temporary file');
});

test('extract with a RoBERTa checkpoint and its tokenizer.json: <s>/</s> left out, 16 usable positions of 18', () => {
  const dir = out('roberta');
  fs.mkdirSync(dir);
  const fixtures = path.resolve(import.meta.dirname, 'fixtures');
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(fixtures, 'models', 'roberta', f), path.join(dir, f));
  fs.copyFileSync(path.join(fixtures, 'tokenizer', 'tiny-roberta', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const text = out('roberta.txt');
  fs.writeFileSync(text, 'the cat sat\nthe dog\n');
  ok(['extract', '--model', dir, '--data', text, '--max-length', '16', '--out', out('roberta.arrow'), '--quiet']);
  const rows = readRows(out('roberta.arrow'));
  assert.deepEqual([...new Set(rows.layer)], [0, 1]);
  assert.ok(!rows.tokenId.includes(0) && !rows.tokenId.includes(2), 'no <s> (0) or </s> (2)');
  assert.equal(Math.min(...rows.position), 1, 'position 0 is <s>');
  assert.equal(rows.metadata.get('repgeom.model_type'), 'roberta');
  expectUserError(repgeom(['extract', '--model', dir, '--data', text, '--max-length', '17', '--out', out('roberta2.arrow'), '--quiet']), /--max-length 17 is larger than the model's 16 positions/);
});

test('the embedded default (data/default, what npm start reports on) loads and reports offline', () => {
  const root = path.resolve(import.meta.dirname, '..');
  const dir = out('default-report');
  const r = ok(['report', '--model', path.join(root, 'data', 'default', 'checkpoints', 'step-1600'), '--data', path.join(root, 'data', 'default', 'text.txt'),
    '--limit', '100', '--metrics', 'isoscore,cosine', '--out', dir, '--quiet']);
  assert.match(r.stdout, /step-1600\s+4\s/);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  assert.equal(report.rows.length, 5);
  assert.equal(report.data.examples, 100);
});

test('bad weights through the command line: missing, misshapen, truncated — one line, exit 2', async () => {
  const { openSafetensors, writeSafetensors } = await import('../src/io/safetensors.js');
  const fixture = path.resolve(import.meta.dirname, 'fixtures', 'models', 'bert');
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...'abcdefghijklmnopqrstuvwxyz'.split(''), ...'0123456789'.split('')].slice(0, 40);
  const st = await openSafetensors(path.join(fixture, 'model.safetensors'));
  const tensors = await Promise.all(st.entries.map(async (e) => ({ name: e.name, dtype: 'F32' as const, shape: e.shape, data: (await st.readTensor(e.name)).data as Float32Array })));
  await st.close();
  const text = out('letters.txt');
  fs.writeFileSync(text, 'a b c\nd e\n');
  const make = (name: string, edit: (t: typeof tensors) => typeof tensors) => {
    const dir = out(name);
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(fixture, 'config.json'), path.join(dir, 'config.json'));
    fs.writeFileSync(path.join(dir, 'vocab.txt'), vocab.join('\n'));
    writeSafetensors(path.join(dir, 'model.safetensors'), edit(tensors));
    return dir;
  };
  const args = (dir: string) => ['extract', '--model', dir, '--data', text, '--max-length', '16', '--out', out(`${path.basename(dir)}.arrow`), '--quiet'];
  ok(args(make('letters-ok', (t) => t)));
  expectUserError(repgeom(args(make('letters-missing', (t) => t.filter((x) => x.name !== 'bert.embeddings.LayerNorm.weight')))), /missing 1 tensor\(s\).*'bert\.embeddings\.LayerNorm\.weight'/);
  expectUserError(repgeom(args(make('letters-misshapen', (t) => t.map((x) => (x.name === 'bert.encoder.layer.0.output.dense.weight' ? { ...x, shape: [x.shape[1], x.shape[0]] } : x))))), /'bert\.encoder\.layer\.0\.output\.dense\.weight' has shape \[16, 8\] but config\.json implies \[8, 16\]/);
  const truncated = make('letters-truncated', (t) => t);
  const file = path.join(truncated, 'model.safetensors');
  fs.truncateSync(file, fs.statSync(file).size - 64);
  expectUserError(repgeom(args(truncated)), /truncated/);
  assert.ok(!fs.existsSync(out('letters-truncated.arrow')));
});

test('report --tokens cls on BERT: the identical embedding-layer [CLS] vectors leave layer 0 undefined with reasons; the other layers are measured', () => {
  const dir = out('report-cls');
  ok(['report', '--model', TINY, '--data', SST2, '--limit', '64', '--tokens', 'cls', '--out', dir, '--quiet']);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  const [l0, l1, l2] = report.measures['tiny-bert-mlm'];
  // Position 0 is [CLS] with token type 0 at position 0 in every example: one and the same vector.
  assert.equal(l0.isoscore, null);
  assert.equal(l0.twoNN, null);
  assert.match(l0.undefinedMetrics.isoscore, /identical/);
  assert.match(l0.undefinedMetrics.twoNN, /distinct|identical/);
  for (const l of [l1, l2]) {
    assert.ok(l.isoscore > 0 && l.isoscore < 1, `layer ${l.layer}: IsoScore ${l.isoscore}`);
    assert.ok(l.twoNN.id > 0);
    assert.equal(l.undefinedMetrics, undefined);
  }
  assert.ok(report.notes.some((n: string) => /layer 0: .*undefined/.test(n)), report.notes.join(' | '));
});
