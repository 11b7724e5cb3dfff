/**
 * Known answers for the subspace math layer (src/subspace): the Walsh–Hadamard transform
 * against the Sylvester matrix, Fastfood against its explicit matrix product, the adjoint
 * identity of every projection mode, column norms, determinism, the public code's quirks, Li et
 * al.'s toy and the random-constraints d90 (RESEARCH.md §5), and the d90 decision rules.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fwht, fwhtF64, fwhtJs, fwhtWasm, nextPowerOfTwo } from '../src/subspace/hadamard.js';
import { Fastfood, useFastfoodEngine } from '../src/subspace/fastfood.js';
import { memoryState } from '../src/subspace/kernel.js';
import { createProjection, type ProjectionMode, type SubspaceProjection, type TensorSpec } from '../src/subspace/projection.js';
import { SaidProjection } from '../src/subspace/said.js';
import { ThreadedFastfood, dealByCost } from '../src/subspace/threaded.js';
import { leastSquares } from '../src/subspace/least-squares.js';
import { bootstrapD90, decideD90, isotonicIncreasing, nextSearchProbe, scoreCurve, type Probe, type SearchOptions } from '../src/subspace/d90.js';
import { fillSigns, streamRng, streamSeed } from '../src/subspace/random.js';
import { Rng } from '../src/backend/rng.js';
import { throwsUser } from './helpers/errors.js';
import { column, dot, linearToyScore, subspaceScore } from './helpers/linear-toy.js';

const popcount = (x: number) => { let c = 0; for (; x; x &= x - 1) c++; return c; };
const sylvester = (i: number, j: number) => (popcount(i & j) % 2 ? -1 : 1);

function randomVector(n: number, seed: number): Float64Array {
  const v = new Float64Array(n);
  new Rng(seed).fillNormal(v);
  return v;
}

describe('random draws', () => {
  test('permutations are uniform (all 24 of 4 elements, 24,000 draws: counts within 5σ of 1000) and valid at larger n', () => {
    const rng = new Rng(3);
    const counts = new Map<string, number>();
    for (let t = 0; t < 24000; t++) { const k = rng.permutation(4).join(''); counts.set(k, (counts.get(k) ?? 0) + 1); }
    assert.equal(counts.size, 24);
    const sigma = Math.sqrt(24000 * (1 / 24) * (23 / 24));
    for (const [k, c] of counts) assert.ok(Math.abs(c - 1000) < 5 * sigma, `${k}: ${c}`);
    const p = rng.permutation(100003);
    assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 100003 }, (_, i) => i));
  });

  test('signs are ±1 and balanced; normals have mean 0 and variance 1 (200,000 draws, within 5σ)', () => {
    const s = new Int8Array(200001);
    fillSigns(new Rng(1), s);
    let sum = 0;
    for (const v of s) { assert.ok(v === 1 || v === -1); sum += v; }
    assert.ok(Math.abs(sum) < 5 * Math.sqrt(200001), `sum of signs ${sum}`);
    const g = new Float64Array(200001);
    new Rng(2).fillNormal(g);
    const mean = g.reduce((a, v) => a + v, 0) / g.length;
    const variance = g.reduce((a, v) => a + (v - mean) ** 2, 0) / g.length;
    assert.ok(Math.abs(mean) < 5 / Math.sqrt(g.length), `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 5 * Math.sqrt(2 / g.length), `variance ${variance}`);
  });

  test('stream seeds differ for nearby (seed, index) pairs', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 50; seed++) for (let i = 0; i < 50; i++) seen.add(streamSeed(seed, i));
    assert.equal(seen.size, 2500);
  });
});

describe('Walsh–Hadamard transform', () => {
  test('equals the Sylvester matrix product for L = 1 … 64 (float64, JS float32, wasm float32)', () => {
    for (let L = 1; L <= 64; L *= 2) {
      const rng = new Rng(L);
      // Small integers: every float32 sum is exact, so all three must match the matrix exactly.
      const x = Float64Array.from({ length: L }, () => rng.nextInt(21) - 10);
      const expected = Float64Array.from({ length: L }, (_, i) => { let s = 0; for (let j = 0; j < L; j++) s += sylvester(i, j) * x[j]; return s; });
      const f64 = Float64Array.from(x); fwhtF64(f64);
      const js = Float32Array.from(x); fwhtJs(js);
      const wasm = Float32Array.from(x); fwhtWasm(wasm);
      const auto = Float32Array.from(x); fwht(auto);
      assert.deepEqual([...f64], [...expected], `float64, L = ${L}`);
      assert.deepEqual([...js], [...expected], `JS float32, L = ${L}`);
      assert.deepEqual([...wasm], [...expected], `wasm float32, L = ${L}`);
      assert.deepEqual([...auto], [...expected], `fwht float32, L = ${L}`);
    }
  });

  test('H·H = L·I (float64, random vectors, L up to 2^12)', () => {
    for (const L of [2, 8, 256, 4096]) {
      const x = randomVector(L, 7);
      const y = Float64Array.from(x);
      fwhtF64(y); fwhtF64(y);
      for (let i = 0; i < L; i++) assert.ok(Math.abs(y[i] - L * x[i]) <= 1e-12 * L * (1 + Math.abs(x[i])), `L = ${L}, i = ${i}`);
    }
  });

  test('the JS loop and the wasm kernel give bitwise-equal float32 results (blocked, radix-4 and radix-2 tails)', () => {
    for (const k of [3, 10, 12, 13, 14, 15, 16, 17]) {
      const x = Float32Array.from(randomVector(2 ** k, k));
      const a = x.slice(), b = x.slice();
      fwhtJs(a); fwhtWasm(b);
      assert.deepEqual(a, b, `L = 2^${k}`);
      // And both are the float64 transform up to float32 rounding.
      const c = Float64Array.from(x); fwhtF64(c);
      let err = 0, norm = 0;
      for (let i = 0; i < c.length; i++) { err = Math.max(err, Math.abs(a[i] - c[i])); norm = Math.max(norm, Math.abs(c[i])); }
      assert.ok(err <= 1e-5 * norm, `L = 2^${k}: ${err} vs ${norm}`);
    }
  });

  test('a length that is not a power of two is refused', () => {
    throwsUser(() => fwht(new Float32Array(12)), /power of two, got 12/);
    throwsUser(() => fwht(new Float64Array(0)), /power of two, got 0/);
    assert.equal(nextPowerOfTwo(1), 1);
    assert.equal(nextPowerOfTwo(1025), 2048);
    assert.equal(nextPowerOfTwo(2 ** 24), 2 ** 24);
  });
});

/** The explicit float64 matrix scale · (H G Π H B)[0:D, 0:used] of a Fastfood. */
function explicitFastfood(f: Fastfood): Float64Array {
  const { L, rows: D, d, used } = f;
  const H = (i: number, j: number) => sylvester(i, j);
  // M = H · G · Π · H · B, entry (r, c) = Σ_i H[r,i] G[i] (ΠHB)[i,c], (ΠHB)[i,c] = H[π(i),c] B[c].
  const out = new Float64Array(D * d);
  const G = f.gaussian.slice(), perm = f.permutation.slice(), B = f.signs.slice();
  for (let r = 0; r < D; r++) {
    for (let c = 0; c < used; c++) {
      let s = 0;
      for (let i = 0; i < L; i++) s += H(r, i) * G[i] * H(perm[i], c) * B[c];
      out[r * d + c] = s * f.scale;
    }
  }
  return out;
}

