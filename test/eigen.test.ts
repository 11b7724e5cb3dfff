import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EigenvalueDecomposition, Matrix as MlMatrix } from 'ml-matrix';
import { Rng } from '../src/backend/rng.js';
import { symmetricEigen, topEigenvectors } from '../src/metrics/eigen.js';

/** Seeded Gaussian numbers, so every matrix here is reproducible. */
function gaussian(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.normal();
}

/** A random orthogonal n×n matrix: modified Gram–Schmidt, twice, on Gaussian columns. */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const g = gaussian(seed);
  const cols: Float64Array[] = [];
  for (let k = 0; k < n; k++) {
    const v = Float64Array.from({ length: n }, g);
    for (let pass = 0; pass < 2; pass++) {
      for (const c of cols) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += c[i] * v[i];
        for (let i = 0; i < n; i++) v[i] -= dot * c[i];
      }
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) v[i] /= norm;
    cols.push(v);
  }
  const q = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) q[i * n + k] = cols[k][i];
  return q;
}

/** Q·diag(λ)·Qᵀ, symmetrised exactly. */
function withSpectrum(lambda: number[], seed: number): Float64Array {
  const n = lambda.length, q = randomOrthogonal(n, seed), a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * lambda[k] * q[j * n + k];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}

function frobenius(a: Float64Array): number {
  let s = 0;
  for (const x of a) s += x * x;
  return Math.sqrt(s);
}

/** max over k of ‖A·v_k − λ_k·v_k‖∞ and max |VᵀV − I|. */
function residuals(a: Float64Array, n: number, values: Float64Array, vectors: Float64Array): { eig: number; orth: number } {
  let eig = 0, orth = 0;
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * vectors[j * n + k];
      eig = Math.max(eig, Math.abs(s - values[k] * vectors[i * n + k]));
    }
    for (let l = 0; l <= k; l++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += vectors[i * n + k] * vectors[i * n + l];
      orth = Math.max(orth, Math.abs(s - (k === l ? 1 : 0)));
    }
  }
  return { eig, orth };
}

function checkDecomposition(a: Float64Array, n: number, expected?: number[]): void {
  const input = Float64Array.from(a);
  const { values, vectors } = symmetricEigen(a, n, { vectors: true });
  const valuesOnly = symmetricEigen(a, n).values;
  assert.deepEqual(a, input, 'input untouched');
  const scale = Math.max(frobenius(a), Number.MIN_VALUE);
  for (let k = 1; k < n; k++) assert.ok(values[k] <= values[k - 1], 'descending');
  for (let k = 0; k < n; k++) assert.ok(Math.abs(values[k] - valuesOnly[k]) <= 1e-12 * scale, 'same values with and without vectors');
  if (expected) {
    const sorted = [...expected].sort((x, y) => y - x);
    for (let k = 0; k < n; k++) assert.ok(Math.abs(values[k] - sorted[k]) <= 1e-12 * scale, `λ${k}: ${values[k]} vs ${sorted[k]}`);
  }
  const r = residuals(a, n, values, vectors);
  assert.ok(r.eig <= 1e-10 * scale, `‖Av − λv‖ = ${r.eig}`);
  assert.ok(r.orth <= 1e-10, `‖VᵀV − I‖ = ${r.orth}`);
}

test('n = 0 and n = 1', () => {
  assert.deepEqual(symmetricEigen(new Float64Array(0), 0, { vectors: true }), { values: new Float64Array(0), vectors: new Float64Array(0) });
  const one = symmetricEigen(Float64Array.of(-3.5), 1, { vectors: true });
  assert.deepEqual([...one.values], [-3.5]);
  assert.deepEqual([...one.vectors], [1]);
});

