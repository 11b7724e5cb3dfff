/** Post-processing transforms and rogue dimensions, by construction. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitTransform, parseTransform } from '../src/metrics/transforms.js';
import { accumulate } from '../src/metrics/covariance.js';
import { isoScore } from '../src/metrics/isoscore.js';
import { covarianceSpectrum } from '../src/metrics/spectrum.js';
import { rogueDimensions, diagonal } from '../src/metrics/rogue.js';
import { CosineAccumulator } from '../src/metrics/cosine.js';
import { loadFixture, gaussianMatrix } from './helpers/fixtures.js';
import { UserError } from '../src/errors.js';

const x = gaussianMatrix(500, 6, 11, [10, 5, 3, 1, 1, 0.5]);

test('center removes the mean and keeps the covariance', () => {
  const t = fitTransform({ kind: 'center' }, accumulate(x)).apply(x);
  const acc = accumulate(t), before = accumulate(x).covariance(1), after = acc.covariance(1);
  for (const m of acc.mean) assert.ok(Math.abs(m) <= 1e-12);
  for (let i = 0; i < before.length; i++) assert.ok(Math.abs(before[i] - after[i]) <= 1e-10);
});

test('whiten gives covariance I and IsoScore 1; rank-deficient directions are dropped', async () => {
  const w = fitTransform({ kind: 'whiten' }, accumulate(x)).apply(x);
  const c = accumulate(w).covariance(1);
  for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) assert.ok(Math.abs(c[i * 6 + j] - (i === j ? 1 : 0)) <= 1e-9);
  assert.ok(Math.abs(isoScore(w).isoscore - 1) <= 1e-9);
  const rank5 = await loadFixture('subspace5_n2000_d50');
  const fitted = fitTransform({ kind: 'whiten' }, accumulate(rank5));
  assert.equal(fitted.outDim, 5);
});

test('abtt:D zeroes the top D principal variances and keeps the rest', () => {
  const stats = accumulate(x);
  const before = covarianceSpectrum(stats.covariance(1), 6, x.rows);
  const after = covarianceSpectrum(accumulate(fitTransform({ kind: 'abtt', components: 2 }, stats).apply(x)).covariance(1), 6, x.rows);
  // The remaining spectrum is the old one without its top 2, plus two zeros.
  for (let k = 0; k < 4; k++) assert.ok(Math.abs(after[k] - before[k + 2]) <= 1e-9 * before[0]);
  for (let k = 4; k < 6; k++) assert.ok(Math.abs(after[k]) <= 1e-9 * before[0]);
});

test('transform specs parse, and bad ones are user errors', () => {
  assert.deepEqual(parseTransform('abtt:3'), { kind: 'abtt', components: 3 });
  assert.throws(() => parseTransform('abtt'), UserError);
  assert.throws(() => parseTransform('pca'), UserError);
  assert.throws(() => fitTransform({ kind: 'abtt', components: 6 }, accumulate(x)), /D < 6/);
});

test('rogue dimensions: a dimension with a large shared offset dominates cosine and variance', () => {
  // Dimension 3 carries a common offset of 20 (cosine) and dimension 0 the largest variance.
  const d = 6, y = gaussianMatrix(400, d, 4, [8, 1, 1, 1, 1, 1]);
  for (let r = 0; r < y.rows; r++) y.data[r * d + 3] += 20;
  const cos = new CosineAccumulator(d).add(y);
  const rogue = rogueDimensions(diagonal(accumulate(y).covariance(1), d), cos.dimensionContributions(), 1);
  assert.deepEqual(rogue.map((r) => r.dim), [3, 0]);
  assert.ok(rogue[0].cosineShare > 0.95);
  assert.ok(rogue[1].varianceShare > 0.8);
  const sumShares = rogueDimensions(diagonal(accumulate(y).covariance(1), d), cos.dimensionContributions(), d)
    .reduce((s, r) => s + r.varianceShare, 0);
  assert.ok(Math.abs(sumShares - 1) <= 1e-12);
});
