/**
 * TwoNN against scikit-dimension 0.3.4 / DADApy / the exact re-implementation (fixtures), the
 * duplicate policy, invariances, a known-by-construction answer, the subsets protocol, and the
 * seeded sampling it relies on.
 *
 * Tolerances: scikit-dimension ≤ 1e-6 relative (its distances come from sklearn's float64 Gram
 * formula, ours from the direct float64 sum: they agree to ~1e-12, the estimate to ~1e-14);
 * the fixtures' exact re-implementation (`reimpl_REIMPL`, same formulas on exact distances)
 * ≤ 1e-9 relative (only the summation order differs); invariances ≤ 1e-9 relative (rotating,
 * shifting or scaling moves each distance by a few ulps, the estimates by ~1e-13).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CASES, EXPECTED, loadFixture, gaussianMatrix, orthonormalRows, rotateScaleShift, assertRelClose, uniformSquareIn10D } from './helpers/fixtures.js';
import type { Matrix } from '../src/backend/matrix.js';
import { takeRows } from '../src/backend/matrix.js';
import { MetricUndefined, UserError } from '../src/errors.js';
import { knn } from '../src/metrics/knn.js';
import { twoNN, twoNNFromDistances } from '../src/metrics/twonn.js';
import { Rng } from '../src/backend/rng.js';
import { RowReservoir, sampleIndices, sampleRows } from '../src/metrics/sample.js';







describe('TwoNN on the geometry fixtures', () => {
  for (const name of CASES) {
    test(name, async () => {
      const x = await loadFixture(name);
      const e = EXPECTED[name].twonn;
      const keep = await twoNN(x, { duplicates: 'keep' });
      assertRelClose(keep.id, e.skdim_TwoNN_default.value, 1e-6, 'scikit-dimension TwoNN');
      assertRelClose(keep.id, e.reimpl_REIMPL.linear_fit_through_origin, 1e-9, 'exact linear fit');
      assertRelClose(keep.ml!, e.reimpl_REIMPL.mle_all_points_N_over_sumlog, 1e-9, 'N / Σ log μ');
      assertRelClose(keep.mlUnbiased!, e.reimpl_REIMPL.mle_unbiased_Nm1_over_sumlog, 1e-9, '(N − 1) / Σ log μ');
      assertRelClose(keep.mlUnbiased!, e.dadapy_2NN_ml.value, 1e-6, 'DADApy ml');
      assert.equal(keep.zeroDistancePoints, e.reimpl_REIMPL.n_r1_zero);
      assert.equal(keep.points, x.rows);
      assert.equal(keep.droppedPoints, 0);
      // No duplicates and no ties in these clouds: 'drop' must give the same numbers.
      const drop = await twoNN(x);
      assert.deepEqual(drop, { ...keep, duplicates: 'drop' });
    });
  }

  test('the float64 brute force and the float32 pass give the same estimate', async () => {
    const x = await loadFixture('iso_gauss_n2000_d50');
    const a = await twoNN(x, { knnOptions: { exact: true } });
    const b = await twoNN(x, { knnOptions: { exact: false } });
    assert.equal(a.id, b.id);
  });
});

describe('TwoNN fit details', () => {
  test('F(i) = i/N for i = 1..int(N·0.9), N the full count, slope through the origin', () => {
    // 10 points, μ = e^1..e^10 (shuffled): int(10·0.9) = 9 fitted, x = 1..9, y = −log(1 − i/10).
    const r1 = new Float64Array(10).fill(1);
    const r2 = Float64Array.from([3, 1, 4, 10, 5, 9, 2, 6, 8, 7].map((v) => Math.exp(v)));
    let sxy = 0, sxx = 0;
    for (let i = 1; i <= 9; i++) { sxy += i * -Math.log(1 - i / 10); sxx += i * i; }
    const r = twoNNFromDistances(r1, r2, { duplicates: 'keep' });
    assertRelClose(r.id, sxy / sxx, 1e-14, 'slope');
    assertRelClose(r.ml!, 10 / 55, 1e-14, 'ml');
    assertRelClose(r.mlUnbiased!, 9 / 55, 1e-14, 'mlUnbiased');
  });

  test('fewer than 3 points is a UserError', async () => {
    const x = gaussianMatrix(2, 5, 1);
    await assert.rejects(twoNN(x), UserError);
    assert.throws(() => twoNNFromDistances(new Float64Array([1, 1]), new Float64Array([2, 2])), UserError);
  });

  test('bad options are UserErrors', async () => {
    const x = gaussianMatrix(50, 3, 2);
    await assert.rejects(twoNN(x, { discardFraction: 1 }), UserError);
    await assert.rejects(twoNN(x, { discardFraction: -0.1 }), UserError);
    await assert.rejects(twoNN(x, { duplicates: 'ignore' as 'keep' }), UserError);
    await assert.rejects(twoNN(x, { subsets: { fraction: 0 } }), UserError);
  });
});

describe('TwoNN duplicates', () => {
  // 1000 Gaussian points in 10-D of which the last 50 (5 %) are exact copies of rows 0..49:
  // 100 points have a neighbour at distance 0.
  const base = gaussianMatrix(1000, 10, 7);
  base.data.copyWithin(950 * 10, 0, 50 * 10);

  test("zeroDistancePoints counts every duplicated point, 'keep' fits like scikit-dimension, 'drop' drops them and the r1 = r2 ties", async () => {
    // 100 infinite ratios, exactly the int(1000·0.1) = 100 discarded: scikit-dimension's value.
    const keep = await twoNN(base, { duplicates: 'keep' });
    assert.equal(keep.zeroDistancePoints, 100);
    assert.equal(keep.ml, null);
    // One more discarded fraction point short: an infinite ratio would enter the fit.
    await assert.rejects(twoNN(base, { duplicates: 'keep', discardFraction: 0.09 }),
      (e: unknown) => e instanceof MetricUndefined && /100 of 1000 points/.test(e.message) && /more than the 90 discarded/.test(e.message));
    const r = await twoNN(base);
    assert.equal(r.zeroDistancePoints, 100);
    // A point whose two nearest neighbours are a duplicated pair has r1 = r2 > 0: dropped too.
    const nb = await knn(base, 2, { exact: true });
    let ties = 0;
    for (let i = 0; i < 1000; i++) if (nb.distances[2 * i] > 0 && nb.distances[2 * i] === nb.distances[2 * i + 1]) ties++;
    assert.ok(ties > 0);
    assert.equal(r.droppedPoints, 100 + ties);
    assert.equal(r.points, 900 - ties);
  });

  test("'drop' equals TwoNN of the points kept, with their original neighbours", async () => {
    const r = await twoNN(base);
    const nb = await knn(base, 2, { exact: true });
    const r1: number[] = [], r2: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const a = nb.distances[2 * i], b = nb.distances[2 * i + 1];
      if (a === 0 || a === b) continue;
      r1.push(a);
      r2.push(b);
    }
    const direct = twoNNFromDistances(Float64Array.from(r1), Float64Array.from(r2), { duplicates: 'keep' });
    assert.equal(r.id, direct.id);
    // Sanity: close to the cloud's dimension (TwoNN on ~900 Gaussian points in 10-D gives ≈ 9–10).
    assert.ok(r.id > 8 && r.id < 11, `${r.id}`);
  });
});

describe('TwoNN invariances and a known answer', () => {
  test('rotation, translation and uniform scaling leave the estimate unchanged (≤ 1e-9)', async () => {
    const x = gaussianMatrix(1500, 12, 11);
    const a = await twoNN(x);
    const b = await twoNN(rotateScaleShift(x, orthonormalRows(12, 12, 12), 3.7, 25));
    assertRelClose(b.id, a.id, 1e-9, 'id');
    assertRelClose(b.ml!, a.ml!, 1e-9, 'ml');
  });

  test('points uniform on a 2-D square embedded in 10-D give TwoNN ≈ 2', async () => {
    // 2000 points, seed 3. The estimator's standard error is ≈ d/√(0.9N) ≈ 0.05 and the edges
    // of the square bias it slightly down; |id − 2| < 0.15 is a 3σ band.
    const r = await twoNN(uniformSquareIn10D(2000, 3));
    assert.ok(Math.abs(r.id - 2) < 0.15, `${r.id}`);
    assert.ok(Math.abs(r.mlUnbiased! - 2) < 0.15, `${r.mlUnbiased}`);
  });
});

describe('TwoNN subsets (Ansuini et al. error bar)', () => {
  const x = gaussianMatrix(1200, 8, 21);

  test('one subset equals TwoNN of those rows computed from scratch', async () => {
    const r = await twoNN(x, { subsets: { count: 1, fraction: 0.5, seed: 5 } });
    const members = sampleIndices(1200, 600, new Rng(5));
    const direct = await twoNN(takeRows(x, members), { knnOptions: { exact: true } });
    assert.equal(r.subsets?.mean, direct.id);
    assert.equal(r.subsets?.std, 0);
  });

  test('20 subsets of 90 %: deterministic for the seed, mean near the full estimate', async () => {
    const a = await twoNN(x, { subsets: { count: 20, fraction: 0.9, seed: 1 } });
    const b = await twoNN(x, { subsets: { count: 20, fraction: 0.9, seed: 1 } });
    const c = await twoNN(x, { subsets: { count: 20, fraction: 0.9, seed: 2 } });
    assert.deepEqual(a, b);
    assert.notEqual(a.subsets?.mean, c.subsets?.mean);
    assert.equal(a.subsets?.count, 20);
    assert.ok(a.subsets!.std > 0 && a.subsets!.std < 0.5, `${a.subsets!.std}`);
    assert.ok(Math.abs(a.subsets!.mean - a.id) < 3 * a.subsets!.std + 0.2, `${a.subsets!.mean} vs ${a.id}`);
  });
});

describe('seeded sampling', () => {
  const x = gaussianMatrix(1000, 3, 31);

  test('sampleRows: n distinct rows in increasing order, deterministic; the matrix itself when n ≥ rows', () => {
    const a = sampleIndices(1000, 100, 9);
    assert.equal(a.length, 100);
    for (let q = 1; q < a.length; q++) assert.ok(a[q] > a[q - 1]);
    assert.deepEqual(sampleIndices(1000, 100, 9), a);
    assert.notDeepEqual(sampleIndices(1000, 100, 10), a);
    const s = sampleRows(x, 100, 9);
    assert.deepEqual(s, takeRows(x, a));
    assert.equal(sampleRows(x, 1000, 9), x);
    assert.equal(sampleRows(x, 5000, 9), x);
  });

  test('RowReservoir picks the same rows as sampleRows, whatever the block sizes', () => {
    for (const blocks of [[1000], [1, 999], [7, 300, 93, 600], [250, 250, 250, 250]]) {
      const res = new RowReservoir(100, 3, 9);
      let start = 0;
      for (const b of blocks) {
        res.add({ data: x.data.subarray(start * 3, (start + b) * 3), rows: b, cols: 3 });
        start += b;
      }
      const out = res.result();
      assert.equal(out.seen, 1000);
      assert.deepEqual(out.matrix, sampleRows(x, 100, 9));
      assert.deepEqual(out.indices, sampleIndices(1000, 100, 9));
    }
    const small = new RowReservoir(2000, 3, 9);
    small.add(x);
    assert.deepEqual(small.result().matrix, x);
  });

  test('every row is equally likely (3 of 10, 3000 seeds: counts within 5σ of 900)', () => {
    const counts = new Array<number>(10).fill(0);
    for (let seed = 0; seed < 3000; seed++) for (const i of sampleIndices(10, 3, seed)) counts[i]++;
    const sigma = Math.sqrt(3000 * 0.3 * 0.7);
    for (const c of counts) assert.ok(Math.abs(c - 900) < 5 * sigma, `${counts}`);
  });

  test('Rng.nextInt is unbiased and in range, including bounds near 2^32', () => {
    const rng = new Rng(1);
    const counts = new Array<number>(6).fill(0);
    for (let q = 0; q < 60000; q++) counts[rng.nextInt(6)]++;
    for (const c of counts) assert.ok(Math.abs(c - 10000) < 5 * Math.sqrt(60000 * (1 / 6) * (5 / 6)), `${counts}`);
    for (const n of [2 ** 32, 2 ** 32 - 1, 3 * 2 ** 30]) {
      for (let q = 0; q < 1000; q++) {
        const v = rng.nextInt(n);
        assert.ok(Number.isInteger(v) && v >= 0 && v < n);
      }
    }
    assert.throws(() => new Rng(0.5), UserError);
  });
});

describe("TwoNN duplicates 'keep': scikit-dimension's value when the infinite ratios are discarded", () => {
  // 200 Gaussian points in 10-D (seed 21) whose last rows are copies of earlier ones.
  function cloud(copies: number[]): Matrix<Float64Array> {
    const x = gaussianMatrix(200, 10, 21);
    copies.forEach((src, q) => x.data.copyWithin((200 - copies.length + q) * 10, src * 10, (src + 1) * 10));
    return x;
  }
  // Rows 190..199 copy rows 0, 0, 1..8: row 0 has two copies, so those 3 points have
  // r1 = r2 = 0 and μ = 0/0 = NaN; the 16 points of the 8 pairs have μ = r2/0 = ∞. 19 non-finite
  // ratios, int(200·0.9) = 180 kept: all of them fall in the 20 discarded.
  const five = cloud([0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  // scikit-dimension 0.3.4's TwoNN restated in numpy + scikit-learn 1.2 (Debian python3-sklearn):
  // r1, r2 from NearestNeighbors(n_neighbors=2).fit(X).kneighbors() (as skdim's get_nn), μ = r2/r1,
  // the int(N·0.9) smallest by np.argsort (∞ then NaN last), Femp = arange(1, 1 + n)/N,
  // LinearRegression(fit_intercept=False) of −log(1 − Femp) on log μ, run once on this cloud
  // written to .npy by the generator above.
  const SKDIM_FIVE = 7.761976439567653;

  test('NaN and ∞ ratios in the discarded tail: the fit over the finite ones (known answer)', async () => {
    const r = await twoNN(five, { duplicates: 'keep', knnOptions: { exact: true } });
    assert.equal(r.zeroDistancePoints, 19);
    assert.equal(r.points, 200);
    assert.equal(r.droppedPoints, 0);
    assert.equal(r.ml, null);
    assert.equal(r.mlUnbiased, null);
    // By hand: the finite ratios, sorted; the 180 smallest; F = i/200 with the full N.
    const nb = await knn(five, 2, { exact: true });
    const finite: number[] = [];
    for (let i = 0; i < 200; i++) if (nb.distances[2 * i] > 0) finite.push(nb.distances[2 * i + 1] / nb.distances[2 * i]);
    assert.equal(finite.length, 181);
    finite.sort((a, b) => a - b);
    let sxy = 0, sxx = 0;
    for (let i = 0; i < 180; i++) {
      sxy += Math.log(finite[i]) * -Math.log(1 - (i + 1) / 200);
      sxx += Math.log(finite[i]) ** 2;
    }
    assertRelClose(r.id, sxy / sxx, 1e-14, 'hand fit');
    assertRelClose(r.id, SKDIM_FIVE, 1e-9, 'scikit-dimension restated');
  });

  test('more infinite ratios than the discarded tail: undefined, as scikit-dimension fails', async () => {
    // 12 pairs: 24 infinite ratios, 20 discarded (scikit-learn's LinearRegression raises on ∞).
    const six = cloud([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    await assert.rejects(twoNN(six, { duplicates: 'keep' }),
      (e: unknown) => e instanceof MetricUndefined && /24 of 200 points/.test(e.message) && /'drop'/.test(e.message));
    // 'drop' still answers.
    assert.ok((await twoNN(six)).id > 5);
  });
});
