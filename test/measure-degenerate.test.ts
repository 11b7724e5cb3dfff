/**
 * Degenerate and extreme inputs through `repgeom measure` and `report`: a metric undefined on one
 * layer is null with a reason (the others still computed), empty and extreme-scale inputs are
 * one-line user errors, memory is checked before the work, and a vocabulary-sized layer
 * (d = 30,522, N = 40) goes through the N×N Gram form in small memory with the covariance
 * path's values.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectUserError, repgeom, type CliResult } from './helpers/cli.js';
import { gaussianMatrix, assertRelClose } from './helpers/fixtures.js';
import { writeNpy } from '../src/io/npy.js';
import { accumulate } from '../src/metrics/covariance.js';
import { covarianceSpectrum } from '../src/metrics/spectrum.js';
import { CosineAccumulator } from '../src/metrics/cosine.js';

const dir = mkdtempSync(join(tmpdir(), 'repgeom-degenerate-'));
const path = (name: string) => join(dir, name);

function measureJson(args: string[], env: Record<string, string> = {}) {
  const r = repgeom(['measure', ...args, '--quiet'], env);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /NaN|Infinity/);
  return JSON.parse(r.stdout) as { layers: Record<string, unknown>[] };
}

const METRIC_KEYS = ['isoscore', 'participationRatio', 'isoscoreStar', 'cosine', 'partitionIsotropy', 'twoNN', 'mle', 'pcaId', 'spectrum', 'rogueDimensions'];

/** Every null metric of a layer has a reason, and every reason belongs to a null metric (or a null part of one). */
function assertReasonsMatchNulls(layer: Record<string, unknown>): void {
  const reasons = (layer.undefinedMetrics ?? {}) as Record<string, string>;
  for (const key of METRIC_KEYS) if (layer[key] === null) assert.ok(typeof reasons[key] === 'string' && reasons[key].length > 0, `no reason for ${key}`);
  for (const key of Object.keys(reasons)) {
    const [head, part] = key.split('.');
    const v = layer[head] as Record<string, unknown> | null;
    assert.ok(part === undefined ? v === null : v !== null && v[part] === null, `reason for ${key}, which is not null`);
  }
}

// Layer 0: 64 copies of one vector (BERT's embedding-layer [CLS]); layer 1: Gaussian.
const D = 8, N = 64;
before(() => {
  const identical = new Float32Array(N * D).map((_, i) => (i % D) * 0.5 - 1);
  const gauss = Float32Array.from(gaussianMatrix(N, D, 5).data);
  writeNpy(path('cls.npy'), Float32Array.from([...identical, ...gauss]), [2, N, D]);
  // Fewer points than dimensions (Gram form), all identical.
  writeNpy(path('cls-wide.npy'), new Float32Array(5 * 40).fill(0.25), [5, 40]);
  writeNpy(path('no-layers.npy'), new Float32Array(0), [0, 5, 4]);
  writeNpy(path('three-layers.npy'), Float32Array.from(gaussianMatrix(3 * 30, 4, 9).data), [3, 30, 4]);
  const g = gaussianMatrix(50, 6, 3).data;
  writeNpy(path('huge.npy'), g.map((v) => v * 1e200), [50, 6]);
  writeNpy(path('tiny.npy'), g.map((v) => v * 1e-200), [50, 6]);
  writeNpy(path('rect.npy'), Float32Array.from(gaussianMatrix(300, 200, 4).data), [300, 200]);
  const dup = new Float32Array(40 * 4).map((_, i) => Math.sin(i * 1.7) * 10);
  dup.copyWithin(4, 0, 4); // row 1 duplicates row 0
  writeNpy(path('dup.npy'), dup, [40, 4]);
});