describe('Fastfood', () => {
  const cases: [number, number, boolean][] = [[5, 3, false], [100, 7, false], [3, 20, false], [64, 64, false], [3, 20, true], [37, 70, true]];
  for (const [D, d, publicCodeSizing] of cases) {
    test(`equals its explicit matrix H G Π H B / (‖G‖√D) (D = ${D}, d = ${d}${publicCodeSizing ? ', public-code sizing' : ''})`, () => {
      const f = new Fastfood(D, d, 11, 3, { publicCodeSizing });
      assert.equal(f.L, nextPowerOfTwo(publicCodeSizing ? D : Math.max(D, d)));
      const m = explicitFastfood(f);
      let g2 = 0;
      for (const g of f.gaussian) g2 += g * g;
      assert.ok(Math.abs(f.scale - 1 / Math.sqrt(g2 * D)) < 1e-15 * f.scale);
      for (let c = 0; c < d; c++) {
        const e = new Float64Array(d); e[c] = 1;
        const col = f.project(e);
        for (let r = 0; r < D; r++) assert.ok(Math.abs(col[r] - m[r * d + c]) <= 1e-12, `(${r}, ${c}): ${col[r]} vs ${m[r * d + c]}`);
        // The adjoint of a unit vector is a row of the same matrix.
      }
      for (let r = 0; r < D; r++) {
        const e = new Float64Array(D); e[r] = 1;
        const row = f.adjoint(e);
        for (let c = 0; c < d; c++) assert.ok(Math.abs(row[c] - m[r * d + c]) <= 1e-12, `adjoint (${r}, ${c})`);
      }
    });
  }

  test('float32 path agrees with float64 to float32 rounding', () => {
    const f = new Fastfood(3000, 500, 5, 0);
    const theta = randomVector(500, 1);
    const y64 = f.project(theta);
    const y32 = f.project(Float32Array.from(theta));
    assert.ok(y32 instanceof Float32Array && y64 instanceof Float64Array);
    const norm = Math.sqrt(dot(y64, y64));
    let err = 0;
    for (let i = 0; i < y64.length; i++) err += (y32[i] - y64[i]) ** 2;
    assert.ok(Math.sqrt(err) <= 1e-5 * norm, `${Math.sqrt(err)} vs ${norm}`);
  });

  test('the wasm pipeline and the JS loops give bitwise-equal float32 results', () => {
    for (const [D, d] of [[1, 1], [2, 3], [3, 1], [700, 50], [5000, 300], [20, 9000]]) {
      const f = new Fastfood(D, d, 2, 1);
      const theta = Float32Array.from(randomVector(d, 3)), y = Float32Array.from(randomVector(D, 4));
      try {
        useFastfoodEngine('js');
        const pj = f.project(theta), gj = f.adjoint(y);
        useFastfoodEngine('wasm');
        const pw = f.project(theta), gw = f.adjoint(y);
        assert.deepEqual(pw, pj, `project D = ${D}, d = ${d}`);
        assert.deepEqual(gw, gj, `adjoint D = ${D}, d = ${d}`);
      } finally {
        useFastfoodEngine('wasm');
      }
    }
  });

  test('dispose() gives the kernel memory back; a disposed Fastfood is refused', () => {
    const before = memoryState().top;
    const fs = [100, 5000, 70].map((D, i) => new Fastfood(D, 10, 0, i));
    assert.ok(memoryState().top > before);
    fs[1].dispose(); fs[0].dispose(); fs[2].dispose();
    assert.equal(memoryState().top, before);
    throwsUser(() => fs[0].project(new Float64Array(10)), /used after dispose/);
  });

  test('deterministic from (seed, stream); other seeds or streams differ', () => {
    const theta = randomVector(40, 2);
    const a = new Fastfood(300, 40, 9, 4).project(theta);
    assert.deepEqual(new Fastfood(300, 40, 9, 4).project(theta), a);
    assert.notDeepEqual(new Fastfood(300, 40, 10, 4).project(theta), a);
    assert.notDeepEqual(new Fastfood(300, 40, 9, 5).project(theta), a);
  });

  test('public-code sizing crops θ_d to its first L coordinates; the default lets every coordinate reach the tensor', () => {
    const D = 6, d = 20; // L = 8 from D alone: coordinates 8..19 never reach the tensor
    const quirk = new Fastfood(D, d, 1, 0, { publicCodeSizing: true });
    const exact = new Fastfood(D, d, 1, 0);
    assert.equal(quirk.L, 8);
    assert.equal(quirk.used, 8);
    assert.equal(exact.L, 32);
    assert.equal(exact.used, 20);
    const y = randomVector(D, 3);
    const gq = quirk.adjoint(y), ge = exact.adjoint(y);
    for (let c = 8; c < d; c++) assert.equal(gq[c], 0, `cropped coordinate ${c}`);
    for (let c = 0; c < d; c++) assert.notEqual(ge[c], 0, `coordinate ${c}`);
    const e = new Float64Array(d); e[15] = 1;
    assert.ok(quirk.project(e).every((v) => v === 0));
    assert.ok(exact.project(e).some((v) => v !== 0));
    assert.equal(quirk.describe().publicCodeSizing, true);
    assert.equal(quirk.describe().usedCoordinates, 8);
    assert.equal(exact.describe().publicCodeSizing, false);
  });

  test('gradientScaleOneOverL divides the adjoint (only) by L', () => {
    const plain = new Fastfood(200, 30, 4, 2);
    const quirk = new Fastfood(200, 30, 4, 2, { gradientScaleOneOverL: true });
    assert.equal(quirk.L, 256);
    const theta = randomVector(30, 1), y = randomVector(200, 2);
    assert.deepEqual(quirk.project(theta), plain.project(theta));
    const gp = plain.adjoint(y), gq = quirk.adjoint(y);
    for (let c = 0; c < 30; c++) assert.ok(Math.abs(gq[c] - gp[c] / 256) <= 1e-15 * Math.abs(gp[c]) + 1e-300);
    assert.equal(quirk.describe().gradientScaleOneOverL, true);
    assert.equal(plain.describe().gradientScaleOneOverL, false);
  });

  test('bad sizes are refused', () => {
    throwsUser(() => new Fastfood(0, 4, 0, 0), /tensor size must be a positive integer, got 0/);
    throwsUser(() => new Fastfood(10, 0, 0, 0), /d must be a positive integer, got 0/);
    throwsUser(() => new Fastfood(10, 4, 0, 0).project(new Float64Array(5)), /θ has 5 entries, expected d = 4/);
    throwsUser(() => new Fastfood(10, 4, 0, 0).adjoint(new Float64Array(9)), /gradient has 9 entries, expected 10/);
  });
});

