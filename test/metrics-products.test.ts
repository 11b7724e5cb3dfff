/**
 * The metrics on every products implementation this machine has (the system BLAS when one
 * loads, our wasm kernel), installed in-process with `useProducts`:
 * - float32 IsoScore on each within 2e-9 of exact float64 (the d = 768 bound of
 *   test/isoscore.test.ts), hence of each other; float64 IsoScore equal to 1e-13;
 * - the kNN Gram pass equal to the float64 brute force on each (exact by construction);
 * - determinism: the covariance accumulator (both kernels), partition isotropy and TwoNN bitwise
 *   the same with 1 and 2 threads;
 * - `measure` reports the implementation (`productsBackend`) and, when `auto` found no BLAS,
 *   why it fell back to wasm; and 'js' as its tfjs backend, since no tfjs runs.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { BlasProducts, chooseProducts, configureProducts, useProducts, WasmProducts, type Products } from '../src/backend/products/index.js';
import { openHiddenStates } from '../src/io/hidden-states.js';
import { CovarianceAccumulator } from '../src/metrics/covariance.js';
import { isoScore } from '../src/metrics/isoscore.js';
import { knn, knnBruteForce } from '../src/metrics/knn.js';
import { measure } from '../src/metrics/measure.js';
import { partitionIsotropy } from '../src/metrics/partition.js';
import { FLOAT32, FLOAT64 } from '../src/metrics/product-kernel.js';
import { twoNN } from '../src/metrics/twonn.js';
import { EXPECTED, fixturePath, gaussianMatrix } from './helpers/fixtures.js';

const created: Products[] = [];
after(() => {
  useProducts(undefined);
  for (const p of created) p.close();
});

/** The system BLAS `auto` finds, if one whose threads we drive loads here. */
function blasPath(): string | undefined {
  const choice = chooseProducts({ blas: 'auto', threads: 1 });
  choice.products.close();
  return choice.products instanceof BlasProducts && choice.products.threadsSet ? choice.products.path : undefined;
}

const path = blasPath();
const kinds: [string, (threads: number) => BlasProducts | WasmProducts][] = [
  ...(path ? [['blas', (threads: number) => new BlasProducts(path, threads)] as [string, (threads: number) => BlasProducts]] : []),
  ['wasm', (threads: number) => new WasmProducts({ threads })],
];

/** Install `kind` with `threads` threads, helpers started (hang guard 60 s). */
function install(make: (threads: number) => BlasProducts | WasmProducts, threads: number): Products {
  const p = make(threads);
  created.push(p);
  assert.ok(p.waitForThreads(60_000), 'the helper threads did not start');
  useProducts(p);
  return p;
}

/** A d = 768 cloud with decaying scales and a rogue dimension with a large mean. */
function cloud(): ReturnType<typeof gaussianMatrix> {
  const y = gaussianMatrix(3000, 768, 11, Array.from({ length: 768 }, (_, j) => 0.2 + 3 * Math.exp(-j / 40)));
  for (let i = 0; i < y.rows; i++) y.data[i * 768 + 77] += 8;
  return y;
}

describe('metrics on each products implementation', () => {
  const y = cloud();
  const float32: number[] = [], float64: number[] = [];
  for (const [name, make] of kinds) {
    test(`${name}: IsoScore float32 within 2e-9 of float64; kNN Gram pass = brute force`, async () => {
      install(make, 2);
      const exact = isoScore(y, FLOAT64).isoscore, fast = isoScore(y, FLOAT32).isoscore;
      assert.ok(Math.abs(fast - exact) <= 2e-9, `${fast} vs ${exact}`);
      float32.push(fast);
      float64.push(exact);
      const x = gaussianMatrix(1500, 64, 12);
      const gram = await knn(x, 5, { exact: false, blockSize: 256 });
      assert.equal(gram.method, 'gram');
      const brute = knnBruteForce(x, 5);
      assert.deepEqual(gram.indices, brute.indices);
      assert.deepEqual(gram.distances, brute.distances);
    });
  }
  test('the implementations agree: float32 IsoScore within 2e-9, float64 within 1e-13', { skip: kinds.length < 2 ? 'only one implementation here' : false }, () => {
    assert.equal(float32.length, kinds.length, 'every implementation ran');
    assert.ok(Math.abs(float32[0] - float32[1]) <= 2e-9, `${float32[0]} vs ${float32[1]}`);
    assert.ok(Math.abs(float64[0] - float64[1]) <= 1e-13, `${float64[0]} vs ${float64[1]}`);
  });
});

describe('determinism: the same numbers with 1 and 2 threads', () => {
  const y = cloud();
  const x = gaussianMatrix(2500, 96, 13);
  for (const [name, make] of kinds) {
    test(name, async () => {
      const results = [];
      for (const threads of [1, 2]) {
        install(make, threads);
        const c32 = new CovarianceAccumulator(768, FLOAT32).add(y);
        const c64 = new CovarianceAccumulator(768, FLOAT64).add(y);
        results.push({
          c32: c32.comoment, c64: c64.comoment,
          partition: partitionIsotropy(y, FLOAT32),
          twoNN: (await twoNN(x, { discardFraction: 0.1 })).id,
        });
      }
      const [one, two] = results;
      assert.ok(one.c64.every((v, i) => Object.is(v, two.c64[i])), 'float64 co-moment differs between 1 and 2 threads');
      assert.ok(one.c32.every((v, i) => Object.is(v, two.c32[i])), 'float32 co-moment differs between 1 and 2 threads');
      assert.ok(Object.is(one.partition, two.partition), `partition isotropy ${one.partition} vs ${two.partition}`);
      assert.ok(Object.is(one.twoNN, two.twoNN), `TwoNN ${one.twoNN} vs ${two.twoNN}`);
    });
  }
});

test('measure names the products implementation, with the note when auto fell back to wasm', async () => {
  configureProducts({ blas: 'auto', candidates: [], threads: 2 });
  const hs = await openHiddenStates(fixturePath('aniso_outliers_n2000_d50'));
  try {
    const r = await measure(hs, {
      metrics: new Set(['isoscore']), transform: { kind: 'none' }, zeta: 0.2, c0: { kind: 'self' }, batchRows: null,
      duplicates: 'keep', discardFraction: 0.1, mleK: 20, sample: 1000, seed: 0, twoNNSubsets: 0, rogueTop: 5,
      blockRows: 8192, nonFinite: 'error', products: 'auto',
    });
    assert.match(r.productsBackend, /^wasm (relaxed-simd|simd128), 2 threads \(no system BLAS found \(apt-get install libopenblas0/);
    assert.equal(r.backend, 'js', 'no tfjs ran');
    assert.ok(Math.abs((r.layers[0].isoscore as number) - EXPECTED.aniso_outliers_n2000_d50.isoscore.authors_2022.value) <= 1e-8);
  } finally {
    await hs.close();
    configureProducts({ blas: undefined, candidates: undefined, threads: undefined });
  }
});
