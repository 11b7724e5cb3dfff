/**
 * The products layer against a float64 reference: every transpose combination, awkward shapes
 * (1×1, k = 1, primes, sizes across the kernel's tiles, empty dimensions), α/β, for each
 * implementation this machine has (system BLAS when one loads, wasm SIMD128, wasm relaxed SIMD
 * when the runtime has it) and 1, 2 and 3 threads; products bitwise equal across thread counts;
 * bad REPGEOM_BLAS values as one-line user errors.
 *
 * Tolerance: the standard bound for a sum of k products, |ĉ − c| ≤ (k + 2)·eps·(|α|·Σ|a||b| +
 * |β·c|) per element, with eps of the working precision (2⁻²⁴ float32, 2⁻⁵³ float64).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  BlasProducts, BlasUnusable, WasmProducts, checkKnownProducts, chooseProducts, configureProducts,
  describeProducts, gemm, productsNote, relaxedSimdAvailable, useProducts, type Products,
} from '../src/backend/products/index.js';
import { Rng } from '../src/backend/rng.js';
import { throwsUser } from './helpers/errors.js';

const EPS32 = 2 ** -24, EPS64 = 2 ** -53;

// ---------------------------------------------------------------- implementations ----------

const created: Products[] = [];
const keep = <P extends Products>(p: P): P => (created.push(p), p);
after(() => created.forEach((p) => p.close()));

/** The library `auto` finds, if it is one whose threads we drive (OpenBLAS, MKL). */
function systemBlasPath(): string | undefined {
  const choice = chooseProducts({ blas: 'auto', threads: 1 });
  choice.products.close();
  return choice.products instanceof BlasProducts && choice.products.threadsSet ? choice.products.path : undefined;
}

/** Products whose helper threads are all up (hang guard: 60 s). */
function started<P extends WasmProducts | BlasProducts>(p: P): P {
  keep(p);
  assert.ok(p.waitForThreads(60_000), 'the helper threads did not start');
  return p;
}

const blasPath = systemBlasPath();
const variants = relaxedSimdAvailable() ? (['simd128', 'relaxed-simd'] as const) : (['simd128'] as const);
/** Every implementation here, as [name, factory for a thread count]. */
const kinds: [string, (threads: number) => WasmProducts | BlasProducts][] = [
  ...(blasPath ? [[`blas ${blasPath}`, (threads: number) => new BlasProducts(blasPath, threads)] as [string, (threads: number) => BlasProducts]] : []),
  ...variants.map((variant) => [`wasm ${variant}`, (threads: number) => new WasmProducts({ variant, threads })] as [string, (threads: number) => WasmProducts]),
];
const implementations: { name: string; make: () => Products }[] = [];
for (const [kind, make] of kinds) {
  for (const threads of [1, 2, 3]) {
    let p: Products | undefined;
    implementations.push({ name: `${kind}, ${threads} thread${threads > 1 ? 's' : ''}`, make: () => (p ??= started(make(threads))) });
  }
}

// ---------------------------------------------------------------- reference ----------------

function random(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.nextFloat() * 2 - 1);
}

/** α·op(A)·op(B) + β·C in float64, and the per-element error scale (|α|·Σ|a||b| + |β·c|). */
function reference(ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number,
                   a: ArrayLike<number>, b: ArrayLike<number>, beta: number, c: ArrayLike<number>) {
  const value = new Float64Array(m * n), scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, abs = 0;
      for (let p = 0; p < k; p++) {
        const x = (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
        s += x;
        abs += Math.abs(x);
      }
      const bc = beta === 0 ? 0 : beta * c[i * n + j];
      value[i * n + j] = alpha * s + bc;
      scale[i * n + j] = Math.abs(alpha) * abs + Math.abs(bc);
    }
  }
  return { value, scale };
}

function assertClose(got: ArrayLike<number>, ref: { value: Float64Array; scale: Float64Array }, k: number, eps: number, what: string): void {
  assert.equal(got.length >= ref.value.length, true);
  for (let i = 0; i < ref.value.length; i++) {
    const bound = (k + 2) * eps * ref.scale[i] + 1e-300;
    const err = Math.abs(got[i] - ref.value[i]);
    if (!(err <= bound)) assert.fail(`${what}: element ${i} is ${got[i]}, expected ${ref.value[i]} (error ${err} > ${bound})`);
  }
}

// Shapes: 1×1, k = 1, primes, sizes across the wasm kernel's float32 tiles (128×256, k blocks
// of 256) and float64 ones (64×128), across the BLAS path's blocks (512×1024; 384² for syrk),
// and empty dimensions.
const SHAPES: [number, number, number][] = [[1, 1, 1], [1, 5, 1], [6, 1, 4], [7, 11, 13], [130, 263, 300], [67, 131, 257], [520, 1030, 3], [3, 2, 0], [0, 4, 3], [4, 0, 3]];
const SCALARS: [number, number][] = [[1, 0], [0.7, 0.3], [-1.5, 1]];

