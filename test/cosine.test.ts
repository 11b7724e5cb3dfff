/** Cosine isotropy against the fixtures' values (exact formulas, so ≤ 1e-12 relative) and by construction. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CASES, EXPECTED, loadFixture, relativeError } from './helpers/fixtures.js';
import { cosineIsotropy, CosineAccumulator } from '../src/metrics/cosine.js';
import { sliceRows } from '../src/backend/matrix.js';

test('cosine isotropy equals the fixtures (mean over i ≠ j, CosReg, with self, the authors\' regulariser)', async () => {
  for (const name of CASES) {
    const x = await loadFixture(name), e = EXPECTED[name].cosine;
    const r = cosineIsotropy(x);
    assert.ok(relativeError(r.meanPairwise, e.mean_cos_offdiag_REIMPL) <= 1e-10, `${name} meanPairwise`);
    assert.ok(relativeError(r.cosReg, e.istar_cosreg_formula_REIMPL) <= 1e-10, `${name} cosReg`);
    assert.ok(relativeError(r.withSelf, e.mean_cos_all_pairs_incl_self_REIMPL) <= 1e-10, `${name} withSelf`);
    assert.ok(relativeError(r.cosReg, e.authors_istar_cosine_regularizer.value) <= 1e-9, `${name} authors`);
    assert.equal(r.zeroVectors, e.n_zero_rows);
  }
});

test('by construction: identical directions give 1, opposite pairs give −1/(N−1), zero vectors count as cosine 0', () => {
  const same = { data: Float64Array.from([1, 2, 2, 4, 3, 6]), rows: 3, cols: 2 };
  assert.ok(Math.abs(cosineIsotropy(same).meanPairwise - 1) <= 1e-15);
  const opposite = { data: Float64Array.from([1, 0, -1, 0]), rows: 2, cols: 2 };
  assert.ok(Math.abs(cosineIsotropy(opposite).meanPairwise + 1) <= 1e-15);
  // [1,0], [2,0], [0,0]: pairs (1,2) cos 1, pairs with the zero vector 0 -> mean over 6 ordered pairs = 2/6.
  const withZero = cosineIsotropy({ data: Float64Array.from([1, 0, 2, 0, 0, 0]), rows: 3, cols: 2 });
  assert.ok(Math.abs(withZero.meanPairwise - 2 / 6) <= 1e-15);
  assert.ok(Math.abs(withZero.withSelf - 4 / 9) <= 1e-15);
  assert.equal(withZero.zeroVectors, 1);
});

test('per-dimension contributions sum to the mean pairwise cosine; merging equals streaming', async () => {
  const x = await loadFixture('aniso_outliers_n2000_d50');
  const acc = new CosineAccumulator(50).add(sliceRows(x, 0, 500)).merge(new CosineAccumulator(50).add(sliceRows(x, 500, 2000)));
  const total = acc.dimensionContributions().reduce((a, b) => a + b, 0);
  assert.ok(relativeError(total, cosineIsotropy(x).meanPairwise) <= 1e-12);
  assert.ok(relativeError(acc.result().meanPairwise, EXPECTED.aniso_outliers_n2000_d50.cosine.mean_cos_offdiag_REIMPL) <= 1e-10);
});
