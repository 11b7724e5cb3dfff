/**
 * Levina–Bickel MLE (k = 20, inverses averaged) against scikit-dimension 0.3.4 (fixtures), the
 * duplicate policy, invariances and a known-by-construction answer.
 *
 * Tolerances: scikit-dimension ≤ 1e-6 relative (its neighbour distances come from sklearn in
 * float64, ours are exact float64 sums: the estimates agree to ~1e-14); invariances ≤ 1e-9
 * relative (a rotation, shift or scaling moves each distance by a few ulps).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CASES, EXPECTED, loadFixture, gaussianMatrix, orthonormalRows, assertRelClose, rotateScaleShift, uniformSquareIn10D } from './helpers/fixtures.js';
import type { Matrix } from '../src/backend/matrix.js';
import { MetricUndefined, UserError } from '../src/errors.js';
import { knn } from '../src/metrics/knn.js';
import { mle, mleFromDistances } from '../src/metrics/mle.js';






describe('MLE on the geometry fixtures', () => {
  for (const name of CASES) {
    test(name, async () => {
      const x = await loadFixture(name);
      const r = await mle(x, { duplicates: 'keep' });
      assertRelClose(r.id, EXPECTED[name].mle.skdim_MLE_default_fit.value, 1e-6, 'scikit-dimension MLE');
      assert.equal(r.k, 20);
      assert.equal(r.points, x.rows);
      assert.equal(r.zeroDistancePoints, 0);
      assert.equal(r.droppedPoints, 0);
      assert.deepEqual(await mle(x), { ...r, duplicates: 'drop' });
    });
  }

  test('a precomputed neighbour list with more than k columns gives the same value', async () => {
    const x = await loadFixture('swissroll2d_n2000_d10');
    const nb = await knn(x, 25);
    assert.equal((await mle(x, { knn: nb })).id, (await mle(x)).id);
  });
});

describe('MLE formula and errors', () => {
  test('m̂⁻¹ = (1/(k−1)) Σ_{j<k} log(T_k/T_j), d = 1/mean m̂⁻¹', () => {
    // Two points, k = 3: T = (1, 2, 4) and (1, 1, e).
    const t = Float64Array.from([1, 2, 4, 1, 1, Math.E]);
    const inv1 = (Math.log(4) + Math.log(2)) / 2, inv2 = (1 + 1) / 2;
    const r = mleFromDistances(t, 2, 3, { k: 3 });
    assertRelClose(r.id, 2 / (inv1 + inv2), 1e-15, 'MLE');
  });

  test('fewer than k + 1 points is a UserError', async () => {
    await assert.rejects(mle(gaussianMatrix(20, 5, 1)), UserError);
    await assert.rejects(mle(gaussianMatrix(5, 5, 1), { k: 5 }), UserError);
    await assert.rejects(mle(gaussianMatrix(50, 5, 1), { k: 1 }), UserError);
    await mle(gaussianMatrix(21, 5, 1)); // exactly k + 1 points is enough
  });

  test("duplicates: T_1 = 0 points are counted, dropped by 'drop', refused by 'keep'", async () => {
    const x = gaussianMatrix(600, 6, 3);
    x.data.copyWithin(570 * 6, 0, 30 * 6); // rows 570..599 copy rows 0..29: 60 points at distance 0
    await assert.rejects(mle(x, { duplicates: 'keep' }), (e: unknown) => e instanceof MetricUndefined && /60 of 600 points/.test(e.message));
    const r = await mle(x);
    assert.equal(r.zeroDistancePoints, 60);
    assert.equal(r.droppedPoints, 60);
    assert.equal(r.points, 540);
    assert.ok(r.id > 4.5 && r.id < 7, `${r.id}`);
  });
});

describe('MLE invariances and a known answer', () => {
  test('rotation, translation and uniform scaling leave the estimate unchanged (≤ 1e-9)', async () => {
    const x = gaussianMatrix(1500, 12, 11);
    const a = await mle(x), b = await mle(rotateScaleShift(x, orthonormalRows(12, 12, 12), 0.31, -40));
    assertRelClose(b.id, a.id, 1e-9, 'MLE');
  });

  test('points uniform on a 2-D square embedded in 10-D give MLE ≈ 2', async () => {
    // 2000 points, seed 3; averaging 2000 local estimates leaves a spread well below 0.05, the
    // square's edges bias the k = 20 neighbourhoods a little: |id − 2| < 0.15.
    const r = await mle(uniformSquareIn10D(2000, 3));
    assert.ok(Math.abs(r.id - 2) < 0.15, `${r.id}`);
  });
});