interface GemmCase {
  ta: boolean; tb: boolean; m: number; n: number; k: number; alpha: number; beta: number;
  a: Float64Array; b: Float64Array; c: Float64Array; ref32: ReturnType<typeof reference>; ref64: ReturnType<typeof reference>;
}

const gemmCases: GemmCase[] = [];
{
  const rng = new Rng(7);
  for (const [m, n, k] of SHAPES) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const [alpha, beta] = SCALARS[gemmCases.length % SCALARS.length];
        const a = random(rng, m * k), b = random(rng, k * n), c = random(rng, m * n);
        const [a32, b32, c32] = [a, b, c].map((x) => Float64Array.from(Float32Array.from(x)));
        gemmCases.push({
          ta, tb, m, n, k, alpha, beta, a, b, c,
          ref32: reference(ta, tb, m, n, k, alpha, a32, b32, beta, c32),
          ref64: reference(ta, tb, m, n, k, alpha, a, b, beta, c),
        });
      }
    }
  }
}

interface SyrkCase { n: number; k: number; alpha: number; beta: number; a: Float64Array; c: Float64Array; ref32: ReturnType<typeof reference>; ref64: ReturnType<typeof reference> }

const syrkCases: SyrkCase[] = [];
{
  const rng = new Rng(11);
  for (const [n, k] of [[1, 1], [5, 1], [13, 7], [300, 270], [129, 513], [800, 3], [0, 3], [3, 0]] as const) {
    const [alpha, beta] = SCALARS[syrkCases.length % SCALARS.length];
    const a = random(rng, k * n);
    // β·C needs a symmetric C: only the upper triangle is computed and then mirrored.
    const c = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) c[i * n + j] = c[j * n + i] = Math.fround(rng.nextFloat());
    const a32 = Float64Array.from(Float32Array.from(a));
    syrkCases.push({
      n, k, alpha, beta, a, c,
      ref32: reference(true, false, n, n, k, alpha, a32, a32, beta, c),
      ref64: reference(true, false, n, n, k, alpha, a, a, beta, c),
    });
  }
}

const label = (x: { m?: number; n: number; k: number; ta?: boolean; tb?: boolean; alpha: number; beta: number }) =>
  `${x.m ?? x.n}×${x.n}×${x.k}${x.ta ? ' Aᵀ' : ''}${x.tb ? ' Bᵀ' : ''} α=${x.alpha} β=${x.beta}`;

// ---------------------------------------------------------------- accuracy ------------------

for (const impl of implementations) {
  describe(`products on ${impl.name}`, () => {
    test('gemm, every transpose combination and shape, within (k+2)·eps of float64', () => {
      const p = impl.make();
      for (const g of gemmCases) {
        const c = Float32Array.from(g.c);
        p.gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, Float32Array.from(g.a), Float32Array.from(g.b), g.beta, c);
        assertClose(c, g.ref32, g.k, EPS32, `gemm ${label(g)}`);
      }
    });

    test('dgemm, every transpose combination and shape, within (k+2)·eps of float64', () => {
      const p = impl.make();
      for (const g of gemmCases) {
        const c = Float64Array.from(g.c);
        p.dgemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a, g.b, g.beta, c);
        assertClose(c, g.ref64, g.k, EPS64, `dgemm ${label(g)}`);
      }
    });

    test('syrk and dsyrk: AᵀA, upper computed and mirrored (exactly symmetric)', () => {
      const p = impl.make();
      for (const s of syrkCases) {
        const c32 = Float32Array.from(s.c), c64 = Float64Array.from(s.c);
        p.syrk(s.n, s.k, s.alpha, Float32Array.from(s.a), s.beta, c32);
        p.dsyrk(s.n, s.k, s.alpha, s.a, s.beta, c64);
        assertClose(c32, s.ref32, s.k, EPS32, `syrk ${label(s)}`);
        assertClose(c64, s.ref64, s.k, EPS64, `dsyrk ${label(s)}`);
        for (let i = 0; i < s.n; i++) {
          for (let j = 0; j < i; j++) {
            assert.equal(c32[i * s.n + j], c32[j * s.n + i]);
            assert.equal(c64[i * s.n + j], c64[j * s.n + i]);
          }
        }
      }
    });

    test('β = 0 does not read C (NaN there does not propagate); α = 0 or k = 0 scales C by β', () => {
      const p = impl.make();
      const a = Float32Array.from([1, 2, 3, 4, 5, 6]), b = Float32Array.from([1, 0, 0, 1, 1, 1]);
      const c = new Float32Array(4).fill(NaN);
      p.gemm(false, false, 2, 2, 3, 1, a, b, 0, c);
      assert.deepEqual([...c], [4, 5, 10, 11]);
      const d = Float64Array.from([1, 2, 3, 4]);
      p.dgemm(false, false, 2, 2, 3, 0, Float64Array.from(a), Float64Array.from(b), 2, d);
      assert.deepEqual([...d], [2, 4, 6, 8]);
      p.dgemm(false, false, 2, 2, 0, 1, new Float64Array(0), new Float64Array(0), 0.5, d);
      assert.deepEqual([...d], [1, 2, 3, 4]);
      const s = new Float32Array(4).fill(NaN);
      p.syrk(2, 0, 1, new Float32Array(0), 0, s);
      assert.deepEqual([...s], [0, 0, 0, 0]);
    });

    test('passes the known-product check used to refuse a broken BLAS', () => {
      checkKnownProducts(impl.make());
    });
  });
}

