/**
 * The differentiable IsoScore⋆ (tfjs, float32) against the exact float64 value and central finite
 * differences of it. Tolerance: tfjs computes in float32, so values agree to ~1e-6 and gradient
 * entries to ~1e-4 of the largest entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { getTf } from '../src/backend/tf.js';
import { isoScoreStar, isoScoreStarTf } from '../src/metrics/isoscore-star.js';
import { accumulate } from '../src/metrics/covariance.js';
import { gaussianMatrix } from './helpers/fixtures.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../src/io/safetensors.js';

const TRAINING = join(import.meta.dirname, 'fixtures', 'training');

for (const c0Kind of ['matrix', 'identity'] as const) {
  test(`analytic gradient matches finite differences (C0 ${c0Kind}, ζ = 0.3)`, async () => {
    const { tf } = await getTf();
    const n = 12, d = 5, zeta = 0.3;
    const x = gaussianMatrix(n, d, 21, [3, 2, 1, 0.5, 0.2]);
    const c0 = c0Kind === 'identity' ? 'identity' as const : accumulate(gaussianMatrix(200, d, 8, [1, 2, 1, 1, 3])).covariance(1);
    const f = (data: Float64Array) => isoScoreStar({ data, rows: n, cols: d }, { c0, zeta });

    const star = isoScoreStarTf(tf, c0 === 'identity' ? null : tf.tensor2d(Float32Array.from(c0), [d, d]), zeta);
    const xt = tf.tensor2d(Float32Array.from(x.data), [n, d]);
    const value = star(xt).dataSync()[0];
    const grad = tf.grad((t) => star(t as Tensor2D))(xt).dataSync();
    assert.ok(Math.abs(value - f(x.data)) <= 1e-6, `value ${value} vs ${f(x.data)}`);

    const h = 1e-6, numeric = new Float64Array(n * d);
    for (let i = 0; i < numeric.length; i++) {
      const plus = Float64Array.from(x.data), minus = Float64Array.from(x.data);
      plus[i] += h; minus[i] -= h;
      numeric[i] = (f(plus) - f(minus)) / (2 * h);
    }
    const scale = Math.max(...numeric.map(Math.abs));
    assert.ok(scale > 1e-3, 'the gradient is not trivially zero');
    for (let i = 0; i < numeric.length; i++) {
      assert.ok(Math.abs(grad[i] - numeric[i]) <= 1e-4 * scale, `entry ${i}: ${grad[i]} vs ${numeric[i]}`);
    }
  });
}

test('raising IsoScore⋆ by gradient ascent makes the cloud more isotropic', async () => {
  const { tf } = await getTf();
  const n = 64, d = 4;
  const x0 = gaussianMatrix(n, d, 3, [4, 1, 0.5, 0.25]);
  const star = isoScoreStarTf(tf, null, 0);
  let x = tf.tensor2d(Float32Array.from(x0.data), [n, d]);
  const start = star(x).dataSync()[0];
  for (let step = 0; step < 50; step++) {
    const g = tf.grad((t) => star(t as Tensor2D))(x);
    const next = tf.add(x, tf.mul(g, 100)) as Tensor2D;
    x.dispose(); g.dispose();
    x = next;
  }
  const end = star(x).dataSync()[0];
  assert.ok(end > start + 0.3, `${start} -> ${end}`);
});

test('the I-STAR penalty gradient equals PyTorch autograd through the eigenvalues (tiny-bert-mlm cloud)', async () => {
  // test/fixtures/training (scripts/make-training-fixtures.py): 270 token states of layers 1..2,
  // C0, and d[λ(1 − IsoScore⋆)]/dX by torch autograd through eigvalsh in float64 (stored float32).
  // Tolerance: tfjs computes in float32 over a 128×128 Σ, so entries agree to ~1e-4 of the largest.
  const { tf } = await getTf();
  const meta = JSON.parse(readFileSync(join(TRAINING, 'tiny-bert-grads.json'), 'utf8'));
  const file = await openSafetensors(join(TRAINING, 'tiny-bert-grads.safetensors'));
  const [points, c0, expected] = await Promise.all(['istar.points', 'istar.c0', 'istar.penalty_grad'].map(async (n) => (await file.readTensor(n))));
  await file.close();
  const [n, d] = points.shape;
  const lambda = meta.lambda_istar as number;
  const star = isoScoreStarTf(tf, tf.tensor2d(Float32Array.from(c0.data), [d, d]), meta.zeta);
  const xt = tf.tensor2d(Float32Array.from(points.data), [n, d]);
  assert.ok(Math.abs(star(xt).dataSync()[0] - meta.values.istar.value) <= 1e-6);
  // d[λ(1 − ι)]/dX = −λ dι/dX
  const grad = tf.grad((t) => star(t as Tensor2D))(xt).dataSync().map((g) => -lambda * g);
  const scale = Math.max(...Array.from(expected.data, Math.abs));
  assert.ok(scale > 1e-4, 'the gradient is not trivially zero');
  let worst = 0;
  for (let i = 0; i < grad.length; i++) worst = Math.max(worst, Math.abs(grad[i] - expected.data[i]));
  assert.ok(worst <= 1e-4 * scale, `worst entry error ${worst} against the largest entry ${scale}`);
});