const bertLike: TensorSpec[] = [
  { name: 'embeddings.word_embeddings.weight', size: 1200 },
  { name: 'embeddings.LayerNorm.weight', size: 16 },
  { name: 'encoder.layer.0.attention.self.query.weight', size: 256 },
  { name: 'encoder.layer.0.attention.self.query.bias', size: 16 },
  { name: 'classifier.weight', size: 32 },
  { name: 'classifier.bias', size: 2 },
];
const modes: ProjectionMode[] = ['fastfood', 'global-fastfood', 'dense'];

describe('projections over parameter tensors', () => {
  for (const mode of modes) {
    for (const quirks of [{}, { publicCodeSizing: true }]) {
      test(`adjoint identity ⟨Px, y⟩ = ⟨x, Pᵀy⟩ (${mode}${'publicCodeSizing' in quirks ? ', public-code sizing' : ''}, float64, 1e-12)`, () => {
        for (const d of [5, 40, 300]) {
          const p = createProjection(bertLike, d, { mode, seed: 3, ...quirks });
          const x = randomVector(d, d);
          const ys = bertLike.map((t, i) => randomVector(t.size, 100 + i));
          const px = p.project(x);
          const lhs = px.reduce((s, t, i) => s + dot(t, ys[i]), 0);
          const g = p.adjoint(ys);
          const rhs = dot(x, g);
          const scale = Math.sqrt(dot(x, x)) * Math.sqrt(dot(g, g)) + Math.abs(lhs);
          assert.ok(Math.abs(lhs - rhs) <= 1e-12 * scale, `d = ${d}: ${lhs} vs ${rhs}`);
        }
      });
    }
  }

  test('per-tensor Fastfood: columns have norm ≈ 1 within every tensor (D ≥ 1024, mean over 64 columns within 3%)', () => {
    const tensors = [{ name: 'a', size: 1024 }, { name: 'b', size: 3000 }, { name: 'c', size: 5000 }];
    const p = createProjection(tensors, 64, { seed: 1 });
    const sums = tensors.map(() => 0);
    for (let j = 0; j < 64; j++) {
      const e = new Float64Array(64); e[j] = 1;
      p.project(e).forEach((t, i) => { sums[i] += dot(t, t); });
    }
    sums.forEach((s, i) => assert.ok(Math.abs(s / 64 - 1) < 0.03, `${tensors[i].name}: mean squared column norm ${s / 64}`));
  });

  test('global Fastfood and global dense: columns have norm ≈ 1 over all parameters; dense per-tensor: within each tensor', () => {
    const tensors = [{ name: 'a', size: 1500 }, { name: 'b', size: 2500 }];
    for (const opts of [{ mode: 'global-fastfood' as const }, { mode: 'dense' as const }]) {
      const p = createProjection(tensors, 64, { ...opts, seed: 2 });
      let s = 0;
      for (let j = 0; j < 64; j++) { const c = column(p, j); s += dot(c, c); }
      assert.ok(Math.abs(s / 64 - 1) < 0.03, `${opts.mode}: ${s / 64}`);
    }
    const p = createProjection(tensors, 64, { mode: 'dense', denseColumnNorm: 'per-tensor', seed: 2 });
    const sums = [0, 0];
    for (let j = 0; j < 64; j++) { const e = new Float64Array(64); e[j] = 1; p.project(e).forEach((t, i) => { sums[i] += dot(t, t); }); }
    sums.forEach((s) => assert.ok(Math.abs(s / 64 - 1) < 0.03, `dense per-tensor: ${s / 64}`));
  });

  test('every mode is deterministic from the seed and changes with it', () => {
    for (const mode of modes) {
      const x = randomVector(12, 5);
      const a = createProjection(bertLike, 12, { mode, seed: 8 }).project(x);
      assert.deepEqual(createProjection(bertLike, 12, { mode, seed: 8 }).project(x), a, mode);
      assert.notDeepEqual(createProjection(bertLike, 12, { mode, seed: 9 }).project(x), a, mode);
    }
  });

  test('per-tensor Fastfood with the 1/L quirk scales each tensor\'s share of the gradient by its own 1/L', () => {
    const p = createProjection(bertLike, 40, { seed: 3 });
    const q = createProjection(bertLike, 40, { seed: 3, gradientScaleOneOverL: true });
    const ys = bertLike.map((t, i) => randomVector(t.size, i));
    const expected = new Float64Array(40);
    bertLike.forEach((t, i) => {
      const only = bertLike.map((u, k) => (k === i ? ys[i] : new Float64Array(u.size)));
      const g = p.adjoint(only);
      const L = nextPowerOfTwo(Math.max(t.size, 40));
      for (let c = 0; c < 40; c++) expected[c] += g[c] / L;
    });
    const got = q.adjoint(ys);
    for (let c = 0; c < 40; c++) assert.ok(Math.abs(got[c] - expected[c]) <= 1e-12 * (Math.abs(expected[c]) + 1e-3));
    assert.equal(q.describe().gradientScaleOneOverL, true);
  });

  test('float32 offsets and gradients in float32 agree with float64', () => {
    for (const mode of modes) {
      const p = createProjection(bertLike, 50, { mode, seed: 1 });
      const x = randomVector(50, 1);
      const a = p.project(x), b = p.project(Float32Array.from(x));
      assert.ok(b[0] instanceof Float32Array);
      a.forEach((t, i) => { for (let j = 0; j < t.length; j++) assert.ok(Math.abs(t[j] - b[i][j]) <= 1e-5 * (1 + Math.abs(t[j])), `${mode} ${i} ${j}`); });
    }
  });

  test('bad input: d ≤ 0, d beyond the parameter count, no tensors, wrong gradient shapes, a dense matrix too large', () => {
    const total = bertLike.reduce((s, t) => s + t.size, 0);
    for (const mode of modes) {
      throwsUser(() => createProjection(bertLike, 0, { mode }), /d must be a positive integer, got 0/);
      throwsUser(() => createProjection(bertLike, total + 1, { mode }), new RegExp(`d = ${total + 1} exceeds the ${total} trainable parameters`));
      throwsUser(() => createProjection([], 4, { mode }), /no parameter tensors selected/);
      throwsUser(() => createProjection(bertLike, 4, { mode }).adjoint([new Float64Array(3)]), /1 gradients, expected one per tensor \(6\)/);
      throwsUser(() => createProjection(bertLike, 4, { mode }).adjoint(bertLike.map((t) => new Float64Array(t.size + 1))), /gradient of embeddings\.word_embeddings\.weight has 1201 entries, expected 1200/);
    }
    throwsUser(() => createProjection(bertLike, 200, { mode: 'dense', memoryLimitBytes: 2 ** 20 }), /dense projection: d × D × 4 bytes = 200 × 1522 × 4 = 1\.2 MiB would not fit in the 1\.0 MiB of memory available; use --projection fastfood/);
    assert.equal(createProjection(bertLike, 100, { mode: 'dense', memoryLimitBytes: 2 ** 20 }).d, 100); // 0.6 MiB fits
  });
});