test('diagonal matrix: values sorted, vectors are the unit axes', () => {
  const diag = [2, -1, 7, 0, 7, 3];
  const n = diag.length, a = new Float64Array(n * n);
  diag.forEach((v, i) => { a[i * n + i] = v; });
  const { values, vectors } = symmetricEigen(a, n, { vectors: true });
  assert.deepEqual([...values], [7, 7, 3, 2, 0, -1]);
  for (let k = 0; k < n; k++) {
    let nonzero = 0;
    for (let i = 0; i < n; i++) {
      if (vectors[i * n + k] !== 0) {
        nonzero++;
        assert.equal(Math.abs(vectors[i * n + k]), 1);
        assert.equal(diag[i], values[k]);
      }
    }
    assert.equal(nonzero, 1);
  }
});

test('2×2 and 3×3 with closed-form spectra', () => {
  // [[2, 1], [1, 2]]: 3 and 1.
  checkDecomposition(Float64Array.of(2, 1, 1, 2), 2, [3, 1]);
  // Tridiagonal [[2, −1, 0], [−1, 2, −1], [0, −1, 2]]: 2 + √2, 2, 2 − √2.
  checkDecomposition(Float64Array.of(2, -1, 0, -1, 2, -1, 0, -1, 2), 3, [2 + Math.SQRT2, 2, 2 - Math.SQRT2]);
  checkDecomposition(withSpectrum([5, -2, 0.5], 3), 3, [5, -2, 0.5]);
});

test('QΛQᵀ with repeated and zero eigenvalues, n = 200', () => {
  const lambda = Array.from({ length: 200 }, (_, i) => (i < 20 ? 0 : i < 60 ? 3 : i < 61 ? 100 : (i - 60) / 7 - 5));
  checkDecomposition(withSpectrum(lambda, 7), 200, lambda);
});

test('a rank-deficient PSD matrix (covariance-like, 5 non-zero eigenvalues of 50)', () => {
  const lambda = Array.from({ length: 50 }, (_, i) => (i < 5 ? 10 / (i + 1) : 0));
  checkDecomposition(withSpectrum(lambda, 11), 50, lambda);
});

test('the zero matrix', () => {
  const { values, vectors } = symmetricEigen(new Float64Array(16), 4, { vectors: true });
  assert.deepEqual([...values], [0, 0, 0, 0]);
  assert.equal(residuals(new Float64Array(16), 4, values, vectors).orth, 0);
});

test('only the lower triangle is read', () => {
  const a = withSpectrum([4, 3, 2, 1], 3), lower = Float64Array.from(a);
  for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) lower[i * 4 + j] = NaN;
  assert.deepEqual(symmetricEigen(lower, 4).values, symmetricEigen(a, 4).values);
});

test('agrees with ml-matrix on a random 100×100 symmetric matrix', () => {
  const n = 100, g = gaussian(5), a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = g();
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  const rows = Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n)));
  const reference = new EigenvalueDecomposition(new MlMatrix(rows), { assumeSymmetric: true }).realEigenvalues.sort((x, y) => y - x);
  const { values } = symmetricEigen(a, n);
  const scale = frobenius(a);
  for (let k = 0; k < n; k++) assert.ok(Math.abs(values[k] - reference[k]) <= 1e-12 * scale, `λ${k}: ${values[k]} vs ${reference[k]}`);
  checkDecomposition(a, n);
});

test('topEigenvectors is the leading slice of the full solve', () => {
  const n = 30, lambda = Array.from({ length: n }, (_, i) => n - i), a = withSpectrum(lambda, 2);
  const full = symmetricEigen(a, n, { vectors: true });
  const top = topEigenvectors(a, n, 4);
  assert.deepEqual([...top.values], [...full.values.slice(0, 4)]);
  for (let i = 0; i < n; i++) for (let k = 0; k < 4; k++) assert.equal(top.vectors[i * 4 + k], full.vectors[i * n + k]);
  assert.throws(() => topEigenvectors(a, n, n + 1), RangeError);
});

test('rejects a wrong length and non-finite entries', () => {
  assert.throws(() => symmetricEigen(new Float64Array(5), 2), RangeError);
  assert.throws(() => symmetricEigen(Float64Array.of(1, 0, Infinity, 1), 2), RangeError);
});
