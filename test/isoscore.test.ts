/**
 * IsoScore and IsoScore⋆ against the authors' code (fixtures) and the exact closed form.
 * Tolerances: IsoScore vs the authors ≤ 1e-8 absolute (their float64 PCA agrees with the closed
 * form to ~1e-16); IsoScore⋆ vs the closed form ≤ 1e-8 and vs the authors ≤ 1e-7 (their √d is
 * float32, RESEARCH.md §2).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CASES, EXPECTED, loadFixture, gaussianMatrix, orthonormalRows, rotateScaleShift } from './helpers/fixtures.js';
import { isoScore } from '../src/metrics/isoscore.js';
import { isoScoreStar, validateC0 } from '../src/metrics/isoscore-star.js';
import { accumulate, CovarianceAccumulator } from '../src/metrics/covariance.js';
import { FLOAT32 } from '../src/metrics/product-kernel.js';
import { sliceRows } from '../src/backend/matrix.js';
import { MetricUndefined, UserError } from '../src/errors.js';

describe('IsoScore on the geometry fixtures', () => {
  for (const name of CASES) {
    test(name, async () => {
      const x = await loadFixture(name), e = EXPECTED[name].isoscore;
      const r = isoScore(x);
      assert.ok(Math.abs(r.isoscore - e.closed_form_REIMPL) <= 1e-12, `closed form ${r.isoscore} vs ${e.closed_form_REIMPL}`);
      if (e.authors_2022.value !== null) assert.ok(Math.abs(r.isoscore - e.authors_2022.value) <= 1e-8);
      else assert.match(e.authors_2022.error, /n_components=64/, 'the authors\' code raises for N < d; we do not');
      assert.ok(Math.abs(r.participationRatio - e.participation_ratio) <= 1e-9 * e.participation_ratio);
      assert.ok(Math.abs(r.trace - e.trace_cov) <= 1e-12 * e.trace_cov);
      assert.ok(Math.abs(r.frobenius2 - e.frob2_cov) <= 1e-12 * e.frob2_cov);
    });
  }

  // The float32 kernel (the products layer's syrk on float64-centred blocks of at most
  // FLOAT32_SUM_LENGTH rows, summed in float64) is what `auto` uses from d = 256. Its error per
  // covariance entry is float32 accumulation over a block (~1e-7 relative); over d² entries it
  // averages out, so the more dimensions the smaller the
  // effect on IsoScore. The d = 50 fixtures stay within the 1e-8; the d = 10 swiss roll,
  // with only 100 entries, within 5e-8 (auto uses exact float64 there).
  test('the float32 product kernel stays within 1e-8 of the authors at d ≥ 50', async () => {
    for (const name of CASES) {
      const x = await loadFixture(name), e = EXPECTED[name].isoscore;
      const r = isoScore({ ...x }, FLOAT32);
      const tolerance = x.cols >= 50 ? 1e-8 : 5e-8;
      assert.ok(Math.abs(r.isoscore - e.closed_form_REIMPL) <= tolerance, `${name}: ${r.isoscore} vs ${e.closed_form_REIMPL}`);
    }
  });

  test('at d = 768 the float32 kernel agrees with exact float64 to 2e-9', async () => {
    const y = gaussianMatrix(4000, 768, 3, Array.from({ length: 768 }, (_, j) => 0.2 + 3 * Math.exp(-j / 40)));
    for (let i = 0; i < y.rows; i++) y.data[i * 768 + 77] += 8; // a rogue dimension with a large mean
    const fast = isoScore(y, FLOAT32).isoscore, exact = isoScore(y).isoscore;
    assert.ok(Math.abs(fast - exact) <= 2e-9, `${fast} vs ${exact}`);
  });

  test('N < d uses the Gram form and equals the covariance form', async () => {
    const x = gaussianMatrix(20, 64, 7);
    const gram = isoScore(x).isoscore;
    const c = accumulate(x).covariance(1);
    let t = 0, f = 0;
    for (let i = 0; i < 64; i++) t += c[i * 64 + i];
    for (const v of c) f += v * v;
    assert.ok(Math.abs(gram - (t * t / f - 1) / 63) <= 1e-12);
    assert.ok(gram <= (20 - 2) / 63 + 1e-12, 'for N ≤ d IsoScore is at most (N − 2)/(d − 1)');
  });

  test('known answers by construction', () => {
    // Points on the corners ±e_k of a cross use every dimension equally: IsoScore 1.
    const d = 6, cross = new Float64Array(2 * d * d);
    for (let k = 0; k < d; k++) { cross[(2 * k) * d + k] = 1; cross[(2 * k + 1) * d + k] = -1; }
    assert.ok(Math.abs(isoScore({ data: cross, rows: 2 * d, cols: d }).isoscore - 1) <= 1e-15);
    // Points on a line use one dimension: IsoScore 0.
    const line = new Float64Array(10 * d);
    for (let i = 0; i < 10; i++) for (let j = 0; j < d; j++) line[i * d + j] = i * (j + 1);
    assert.ok(Math.abs(isoScore({ data: line, rows: 10, cols: d }).isoscore) <= 1e-15);
  });

  test('invariant to rotation, translation and uniform scaling', () => {
    const x = gaussianMatrix(300, 12, 3, [5, 4, 3, 1, 1, 1, 1, 1, 0.5, 0.5, 0.1, 0.1]);
    const y = rotateScaleShift(x, orthonormalRows(12, 12, 9), 37.5, -4.25);
    assert.ok(Math.abs(isoScore(x).isoscore - isoScore(y).isoscore) <= 1e-12);
  });

  test('fewer than 2 points is a user error', () => {
    assert.throws(() => isoScore(gaussianMatrix(1, 5, 1)), UserError);
  });
});

describe('the covariance accumulator', () => {
  test('streaming in uneven blocks equals one block, and merging equals adding', async () => {
    const x = await loadFixture('aniso_outliers_n2000_d50');
    const whole = accumulate(x);
    const streamed = new CovarianceAccumulator(50);
    for (const [a, b] of [[0, 7], [7, 700], [700, 701], [701, 2000]]) streamed.add(sliceRows(x, a, b));
    const merged = accumulate(sliceRows(x, 0, 1234)).merge(accumulate(sliceRows(x, 1234, 2000)));
    const c = whole.covariance(1);
    for (const other of [streamed, merged]) {
      const o = other.covariance(1);
      for (let i = 0; i < c.length; i++) assert.ok(Math.abs(o[i] - c[i]) <= 1e-11 * Math.max(1, Math.abs(c[i])));
      assert.equal(other.count, 2000);
    }
  });
});

describe('IsoScore⋆ on the geometry fixtures', () => {
  for (const name of Object.keys(EXPECTED)) {
    test(name, async () => {
      const x = await loadFixture(name), e = EXPECTED[name].isoscore_star;
      const batch = sliceRows(x, 0, Math.min(e.rows_used, x.rows));
      const c0 = name.endsWith('__C0_identity') ? 'identity' as const : accumulate(x).covariance(1);
      for (const [zeta, v] of Object.entries(e.zeta) as [string, { closed_form_REIMPL: number; authors_istar: { value: number } }][]) {
        const value = isoScoreStar(batch, { c0, zeta: Number(zeta) });
        assert.ok(Math.abs(value - v.closed_form_REIMPL) <= 1e-8, `ζ=${zeta}: ${value} vs closed form ${v.closed_form_REIMPL}`);
        assert.ok(Math.abs(value - v.authors_istar.value) <= 1e-7, `ζ=${zeta}: ${value} vs authors ${v.authors_istar.value}`);
      }
    });
  }

  test('ζ = 0 is the IsoScore of the batch, ζ = 1 that of C0', async () => {
    const x = await loadFixture('aniso_outliers_n2000_d50');
    const batch = sliceRows(x, 0, 64), c0 = accumulate(x).covariance(1);
    assert.ok(Math.abs(isoScoreStar(batch, { c0, zeta: 0 }) - isoScore(batch).isoscore) <= 1e-12);
    assert.ok(Math.abs(isoScoreStar(batch, { c0, zeta: 1 }) - isoScore(x).isoscore) <= 1e-12);
  });

  test('a C0 that is not a symmetric PSD matrix of the right size is refused', () => {
    const d = 3;
    assert.throws(() => validateC0(new Float64Array(16), d, 'c0.npy'), /4×4 but the points have 3 dimensions/);
    assert.throws(() => validateC0(Float64Array.from([1, 2, 0, 0, 1, 0, 0, 0, 1]), d, 'c0.npy'), /not symmetric/);
    assert.throws(() => validateC0(Float64Array.from([1, 0, 0, 0, -1, 0, 0, 0, 1]), d, 'c0.npy'), /not positive semi-definite/);
    validateC0(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 0]), d, 'c0.npy'); // PSD with a zero eigenvalue
    assert.throws(() => isoScoreStar(gaussianMatrix(10, 3, 1), { c0: 'identity', zeta: 1.5 }), /zeta must be in \[0, 1\]/);
  });
});

test('identical points: IsoScore and IsoScore⋆ (C0 = self) are undefined, not 0, on both the covariance and the Gram path', () => {
  const same = (rows: number, cols: number) => ({ data: new Float64Array(rows * cols).fill(0.75), rows, cols });
  assert.throws(() => isoScore(same(20, 5)), (e: unknown) => e instanceof MetricUndefined && /identical/.test(e.message));
  assert.throws(() => isoScore(same(5, 20)), MetricUndefined);
  const x = same(20, 5);
  assert.throws(() => isoScoreStar(x, { c0: accumulate(x).covariance(1), zeta: 0.2 }), MetricUndefined);
  // With C0 = I the shrinkage keeps Σ = ζ·I nonzero: IsoScore⋆ = 1.
  assert.ok(Math.abs(isoScoreStar(x, { c0: 'identity', zeta: 0.2 }) - 1) < 1e-15);
});