describe('per-tensor Fastfood on worker threads', () => {
  test('deals tensors by cost, largest first onto the least-loaded worker', () => {
    // 10 → A, 7 → B, 3 → B (10), 3 → A (13), 1 → B (11).
    assert.deepEqual(dealByCost([10, 1, 7, 3, 3], 2), [[0, 4], [1, 2, 3]]);
    assert.deepEqual(dealByCost([5, 5], 4), [[0], [1]]);
  });

  test('gives the single-threaded offsets exactly and its gradient to rounding (2 and 3 workers, with quirks)', async () => {
    for (const [threads, quirks] of [[2, {}], [3, { publicCodeSizing: true, gradientScaleOneOverL: true }]] as const) {
      const opts = { seed: 4, ...quirks };
      const single = createProjection(bertLike, 40, opts);
      const threaded = await ThreadedFastfood.create(bertLike, 40, { ...opts, threads });
      try {
        const theta = Float32Array.from(randomVector(40, 1));
        const expected = single.project(theta);
        const got = await threaded.project(theta);
        got.forEach((t, i) => assert.deepEqual(t, expected[i], `tensor ${i}`));
        const grads = bertLike.map((t, i) => Float32Array.from(randomVector(t.size, 50 + i)));
        const g1 = single.adjoint(grads), g2 = await threaded.adjoint(grads);
        for (let c = 0; c < 40; c++) assert.ok(Math.abs(g1[c] - g2[c]) <= 1e-12 * (1 + Math.abs(g1[c])), `coordinate ${c}: ${g1[c]} vs ${g2[c]}`);
        assert.equal(threaded.describe().threads, threads);
      } finally {
        threaded.close();
      }
    }
  });

  test('bad input is refused before any worker starts', async () => {
    await assert.rejects(ThreadedFastfood.create(bertLike, 0, { threads: 2 }), /d must be a positive integer, got 0/);
    await assert.rejects(ThreadedFastfood.create(bertLike, 4, { threads: 0 }), /--threads must be a positive integer, got 0/);
  });
});