// ---------------------------------------------------------------- determinism ---------------

describe('products do not depend on the number of threads', () => {
  const rng = new Rng(3);
  const [m, n, k] = [300, 530, 700];
  const a = Float32Array.from(random(rng, m * k)), b = Float32Array.from(random(rng, k * n));
  const a64 = Float64Array.from(a), b64 = Float64Array.from(b);
  // Large enough for several blocks of the BLAS path (512×1024 gemm, 384² syrk) too.
  const [m2, n2, k2] = [1100, 1500, 300];
  const a2 = Float32Array.from(random(rng, m2 * k2)), b2 = Float32Array.from(random(rng, k2 * n2));
  for (const [kind, make] of kinds) {
    test(`${kind}: gemm, dgemm, syrk and dsyrk bitwise equal on 1, 2 and 3 threads`, () => {
      const big = kind.startsWith('blas');
      const results = [1, 2, 3].map((threads) => {
        const p = started(make(threads));
        if (big) {
          const c = new Float32Array(m2 * n2), d = new Float64Array(m2 * n2), s = new Float32Array(n2 * n2), ds = new Float64Array(n2 * n2);
          p.gemm(true, true, m2, n2, k2, 1, Float32Array.from(a2), Float32Array.from(b2), 0, c);
          p.dgemm(false, false, m2, n2, k2, 1, Float64Array.from(a2), Float64Array.from(b2), 0, d);
          p.syrk(n2, k2, 1, b2, 0, s);
          p.dsyrk(n2, k2, 1, Float64Array.from(b2), 0, ds);
          if (threads > 1) assert.ok(p.helperTiles() > 0, 'the helper threads took no block');
          p.close();
          return [c, d, s, ds];
        }
        const c = new Float32Array(m * n), d = new Float64Array(m * n), s = new Float32Array(n * n), ds = new Float64Array(n * n);
        p.gemm(false, true, m, n, k, 1, a, Float32Array.from(b), 0, c);
        p.dgemm(true, false, m, n, k, 1, a64, b64, 0, d);
        p.syrk(n, k, 1, b, 0, s);
        p.dsyrk(n, k, 1, b64, 0, ds);
        if (threads > 1) assert.ok(p.helperTiles() > 0, 'the helper threads took no tile');
        p.close();
        return [c, d, s, ds];
      });
      for (const r of results.slice(1)) {
        r.forEach((x, i) => assert.ok(Buffer.from(x.buffer).equals(Buffer.from(results[0][i].buffer)), `result ${i} differs`));
      }
    });
  }

  test('operands larger than the wasm budget run in slices of k: same accuracy, same bits on any thread count', () => {
    // Room for C and 300 of the 700 values of k: slices of 256, 256 and 188.
    const small = { maxOperandBytes: 4 * (m * n) + 4 * (m + n) * 300 };
    const outs = [1, 3].map((threads) => {
      const p = started(new WasmProducts({ threads, ...small }));
      const c = new Float32Array(m * n);
      p.gemm(true, false, m, n, k, 1, Float32Array.from({ length: k * m }, (_, i) => a[(i % m) * k + Math.floor(i / m)]), b, 0, c);
      p.close();
      return c;
    });
    assert.ok(Buffer.from(outs[0].buffer).equals(Buffer.from(outs[1].buffer)));
    const ref = reference(false, false, m, n, k, 1, Float64Array.from(a), Float64Array.from(b), 0, new Float64Array(0));
    assertClose(outs[0], ref, k, EPS32, 'sliced gemm');
  });
});

// ---------------------------------------------------------------- errors and choice ---------