describe('a metric undefined on one layer is null with a reason', () => {
  test('identical points: every covariance and neighbour metric null with its reason, layer 1 computed', () => {
    const out = measureJson([path('cls.npy')]);
    const [l0, l1] = out.layers;
    for (const key of ['isoscore', 'participationRatio', 'isoscoreStar', 'twoNN', 'mle', 'pcaId', 'rogueDimensions']) assert.equal(l0[key], null, key);
    const reasons = l0.undefinedMetrics as Record<string, string>;
    assert.equal(reasons.isoscore, 'all 64 points are identical (zero covariance)');
    assert.match(reasons.twoNN, /0 of 64 points/);
    assert.equal(reasons.pcaId, 'all 64 points are identical (zero covariance)');
    assertReasonsMatchNulls(l0);
    // Still defined on identical points: cosine 1 between equal vectors, spectrum all zeros.
    assertRelClose((l0.cosine as { meanPairwise: number }).meanPairwise, 1, 1e-12, 'mean cosine');
    assert.deepEqual(l0.spectrum, new Array(D).fill(0));
    assert.equal(typeof l1.isoscore, 'number');
    assert.equal(typeof (l1.twoNN as { id: number }).id, 'number');
    assert.equal(l1.undefinedMetrics, undefined);
    assertReasonsMatchNulls(l1);
  });

  test('the same through the Gram form (fewer points than dimensions)', () => {
    const [l0] = measureJson([path('cls-wide.npy'), '--metrics', 'isoscore,isoscore-star,pca-id,rogue,cosine']).layers;
    assert.equal(l0.moments, 'gram');
    assert.equal(l0.isoscore, null);
    assert.equal(l0.isoscoreStar, null);
    assert.match((l0.undefinedMetrics as Record<string, string>).isoscore, /identical/);
    assertReasonsMatchNulls(l0);
  });

  test('the table and CSV formats print the null metrics as empty', () => {
    const r = repgeom(['measure', path('cls.npy'), '--format', 'csv', '--metrics', 'isoscore,cosine', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const [head, row0] = r.stdout.trim().split('\n');
    const cols = head.split(','), cells = row0.split(',');
    assert.equal(cells[cols.indexOf('isoscore')], '');
    assert.match(cells[cols.indexOf('meanCosine')], /^1|^0\.9999/);
  });

  test("--duplicates keep with the infinite ratios inside the discarded tail: scikit-dimension's value", () => {
    const [l] = measureJson([path('dup.npy'), '--metrics', 'twonn', '--duplicates', 'keep']).layers;
    const t = l.twoNN as { id: number; zeroDistancePoints: number; ml: number | null };
    assert.equal(t.zeroDistancePoints, 2);
    assert.ok(t.id > 0);
    assert.equal(t.ml, null);
  });

  test('more infinite ratios than the discarded tail: null with the reason', () => {
    const [l] = measureJson([path('dup.npy'), '--metrics', 'twonn', '--duplicates', 'keep', '--discard-fraction', '0.02']).layers;
    assert.equal(l.twoNN, null);
    assert.match((l.undefinedMetrics as Record<string, string>).twoNN, /2 of 40 points have an exact duplicate.*'drop'/);
  });

  test('report: the page and report.json say which metric is undefined where and why', () => {
    const out = path('report');
    const r = repgeom(['report', '--states', path('cls.npy'), '--out', out, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    assert.equal(report.rows[0].isoscore, null);
    assert.equal(typeof report.rows[1].isoscore, 'number');
    assert.ok(report.notes.some((n: string) => /layer 0: .*isoscore.*undefined.*identical/.test(n)), report.notes.join('\n'));
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    assert.match(html, /layer 0: [^<]*isoscore[^<]*undefined/);
  });
});

describe('empty, repeated and extreme inputs', () => {
  test('an array with zero layers is an error naming the file', () => {
    expectUserError(repgeom(['measure', path('no-layers.npy')]), /no-layers\.npy.*(no layers|0 layers|empty)/);
  });

  test('--layers 2,2,0,2 measures layer 2 once, in the order given', () => {
    const out = measureJson([path('three-layers.npy'), '--layers', '2,2,0,2', '--metrics', 'isoscore']);
    assert.deepEqual(out.layers.map((l) => l.layer), [2, 0]);
  });

  test('values whose moments overflow float64: one line naming the file, the layer and the fix', () => {
    expectUserError(repgeom(['measure', path('huge.npy')]), /huge\.npy: layer 0 has values up to \d\.\de\+200.*overflow.*rescale the data/);
  });

  test('values whose 4th powers underflow: the same', () => {
    expectUserError(repgeom(['measure', path('tiny.npy')]), /tiny\.npy: layer 0 .*underflow.*rescale the data/);
  });
});

describe('memory', () => {
  test('refused before the work when the covariances do not fit, with the size and the flags that avoid it', () => {
    expectUserError(repgeom(['measure', path('rect.npy'), '--quiet'], { REPGEOM_MEMORY: '256K' }),
      /rect\.npy: .*need about [\d.]+ (MB|KB) of memory but 256 KB is available.*200×200.*--metrics cosine,twonn,mle/);
    // Without the covariance metrics the same limit is enough for cosine.
    const [l] = measureJson([path('rect.npy'), '--metrics', 'cosine'], { REPGEOM_MEMORY: '256K' }).layers;
    assert.equal(typeof (l.cosine as { meanPairwise: number }).meanPairwise, 'number');
  });

  // d = 30,522 (BERT's vocabulary), N = 40: a d×d covariance would be 7.5 GB. The 40 points carry
  // a Gaussian cloud of 30 dimensions placed at scattered coordinates (the rest zero), so the
  // known answers come from the covariance path on the 30-dimensional cloud: the nonzero
  // covariance eigenvalues, the participation ratio, the variances and the cosines do not see
  // the zero coordinates; IsoScore = (PR − 1)/(d − 1) with d = 30,522.
  const WIDE = 30_522, SMALL = 30, POINTS = 40;
  const at = (j: number) => j * 1000 + 7;
  test('a vocabulary-sized layer (d = 30,522, N = 40) in 256 MB through the Gram form, equal to the covariance path', () => {
    const small = gaussianMatrix(POINTS, SMALL, 17, Array.from({ length: SMALL }, (_, j) => 1 + j / 3));
    for (let i = 0; i < small.data.length; i++) small.data[i] = Math.fround(small.data[i] + 0.5); // an offset, and float32 as the file
    const wide = new Float32Array(POINTS * WIDE);
    for (let i = 0; i < POINTS; i++) for (let j = 0; j < SMALL; j++) wide[i * WIDE + at(j)] = small.data[i * SMALL + j];
    writeNpy(path('vocab.npy'), wide, [POINTS, WIDE]);
    const [l] = measureJson([path('vocab.npy'), '--metrics', 'isoscore,isoscore-star,pca-id,spectrum,rogue,cosine,twonn,mle', '--mle-k', '10'],
      { REPGEOM_MEMORY: '256M' }).layers;
    assert.equal(l.moments, 'gram');
    const acc = accumulate(small);
    const cov = acc.covariance(1);
    let trace = 0, frob = 0;
    for (let i = 0; i < SMALL; i++) trace += cov[i * SMALL + i];
    for (const v of cov) frob += v * v;
    assertRelClose(l.participationRatio as number, (trace * trace) / frob, 1e-10, 'participation ratio');
    assertRelClose(l.isoscore as number, ((trace * trace) / frob - 1) / (WIDE - 1), 1e-10, 'IsoScore');
    assertRelClose((l.isoscoreStar as { value: number }).value, l.isoscore as number, 1e-10, 'IsoScore⋆ with C0 = self');
    const expected = covarianceSpectrum(cov, SMALL, POINTS);
    const spectrum = l.spectrum as number[];
    assert.equal(spectrum.length, POINTS); // min(N, d) components
    for (let k = 0; k < SMALL; k++) assertRelClose(spectrum[k], expected[k], 1e-9, `eigenvalue ${k}`);
    for (let k = SMALL; k < POINTS; k++) assert.ok(spectrum[k] <= 1e-12 * spectrum[0], `eigenvalue ${k} = ${spectrum[k]}`);
    const top = (l.rogueDimensions as { dim: number; varianceShare: number }[]).reduce((a, b) => (b.varianceShare > a.varianceShare ? b : a));
    let best = 0;
    for (let j = 1; j < SMALL; j++) if (cov[j * SMALL + j] > cov[best * SMALL + best]) best = j;
    assert.equal(top.dim, at(best));
    assertRelClose(top.varianceShare, cov[best * SMALL + best] / trace, 1e-10, 'variance share');
    assertRelClose((l.cosine as { meanPairwise: number }).meanPairwise, new CosineAccumulator(SMALL).add(small).result().meanPairwise, 1e-12, 'mean cosine');
    assert.ok((l.pcaId as { fo: number }).fo >= 1);
    assert.equal(typeof (l.twoNN as { id: number }).id, 'number');
  });

  test('--transform center needs only the mean: the same layer, IsoScore unchanged (translation invariant)', () => {
    const env = { REPGEOM_MEMORY: '256M' };
    const [plain] = measureJson([path('vocab.npy'), '--metrics', 'isoscore,cosine'], env).layers;
    const [centred] = measureJson([path('vocab.npy'), '--metrics', 'isoscore,cosine', '--transform', 'center'], env).layers;
    assertRelClose(centred.isoscore as number, plain.isoscore as number, 1e-9, 'IsoScore');
    // Centred points have mean zero, so Σ uᵢ is small: the mean cosine falls to about −1/(N − 1).
    assert.ok((centred.cosine as { meanPairwise: number }).meanPairwise < 0.05);
  });

  test('the same layer with a transform that needs d×d eigenvectors is refused before the work', () => {
    expectUserError(repgeom(['measure', path('vocab.npy'), '--transform', 'whiten', '--quiet'], { REPGEOM_MEMORY: '256M' }),
      /vocab\.npy: .*need about [\d.]+ GB of memory but 256(\.0)? MB is available.*30522×30522 float64 matrix is 6\.9 GB.*drop --transform/);
  });
});