describe('SAID', () => {
  test('d counts the m scalars; initial λ = 1 and θ = 0 give zero offsets', () => {
    const s = new SaidProjection(bertLike, 20, { seed: 1 });
    assert.equal(s.scalars, 6);
    assert.equal(s.inner.d, 14);
    const p0 = s.initial();
    assert.deepEqual([...p0.subarray(14)], [1, 1, 1, 1, 1, 1]);
    assert.ok(s.project(p0).every((t) => t.every((v) => v === 0)));
  });

  test('offsets are λᵢ Pᵢ θ; gradients Σ λᵢ Pᵢᵀ gᵢ and ⟨gᵢ, Pᵢθ⟩ match central differences (bilinear: exact to rounding)', () => {
    for (const mode of modes) {
      const s = new SaidProjection(bertLike, 30, { mode, seed: 2 });
      const params = randomVector(30, 4);
      const ys = bertLike.map((t, i) => randomVector(t.size, 40 + i));
      const f = (p: Float64Array) => s.project(p).reduce((acc, t, i) => acc + dot(t, ys[i]), 0);
      const raw = s.inner.project(params.subarray(0, 24));
      const off = s.project(params);
      off.forEach((t, i) => { for (let j = 0; j < t.length; j++) assert.ok(Math.abs(t[j] - params[24 + i] * raw[i][j]) <= 1e-15 * (1 + Math.abs(t[j]))); });
      const g = s.adjoint(ys, params);
      const fresh = new SaidProjection(bertLike, 30, { mode, seed: 2 }).adjoint(ys, params); // without the cache
      for (let k = 0; k < 30; k++) {
        const h = 1e-3;
        const up = Float64Array.from(params); up[k] += h;
        const down = Float64Array.from(params); down[k] -= h;
        const fd = (f(up) - f(down)) / (2 * h);
        assert.ok(Math.abs(fd - g[k]) <= 1e-8 * (1 + Math.abs(g[k])), `${mode}, coordinate ${k}: ${fd} vs ${g[k]}`);
        assert.ok(Math.abs(fresh[k] - g[k]) <= 1e-12 * (1 + Math.abs(g[k])));
      }
    }
  });

  test('the 1/L quirk scales θ\'s gradient, not λ\'s', () => {
    const a = new SaidProjection(bertLike, 30, { seed: 2 });
    const b = new SaidProjection(bertLike, 30, { seed: 2, gradientScaleOneOverL: true });
    const params = randomVector(30, 4);
    const ys = bertLike.map((t, i) => randomVector(t.size, i));
    const ga = a.adjoint(ys, params), gb = b.adjoint(ys, params);
    for (let k = 24; k < 30; k++) assert.equal(gb[k], ga[k]);
    assert.ok(Math.abs(gb[0]) < Math.abs(ga[0]) / 10);
  });

  test('d ≤ m is refused with the reason', () => {
    throwsUser(() => new SaidProjection(bertLike, 6), /SAID needs d > m = 6 \(one scalar per tensor counts in d\), got d = 6; use d ≥ 7/);
    throwsUser(() => new SaidProjection(bertLike, 3), /got d = 3/);
  });
});

