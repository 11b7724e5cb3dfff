/** measure on hidden states in memory (hiddenStatesFromArrays) equals measure on the same data in a .npy. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/errors.js';
import { writeNpy } from '../src/io/npy.js';
import { hiddenStatesFromArrays, openHiddenStates, type HiddenStates } from '../src/io/hidden-states.js';
import { measure, METRICS, type MeasureOptions } from '../src/metrics/measure.js';
import { gaussianMatrix } from './helpers/fixtures.js';

const OPTIONS: MeasureOptions = {
  metrics: new Set(METRICS), transform: { kind: 'none' }, zeta: 0.2, c0: { kind: 'self' }, batchRows: 100,
  duplicates: 'drop', discardFraction: 0.1, mleK: 10, sample: 250, seed: 3, twoNNSubsets: 2, rogueTop: 3,
  blockRows: 64, nonFinite: 'error', products: 'float64',
};

async function measured(hs: HiddenStates, options: MeasureOptions = OPTIONS) {
  try {
    return await measure(hs, options);
  } finally {
    await hs.close();
  }
}

test('measure on states in memory equals measure on the same states written to .npy', async () => {
  const L = 3, N = 300, d = 12;
  // float32 data with an offset and unequal variances, so every metric has something to say.
  const all = new Float32Array(L * N * d);
  for (let l = 0; l < L; l++) {
    const m = gaussianMatrix(N, d, 40 + l, Array.from({ length: d }, (_, j) => 1 + j * (l + 1) / 4));
    for (let i = 0; i < N * d; i++) all[l * N * d + i] = m.data[i] + (i % d === 2 ? 5 : 0);
  }
  const dir = mkdtempSync(join(tmpdir(), 'repgeom-memory-'));
  try {
    writeNpy(join(dir, 'states.npy'), all, [L, N, d]);
    const fromFile = await measured(await openHiddenStates(join(dir, 'states.npy')));
    const layers = Array.from({ length: L }, (_, l) => ({ layer: l, name: `array[${l}]`, matrix: { data: all.slice(l * N * d, (l + 1) * N * d), rows: N, cols: d } }));
    const inMemory = await measured(await hiddenStatesFromArrays(layers));
    assert.equal(inMemory.layers.length, L);
    assert.ok(typeof inMemory.layers[0].isoscore === 'number' && typeof inMemory.layers[0].twoNN === 'object' && inMemory.layers[0].twoNN !== null);
    assert.deepEqual(inMemory, fromFile);
    // A subset of layers, and the states left as they were (blocks are copies).
    const before = layers[1].matrix.data.slice();
    const one = await measured(await hiddenStatesFromArrays(layers), { ...OPTIONS, layers: [1], transform: { kind: 'center' } });
    assert.deepEqual(one.layers.map((l) => l.layer), [1]);
    assert.deepEqual(layers[1].matrix.data, before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hiddenStatesFromArrays refuses bad layers with one line', async () => {
  const m = (rows: number, cols: number, n = rows * cols) => ({ data: new Float32Array(n), rows, cols });
  const refuses = async (layers: Parameters<typeof hiddenStatesFromArrays>[0], pattern: RegExp) =>
    assert.rejects(hiddenStatesFromArrays(layers, 'eval states'), (e: unknown) => e instanceof UserError && !e.message.includes('\n') && pattern.test(e.message));
  await refuses([{ layer: 0, matrix: m(3, 2) }, { layer: 0, matrix: m(3, 2) }], /^eval states: layer 0 is given twice/);
  await refuses([{ layer: 1.5, matrix: m(3, 2) }], /^eval states: layer number 1.5 is not a non-negative integer/);
  await refuses([{ layer: 2, matrix: m(3, 2, 5) }], /^eval states: layer 2 has 5 values for a 3 × 2 matrix/);
  await refuses([{ layer: 0, matrix: m(0, 4) }], /^eval states: layer 0 \(layer 0\) is empty \(0 × 4\)/);
  const hs = await hiddenStatesFromArrays([{ layer: 0, matrix: { data: Float32Array.from([1, 2, NaN, 4]), rows: 2, cols: 2 } }], 'eval states');
  await assert.rejects(measured(hs), /eval states: layer 0, row 1: NaN or Inf value/);
});
