/**
 * The training kernels (src/backend/train-kernels.ts, kernels/train.c) against plain float64
 * references written here: each forward on random inputs with odd sizes (H not a multiple of 4,
 * T = 1, masked positions), each backward against the float64 analytic gradient, which is itself
 * checked against central finite differences of the float64 forward. Tolerances: float32 kernels
 * within 1e-5 relative per element, with a floor of 1e-5 × the largest |reference| (sums of
 * rounded float32 terms); GELU within 1e-6 relative + 2e-7 absolute (the erf form: 2e-6, from
 * Eigen's float32 erf; its derivative 5e-7).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/backend/rng.js';
import * as K from '../src/backend/train-kernels.js';
import { throwsUser } from './helpers/errors.js';

// ------------------------------------------------------------------ helpers

/** Uniform numbers in [lo, hi) from the project's seeded generator. */
function uniform(seed: number): (lo?: number, hi?: number) => number {
  const rng = new Rng(seed);
  return (lo = -1, hi = 1) => lo + (hi - lo) * rng.nextFloat();
}

const randomArray = (n: number, seed: number, lo = -1, hi = 1) => {
  const u = uniform(seed);
  return Float32Array.from({ length: n }, () => u(lo, hi));
};

/** Every |a − e| ≤ rel·|e| + floor·max|e| (floor defaults to rel). */
function near(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string, floor = rel, abs = 0): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const tol = rel * Math.abs(expected[i]) + floor * scale + abs;
    if (!(err <= tol) && (worst < 0 || err - tol > worstExcess)) {
      worst = i;
      worstExcess = err - tol;
    }
  }
  assert.ok(worst < 0, worst < 0 ? '' : `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (scale ${scale})`);
}

