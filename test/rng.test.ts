import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/backend/rng.js';
import { normalGenerator } from '../src/models/init.js';
import { throwsUser } from './helpers/errors.js';

// Values computed with the generator as it was in src/metrics/sample.ts before it moved to
// src/backend/rng.ts: every seeded result in the project depends on these sequences.
test('Rng(seed) gives the same sequence as before the move', () => {
  const r = new Rng(42);
  assert.deepEqual([r.nextUint32(), r.nextUint32(), r.nextFloat(), r.nextInt(1000), r.nextInt(4294967296)], [2837322924, 544945897, 0.1117019639532224, 79, 113173290]);
  const r2 = new Rng(-7);
  assert.deepEqual([r2.nextUint32(), r2.nextFloat()], [909278299, 0.5337627078950967]);
  assert.equal(new Rng(2 ** 40 + 3).nextUint32(), 1837739972);
});

test('normal draws keep the sequences of model initialisation and subspace projections (fillNormal, permutation)', () => {
  const g = normalGenerator(5);
  assert.deepEqual([g(), g(), g()], [-1.3647401741275456, 0.30543257615581626, -1.6536309434958643]);
  const r = new Rng(5);
  assert.deepEqual([r.normal(), r.normal(), r.normal()], [-1.3647401741275456, 0.30543257615581626, -1.6536309434958643]);
  const v = new Float64Array(5);
  new Rng(9).fillNormal(v);
  assert.deepEqual(Array.from(v), [0.23931393828651493, -0.8133052121167454, -1.7131312427022154, -1.415235168172097, 1.7619977771793665]);
  assert.deepEqual(Array.from(new Rng(3).permutation(10)), [6, 0, 8, 9, 1, 4, 2, 3, 5, 7]);
});

test('normal() and fillNormal have mean 0 and variance 1 within 5σ', () => {
  const n = 200_000;
  const check = (x: Float64Array, what: string) => {
    let s = 0, s2 = 0, s4 = 0;
    for (const v of x) { s += v; s2 += v * v; s4 += v ** 4; }
    const mean = s / n, second = s2 / n;
    assert.ok(Math.abs(mean) < 5 / Math.sqrt(n), `${what} mean ${mean}`);
    // Var(x²) = E x⁴ − 1 = 2 for a standard normal.
    assert.ok(Math.abs(second - 1) < 5 * Math.sqrt(2 / n), `${what} second moment ${second}`);
    assert.ok(Math.abs(s4 / n - 3) < 0.1, `${what} fourth moment ${s4 / n}`);
  };
  const r = new Rng(11);
  check(Float64Array.from({ length: n }, () => r.normal()), 'normal()');
  const y = new Float64Array(n);
  new Rng(12).fillNormal(y);
  check(y, 'fillNormal');
});

test('permutation is a permutation, and every position is uniform-ish', () => {
  const rng = new Rng(1);
  assert.deepEqual(Array.from(rng.permutation(0)), []);
  assert.deepEqual(Array.from(rng.permutation(1)), [0]);
  const p = rng.permutation(1000);
  assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  // Where element 0 lands among 5 places over 50,000 shuffles: each count ~ Binomial(50000, 1/5).
  const trials = 50_000, counts = new Array(5).fill(0);
  for (let t = 0; t < trials; t++) counts[rng.permutation(5).indexOf(0)]++;
  const sd = Math.sqrt(trials * 0.2 * 0.8);
  for (const c of counts) assert.ok(Math.abs(c - trials / 5) < 5 * sd, `counts ${counts}`);
  throwsUser(() => rng.permutation(-1), /permutation: n must be/);
  throwsUser(() => rng.permutation(2.5), /permutation: n must be/);
});

test('a saved state continues the same sequence, through JSON', () => {
  const a = new Rng(77);
  for (let i = 0; i < 13; i++) a.nextUint32();
  a.normal();
  const saved = JSON.parse(JSON.stringify(a.state()));
  for (const k of ['s0', 's1', 's2', 's3']) assert.ok(saved[k] >= 0 && saved[k] < 2 ** 32);
  const b = Rng.fromState(saved);
  const fromA = [a.nextUint32(), a.nextFloat(), a.normal(), a.nextInt(97), ...a.permutation(6)];
  const fromB = [b.nextUint32(), b.nextFloat(), b.normal(), b.nextInt(97), ...b.permutation(6)];
  assert.deepEqual(fromB, fromA);
  throwsUser(() => Rng.fromState({ s0: 0, s1: 0, s2: 0, s3: 0 }), /Rng state must be/);
  throwsUser(() => Rng.fromState({ s0: 1.5, s1: 0, s2: 0, s3: 0 }), /Rng state must be/);
  throwsUser(() => Rng.fromState(JSON.parse('{"s0":1}')), /Rng state must be/);
});
