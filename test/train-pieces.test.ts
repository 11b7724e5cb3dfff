/**
 * Pieces of the training engine with known answers: AdamW and gradient clipping against
 * torch.optim.AdamW / clip_grad_norm_ (test/fixtures/training/adamw.json, made by
 * scripts/make-training-fixtures.py), the schedules against Hugging Face's formulas, and the GLUE
 * metrics against scikit-learn and SciPy (values computed once with Debian's python3-sklearn on
 * the arrays below; the script is in the comment of each).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW, clipGradNorm } from '../src/train/optimizer.js';
import { makeSchedule, warmupSteps } from '../src/train/schedule.js';
import { accuracy, averageRanks, f1, matthews, pearson, spearman } from '../src/train/task-metrics.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('AdamW', () => {
  const ref = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'training', 'adamw.json'), 'utf8'));
  const flat = (rows: number[][] | number[]) => Float64Array.from((rows as number[][]).flat());

  test('five steps with clipping, a decayed and an undecayed group, a falling lr: equal to torch (float64, 1e-13)', () => {
    const w = { name: 'w', value: flat(ref.w0), grad: new Float64Array(12), weightDecay: ref.weightDecay.w };
    const b = { name: 'b', value: flat(ref.b0), grad: new Float64Array(4), weightDecay: ref.weightDecay.b };
    const opt = new AdamW([w, b], { betas: ref.betas, eps: ref.eps });
    for (let s = 0; s < 5; s++) {
      w.grad.set(flat(ref.grads[s].w));
      b.grad.set(flat(ref.grads[s].b));
      close(clipGradNorm([w.grad, b.grad], ref.maxGradNorm), ref.grads[s].normBeforeClip, 1e-12, `norm at step ${s}`);
      opt.update(ref.lrs[s]);
      flat(ref.after[s].w).forEach((v, i) => close(w.value[i], v, 1e-13, `w[${i}] after step ${s + 1}`));
      flat(ref.after[s].b).forEach((v, i) => close(b.value[i], v, 1e-13, `b[${i}] after step ${s + 1}`));
    }
    assert.equal(opt.step, 5);
  });

  test('a saved state resumes to the same parameters as an uninterrupted run', () => {
    const run = (split: boolean) => {
      const p = { name: 'p', value: Float64Array.from([1, -2, 3]), grad: new Float64Array(3), weightDecay: 0.1 };
      let opt = new AdamW([p]);
      for (let s = 0; s < 6; s++) {
        if (split && s === 3) {
          const state = opt.exportState();
          const copy = { step: state.step, moments: new Map([...state.moments].map(([k, v]) => [k, { m: v.m.slice(), v: v.v.slice() }])) };
          opt = new AdamW([p]);
          opt.importState(copy);
        }
        p.grad.set([Math.sin(s), Math.cos(s), s / 3]);
        opt.update(0.01);
      }
      return p.value;
    };
    assert.deepEqual(run(true), run(false));
  });

  test('gradients under the limit are left alone', () => {
    const g = Float64Array.from([0.3, 0.4]), h = Float64Array.from([1.2]);
    close(clipGradNorm([g, h], 2), 1.3, 1e-15, 'joint norm');
    assert.deepEqual([g, h], [Float64Array.from([0.3, 0.4]), Float64Array.from([1.2])]);
    close(clipGradNorm([g, h], 0.65), 1.3, 1e-15, 'joint norm');
    close(g[1], 0.4 * 0.65 / (1.3 + 1e-6), 1e-15, 'scaled by maxNorm / (norm + 1e-6)');
  });
});

describe('schedules', () => {
  test('linear with warmup: up from 0, down to 0 at the last step (get_linear_schedule_with_warmup)', () => {
    const total = 10, warm = warmupSteps(0.25, total);
    assert.equal(warm, 3, '⌈0.25 × 10⌉');
    const s = makeSchedule('linear', 1e-3, total, warm);
    assert.deepEqual([0, 1, 2, 3, 4, 9, 10, 11].map((k) => +s.lrAt(k).toPrecision(12)), [0, 1e-3 / 3, 2e-3 / 3, 1e-3, 1e-3 * 6 / 7, 1e-3 / 7, 0, 0].map((v) => +v.toPrecision(12)));
  });

  test('linear without warmup starts at the base rate; constant stays there', () => {
    assert.equal(makeSchedule('linear', 2e-5, 100, 0).lrAt(0), 2e-5);
    assert.equal(makeSchedule('linear', 2e-5, 100, 0).lrAt(50), 1e-5);
    const c = makeSchedule('constant', 2e-5, 100, 4);
    assert.deepEqual([0, 2, 4, 99].map((k) => c.lrAt(k)), [0, 1e-5, 2e-5, 2e-5]);
  });
});

describe('GLUE metrics', () => {
  // numpy.random.default_rng(7): g = rng.integers(0, 2, 40); p = where(rng.random(40) < 0.7, g, 1 − g)
  const g = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1];
  const p = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1];

  test('accuracy, F1 and Matthews equal scikit-learn on a binary task', () => {
    assert.equal(accuracy(g, p), 0.8);
    close(f1(g, p), 0.8461538461538461, 1e-15, 'f1_score');
    close(matthews(g, p), 0.5790660241435861, 1e-15, 'matthews_corrcoef');
  });

  test('Matthews equals scikit-learn on three classes; 0 for a constant prediction', () => {
    const g3 = [1, 1, 1, 1, 1, 2, 2, 0, 1, 1, 1, 0, 0, 1, 2, 0, 1, 2, 2, 0, 0, 2, 0, 0, 1, 2, 0, 1, 1, 0];
    const p3 = [2, 1, 0, 1, 1, 2, 2, 0, 1, 1, 1, 0, 0, 1, 2, 0, 1, 2, 2, 0, 1, 2, 0, 0, 1, 0, 2, 1, 1, 2];
    close(matthews(g3, p3), 0.6990159847033325, 1e-15, 'matthews_corrcoef');
    assert.equal(matthews(g, g.map(() => 1)), 0);
    assert.equal(f1(g, g.map(() => 0)), 0);
  });

  test('Pearson and Spearman (ties averaged) equal SciPy', () => {
    const x = [0.1, 3.1, 4.0, 2.6, 3.6, 1.1, 1.0, 1.8, 0.9, 1.7, 4.7, 2.9, 1.7, 1.4, 4.8, 2.2, 4.9, 2.6, 2.6, 4.5, 3.7, 2.9, 2.1, 4.4, 2.1];
    const y = [-1, 2, 5, 2, 5, 1, 0, 1, 0, 2, 4, 3, 0, 1, 6, 2, 4, 3, 4, 3, 3, 2, 0, 5, 2];
    close(pearson(x, y), 0.8729369428179231, 1e-14, 'pearsonr');
    close(spearman(x, y), 0.8787180205378017, 1e-14, 'spearmanr');
    assert.deepEqual(Array.from(averageRanks([10, 20, 10, 30])), [1.5, 3, 1.5, 4]);
  });
});