const bitwiseEqual = (a: Float32Array, b: Float32Array, what: string) =>
  assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${what}: not bitwise equal`);

/** Central differences of a scalar function of x (float64), step h. */
function finiteDifferences(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-6): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + h;
    const up = f(x);
    x[i] = v - h;
    const down = f(x);
    x[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

const dotW = (y: ArrayLike<number>, w: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
};

/** erf in float64: Taylor series below 3, the continued fraction of erfc above. */
function erf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let term = ax, sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let frac = ax;
    for (let n = 80; n >= 1; n--) frac = ax + n / 2 / frac;
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / frac;
  }
  return x < 0 ? -r : r;
}

// ------------------------------------------------------------------ float64 references

function layerNormRef(x: ArrayLike<number>, res: ArrayLike<number> | null, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number) {
  const H = gamma.length, rows = x.length / H;
  const y = new Float64Array(x.length), mean = new Float64Array(rows), rstd = new Float64Array(rows), xhat = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < H; k++) s += x[r * H + k] + (res ? res[r * H + k] : 0);
    const m = s / H;
    let q = 0;
    for (let k = 0; k < H; k++) q += (x[r * H + k] + (res ? res[r * H + k] : 0) - m) ** 2;
    const rs = 1 / Math.sqrt(q / H + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let k = 0; k < H; k++) {
      xhat[r * H + k] = (x[r * H + k] + (res ? res[r * H + k] : 0) - m) * rs;
      y[r * H + k] = xhat[r * H + k] * gamma[k] + beta[k];
    }
  }
  return { y, mean, rstd, xhat };
}

function layerNormBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, res: ArrayLike<number> | null, gamma: ArrayLike<number>, eps: number) {
  const H = gamma.length, rows = x.length / H;
  const { xhat, rstd } = layerNormRef(x, res, gamma, new Float64Array(H), eps);
  const dx = new Float64Array(x.length), dg = new Float64Array(H), db = new Float64Array(H);
  for (let r = 0; r < rows; r++) {
    let mg = 0, mgx = 0;
    for (let k = 0; k < H; k++) {
      const g = dy[r * H + k] * gamma[k];
      mg += g / H;
      mgx += (g * xhat[r * H + k]) / H;
      dg[k] += dy[r * H + k] * xhat[r * H + k];
      db[k] += dy[r * H + k];
    }
    for (let k = 0; k < H; k++) dx[r * H + k] = rstd[r] * (dy[r * H + k] * gamma[k] - mg - xhat[r * H + k] * mgx);
  }
  return { dx, dg, db };
}

interface Shape {
  B: number;
  T: number;
  heads: number;
  d: number;
}

/** P = softmax(QKᵀ·scale + bias), O = (P ⊙ keepMask/keep)·V, float64. */
function attentionRef(qkv: ArrayLike<number>, bias: ArrayLike<number>, s: Shape, keepMask: Uint8Array | null, keep: number) {
  const { B, T, heads, d } = s, H = heads * d, scale = 1 / Math.sqrt(d);
  const P = new Float64Array(B * heads * T * T), O = new Float64Array(B * T * H);
  const at = (b: number, i: number, part: number, h: number, c: number) => qkv[(b * T + i) * 3 * H + part * H + h * d + c];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < T; i++) {
        const row = (((b * heads + h) * T + i) * T);
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          let dot = 0;
          for (let c = 0; c < d; c++) dot += at(b, i, 0, h, c) * at(b, j, 1, h, c);
          P[row + j] = dot * scale + bias[b * T + j];
          max = Math.max(max, P[row + j]);
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += P[row + j] = Math.exp(P[row + j] - max);
        for (let j = 0; j < T; j++) P[row + j] /= sum;
        for (let c = 0; c < d; c++) {
          let o = 0;
          for (let j = 0; j < T; j++) o += ((P[row + j] * (keepMask ? keepMask[row + j] : 1)) / keep) * at(b, j, 2, h, c);
          O[(b * T + i) * H + h * d + c] = o;
        }
      }
    }
  }
  return { P, O };
}

function attentionBackwardRef(dO: ArrayLike<number>, qkv: ArrayLike<number>, bias: ArrayLike<number>, s: Shape, keepMask: Uint8Array | null, keep: number) {
  const { B, T, heads, d } = s, H = heads * d, scale = 1 / Math.sqrt(d);
  const { P } = attentionRef(qkv, bias, s, keepMask, keep);
  const dq = new Float64Array(qkv.length);
  const idx = (b: number, i: number, part: number, h: number, c: number) => (b * T + i) * 3 * H + part * H + h * d + c;
  const m = (e: number) => (keepMask ? keepMask[e] : 1) / keep;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < T; i++) {
        const row = ((b * heads + h) * T + i) * T;
        const dP = new Float64Array(T);
        for (let j = 0; j < T; j++) {
          let g = 0;
          for (let c = 0; c < d; c++) {
            g += dO[(b * T + i) * H + h * d + c] * qkv[idx(b, j, 2, h, c)];
            dq[idx(b, j, 2, h, c)] += P[row + j] * m(row + j) * dO[(b * T + i) * H + h * d + c];
          }
          dP[j] = g * m(row + j);
        }
        let rd = 0;
        for (let j = 0; j < T; j++) rd += dP[j] * P[row + j];
        for (let j = 0; j < T; j++) {
          const dS = P[row + j] * (dP[j] - rd) * scale;
          for (let c = 0; c < d; c++) {
            dq[idx(b, i, 0, h, c)] += dS * qkv[idx(b, j, 1, h, c)];
            dq[idx(b, j, 1, h, c)] += dS * qkv[idx(b, i, 0, h, c)];
          }
        }
      }
    }
  }
  return dq;
}

function crossEntropyRef(logits: ArrayLike<number>, labels: Int32Array, C: number) {
  const N = labels.length;
  let count = 0;
  for (const y of labels) count += y === -100 ? 0 : 1;
  let loss = 0;
  const dl = new Float64Array(N * C);
  for (let r = 0; r < N; r++) {
    if (labels[r] === -100) continue;
    let max = -Infinity;
    for (let k = 0; k < C; k++) max = Math.max(max, logits[r * C + k]);
    let sum = 0;
    for (let k = 0; k < C; k++) sum += Math.exp(logits[r * C + k] - max);
    loss += Math.log(sum) + max - logits[r * C + labels[r]];
    for (let k = 0; k < C; k++) dl[r * C + k] = Math.exp(logits[r * C + k] - max) / sum / count;
    dl[r * C + labels[r]] -= 1 / count;
  }
  return { loss: loss / count, dl };
}

/** The documented dropout hash, in BigInt (independent of the C code). */
function dropoutBitsRef(seed: number, stream: number, step: number, i: bigint): number {
  const M = (1n << 64n) - 1n, G = 0x9e3779b97f4a7c15n;
  const mix = (z: bigint) => {
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    return z ^ (z >> 31n);
  };
  let k = mix(((BigInt(seed) << 32n) | BigInt(stream)) + G & M);
  k = mix((k + ((BigInt(step) + 1n) * G)) & M);
  const z = mix((k + ((i >> 1n) + 1n) * G) & M);
  return Number(i & 1n ? z >> 32n : z & 0xffffffffn);
}

// ------------------------------------------------------------------ tests

describe('references', () => {
  test('erf in float64 has known values', () => {
    near([erf(0.5), erf(1), erf(-2), erf(3), erf(4.5)], [0.5204998778130465, 0.8427007929497149, -0.9953222650189527, 0.9999779095030014, 0.9999999998033839], 1e-14, 'erf', 0);
  });

  test('LayerNorm backward reference equals finite differences', () => {
    const x = randomArray(10, 1, -2, 2), res = randomArray(10, 2), gamma = randomArray(5, 3, 0.5, 1.5), beta = randomArray(5, 4), w = randomArray(10, 5);
    const { dx } = layerNormBackwardRef(w, x, res, gamma, 1e-5);
    near(dx, finiteDifferences((v) => dotW(layerNormRef(v, res, gamma, beta, 1e-5).y, w), x), 1e-7, 'dx');
    const { dg, db } = layerNormBackwardRef(w, x, res, gamma, 1e-5);
    near(dg, finiteDifferences((g) => dotW(layerNormRef(x, res, g, beta, 1e-5).y, w), gamma), 1e-7, 'dgamma');
    near(db, finiteDifferences((b) => dotW(layerNormRef(x, res, gamma, b, 1e-5).y, w), beta), 1e-7, 'dbeta');
  });

  test('attention backward reference equals finite differences (dropout, a masked key)', () => {
    const s = { B: 2, T: 3, heads: 2, d: 3 };
    const qkv = randomArray(2 * 3 * 18, 6, -1.5, 1.5), dO = randomArray(2 * 3 * 6, 7);
    const bias = K.attentionMaskBias([1, 1, 1, 1, 1, 0]);
    const keepMask = K.dropoutMask(2 * 2 * 3 * 3, { p: 0.3, seed: 1, stream: 2, step: 3 });
    assert.ok(keepMask.includes(0) && keepMask.includes(1));
    const analytic = attentionBackwardRef(dO, qkv, bias, s, keepMask, 0.7);
    near(analytic, finiteDifferences((v) => dotW(attentionRef(v, bias, s, keepMask, 0.7).O, dO), qkv), 1e-7, 'dqkv');
  });

  test('cross-entropy reference equals finite differences', () => {
    const logits = randomArray(15, 8, -3, 3), labels = Int32Array.from([4, -100, 0]);
    const { dl } = crossEntropyRef(logits, labels, 5);
    near(dl, finiteDifferences((v) => crossEntropyRef(v, labels, 5).loss, logits), 1e-7, 'dlogits');
  });
});

describe('LayerNorm', () => {
  const eps = 1e-12;
  for (const [rows, H, withResidual] of [[7, 13, true], [1, 1, false], [5, 768, true], [3, 6, false]] as const) {
    test(`forward and backward, ${rows} rows of ${H}${withResidual ? ', with residual' : ''}`, () => {
      const n = rows * H;
      const x = randomArray(n, 10 + H, 2, 4), res = withResidual ? randomArray(n, 11) : null;
      const gamma = randomArray(H, 12, 0.5, 1.5), beta = randomArray(H, 13), dy = randomArray(n, 14);
      const y = new Float32Array(n), mean = new Float32Array(rows), rstd = new Float32Array(rows);
      K.layerNormForward(x, res, gamma, beta, y, mean, rstd, eps);
      const ref = layerNormRef(x, res, gamma, beta, eps);
      near(mean, ref.mean, 1e-6, 'mean', 0);
      near(y, ref.y, 1e-5, 'y');
      if (H > 1) near(rstd, ref.rstd, 1e-6, 'rstd', 0);

      const dx = new Float32Array(n).fill(0.25), dg = new Float32Array(H).fill(1), db = new Float32Array(H).fill(-1);
      K.layerNormBackward(dy, x, res, gamma, mean, rstd, dx, dg, db, true);
      const g = layerNormBackwardRef(dy, x, res, gamma, eps);
      near(dx, g.dx.map((v) => v + 0.25), 1e-5, 'dx (accumulated)');
      near(dg, g.dg.map((v) => v + 1), 1e-5, 'dgamma (accumulated)');
      near(db, g.db.map((v) => v - 1), 1e-5, 'dbeta (accumulated)');
      const dx2 = new Float32Array(n).fill(7);
      K.layerNormBackward(dy, x, res, gamma, mean, rstd, dx2, new Float32Array(H), new Float32Array(H));
      near(dx2, g.dx, 1e-5, 'dx (written)');
    });
  }
});

describe('GELU and tanh', () => {
  const xs = Float32Array.from([...randomArray(1001, 20, -10, 10), 0, -0, 1e-8, -1e-8, 20, -20, 100, -100]);
  const Phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
  const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  const c = Math.sqrt(2 / Math.PI);
  const refs = {
    gelu: { f: (x: number) => x * Phi(x), df: (x: number) => Phi(x) + x * phi(x), abs: 2e-6, dabs: 5e-7 },
    gelu_new: {
      f: (x: number) => 0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x ** 3))),
      df: (x: number) => {
        const t = Math.tanh(c * (x + 0.044715 * x ** 3));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
      },
      abs: 2e-7,
      dabs: 2e-7,
    },
  };
  for (const kind of ['gelu', 'gelu_new'] as const) {
    const r = refs[kind];
    test(`${kind}: the derivative reference equals finite differences`, () => {
      const pts = [-3.3, -1, -0.2, 0.1, 0.7, 2.5];
      near(pts.map(r.df), pts.map((x) => (r.f(x + 1e-6) - r.f(x - 1e-6)) / 2e-6), 1e-8, 'derivative', 0, 1e-9);
    });
    test(`${kind}: forward and backward against float64 (${xs.length} points in [−10, 10] and ±20, ±100)`, () => {
      const y = new Float32Array(xs.length);
      K.geluForward(xs, y, kind);
      near(y, Array.from(xs, r.f), 1e-6, 'gelu', 0, r.abs);
      const dy = randomArray(xs.length, 21), dx = new Float32Array(xs.length);
      K.geluBackward(dy, xs, dx, kind);
      near(dx, Array.from(xs, (x, i) => dy[i] * r.df(x)), 1e-6, 'gelu backward', 0, r.dabs);
    });
  }

  test('tanh forward and backward: relative accuracy near 0 and exact ±1 far out', () => {
    const x = Float32Array.from([...randomArray(999, 22, -6, 6), 1e-3, -1e-5, 3e-30, 0.2499, 0.25, 0.2501, 30, -30, 1e4]);
    const y = new Float32Array(x.length);
    K.tanhForward(x, y);
    near(y, Array.from(x, Math.tanh), 1e-6, 'tanh', 0, 1e-7);
    near(y.subarray(999, 1005), Array.from(x.subarray(999, 1005), Math.tanh), 5e-7, 'tanh near 0 (relative)', 0);
    assert.deepEqual(Array.from(y.subarray(1005)), [1, -1, 1]);
    const dy = randomArray(x.length, 23), dx = new Float32Array(x.length);
    K.tanhBackward(dy, y, dx);
    near(dx, Array.from(y, (v, i) => dy[i] * (1 - v * v)), 1e-6, 'tanh backward', 0, 1e-7);
  });
});

describe('attention', () => {
  const cases: { s: Shape; p: number; masked: number[] }[] = [
    { s: { B: 2, T: 5, heads: 3, d: 6 }, p: 0.1, masked: [8, 9] },
    { s: { B: 1, T: 1, heads: 2, d: 4 }, p: 0, masked: [] },
    { s: { B: 3, T: 7, heads: 2, d: 5 }, p: 0, masked: [6, 13, 12] },
    { s: { B: 2, T: 9, heads: 2, d: 8 }, p: 0.25, masked: [17] },
    { s: { B: 1, T: 64, heads: 2, d: 64 }, p: 0.1, masked: [60, 61, 62, 63] },
  ];
  for (const { s, p, masked } of cases) {
    test(`B ${s.B}, T ${s.T}, ${s.heads} heads of ${s.d}, dropout ${p}, ${masked.length} masked: forward and backward against float64`, () => {
      const H = s.heads * s.d, rows = s.B * s.T;
      const qkv = randomArray(rows * 3 * H, 30 + s.T, -2, 2), dO = randomArray(rows * H, 31);
      const mask = new Array(rows).fill(1);
      for (const m of masked) mask[m] = 0;
      const bias = K.attentionMaskBias(mask);
      const drop = p > 0 ? { p, seed: 5, stream: 17, step: 3 } : null;
      const keepMask = drop ? K.dropoutMask(s.B * s.heads * s.T * s.T, drop) : null;
      const shape = { batch: s.B, seqLen: s.T, heads: s.heads, headSize: s.d };
      const out = new Float32Array(rows * H), probs = new Float32Array(s.B * s.heads * s.T * s.T);
      K.attentionForward(qkv, bias, out, probs, shape, drop);
      const ref = attentionRef(qkv, bias, s, keepMask, 1 - p);
      near(probs, ref.P, 1e-5, 'probs', 1e-6);
      near(out, ref.O, 1e-5, 'out');
      for (let b = 0; b < s.B; b++) {
        for (let j = 0; j < s.T; j++) {
          if (mask[b * s.T + j] === 0) for (let e = b * s.heads * s.T * s.T + j; e < (b + 1) * s.heads * s.T * s.T; e += s.T) assert.equal(probs[e], 0);
        }
      }
      const dqkv = new Float32Array(qkv.length).fill(NaN);
      K.attentionBackward(dO, qkv, probs, dqkv, shape, drop);
      near(dqkv, attentionBackwardRef(dO, qkv, bias, s, keepMask, 1 - p), 1e-5, 'dqkv');
    });
  }

  test('a batch split into two calls by sequence (firstSequence) gives the one call\'s results bitwise', () => {
    const B = 3, T = 7, heads = 2, d = 4, H = 8, rows = B * T;
    const qkv = randomArray(rows * 3 * H, 41), dO = randomArray(rows * H, 42), bias = K.attentionMaskBias(Array.from({ length: rows }, (_, i) => (i % 7 < 5 ? 1 : 0)));
    const drop = { p: 0.2, seed: 9, stream: 4, step: 11 };
    const whole = { out: new Float32Array(rows * H), probs: new Float32Array(B * heads * T * T), dqkv: new Float32Array(rows * 3 * H) };
    K.attentionForward(qkv, bias, whole.out, whole.probs, { batch: B, seqLen: T, heads, headSize: d }, drop);
    K.attentionBackward(dO, qkv, whole.probs, whole.dqkv, { batch: B, seqLen: T, heads, headSize: d }, drop);
    const split = { out: new Float32Array(rows * H), probs: new Float32Array(B * heads * T * T), dqkv: new Float32Array(rows * 3 * H) };
    for (const [b0, nb] of [[0, 1], [1, 2]]) {
      const shape = { batch: nb, seqLen: T, heads, headSize: d, firstSequence: b0 };
      const r = (a: Float32Array, per: number) => a.subarray(b0 * per, (b0 + nb) * per);
      K.attentionForward(r(qkv, T * 3 * H), r(bias, T), r(split.out, T * H), r(split.probs, heads * T * T), shape, drop);
      K.attentionBackward(r(dO, T * H), r(qkv, T * 3 * H), r(split.probs, heads * T * T), r(split.dqkv, T * 3 * H), shape, drop);
    }
    bitwiseEqual(split.out, whole.out, 'out');
    bitwiseEqual(split.probs, whole.probs, 'probs');
    bitwiseEqual(split.dqkv, whole.dqkv, 'dqkv');
  });

  test('the dropout of probabilities is the mask of their element indices (a different key changes the output)', () => {
    const shape = { batch: 2, seqLen: 6, heads: 2, headSize: 4 };
    const qkv = randomArray(12 * 24, 40), bias = new Float32Array(12);
    const a = new Float32Array(12 * 8), b = new Float32Array(12 * 8), probs = new Float32Array(2 * 2 * 36);
    K.attentionForward(qkv, bias, a, probs, shape, { p: 0.5, seed: 1, stream: 0, step: 0 });
    K.attentionForward(qkv, bias, b, probs, shape, { p: 0.5, seed: 1, stream: 0, step: 1 });
    assert.ok(a.some((v, i) => v !== b[i]));
  });
});

describe('cross-entropy and MSE', () => {
  test('C = 30522 (the MLM head), 6 rows of which 2 ignored, against float64', () => {
    const C = 30522, labels = Int32Array.from([17, -100, 30521, 0, -100, 12345]);
    const logits = randomArray(6 * C, 50, -8, 8);
    logits[3 * C] = 40; // a confident correct row
    const dl = new Float32Array(6 * C);
    const loss = K.crossEntropy(logits, labels, dl, C);
    const ref = crossEntropyRef(logits, labels, C);
    assert.ok(Math.abs(loss - ref.loss) <= 1e-6 * ref.loss, `loss ${loss} vs ${ref.loss}`);
    near(dl, ref.dl, 1e-5, 'dlogits');
    assert.ok(dl.subarray(C, 2 * C).every((v) => v === 0), 'ignored row has zero gradient');
  });

  test('large logits stay finite; gradScale scales the gradient; in place equals out of place bitwise', () => {
    const C = 7, labels = Int32Array.from([3, 6, 1]);
    const logits = randomArray(21, 51, 1e4, 1e4 + 20);
    const ref = crossEntropyRef(logits, labels, C);
    const dl = new Float32Array(21);
    const loss = K.crossEntropy(logits, labels, dl, C, 0.5);
    assert.ok(Math.abs(loss - ref.loss) <= 1e-5 * ref.loss + 1e-6, `loss ${loss} vs ${ref.loss}`);
    near(dl, ref.dl.map((v) => v * 0.5), 1e-5, 'dlogits');
    const m = K.mark();
    const inPlace = K.allocate(21);
    try {
      inPlace.data.set(logits);
      assert.equal(K.crossEntropy(inPlace, labels, inPlace, C, 0.5), loss);
      bitwiseEqual(inPlace.data, dl, 'in place');
    } finally {
      K.release(m);
    }
  });

  test('all rows ignored: NaN loss (as torch) and zero gradient; a label outside the head throws', () => {
    const dl = new Float32Array(6).fill(1);
    assert.ok(Number.isNaN(K.crossEntropy(randomArray(6, 52), Int32Array.from([-100, -100]), dl, 3)));
    assert.ok(dl.every((v) => v === 0));
    assert.throws(() => K.crossEntropy(randomArray(6, 52), Int32Array.from([1, 3]), dl, 3), /label 3 at row 1 is outside 0\.\.2/);
  });

  test('MSE: mean and gradient 2(p − t)/n', () => {
    const p = randomArray(9, 53, 0, 5), t = randomArray(9, 54, 0, 5), dp = new Float32Array(9);
    const loss = K.mse(p, t, dp, 2);
    let ref = 0;
    for (let i = 0; i < 9; i++) ref += (p[i] - t[i]) ** 2 / 9;
    assert.ok(Math.abs(loss - ref) <= 1e-12 * ref);
    near(dp, Array.from(p, (v, i) => (2 * 2 * (v - t[i])) / 9), 1e-7, 'dpred', 0);
  });
});

describe('dropout', () => {
  const key = { seed: 7, stream: 3, step: 12345 };

  test('the bits are the documented SplitMix64 hash (a BigInt reimplementation), at any start', () => {
    const bits = K.dropoutBits(9, key, 2 ** 33 + 1);
    for (let i = 0; i < 9; i++) assert.equal(bits[i], dropoutBitsRef(7, 3, 12345, BigInt(2 ** 33 + 1 + i)), `element ${i}`);
    const zero = K.dropoutBits(4, { seed: 0, stream: 0, step: 0 });
    for (let i = 0; i < 4; i++) assert.equal(zero[i], dropoutBitsRef(0, 0, 0, BigInt(i)));
    assert.deepEqual(K.dropoutBits(5, key, 101), K.dropoutBits(106, key).subarray(101));
  });

  test('keep fraction within 4σ of 1 − p over 1e6 elements; the same key gives the same mask, another key another', () => {
    const n = 1_000_000;
    for (const p of [0.1, 0.5]) {
      const mask = K.dropoutMask(n, { p, ...key });
      const kept = mask.reduce((s, v) => s + v, 0);
      const sigma = Math.sqrt(n * p * (1 - p));
      assert.ok(Math.abs(kept - n * (1 - p)) <= 4 * sigma, `p ${p}: kept ${kept} of ${n}`);
      assert.deepEqual(K.dropoutMask(n, { p, ...key }), mask);
      for (const other of [{ ...key, seed: 8 }, { ...key, stream: 4 }, { ...key, step: 12346 }]) {
        const m2 = K.dropoutMask(n, { p, ...other });
        let differ = 0;
        for (let i = 0; i < n; i++) differ += mask[i] ^ m2[i];
        // Independent masks differ at a fraction 2p(1 − p).
        const expect = 2 * p * (1 - p) * n;
        assert.ok(Math.abs(differ - expect) <= 4 * Math.sqrt(expect), `p ${p}, ${JSON.stringify(other)}: ${differ} differ`);
      }
    }
  });

  test('forward is x·mask/(1 − p) exactly; backward applies the same mask; an offset start continues the tensor', () => {
    const d = { p: 0.3, ...key };
    const x = randomArray(1003, 60), y = new Float32Array(1003);
    K.dropoutForward(x, y, d);
    const mask = K.dropoutMask(1003, d), scale = Math.fround(1 / 0.7);
    assert.ok(mask.includes(0) && mask.includes(1));
    for (let i = 0; i < 1003; i++) assert.ok(y[i] === (mask[i] ? Math.fround(x[i] * scale) : 0), `element ${i}`);
    const dy = randomArray(1003, 61), dx = new Float32Array(1003);
    K.dropoutBackward(dy, dx, d);
    for (let i = 0; i < 1003; i++) assert.ok(dx[i] === (mask[i] ? Math.fround(dy[i] * scale) : 0), `element ${i}`);
    const tail = new Float32Array(500);
    K.dropoutForward(x.subarray(503), tail, d, 503);
    assert.deepEqual(tail, y.subarray(503));
    const same = new Float32Array(1003);
    K.dropoutForward(x, same, { ...d, p: 0 });
    assert.deepEqual(same, x);
    assert.throws(() => K.dropoutForward(x, y, { ...d, p: 1 }), /dropout probability 1/);
  });
});

describe('embeddings and bias sums', () => {
  test('gather, and a scatter-add equal to float32 sums in id order (bitwise)', () => {
    const V = 11, H = 7, ids = Int32Array.from([3, 0, 3, 10, 3, 5, 0]);
    const table = randomArray(V * H, 70), out = new Float32Array(ids.length * H);
    K.embeddingForward(table, ids, out, H);
    for (let n = 0; n < ids.length; n++) assert.deepEqual(out.subarray(n * H, n * H + H), table.subarray(ids[n] * H, ids[n] * H + H));
    const more = out.slice();
    K.embeddingForward(table, ids, more, H, true);
    assert.deepEqual(more, out.map((v) => Math.fround(v + v)));

    const dOut = randomArray(ids.length * H, 71), dTable = randomArray(V * H, 72);
    const expected = dTable.slice();
    for (let n = 0; n < ids.length; n++) for (let k = 0; k < H; k++) expected[ids[n] * H + k] = Math.fround(expected[ids[n] * H + k] + dOut[n * H + k]);
    K.embeddingBackward(dOut, ids, dTable, H);
    bitwiseEqual(dTable, expected, 'dTable');
    assert.throws(() => K.embeddingBackward(dOut, Int32Array.from([0, 1, 2, 3, 4, 5, 11]), dTable, H), /id 11 at 6 is outside the table's 11 rows/);
  });

  test('column sum = db + Σ rows in float64, rounded once; bias add and add-into', () => {
    const rows = 33, H = 9, dy = randomArray(rows * H, 73), db = randomArray(H, 74);
    const expected = db.map((v, k) => {
      let s = 0;
      for (let r = 0; r < rows; r++) s += dy[r * H + k];
      return Math.fround(v + s);
    });
    K.columnSum(dy, db);
    bitwiseEqual(db, expected, 'db');
    const y = dy.slice();
    K.biasAdd(y, db);
    bitwiseEqual(y, dy.map((v, i) => Math.fround(v + db[i % H])), 'bias add');
    const z = dy.slice();
    K.addInto(z, y);
    bitwiseEqual(z, dy.map((v, i) => Math.fround(v + y[i])), 'add into');
  });
});

describe('memory and determinism', () => {
  test('kernel arrays pass without copies and give the bitwise results of copied arrays', () => {
    const m = K.mark();
    try {
      const rows = 6, H = 10, n = rows * H;
      const x = randomArray(n, 80), gamma = randomArray(H, 81), beta = randomArray(H, 82);
      const y1 = new Float32Array(n), mean1 = new Float32Array(rows), rstd1 = new Float32Array(rows);
      K.layerNormForward(x, null, gamma, beta, y1, mean1, rstd1, 1e-5);
      const [kx, kg, kb, ky, km, kr] = [n, H, H, n, rows, rows].map((len) => K.allocate(len));
      kx.data.set(x);
      kg.data.set(gamma);
      kb.data.set(beta);
      K.layerNormForward(kx, null, kg, kb, ky, km, kr.data, 1e-5);
      bitwiseEqual(ky.data, y1, 'y');
      bitwiseEqual(kr.data, rstd1, 'rstd');
      // A subarray is an array too.
      const half = new Float32Array(3 * H);
      K.geluForward(ky.subarray(3 * H), half, 'gelu');
      const whole = new Float32Array(n);
      K.geluForward(y1, whole, 'gelu');
      bitwiseEqual(half, whole.subarray(3 * H), 'subarray');
    } finally {
      K.release(m);
    }
  });

  test('growth re-makes .data, a detached view throws, a released array throws, sizes are checked', () => {
    const m = K.mark();
    try {
      const a = K.allocate(1000);
      a.data.fill(3);
      const stale = a.data;
      K.allocate(32 * 2 ** 20); // 128 MiB: the memory grows
      assert.equal(stale.length, 0);
      assert.equal(a.data[999], 3);
      const y = new Float32Array(1000);
      assert.throws(() => K.geluForward(stale, y, 'gelu'), /x is a view of detached memory/);
      K.release(m);
      assert.throws(() => a.data, /used after release/);
      assert.throws(() => K.geluBackward(a, new Float32Array(1000), y, 'gelu'), /used after release/);
      assert.throws(() => K.layerNormForward(new Float32Array(10), null, new Float32Array(4), new Float32Array(4), new Float32Array(10), new Float32Array(2), new Float32Array(2), 1e-5), /10 floats are not rows of 4/);
      assert.throws(() => K.geluBackward(new Float32Array(3), new Float32Array(4), new Float32Array(4), 'gelu'), /dOut has 3 elements, expected 4/);
    } finally {
      K.release(m);
    }
  });

  test('more than 4 GiB of memory is a one-line user error naming the size and the fix', () => {
    throwsUser(() => K.allocate(1.5 * 2 ** 30), /need 614\d\.\d MiB of memory, more than WebAssembly's 4096 MiB/, /--batch-size/);
  });

  test('repeated calls are bitwise identical (attention with dropout, LayerNorm backward, cross-entropy)', () => {
    const shape = { batch: 2, seqLen: 13, heads: 3, headSize: 8 }, rows = 26, H = 24;
    const qkv = randomArray(rows * 3 * H, 90), bias = K.attentionMaskBias(Array.from({ length: rows }, (_, i) => (i % 13 < 11 ? 1 : 0)));
    const dO = randomArray(rows * H, 91), d = { p: 0.1, seed: 1, stream: 2, step: 3 };
    const run = () => {
      const out = new Float32Array(rows * H), probs = new Float32Array(2 * 3 * 169), dqkv = new Float32Array(qkv.length);
      K.attentionForward(qkv, bias, out, probs, shape, d);
      K.attentionBackward(dO, qkv, probs, dqkv, shape, d);
      const mean = new Float32Array(rows), rstd = new Float32Array(rows), y = new Float32Array(rows * H);
      K.layerNormForward(out, dO, dO.subarray(0, H), dO.subarray(H, 2 * H), y, mean, rstd, 1e-12);
      const dx = new Float32Array(rows * H), dg = new Float32Array(H), db = new Float32Array(H);
      K.layerNormBackward(dqkv.subarray(0, rows * H), out, dO, dO.subarray(0, H), mean, rstd, dx, dg, db);
      const dl = new Float32Array(rows * H);
      const loss = K.crossEntropy(y, Int32Array.from({ length: rows }, (_, i) => (i * 7) % H), dl, H);
      return { arrays: [out, probs, dqkv, y, dx, dg, db, dl], loss };
    };
    const first = run(), second = run();
    first.arrays.forEach((a, i) => bitwiseEqual(a, second.arrays[i], `output ${i}`));
    assert.equal(first.loss, second.loss);
  });
});