describe('least squares', () => {
  test('solves a full-rank tall system and reports the residual', () => {
    // A = [[1,0],[1,1],[1,2],[1,3]], b = [1, 3, 5, 8]: normal equations [[4,6],[6,14]] x = [17, 37].
    const r = leastSquares(Float64Array.from([1, 0, 1, 1, 1, 2, 1, 3]), 4, 2, Float64Array.from([1, 3, 5, 8]));
    assert.equal(r.rank, 2);
    assert.ok(Math.abs(r.x[0] - 0.8) < 1e-12 && Math.abs(r.x[1] - 2.3) < 1e-12, `${r.x}`);
    // Residuals: 0.2, −0.1, −0.4, 0.3 → 0.3.
    assert.ok(Math.abs(r.residual - 0.3) < 1e-12, `${r.residual}`);
  });

  test('rank-deficient and wide systems: rank and residual', () => {
    const dup = leastSquares(Float64Array.from([1, 2, 2, 4, 3, 6]), 3, 2, Float64Array.from([1, 0, 0]));
    assert.equal(dup.rank, 1);
    // Projection of b on span{(1,2,3)}: residual = 1 − 1/14.
    assert.ok(Math.abs(dup.residual - 13 / 14) < 1e-12);
    const wide = leastSquares(Float64Array.from([1, 0, 1, 0, 1, 1]), 2, 3, Float64Array.from([2, 5]));
    assert.equal(wide.rank, 2);
    assert.ok(wide.residual < 1e-24);
    assert.ok(Math.abs(wide.x[0] + wide.x[2] - 2) < 1e-12 && Math.abs(wide.x[1] + wide.x[2] - 5) < 1e-12);
  });
});

