/**
 * The regularizers' penalties and gradients on random clouds against central finite differences
 * of their float64 penalty (h = 1e-6, agreement to 1e-6 of the largest gradient entry), for
 * I-STAR with a C0 matrix and with the identity, CosReg, padding excluded and included; and
 * their bad inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IStar } from '../src/regularizers/istar.js';
import { CosReg } from '../src/regularizers/cosreg.js';
import type { Regularizer } from '../src/regularizers/regularizer.js';
import { Rng } from '../src/backend/rng.js';
import { accumulate } from '../src/metrics/covariance.js';
import { throwsUser } from './helpers/errors.js';

const B = 2, T = 4, H = 5, L = 2;
const mask = Int32Array.from([1, 1, 1, 0, 1, 1, 0, 0]);

function states(seed: number): Float32Array[] {
  const rng = new Rng(seed);
  // Anisotropic, offset states, like a transformer's.
  return Array.from({ length: L + 1 }, () => Float32Array.from({ length: B * T * H }, (_, i) => (rng.nextFloat() - 0.3) * (1 + (i % H))));
}

function check(reg: Regularizer, seed: number) {
  const s = states(seed);
  const p = reg.penalty(s, mask);
  const h = 1e-6;
  let scale = 0;
  for (const g of p.hiddenGrads) if (g) for (const v of g) scale = Math.max(scale, Math.abs(v));
  assert.ok(scale > 1e-4, 'a non-trivial gradient');
  const f = (x: Float32Array[]) => reg.penalty(x, mask).loss;
  for (let l = 0; l <= L; l++) {
    const g = p.hiddenGrads[l];
    assert.equal(g !== null, reg.layers.includes(l), `layer ${l} read`);
    if (!g) continue;
    // Float64 copies of the states keep the step exact (the penalty is float64 inside).
    for (let i = 0; i < g.length; i++) {
      const plus = s.map((x) => Float64Array.from(x)), minus = s.map((x) => Float64Array.from(x));
      plus[l][i] += h; minus[l][i] -= h;
      const fd = (f(plus as unknown as Float32Array[]) - f(minus as unknown as Float32Array[])) / (2 * h);
      assert.ok(Math.abs(fd - g[i]) <= 1e-6 * scale + 1e-9, `${reg.name} layer ${l} element ${i}: ${g[i]} vs finite differences ${fd}`);
    }
  }
  return p;
}

test('I-STAR gradient matches finite differences (C0 matrix; C0 identity; padding included)', () => {
  const c0 = accumulate({ data: Float64Array.from(states(9)[1]), rows: B * T, cols: H }).covariance(1);
  const p = check(new IStar({ lambda: -5, zeta: 0.2, c0, layers: L }), 1);
  assert.equal(p.points, L * 5);
  check(new IStar({ lambda: 0.7, zeta: 0.5, c0: 'identity', layers: L }), 2);
  assert.equal(check(new IStar({ lambda: 2, zeta: 0.2, c0, layers: L, includePadding: true }), 3).points, L * B * T);
});

test('CosReg gradient matches finite differences (last layer; two layers)', () => {
  const p = check(new CosReg({ lambda: 1, layers: [L] }), 4);
  assert.equal(p.points, 5);
  check(new CosReg({ lambda: -2, layers: [1, 2] }), 5);
});

test('CosReg value is the mean pairwise cosine of distinct points', () => {
  const s = states(6);
  const p = new CosReg({ lambda: 1, layers: [L] }).penalty(s, mask);
  const rows = [0, 1, 2, 4, 5].map((r) => Array.from(s[L].subarray(r * H, r * H + H)));
  let sum = 0, pairs = 0;
  for (let i = 0; i < rows.length; i++) for (let j = 0; j < rows.length; j++) {
    if (i === j) continue;
    const dot = rows[i].reduce((a, v, k) => a + v * rows[j][k], 0);
    const norm = (r: number[]) => Math.sqrt(r.reduce((a, v) => a + v * v, 0));
    sum += dot / (norm(rows[i]) * norm(rows[j]));
    pairs++;
  }
  // (S − N)/N² = (N(N − 1)/N²)·mean pairwise cosine.
  assert.ok(Math.abs(p.value - (sum / pairs) * (pairs / 25)) < 1e-12);
});

test('bad inputs: λ not finite, ζ outside [0, 1]', () => {
  throwsUser(() => new IStar({ lambda: NaN, zeta: 0.2, c0: 'identity', layers: 2 }), /--lambda must be a finite number/);
  throwsUser(() => new CosReg({ lambda: Infinity, layers: [2] }), /--lambda must be a finite number/);
  throwsUser(() => new IStar({ lambda: 1, zeta: 1.5, c0: 'identity', layers: 2 }), /zeta must be in \[0, 1\]/);
});
