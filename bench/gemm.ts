/**
 * GFLOP/s of the products layer per implementation and shape, side by side with PyTorch and
 * numpy in the same run (float32; best of 3 after a warm-up):
 *
 *   4096×768 · 768×768,  4096×768 · 768×3072,  Xᵀ·dY (X 4096×768, dY 4096×3072),
 *   XᵀX for X 10000×768 (syrk: the seconds are the figure to compare; GFLOP/s count 2·n²·k
 *   like the full product, so a syrk computing half of it shows up to twice the rate).
 *
 *     node --import tsx bench/gemm.ts [--threads=1,2] [--python=/usr/bin/python3 | --python=none]
 *
 * Prints one JSON line per measurement and a table, and writes bench/out/gemm.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BlasProducts, WasmProducts, chooseProducts, relaxedSimdAvailable, type Products } from '../src/backend/products/index.js';
import { Rng } from '../src/backend/rng.js';

const ROOT = resolve(import.meta.dirname, '..');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const threadCounts = (arg('threads') ?? '1,2').split(',').map(Number);
const python = arg('python') ?? '/usr/bin/python3';

interface Row { impl: string; threads: number; shape: string; seconds: number; gflops: number }
const rows: Row[] = [];
function record(row: Row): void {
  rows.push(row);
  console.log(JSON.stringify(row));
}

const rng = new Rng(0);
const matrix = (r: number, c: number) => Float32Array.from({ length: r * c }, () => rng.nextFloat() * 2 - 1);
const x768 = matrix(4096, 768), w768 = matrix(768, 768), w3072 = matrix(768, 3072), dy3072 = matrix(4096, 3072), xbig = matrix(10000, 768);

const cases: { shape: string; flops: number; run: (p: Products, out: Float32Array) => void; out: number }[] = [
  { shape: '4096x768 . 768x768', flops: 2 * 4096 * 768 * 768, out: 4096 * 768, run: (p, c) => p.gemm(false, false, 4096, 768, 768, 1, x768, w768, 0, c) },
  { shape: '4096x768 . 768x3072', flops: 2 * 4096 * 768 * 3072, out: 4096 * 3072, run: (p, c) => p.gemm(false, false, 4096, 3072, 768, 1, x768, w3072, 0, c) },
  { shape: 'X^T dY (4096x768, 4096x3072)', flops: 2 * 4096 * 768 * 3072, out: 768 * 3072, run: (p, c) => p.gemm(true, false, 768, 3072, 4096, 1, x768, dy3072, 0, c) },
  { shape: 'X^T X (10000x768)', flops: 2 * 10000 * 768 * 768, out: 768 * 768, run: (p, c) => p.syrk(768, 10000, 1, xbig, 0, c) },
];

function bench(p: Products, impl: string): void {
  for (const c of cases) {
    const out = new Float32Array(c.out);
    c.run(p, out);
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      c.run(p, out);
      best = Math.min(best, (performance.now() - t) / 1000);
    }
    record({ impl, threads: p.threads, shape: c.shape, seconds: best, gflops: c.flops / best / 1e9 });
  }
}

for (const threads of threadCounts) {
  const auto = chooseProducts({ blas: 'auto', threads });
  if (auto.products instanceof BlasProducts) {
    auto.products.waitForThreads(60_000);
    bench(auto.products, auto.products.library);
  }
  else console.log(`no system BLAS: ${auto.note ?? ''}`);
  auto.products.close();
  for (const variant of relaxedSimdAvailable() ? (['simd128', 'relaxed-simd'] as const) : (['simd128'] as const)) {
    const p = new WasmProducts({ variant, threads });
    p.waitForThreads(60_000);
    bench(p, `wasm ${variant}`);
    p.close();
  }
  if (python !== 'none') {
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    const r = spawnSync(python, [resolve(ROOT, 'bench/python/gemm_torch.py'), String(threads)], { env, encoding: 'utf8' });
    if (r.status !== 0) console.log(`python anchors skipped: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
    else for (const line of r.stdout.trim().split('\n')) record(JSON.parse(line) as Row);
  }
}

console.log('\n| implementation | threads | ' + cases.map((c) => c.shape).join(' | ') + ' |');
console.log('|---|---|' + cases.map(() => '---|').join(''));
const impls = [...new Set(rows.map((r) => `${r.impl}\u0000${r.threads}`))];
for (const key of impls) {
  const [impl, threads] = key.split('\u0000');
  const cells = cases.map((c) => {
    const r = rows.find((x) => x.impl === impl && String(x.threads) === threads && x.shape === c.shape);
    if (!r) return '–';
    return c.shape.startsWith('X^T X') ? `${r.seconds.toFixed(3)} s` : r.gflops.toFixed(1);
  });
  console.log(`| ${impl} | ${threads} | ${cells.join(' | ')} |`);
}
mkdirSync(resolve(ROOT, 'bench/out'), { recursive: true });
writeFileSync(resolve(ROOT, 'bench/out/gemm.json'), JSON.stringify(rows, null, 2) + '\n');
