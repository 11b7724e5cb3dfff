/**
 * The N×N Gram form (N < d) against the d×d covariance path on the same points: every quantity
 * the second-moment metrics take from it. Tolerances: both are float64 sums of the same products
 * in another order (~1e-14 relative); eigenvalues come from two different matrices (G/(N−1) and
 * C), accurate to ε·λ₁ each, so 1e-9 relative on the nonzero ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussianMatrix, assertRelClose } from './helpers/fixtures.js';
import { accumulate } from '../src/metrics/covariance.js';
import { GramMoments, PointStore } from '../src/metrics/gram.js';
import { traceAndFrobenius2 } from '../src/metrics/isoscore.js';
import { isoScoreStarFromMoments, isoScoreStarOfCovariance } from '../src/metrics/isoscore-star.js';
import { covarianceSpectrum } from '../src/metrics/spectrum.js';
import { diagonal } from '../src/metrics/rogue.js';
import { partitionIsotropy } from '../src/metrics/partition.js';
import { FLOAT32 } from '../src/metrics/product-kernel.js';

const N = 12, D = 30;
const x = gaussianMatrix(N, D, 8, Array.from({ length: D }, (_, j) => 0.2 + j / 10));
for (let i = 0; i < x.data.length; i++) x.data[i] += (i % D) * 0.05; // a mean away from 0
const cov = accumulate(x).covariance(1);
const g = new GramMoments(x);

test('tr C and ‖C‖_F² from G equal the covariance path', () => {
  const c = traceAndFrobenius2(cov, D);
  assertRelClose(g.trace, c.trace, 1e-13, 'trace');
  assertRelClose(g.frobenius2, c.frobenius2, 1e-13, 'frobenius2');
});

test('the spectrum: min(N, d) = N eigenvalues, the nonzero ones equal, the null one 0', () => {
  const a = g.spectrum(), b = covarianceSpectrum(cov, D, N);
  assert.equal(a.length, N);
  assert.equal(b.length, N);
  for (let k = 0; k < N - 1; k++) assertRelClose(a[k], b[k], 1e-9, `eigenvalue ${k}`);
  // Rank N − 1 after centring: the last one is rounding noise, clamped to 0 or ≤ 1e-12·λ₁.
  assert.ok(a[N - 1] <= 1e-12 * a[0] && b[N - 1] <= 1e-12 * b[0]);
});

test('the diagonal of C', () => {
  const a = g.diagonal(), b = diagonal(cov, D);
  for (let j = 0; j < D; j++) assertRelClose(a[j], b[j], 1e-13, `C_${j}${j}`);
});

test('IsoScore⋆ moments for C0 = self (whole layer and a batch), identity and a given matrix', () => {
  const zeta = 0.3, B = 7;
  const batchCov = accumulate({ data: x.data.subarray(0, B * D), rows: B, cols: D }).covariance(1);
  const c0 = accumulate(gaussianMatrix(60, D, 9)).covariance(1);
  const cases: [string, number, number][] = [
    ['self', isoScoreStarFromMoments(g.starMoments('self', null), zeta, D), isoScoreStarOfCovariance(cov, cov, zeta, D)],
    ['self, batch', isoScoreStarFromMoments(g.starMoments('self', B), zeta, D), isoScoreStarOfCovariance(batchCov, cov, zeta, D)],
    ['identity', isoScoreStarFromMoments(g.starMoments('identity', null), zeta, D), isoScoreStarOfCovariance(cov, 'identity', zeta, D)],
    ['identity, batch', isoScoreStarFromMoments(g.starMoments('identity', B), zeta, D), isoScoreStarOfCovariance(batchCov, 'identity', zeta, D)],
    ['matrix, batch', isoScoreStarFromMoments(g.starMoments(c0, B), zeta, D), isoScoreStarOfCovariance(batchCov, c0, zeta, D)],
  ];
  for (const [name, gram, covariance] of cases) assertRelClose(gram, covariance, 1e-12, name);
});

test('partition isotropy: the eigenpairs of X Xᵀ and Z = N on the null directions equal the d×d path', () => {
  assertRelClose(g.partitionIsotropy(), partitionIsotropy(x), 1e-9, 'partition isotropy');
});

test('PointStore keeps the rows of blocks of any size, grown past its first capacity', () => {
  const store = new PointStore(2, D);
  store.add({ data: x.data.subarray(0, 5 * D), rows: 5, cols: D });
  store.add({ data: Float32Array.from(x.data.subarray(5 * D)), rows: N - 5, cols: D });
  const m = store.matrix();
  assert.equal(m.rows, N);
  for (let i = 0; i < 5 * D; i++) assert.equal(m.data[i], x.data[i]);
  for (let i = 5 * D; i < N * D; i++) assert.equal(m.data[i], Math.fround(x.data[i]));
});

test('the float32 product kernel for large N×N×d products (chunked float32 sums, added in float64) agrees to 1e-8', async () => {
  // 300 × 12,000: 1.08e9 multiply-adds, past the float32 threshold.
  const big = gaussianMatrix(300, 12_000, 4);
  const a = new GramMoments(big), b = new GramMoments(big, FLOAT32);
  assertRelClose(b.trace, a.trace, 1e-8, 'trace');
  assertRelClose(b.frobenius2, a.frobenius2, 1e-8, 'frobenius2');
});