describe('known answers of the intrinsic dimension (RESEARCH.md §5)', () => {
  const groups: TensorSpec[] = Array.from({ length: 10 }, (_, k) => ({ name: `group${k + 1}`, size: 100 }));
  // Group k sums to k: A is 10 × 1000 (row k sums group k), b = (1, …, 10).
  const A = new Float64Array(10 * 1000);
  for (let k = 0; k < 10; k++) for (let j = 0; j < 100; j++) A[k * 1000 + k * 100 + j] = 1;
  const b = Float64Array.from({ length: 10 }, (_, k) => k + 1);

  for (const mode of modes) {
    test(`Li et al.'s toy (1,000 parameters, 10 groups summing to 1..10) first reaches score 1 at d = 10 (${mode})`, () => {
      for (let d = 1; d <= 12; d++) {
        const score = subspaceScore(A, 10, b, createProjection(groups, d, { mode, seed: d }));
        if (d < 10) assert.ok(score < 1 - 1e-6, `d = ${d}: score ${score}`);
        else assert.ok(Math.abs(score - 1) < 1e-9, `d = ${d}: score ${score}`);
      }
    });
  }

  test('d90 of the expected curve min(d/n, 1) for n = 50: 46 under the strict rule, 45 under ≥', () => {
    const probes: Probe[] = Array.from({ length: 60 }, (_, i) => ({ d: i + 1, seed: 0, score: Math.min((i + 1) / 50, 1) }));
    assert.equal(decideD90(probes, { baseline: 1, chance: 0 }).d90, 46);
    assert.equal(decideD90(probes, { baseline: 1, chance: 0, rule: 'at-least' }).d90, 45);
  });

  test('n = 50 random linear constraints on 1,000 parameters, dense Gaussian projection, 10 seeds: d90 = 46 ± 1 (strict), 45 ± 1 (≥)', () => {
    const n = 50, D = 1000;
    const probes: Probe[] = [];
    for (let seed = 0; seed < 10; seed++) {
      for (let d = 40; d <= 52; d++) probes.push({ d, seed, score: linearToyScore(n, D, seed, d) });
    }
    const curve = scoreCurve(probes);
    for (const p of curve) assert.ok(Math.abs(p.mean - p.d / n) < 0.05, `d = ${p.d}: mean score ${p.mean}, expected ≈ ${p.d / n}`);
    const strict = decideD90(probes, { baseline: 1, chance: 0 }).d90!;
    const atLeast = decideD90(probes, { baseline: 1, chance: 0, rule: 'at-least' }).d90!;
    assert.ok(Math.abs(strict - 46) <= 1, `strict d90 ${strict}`);
    assert.ok(Math.abs(atLeast - 45) <= 1, `≥ d90 ${atLeast}`);
    assert.ok(atLeast <= strict);
  });
});

