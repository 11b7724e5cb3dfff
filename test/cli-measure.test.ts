/**
 * `repgeom measure` end to end: its JSON against the fixtures' reference values, the formats, the
 * streamed Arrow path against the in-memory one, and every bad input (one line, exit status 2,
 * no stack trace, no output file left behind).
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync, readFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectUserError, repgeom, type CliResult } from './helpers/cli.js';
import { EXPECTED, fixturePath, loadFixture, relativeError } from './helpers/fixtures.js';
import { writeNpy } from '../src/io/npy.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { createArrowWriter } from '../src/io/arrow.js';

const dir = mkdtempSync(join(tmpdir(), 'repgeom-cli-'));
const path = (name: string) => join(dir, name);

describe('measure on the fixtures', () => {
  test('JSON keys and values equal the reference implementations', async () => {
    const name = 'aniso_outliers_n2000_d50', e = EXPECTED[name];
    const r = repgeom(['measure', fixturePath(name), '--duplicates', 'keep', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.version, '0.1.0');
    assert.equal(out.backend, 'js', 'the metrics run no tfjs');
    // The products implementation: the one REPGEOM_BLAS asks for (wasm), else whatever auto found.
    const wanted = process.env.REPGEOM_BLAS === 'wasm' ? /^wasm (relaxed-simd|simd128), \d+ threads?$/ : /^(openblas|mkl|accelerate|blas|wasm)\b.*\d+ threads?|its own threads/;
    assert.match(out.productsBackend, wanted);
    assert.deepEqual(out.input, { path: fixturePath(name), format: 'npy', layers: 1 });
    const l = out.layers[0];
    assert.equal(l.layer, 0); assert.equal(l.points, 2000); assert.equal(l.dim, 50);
    assert.ok(Math.abs(l.isoscore - e.isoscore.authors_2022.value) <= 1e-8);
    assert.ok(relativeError(l.participationRatio, e.isoscore.participation_ratio) <= 1e-9);
    assert.equal(l.pcaId.participationRatio, l.participationRatio, 'one participation ratio per layer (from the moments)');
    assert.deepEqual(Object.keys(l.isoscoreStar), ['zeta', 'c0', 'batchRows', 'value']);
    assert.ok(Math.abs(l.isoscoreStar.value - l.isoscore) <= 1e-12, 'C0 = self over the whole layer is the IsoScore');
    assert.ok(relativeError(l.cosine.meanPairwise, e.cosine.mean_cos_offdiag_REIMPL) <= 1e-10);
    assert.ok(relativeError(l.cosine.cosReg, e.cosine.istar_cosreg_formula_REIMPL) <= 1e-10);
    assert.ok(relativeError(l.cosine.withSelf, e.cosine.mean_cos_all_pairs_incl_self_REIMPL) <= 1e-10);
    assert.ok(l.partitionIsotropy > 0 && l.partitionIsotropy <= 1);
    assert.ok(relativeError(l.twoNN.id, e.twonn.skdim_TwoNN_default.value) <= 1e-6);
    assert.equal(l.twoNN.zeroDistancePoints, 0);
    assert.equal(l.twoNN.sample, null);
    assert.ok(relativeError(l.mle.id, e.mle.skdim_MLE_default_fit.value) <= 1e-6);
    assert.equal(l.mle.k, 20);
    assert.equal(l.pcaId.fo, e.pca_id.lPCA_FO.value);
    assert.equal(l.pcaId.ratio90, e.pca_id['lPCA_ratio_alphaRatio0.9'].value);
    assert.equal(l.pcaId.kaiser, e.pca_id.lPCA_Kaiser.value);
    assert.equal(l.pcaId.brokenStick, e.pca_id.lPCA_broken_stick.value);
    assert.equal(l.spectrum.length, 50);
    assert.deepEqual(l.rogueDimensions.slice(0, 1).map((x: { dim: number }) => x.dim), [0]);
  });

  test('IsoScore⋆ with --batch-rows 64 and the C0 options equals the fixtures', async () => {
    const name = 'iso_gauss_n2000_d50', e = EXPECTED[name].isoscore_star.zeta;
    const r = repgeom(['measure', fixturePath(name), '--metrics', 'isoscore-star', '--batch-rows', '64', '--zeta', '0.75', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const star = JSON.parse(r.stdout).layers[0].isoscoreStar;
    assert.equal(star.batchRows, 64);
    assert.ok(Math.abs(star.value - e['0.75'].closed_form_REIMPL) <= 1e-8);
    // C0 given as the covariance of the points of another file (here the same points).
    const r2 = repgeom(['measure', fixturePath(name), '--metrics', 'isoscore-star', '--batch-rows', '64', '--zeta', '0.75', '--c0-points', fixturePath(name), '--quiet']);
    assert.ok(Math.abs(JSON.parse(r2.stdout).layers[0].isoscoreStar.value - e['0.75'].closed_form_REIMPL) <= 1e-8);
    const small = 'smallbatch_n32_d64__C0_identity';
    const r3 = repgeom(['measure', fixturePath(small), '--metrics', 'isoscore-star', '--c0', 'identity', '--zeta', '0.5', '--quiet']);
    assert.ok(Math.abs(JSON.parse(r3.stdout).layers[0].isoscoreStar.value - EXPECTED[small].isoscore_star.zeta['0.5'].closed_form_REIMPL) <= 1e-8);
  });

  test('the same points streamed from Arrow, .safetensors and .npz give the same numbers as .npy', async () => {
    const x = await loadFixture('swissroll2d_n2000_d10');
    const f32 = Float32Array.from(x.data);
    writeNpy(path('two-layers.npy'), Float32Array.from([...f32, ...f32.map((v) => 2 * v + 1)]), [2, 2000, 10]);
    writeSafetensors(path('two-layers.safetensors'), [
      { name: 'hidden_states.0', dtype: 'F32', shape: [2000, 10], data: f32 },
      { name: 'hidden_states.1', dtype: 'F32', shape: [2000, 10], data: f32.map((v) => 2 * v + 1) },
    ]);
    const w = createArrowWriter(path('two-layers.arrow'), 10, { model: 'test' });
    for (let start = 0; start < 2000; start += 300) { // interleaved layers, uneven batches
      const rows = Math.min(300, 2000 - start);
      for (const layer of [0, 1]) {
        const v = f32.slice(start * 10, (start + rows) * 10).map((u) => (layer ? 2 * u + 1 : u));
        w.write({ layer: new Array(rows).fill(layer), example: Array.from({ length: rows }, (_, i) => start + i), position: new Array(rows).fill(0), tokenId: new Array(rows).fill(0), vectors: v });
      }
    }
    w.close();
    const run = (file: string) => {
      const r = repgeom(['measure', file, '--block-rows', '333', '--metrics', 'isoscore,cosine,twonn,pca-id,partition', '--quiet']);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout).layers;
    };
    const reference = run(path('two-layers.npy'));
    assert.equal(reference.length, 2);
    // uniform scaling and translation leave IsoScore, TwoNN and PCA-ID unchanged
    assert.ok(Math.abs(reference[0].isoscore - reference[1].isoscore) <= 1e-9);
    assert.ok(relativeError(reference[0].isoscore, EXPECTED.swissroll2d_n2000_d10.isoscore.closed_form_REIMPL) <= 1e-6, 'float32 storage');
    for (const file of ['two-layers.arrow', 'two-layers.safetensors']) {
      const layers = run(path(file));
      for (let l = 0; l < 2; l++) {
        for (const key of ['isoscore', 'partitionIsotropy'] as const) assert.ok(relativeError(layers[l][key], reference[l][key]) <= 1e-10, `${file} layer ${l} ${key}`);
        assert.ok(relativeError(layers[l].cosine.meanPairwise, reference[l].cosine.meanPairwise) <= 1e-10);
        assert.equal(layers[l].twoNN.id, reference[l].twoNN.id);
        assert.deepEqual(layers[l].pcaId, reference[l].pcaId);
      }
    }
  });

  test('table and CSV formats; --out writes the file', () => {
    const t = repgeom(['measure', fixturePath('swissroll2d_n2000_d10'), '--metrics', 'isoscore,cosine', '--format', 'table', '--quiet']);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout.split('\n')[0], /layer\s+points\s+dim\s+isoscore/);
    const out = path('m.csv');
    const c = repgeom(['measure', fixturePath('swissroll2d_n2000_d10'), '--metrics', 'isoscore', '--format', 'csv', '--out', out, '--quiet']);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(c.stdout, '');
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(lines[0], 'layer,points,dim,isoscore,participationRatio');
    const isoscore = Number(lines[1].split(',')[3]);
    assert.ok(Math.abs(isoscore - EXPECTED.swissroll2d_n2000_d10.isoscore.closed_form_REIMPL) <= 1e-12);
  });

  test('--transform whiten makes IsoScore 1', () => {
    const r = repgeom(['measure', fixturePath('aniso_outliers_n2000_d50'), '--metrics', 'isoscore', '--transform', 'whiten', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.transform, 'whiten');
    assert.ok(Math.abs(out.layers[0].isoscore - 1) <= 1e-9);
  });
});

describe('measure: bad input', () => {
  before(() => {
    writeFileSync(path('data.txt'), 'hello');
    const good = new Float32Array(40).fill(1).map((_, i) => i % 7);
    writeNpy(path('good.npy'), good, [10, 4]);
    const bytes = readFileSync(path('good.npy'));
    writeFileSync(path('truncated.npy'), bytes.subarray(0, bytes.length - 9));
    const header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const h = header + ' '.repeat(pad % 64) + '\n';
    writeFileSync(path('int.npy'), Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length, 0]), Buffer.from(h), Buffer.alloc(32)]));
    const lengthBeyond = Buffer.alloc(16); lengthBeyond.writeBigUInt64LE(1000n); writeFileSync(path('beyond.safetensors'), lengthBeyond);
    const notJson = Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{nope!!}')]); writeFileSync(path('notjson.safetensors'), notJson);
    const hdr = JSON.stringify({ x: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 64] } });
    const lb = Buffer.alloc(8); lb.writeBigUInt64LE(BigInt(hdr.length));
    writeFileSync(path('offsets.safetensors'), Buffer.concat([lb, Buffer.from(hdr), Buffer.alloc(16)]));
    const hdr2 = JSON.stringify({ x: { dtype: 'I64', shape: [2, 2], data_offsets: [0, 32] } });
    const lb2 = Buffer.alloc(8); lb2.writeBigUInt64LE(BigInt(hdr2.length));
    writeFileSync(path('int.safetensors'), Buffer.concat([lb2, Buffer.from(hdr2), Buffer.alloc(32)]));
    const nan = Float32Array.from(good); nan[4 * 6 + 2] = NaN;
    writeNpy(path('nan.npy'), Float32Array.from([...good, ...nan]), [2, 10, 4]);
    writeNpy(path('one.npy'), new Float32Array(4), [1, 4]);
    writeNpy(path('two.npy'), Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]);
    writeNpy(path('c0-3x3.npy'), Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), [3, 3]);
    const dup = new Float32Array(40 * 4).map((_, i) => Math.sin(i * 1.7) * 10);
    dup.copyWithin(4, 0, 4); // row 1 duplicates row 0
    writeNpy(path('dup.npy'), dup, [40, 4]);
    const w = createArrowWriter(path('empty.arrow'), 4);
    w.close();
    copyFileSync(path('good.npy'), path('good.bin'));
  });

  const cases: [string, () => string[], RegExp][] = [
    ['missing file', () => ['measure', path('nope.npy')], /nope\.npy/],
    ['unknown extension', () => ['measure', path('good.bin')], /good\.bin.*(extension|\.npy)/],
    ['not a supported file', () => ['measure', path('data.txt')], /data\.txt/],
    ['truncated .npy', () => ['measure', path('truncated.npy')], /truncated/i],
    ['unsupported .npy dtype', () => ['measure', path('int.npy')], /<i8|dtype/],
    ['safetensors header length beyond the file', () => ['measure', path('beyond.safetensors')], /header/i],
    ['safetensors header not JSON', () => ['measure', path('notjson.safetensors')], /JSON/],
    ['safetensors offsets outside the data', () => ['measure', path('offsets.safetensors')], /offset|outside|beyond/i],
    ['safetensors unsupported dtype', () => ['measure', path('int.safetensors')], /I64/],
    ['NaN names the layer and row', () => ['measure', path('nan.npy')], /layer 1.*row 6.*--drop-nonfinite/],
    ['fewer than 2 points', () => ['measure', path('one.npy'), '--metrics', 'isoscore'], /at least 2/],
    ['fewer than 3 points for TwoNN', () => ['measure', path('two.npy'), '--metrics', 'twonn'], /TwoNN needs at least 3 points/],
    ['fewer than k + 1 points for MLE', () => ['measure', path('good.npy'), '--metrics', 'mle'], /at least 21 points/],
    ['a C0 of the wrong size', () => ['measure', path('good.npy'), '--metrics', 'isoscore-star', '--c0', path('c0-3x3.npy')], /3×3.*4 dimensions/],
    ['C0 points of another width', () => ['measure', path('good.npy'), '--metrics', 'isoscore-star', '--c0-points', path('c0-3x3.npy')], /3 dimensions.*has 4/],
    ['an empty Arrow file', () => ['measure', path('empty.arrow')], /empty|no rows/i],
    ['unknown metric', () => ['measure', path('good.npy'), '--metrics', 'isoscore,foo'], /unknown metric 'foo'/],
    ['zeta out of range', () => ['measure', path('good.npy'), '--zeta', '2'], /--zeta/],
    ['a layer that is not there', () => ['measure', path('good.npy'), '--layers', '3'], /no layer 3/],
    ['a malformed layer list', () => ['measure', path('good.npy'), '--layers', '1,x'], /'x'/],
    ['unknown flag', () => ['measure', path('good.npy'), '--frobnicate'], /frobnicate/],
    ['unknown backend', () => ['measure', path('good.npy'), '--backend', 'tpu'], /tpu/],
    ['bad transform', () => ['measure', path('good.npy'), '--transform', 'pca'], /--transform 'pca'/],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, () => expectUserError(repgeom(args()), pattern));
  }

  test('--drop-nonfinite skips the row and says so', () => {
    const r = repgeom(['measure', path('nan.npy'), '--metrics', 'isoscore', '--drop-nonfinite', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const layers = JSON.parse(r.stdout).layers;
    assert.equal(layers[1].points, 9);
    assert.equal(layers[1].droppedNonFinite, 1);
    assert.equal(layers[0].droppedNonFinite, undefined);
  });

  test('a failing run leaves no output file', () => {
    const out = path('never.json');
    expectUserError(repgeom(['measure', path('nan.npy'), '--out', out]), /row 6/);
    assert.equal(existsSync(out), false);
  });
});
