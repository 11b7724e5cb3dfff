/**
 * Flags parsed strictly, for every command: a flag given twice in any spelling, an empty or
 * malformed number, a typo in --c0, repeated --layers, and `report --model a,b,c` checking every
 * folder before the first model runs. Errors are one line, exit status 2, nothing written.
 * Also the model checks as the command line shows them: NaN weights, the unused-layer warning
 * and --workers capped with a warning.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { tableFromIPC } from 'apache-arrow';
import { expectUserError, repgeom, type CliResult } from './helpers/cli.js';
import { SHARED } from './helpers/fixtures.js';
import { throwsUser } from './helpers/errors.js';
import { checkRepeatedFlags, parseIntegerList, parseNumberFlag } from '../src/cli/common.js';
import { measureCommand } from '../src/cli/measure.js';
import { extractCommand } from '../src/cli/extract.js';
import { reportCommand } from '../src/cli/report.js';
import { intrinsicDimCommand } from '../src/cli/intrinsic-dim.js';
import { openSafetensors, writeSafetensors } from '../src/io/safetensors.js';

const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-flags-'));
const at = (name: string) => path.join(tmp, name);
const SIX = at('six.txt');
fs.writeFileSync(SIX, ['the cat sat', 'a dog', 'hello world', 'one more line', 'and another', 'the end'].join('\n'));
const POINTS = at('points.npy');
{
  // 12 points in 3-D, float64 .npy, written by hand (no reader under test involved in building it).
  const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (12, 3), }";
  const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const data = Float64Array.from({ length: 36 }, (_, i) => Math.sin(i * 1.3) * 3 + (i % 3));
  fs.writeFileSync(POINTS, Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length, 0]), Buffer.from(padded), Buffer.from(data.buffer)]));
}

function ok(r: CliResult): CliResult {
  assert.equal(r.status, 0, r.stderr);
  return r;
}

describe('flag parsing helpers', () => {
  test('numbers: strict decimal text, range and integer checks, each message naming the flag and an example', () => {
    assert.equal(parseNumberFlag('0.25', '--zeta', { min: 0, max: 1 }), 0.25);
    assert.equal(parseNumberFlag(' 1e3 ', '--sample', { integer: true, min: 1 }), 1000);
    assert.equal(parseNumberFlag(0.2, '--zeta', { min: 0, max: 1 }), 0.2, 'defaults arrive as numbers');
    for (const bad of ['', ' ', 'abc', '0x10', 'NaN', 'Infinity', '-Infinity', '1e400', '1,5', '2 3']) {
      throwsUser(() => parseNumberFlag(bad, '--zeta', { min: 0, max: 1, default: 0.2 }), /^--zeta: ".*" is not a number; give a decimal number, e\.g\. --zeta 0\.2$/);
    }
    throwsUser(() => parseNumberFlag('-1', '--seed', { integer: true, min: 0, default: 0 }), /^--seed must be an integer ≥ 0, got -1; e\.g\. --seed 0$/);
    throwsUser(() => parseNumberFlag('1.5', '--sample', { integer: true, min: 1, default: 10000 }), /^--sample must be an integer ≥ 1, got 1\.5; e\.g\. --sample 10000$/);
    throwsUser(() => parseNumberFlag('1e20', '--sample', { integer: true, min: 1 }), /--sample must be an integer ≥ 1, got 1e20/);
    throwsUser(() => parseNumberFlag('2', '--zeta', { min: 0, max: 1 }), /^--zeta must be a number in \[0, 1\], got 2/);
    throwsUser(() => parseNumberFlag('1', '--discard-fraction', { min: 0, below: 1 }), /--discard-fraction must be a number in \[0, 1\), got 1/);
    throwsUser(() => parseNumberFlag(['1', '2'], '--zeta', {}), /--zeta is given 2 times; give it once/);
  });

  test('repeated flags in every spelling are refused, naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [['--out', 'a', '--out', 'b'], /^--out is given twice; give it once$/],
      [['--zeta=1', '--zeta', '2'], /^--zeta is given twice; give it once$/],
      [['--batch-rows', '3', '--batchRows', '4'], /^--batch-rows is given twice \(as --batch-rows and --batchRows\); give it once$/],
      [['--quiet', '--no-quiet'], /^--quiet is given twice \(as --quiet and --no-quiet\)/],
      [['--no-quiet', '--quiet'], /^--quiet is given twice \(as --no-quiet and --quiet\)/],
      [['--special-tokens', '--specialTokens'], /^--special-tokens is given twice/],
    ];
    for (const [argv, pattern] of cases) throwsUser(() => checkRepeatedFlags(['measure', 'x.npy', ...argv]), pattern);
    // Different flags, values that look like flags after `--`, and single-dash arguments pass.
    checkRepeatedFlags(['report', '--model', 'a', '--data', 'b', '--layers=1,2', '--quiet', '--zeta', '-1', '--', '--quiet']);
  });

  test('--layers lists keep each layer once, in the order given', () => {
    assert.deepEqual(parseIntegerList('2,0,2,1,0', '--layers'), [2, 0, 1]);
    throwsUser(() => parseIntegerList('1,-2', '--layers'), /--layers: '-2' is not a non-negative integer/);
    throwsUser(() => parseIntegerList('99999999999999999999', '--layers'), /--layers: '99999999999999999999' is not/);
    throwsUser(() => parseIntegerList('1.5', '--layers'), /'1\.5'/);
  });

  test('no option of any command is a yargs number: every numeric flag goes through the strict parser', async () => {
    const commands = { measure: measureCommand, extract: extractCommand, report: reportCommand, 'intrinsic-dim': intrinsicDimCommand };
    const numeric: Record<string, string[]> = {
      measure: ['zeta', 'batch-rows', 'sample', 'seed', 'discard-fraction', 'mle-k', 'twonn-subsets', 'rogue-top', 'block-rows'],
      extract: ['limit', 'max-length', 'batch-size', 'workers'],
      report: ['zeta', 'batch-rows', 'sample', 'seed', 'discard-fraction', 'mle-k', 'twonn-subsets', 'rogue-top', 'block-rows', 'limit', 'max-length', 'batch-size', 'workers'],
      'intrinsic-dim': ['seeds-per-probe', 'epochs', 'train-limit', 'eval-limit', 'max-length', 'batch-size', 'lr', 'baseline-lr', 'baseline', 'max-dim', 'tolerance', 'max-grad-norm', 'subspace-weight-decay'],
    };
    for (const [name, command] of Object.entries(commands)) {
      const build = command.builder as (y: Argv) => Argv;
      // getOptions is yargs' own (untyped) view of the declared options.
      const options = (build(yargs([])) as unknown as { getOptions(): { number: string[] } }).getOptions();
      assert.deepEqual(options.number, [], `${name}: yargs number options turn '' into 0`);
      for (const flag of numeric[name]) {
        for (const value of ['', 'x', '-0.5e']) {
          const parse = build(yargs(['--model', 'm', '--out', 'o', `--${flag}`, value])).fail((message, error) => {
            throw error ?? new Error(message);
          });
          await assert.rejects(async () => parse.parseAsync(), (e: Error) => {
            assert.match(e.message, new RegExp(`^--${flag}: ".*" is not a number`), `${name} --${flag} ${JSON.stringify(value)}`);
            return true;
          });
        }
      }
    }
  });
});

describe('strict flags through the command line', () => {
  const measure = (...args: string[]) => ['measure', POINTS, '--metrics', 'isoscore', '--quiet', ...args];
  const extract = (...args: string[]) => ['extract', '--model', TINY, '--data', SIX, '--out', at('x.arrow'), '--quiet', ...args];
  const report = (...args: string[]) => ['report', '--model', TINY, '--data', SIX, '--out', at('r'), '--quiet', ...args];
  const cases: [string, string[], RegExp][] = [
    ['measure --out twice', measure('--out', at('a.json'), '--out', at('b.json')), /--out is given twice; give it once/],
    ['measure --metrics twice', measure('--metrics', 'cosine'), /--metrics is given twice/],
    ['measure --format twice', measure('--format', 'csv', '--format', 'json'), /--format is given twice/],
    ['measure --zeta=1 --zeta 2', measure('--zeta=1', '--zeta', '2'), /--zeta is given twice/],
    ['measure --batch-rows and --batchRows', measure('--batch-rows', '3', '--batchRows', '4'), /--batch-rows is given twice \(as --batch-rows and --batchRows\)/],
    ['extract --model twice', extract('--model', TINY), /--model is given twice/],
    ['extract --out twice', extract('--out', at('y.arrow')), /--out is given twice/],
    ['extract --batch-size and --batchSize', extract('--batch-size', '3', '--batchSize', '4'), /--batch-size is given twice/],
    ['report --model twice', report('--model', TINY), /--model is given twice/],
    ['report --layers and --layers=', report('--layers', '1', '--layers=2'), /--layers is given twice/],
    ['report --quiet and --no-quiet', report('--no-quiet'), /--quiet is given twice \(as --quiet and --no-quiet\)/],
    ['measure --zeta empty', measure('--zeta', ''), /^repgeom: --zeta: "" is not a number; give a decimal number, e\.g\. --zeta 0\.2$/],
    ['measure --zeta= empty', measure('--zeta='), /--zeta: "" is not a number/],
    ['measure --sample with no value', measure('--sample'), /--sample needs a value/],
    ['extract --batch-size blank', extract('--batch-size', '  '), /--batch-size: "  " is not a number/],
    ['report --limit empty', report('--limit', ''), /--limit: "" is not a number/],
    ['measure --seed negative', measure('--seed', '-1'), /--seed must be an integer ≥ 0, got -1/],
    ['measure --sample fractional', measure('--sample', '1.5'), /--sample must be an integer ≥ 1, got 1\.5/],
    ['extract --workers NaN', extract('--workers', 'NaN'), /--workers: "NaN" is not a number/],
    ['extract --max-length Infinity', extract('--max-length', 'Infinity'), /--max-length: "Infinity" is not a number/],
    ['extract --workers 0', extract('--workers', '0'), /--workers must be an integer ≥ 1, got 0/],
    ['report --limit 1e400', report('--limit', '1e400'), /--limit: "1e400" is not a number/],
    ['measure --zeta hexadecimal', measure('--zeta', '0x1'), /--zeta: "0x1" is not a number/],
    ['measure --c0 typo', ['measure', POINTS, '--quiet', '--c0', 'identiy'],
      /^repgeom: --c0 identiy: not 'self' or 'identity', and no such file; give --c0 self, --c0 identity or a d×d \.npy file$/],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, () => expectUserError(repgeom(args), pattern));
  }

  test('nothing is written by a refused command line', () => {
    for (const f of ['a.json', 'b.json', 'x.arrow', 'y.arrow', 'r']) assert.ok(!fs.existsSync(at(f)), f);
  });

  test('extract --layers 2,0,2 writes layers 0 and 2 once each', () => {
    const file = at('layers.arrow');
    ok(repgeom(['extract', '--model', TINY, '--data', SIX, '--layers', '2,0,2', '--tokens', 'cls', '--out', file, '--quiet']));
    const table = tableFromIPC(fs.readFileSync(file));
    assert.equal(table.schema.metadata.get('repgeom.layers'), '0,2');
    assert.deepEqual([...table.getChild('layer')!.toArray()].map(Number), [0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2]);
  });
});

/** A copy of tiny-bert-mlm with config.json fields replaced, or its weights rewritten. */
async function tinyVariant(name: string, fields: Record<string, unknown>, edit?: (name: string, data: Float32Array) => Float32Array): Promise<string> {
  const dir = at(name);
  fs.mkdirSync(dir);
  for (const f of ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json']) fs.copyFileSync(path.join(TINY, f), path.join(dir, f));
  const config = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, ...fields }));
  if (!edit) {
    fs.copyFileSync(path.join(TINY, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    return dir;
  }
  const st = await openSafetensors(path.join(TINY, 'model.safetensors'));
  const tensors = [];
  for (const e of st.entries) tensors.push({ name: e.name, dtype: 'F32' as const, shape: e.shape, data: edit(e.name, (await st.readTensor(e.name)).data as Float32Array) });
  await st.close();
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return dir;
}

describe('model checks through the command line', () => {
  test('report --model a,b,bad fails on the bad folder before any model runs (no states file for a)', async () => {
    const absurd = await tinyVariant('absurd', { num_hidden_layers: 1e9 });
    const misshapen = await tinyVariant('misshapen', { intermediate_size: 256 });
    const cases: [string, RegExp][] = [
      [at('no-such-model'), /no-such-model: not a model folder/],
      [absurd, /absurd\/config\.json: 'num_hidden_layers' is 1000000000, beyond any BERT-family checkpoint/],
      [misshapen, /misshapen\/model\.safetensors: tensor '.*intermediate\.dense\.weight' has shape \[512, 128\] but config\.json implies \[256, 128\].*intermediate_size 256/],
    ];
    for (const [bad, pattern] of cases) {
      const out = at(`report-${path.basename(bad)}`);
      expectUserError(repgeom(['report', '--model', `${TINY},${path.join(TINY, 'checkpoint-250')},${bad}`, '--data', SIX, '--out', out, '--quiet']), pattern);
      assert.ok(!fs.existsSync(out), `${out}: nothing created, no states file for the first model`);
    }
  });

  test('NaN in the weights: exit 2 naming the tensor, no output file', async () => {
    const dir = await tinyVariant('nan-weights', {}, (name, data) => {
      if (name !== 'bert.encoder.layer.1.output.dense.weight') return data;
      const copy = Float32Array.from(data);
      copy[512 * 3 + 7] = NaN; // [hidden 128, intermediate 512]
      return copy;
    });
    const out = at('nan.arrow');
    expectUserError(repgeom(['extract', '--model', dir, '--data', SIX, '--out', out, '--quiet']),
      /tensor 'bert\.encoder\.layer\.1\.output\.dense\.weight' holds 1 NaN\/Inf value\(s\), the first NaN at \[3, 7\]; the checkpoint is corrupt/);
    assert.ok(!fs.existsSync(out));
  });

  test('num_hidden_layers 1 with weights for layers 0..1: one warning on stderr, the states of layers 0..1', async () => {
    const dir = await tinyVariant('one-layer', { num_hidden_layers: 1 });
    const out = at('one-layer.arrow');
    const r = ok(repgeom(['extract', '--model', dir, '--data', SIX, '--tokens', 'cls', '--out', out, '--quiet']));
    const warnings = r.stderr.trim().split('\n');
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0], /^repgeom: warning: .*model\.safetensors: 16 tensor\(s\) of layers 1\.\.1 are not used because config\.json sets num_hidden_layers to 1; set it to 2/);
    assert.equal(tableFromIPC(fs.readFileSync(out)).schema.metadata.get('repgeom.layers'), '0,1');
  });

  test('--workers 64 on six sentences is reduced, with a warning, and gives the same rows', () => {
    const reference = at('w-reference.arrow');
    ok(repgeom(['extract', '--model', TINY, '--data', SIX, '--tokens', 'mean', '--out', reference, '--quiet']));
    // Rows keyed by (layer, example): batches of another size interleave the layers differently in the file.
    const vectors = (file: string) => {
      const table = tableFromIPC(fs.readFileSync(file));
      const layer = [...table.getChild('layer')!.toArray()], example = [...table.getChild('example')!.toArray()];
      const rows = [...table.getChild('vector')!].map((v, i) => ({ key: Number(layer[i]) * 1000 + Number(example[i]), v: [...v!.toArray()] as number[] }));
      return rows.sort((a, b) => a.key - b.key);
    };
    const close = (a: ReturnType<typeof vectors>, b: ReturnType<typeof vectors>) => {
      assert.deepEqual(a.map((r) => r.key), b.map((r) => r.key));
      // Padding to another length changes float32 rounding only.
      for (const [i, r] of a.entries()) for (const [k, x] of r.v.entries()) assert.ok(Math.abs(x - b[i].v[k]) < 1e-4, `row ${r.key}, dim ${k}`);
    };

    const oneBatch = at('w-one-batch.arrow');
    const r1 = ok(repgeom(['extract', '--model', TINY, '--data', SIX, '--tokens', 'mean', '--workers', '64', '--out', oneBatch, '--quiet']));
    assert.match(r1.stderr, /^repgeom: warning: --workers 64 reduced to 1: .*there is 1 batch \(examples \/ --batch-size\)\n$/);
    assert.deepEqual(vectors(oneBatch), vectors(reference), 'the same single batch, in-process');

    // Six batches, and memory for one worker only (REPGEOM_MEMORY stands in for a small machine).
    const small = at('w-small.arrow');
    const r2 = ok(repgeom(['extract', '--model', TINY, '--data', SIX, '--tokens', 'mean', '--workers', '64', '--batch-size', '1', '--out', small, '--quiet'], { REPGEOM_MEMORY: '60M' }));
    assert.match(r2.stderr, /^repgeom: warning: --workers 64 reduced to 1: .*memory holds 1 worker\(s\) \(about \d+ MB each, 60 MB available\)\n$/);
    close(vectors(small), vectors(reference));
  });
});