describe('d90 decision', () => {
  test('isotonic regression (pool adjacent violators): known answers', () => {
    assert.deepEqual(isotonicIncreasing([1, 3, 2, 4]), [1, 2.5, 2.5, 4]);
    assert.deepEqual(isotonicIncreasing([3, 2, 1]), [2, 2, 2]);
    assert.deepEqual(isotonicIncreasing([1, 2, 3]), [1, 2, 3]);
    assert.deepEqual(isotonicIncreasing([5, 1, 1, 6, 2]), [7 / 3, 7 / 3, 7 / 3, 4, 4]);
    // Weighted: (4·3 + 1·1)/5 = 2.6.
    assert.deepEqual(isotonicIncreasing([3, 1, 4], [4, 1, 1]), [2.6, 2.6, 4]);
    assert.deepEqual(isotonicIncreasing([]), []);
  });

  test('smoothing stops a lucky probe from setting d90', () => {
    // d = 100 is lucky (0.95 > 0.9), d = 200 falls back: smoothed both 0.875; d = 400 reaches.
    const probes: Probe[] = [
      { d: 50, seed: 0, score: 0.5 }, { d: 100, seed: 0, score: 0.95 }, { d: 200, seed: 0, score: 0.8 }, { d: 400, seed: 0, score: 0.93 },
    ];
    const r = decideD90(probes, { baseline: 1, chance: 0.5 });
    assert.equal(r.d90, 400);
    assert.deepEqual(r.curve.map((p) => p.smoothed), [0.5, 0.875, 0.875, 0.93]);
    assert.equal(r.threshold, 0.9);
  });

  test('mean over seeds per d, then strict versus ≥ at a tie', () => {
    const probes: Probe[] = [
      { d: 10, seed: 0, score: 0.25 }, { d: 10, seed: 1, score: 0.75 },
      { d: 20, seed: 0, score: 0.5 }, { d: 20, seed: 1, score: 1 },
      { d: 40, seed: 0, score: 1 }, { d: 40, seed: 1, score: 1 },
    ];
    // Threshold 0.75 × 1 = 0.75, exactly the mean at d = 20 (all values exact in binary).
    assert.deepEqual(scoreCurve(probes).map((p) => [p.d, p.seeds, p.mean]), [[10, 2, 0.5], [20, 2, 0.75], [40, 2, 1]]);
    assert.equal(decideD90(probes, { baseline: 1, chance: 0, fraction: 0.75 }).d90, 40);
    assert.equal(decideD90(probes, { baseline: 1, chance: 0, fraction: 0.75, rule: 'at-least' }).d90, 20);
  });

  test('a threshold at or below chance gives null with the reason, even when every probe is above it', () => {
    const probes: Probe[] = [{ d: 10, seed: 0, score: 0.82 }, { d: 20, seed: 0, score: 0.83 }];
    const r = decideD90(probes, { baseline: 0.9, chance: 0.81 });
    assert.equal(r.d90, null);
    assert.match(r.reason!, /threshold 0\.9 × baseline = 0\.81 is at or below chance \(0\.81\)/);
    assert.equal(bootstrapD90(probes, { baseline: 0.9, chance: 0.81 }).interval, null);
  });

  test('no probed d reaching the threshold gives null with the reason', () => {
    const r = decideD90([{ d: 10, seed: 0, score: 0.5 }, { d: 1000, seed: 0, score: 0.7 }], { baseline: 0.9, chance: 0.5 });
    assert.equal(r.d90, null);
    assert.match(r.reason!, /no probed d reaches the threshold 0\.81: the largest, d = 1000, scores 0\.7/);
  });

  test('bootstrap: seeded, deterministic; identical seeds give a point interval; spread seeds a range around d90', () => {
    const same: Probe[] = [10, 20, 40].flatMap((d) => [0, 1, 2].map((seed) => ({ d, seed, score: d >= 20 ? 0.95 : 0.5 })));
    assert.deepEqual(bootstrapD90(same, { baseline: 1, chance: 0 }).interval, [20, 20]);
    // At d = 20 one seed of three reaches: the resamples that draw it 2–3 times reach at 20, the rest at 40.
    const spread: Probe[] = [
      ...[0.5, 0.5, 0.5].map((score, seed) => ({ d: 10, seed, score })),
      ...[0.95, 0.85, 0.86].map((score, seed) => ({ d: 20, seed, score })),
      ...[0.95, 0.96, 0.97].map((score, seed) => ({ d: 40, seed, score })),
    ];
    const a = bootstrapD90(spread, { baseline: 1, chance: 0, seed: 5 });
    assert.deepEqual(bootstrapD90(spread, { baseline: 1, chance: 0, seed: 5 }), a);
    assert.deepEqual(a.interval, [20, 40]);
    assert.equal(a.unreached, 0);
    const never = bootstrapD90([{ d: 10, seed: 0, score: 0.1 }, { d: 10, seed: 1, score: 0.95 }], { baseline: 1, chance: 0, seed: 1 });
    assert.ok(never.unreached > 0 && never.unreached < 100, `${never.unreached}`);
    assert.deepEqual(never.interval, [10, null]);
  });

  /** Run the search against a score function; the probed ds in order. */
  function search(score: (d: number) => number, options: SearchOptions): { order: number[]; d90: number | null } {
    const probes: Probe[] = [];
    const order: number[] = [];
    for (let d = nextSearchProbe(probes, options); d !== null; d = nextSearchProbe(probes, options)) {
      assert.ok(!order.includes(d) && order.length < 100, `d = ${d} probed twice`);
      order.push(d);
      probes.push({ d, seed: 0, score: score(d) });
    }
    return { order, d90: decideD90(probes, options).d90 };
  }

  test('search: bracketing over powers of two, then bisection in log d, finds 46 (strict) and 45 (≥) on min(d/50, 1)', () => {
    const f = (d: number) => Math.min(d / 50, 1);
    const strict = search(f, { baseline: 1, chance: 0, minDim: 1, maxDim: 1000 });
    assert.deepEqual(strict.order, [1, 2, 4, 8, 16, 32, 64, 45, 54, 49, 47, 46]);
    assert.equal(strict.d90, 46);
    const atLeast = search(f, { baseline: 1, chance: 0, minDim: 1, maxDim: 1000, rule: 'at-least' });
    assert.equal(atLeast.d90, 45);
    assert.deepEqual(atLeast.order.slice(0, 8), [1, 2, 4, 8, 16, 32, 64, 45]);
    // A 10 % tolerance in d stops early: hi/lo ≤ 1.1.
    const coarse = search(f, { baseline: 1, chance: 0, minDim: 1, maxDim: 1000, tolerance: 0.1 });
    assert.deepEqual(coarse.order, [1, 2, 4, 8, 16, 32, 64, 45, 54, 49]);
    assert.equal(coarse.d90, 49);
  });

  test('search: SAID starts above m; maxDim is probed last; nothing reaches → null; chance → nothing to probe', () => {
    const said = search((d) => (d >= 300 ? 1 : 0), { baseline: 1, chance: 0, minDim: 202, maxDim: 5000 });
    assert.deepEqual(said.order.slice(0, 2), [202, 256]);
    assert.equal(said.d90, 300);
    const never = search(() => 0.5, { baseline: 1, chance: 0, minDim: 10, maxDim: 100 });
    assert.deepEqual(never.order, [10, 16, 32, 64, 100]);
    assert.equal(never.d90, null);
    assert.equal(nextSearchProbe([], { baseline: 0.85, chance: 0.8, minDim: 1, maxDim: 100 }), null);
    const first = search(() => 1, { baseline: 1, chance: 0, minDim: 7, maxDim: 100 });
    assert.deepEqual(first.order, [7]);
    throwsUser(() => nextSearchProbe([], { baseline: 1, chance: 0, minDim: 10, maxDim: 5 }), /min d \(10\) ≤ max d \(5\)/);
  });

  test('a non-finite score is refused', () => {
    throwsUser(() => decideD90([{ d: 10, seed: 3, score: NaN }], { baseline: 1, chance: 0 }), /probe d = 10, seed 3: score NaN is not a finite number/);
  });
});
