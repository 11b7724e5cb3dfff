/**
 * The float32 Gram pass with exact refinement must equal the float64 brute force exactly: same
 * indices, bit-identical distances (both come from the same float64 routine; the refinement is
 * certified, see src/metrics/knn.ts). The brute force itself is checked against a naive
 * sort-all-distances oracle.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussianMatrix } from './helpers/fixtures.js';
import type { Matrix } from '../src/backend/matrix.js';
import { UserError } from '../src/errors.js';
import { knn, knnBruteForce, neighboursAmong, type KnnResult } from '../src/metrics/knn.js';
import { Rng } from '../src/backend/rng.js';

function assertSame(a: KnnResult, b: KnnResult): void {
  assert.equal(a.k, b.k);
  assert.equal(a.rows, b.rows);
  for (let q = 0; q < a.indices.length; q++) {
    if (a.indices[q] !== b.indices[q] || a.distances[q] !== b.distances[q]) {
      const i = Math.floor(q / a.k);
      assert.fail(`row ${i}, rank ${q % a.k}: ${a.indices[q]} @ ${a.distances[q]} vs ${b.indices[q]} @ ${b.distances[q]}`);
    }
  }
}

/** Naive oracle: every distance of the row, sorted by (distance, index). */
function naiveRow(x: Matrix, i: number, k: number): { d: number[]; j: number[] } {
  const all: [number, number][] = [];
  for (let j = 0; j < x.rows; j++) {
    if (j === i) continue;
    let s = 0;
    for (let t = 0; t < x.cols; t++) s += (x.data[i * x.cols + t] - x.data[j * x.cols + t]) ** 2;
    all.push([s, j]);
  }
  all.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  return { d: all.slice(0, k).map((p) => p[0]), j: all.slice(0, k).map((p) => p[1]) };
}

describe('knn brute force', () => {
  test('matches a naive sort of all distances, ties ordered by index', () => {
    // Integer coordinates in {0,1,2}³ with 200 points: many exact ties and duplicates.
    const rng = new Rng(1), x: Matrix<Float64Array> = { data: new Float64Array(600), rows: 200, cols: 3 };
    for (let i = 0; i < 600; i++) x.data[i] = rng.nextInt(3);
    const r = knnBruteForce(x, 7);
    for (let i = 0; i < 200; i++) {
      const o = naiveRow(x, i, 7);
      assert.deepEqual(Array.from(r.indices.subarray(i * 7, i * 7 + 7)), o.j, `row ${i}`);
      // Distances agree to rounding (the naive sum has another order than the 4-way sum).
      o.d.forEach((s, q) => assert.ok(Math.abs(r.distances[i * 7 + q] - Math.sqrt(s)) <= 1e-12));
    }
    // Row 0's neighbours among a subset, by the same rule.
    const among = Int32Array.from({ length: 100 }, (_, q) => 2 * q);
    const sub = neighboursAmong(x, 0, 3, among);
    const expect = naiveRow({ data: x.data, rows: 200, cols: 3 }, 0, 200).j.filter((j) => j % 2 === 0).slice(0, 3);
    assert.deepEqual(Array.from(sub.indices), expect);
  });
});

describe('knn float32 pass = float64 brute force, exactly', () => {
  test('Gaussian, 700 × 768 (d of a base model), k = 2 and k = 20', async () => {
    const x = gaussianMatrix(700, 768, 2);
    const exact = knnBruteForce(x, 20);
    const fast = await knn(x, 20, { exact: false, blockSize: 256 });
    assert.equal(fast.method, 'gram');
    assertSame(fast, exact);
    const fast2 = await knn(x, 2, { exact: false, blockSize: 300 });
    const exact2 = knnBruteForce(x, 2);
    assertSame(fast2, exact2);
  });

  test('float32 input with a large common offset and anisotropic scales, 1500 × 40, k = 5', async () => {
    const g = gaussianMatrix(1500, 40, 3);
    const data = new Float32Array(g.data.length);
    for (let q = 0; q < data.length; q++) data[q] = 1000 + g.data[q] * (q % 40 < 3 ? 50 : 0.5);
    const x = { data, rows: 1500, cols: 40 };
    assertSame(await knn(x, 5, { exact: false, blockSize: 128 }), knnBruteForce(x, 5));
  });

  test('many exact duplicates and ties (integer grid): uncertified rows fall back, still exact', async () => {
    const rng = new Rng(4), x: Matrix<Float64Array> = { data: new Float64Array(1200 * 4), rows: 1200, cols: 4 };
    for (let q = 0; q < x.data.length; q++) x.data[q] = rng.nextInt(4);
    const fast = await knn(x, 3, { exact: false, blockSize: 200, margin: 2 });
    assert.ok(fast.uncertifiedRows > 0, 'this cloud has more tied points than candidates');
    assertSame(fast, knnBruteForce(x, 3));
  });

  test('hundreds of copies of one vector (e.g. BOS hidden states): shared fallback, still exact', async () => {
    const x = gaussianMatrix(1500, 32, 8);
    for (let c = 0; c < 300; c++) x.data.copyWithin((1200 + c) * 32, 5 * 32, 6 * 32); // rows 1200..1499 = row 5
    const fast = await knn(x, 6, { exact: false, blockSize: 256 });
    assert.ok(fast.uncertifiedRows >= 250, `${fast.uncertifiedRows}`);
    assertSame(fast, knnBruteForce(x, 6));
    // Row 5's neighbours: the first six copies (distance 0, by index).
    assert.deepEqual(Array.from(fast.indices.subarray(5 * 6, 6 * 6)), [1200, 1201, 1202, 1203, 1204, 1205]);
  });

  test('default path choice: small inputs go to the brute force', async () => {
    const x = gaussianMatrix(300, 10, 6);
    const r = await knn(x, 2);
    assert.equal(r.method, 'brute-force');
  });
});

describe('knn input checks', () => {
  test('k out of range and non-finite values are UserErrors', async () => {
    const x = gaussianMatrix(10, 3, 7);
    await assert.rejects(knn(x, 10), UserError);
    await assert.rejects(knn(x, 0), UserError);
    x.data[13] = NaN;
    await assert.rejects(knn(x, 2), (e: unknown) => e instanceof UserError && /row 4, column 1/.test(e.message));
  });
});