describe('choosing the products implementation', () => {
  test('REPGEOM_BLAS naming a file that does not load: one-line user error naming it', () => {
    throwsUser(() => chooseProducts({ blas: '/nonexistent/libopenblas.so.0' }), /REPGEOM_BLAS=\/nonexistent\/libopenblas\.so\.0/, /cannot be loaded/, /'auto' or 'wasm'/);
  });

  test('REPGEOM_BLAS naming a library without CBLAS functions: one-line user error', () => {
    throwsUser(() => chooseProducts({ blas: 'libm.so.6' }), /REPGEOM_BLAS=libm\.so\.6/, /no CBLAS functions/, /cblas_sgemm/);
  });

  test('the environment variable is read when no setting is given', () => {
    const saved = process.env.REPGEOM_BLAS;
    process.env.REPGEOM_BLAS = '/nonexistent/libcblas.so';
    try {
      configureProducts({ threads: 1 });
      throwsUser(() => describeProducts(), /REPGEOM_BLAS=\/nonexistent\/libcblas\.so/);
      process.env.REPGEOM_BLAS = 'wasm';
      assert.match(describeProducts(), /^wasm (relaxed-simd|simd128), 1 thread$/);
      assert.equal(productsNote(), undefined);
      const c = new Float32Array(1);
      gemm(false, false, 1, 1, 2, 1, Float32Array.from([2, 3]), Float32Array.from([4, 5]), 0, c);
      assert.equal(c[0], 23);
    } finally {
      if (saved === undefined) delete process.env.REPGEOM_BLAS;
      else process.env.REPGEOM_BLAS = saved;
      useProducts(undefined);
    }
  });

  test('threads must be a whole number ≥ 1', () => {
    throwsUser(() => chooseProducts({ blas: 'wasm', threads: 0 }), /threads must be a whole number ≥ 1 \(got 0\)/);
    throwsUser(() => new WasmProducts({ threads: 1.5 }), /threads must be a whole number ≥ 1 \(got 1\.5\)/);
  });

  test('auto with no loadable library falls back to wasm with a note', () => {
    const choice = chooseProducts({ blas: 'auto', threads: 1, candidates: [{ name: '/nonexistent/libopenblas.so.0', generic: false }] });
    try {
      assert.equal(choice.products.kind, 'wasm');
      assert.match(choice.note ?? '', /no system BLAS found \(apt-get install libopenblas0/);
    } finally {
      choice.products.close();
    }
  });

  test('a library computing wrong results is refused by the known-product check', () => {
    const base = keep(new WasmProducts({ threads: 1 }));
    const broken: Products = {
      kind: 'broken', threads: 1, describe: () => 'broken', close: () => undefined,
      gemm: (ta, tb, m, n, k, alpha, a, b, beta, c) => base.gemm(!ta, tb, m, n, k, alpha, a, b, beta, c),
      dgemm: base.dgemm.bind(base), syrk: base.syrk.bind(base), dsyrk: base.dsyrk.bind(base),
    };
    assert.throws(() => checkKnownProducts(broken), (e: unknown) => e instanceof BlasUnusable && e.reason === 'wrong');
    const syrkBroken: Products = { ...broken, gemm: base.gemm.bind(base), dsyrk: (n, k, alpha, a, beta, c) => base.dsyrk(n, k, alpha * 2, a, beta, c) };
    assert.throws(() => checkKnownProducts(syrkBroken), /syrk came out wrong/);
  });

  test('a result that cannot fit in the wasm memory: user error with the size it needs', () => {
    const p = keep(new WasmProducts({ threads: 1, maxOperandBytes: 1 << 20 }));
    throwsUser(() => p.gemm(false, false, 600, 600, 1, 1, new Float32Array(600), new Float32Array(600), 0, new Float32Array(360000)),
      /a 600×600 result \(1 MiB\) does not fit/, /libopenblas0/);
  });

  test('wasm memory that cannot grow to a product: user error with the size it needed', () => {
    const p = keep(new WasmProducts({ threads: 1, maxMemoryBytes: 8 << 20 }));
    const n = 1200;   // A, B and C of 1200² float32: 16.5 MiB with the thread areas
    throwsUser(() => p.gemm(false, false, n, n, n, 1, new Float32Array(n * n), new Float32Array(n * n), 0, new Float32Array(n * n)),
      /the WebAssembly kernel needs 1\d MiB of memory and could not get it \(limit 8 MiB\)/, /libopenblas0/);
    const c = new Float32Array(4);
    p.gemm(false, false, 2, 2, 1, 1, Float32Array.from([1, 2]), Float32Array.from([3, 4]), 0, c);
    assert.deepEqual([...c], [3, 4, 6, 8]);
  });

  test('REPGEOM_BLAS naming a working library uses it with the threads asked for', { skip: blasPath ? false : 'no system BLAS here' }, () => {
    const p = keep(chooseProducts({ blas: blasPath, threads: 1 }).products);
    assert.equal(p.kind, 'blas');
    assert.match(p.describe(), /, 1 thread$|its own threads$/);
  });
});
