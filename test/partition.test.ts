/**
 * Partition isotropy by construction (no parity with the authors' `partition_score` is possible:
 * it does not compute the formula, RESEARCH.md §3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionIsotropy } from '../src/metrics/partition.js';
import { gaussianMatrix, orthonormalRows, rotateScaleShift } from './helpers/fixtures.js';

/** Points ±s·e_1 and ±t·e_2: XᵀX = diag(2s², 2t²), Z(±e_1) = 2cosh s + 2, Z(±e_2) = 2cosh t + 2. */
function cross(s: number, t: number) {
  return { data: Float64Array.from([s, 0, -s, 0, 0, t, 0, -t]), rows: 4, cols: 2 };
}

test('I = Z(e_2)/Z(e_1) for a cross of two lengths', () => {
  const expected = (2 * Math.cosh(1) + 2) / (2 * Math.cosh(2) + 2);
  assert.ok(Math.abs(partitionIsotropy(cross(2, 1)) - expected) <= 1e-14);
});

test('log-sum-exp keeps norms of 1000 finite: I = e^(t − s) to first order', () => {
  // Z(e_1) = 2cosh(1000) + 2 ≈ e^1000, Z(e_2) ≈ e^999: I ≈ e^-1 (exp(1000) overflows in float64).
  const value = partitionIsotropy(cross(1000, 999));
  assert.ok(Math.abs(value - Math.exp(-1)) <= 1e-12, String(value));
});

test('sign matters: a cloud shifted along +u gives Z(u) ≠ Z(−u)', () => {
  // One-sided points along e_1: Z(e_1) = 3e, Z(−e_1) = 3/e; e_2 gives 3. I = (3/e)/(3e) = e^-2.
  const x = { data: Float64Array.from([1, 0, 1, 0, 1, 0]), rows: 3, cols: 2 };
  assert.ok(Math.abs(partitionIsotropy(x) - Math.exp(-2)) <= 1e-14);
});

test('invariant to rotation, in (0, 1]', () => {
  const x = gaussianMatrix(200, 8, 5, [1, 1, 1, 1, 0.5, 0.5, 0.2, 0.2]);
  const a = partitionIsotropy(x), b = partitionIsotropy(rotateScaleShift(x, orthonormalRows(8, 8, 2)));
  assert.ok(a > 0 && a <= 1);
  assert.ok(Math.abs(a - b) <= 1e-10, `${a} vs ${b}`);
});
