/**
 * `npm run bench`: the speed of repgeom's metrics on 10,000 × 768 hidden-state-like points, whole
 * processes side by side with the Python anchors (the authors' IsoScore steps with scikit-learn;
 * scikit-dimension's TwoNN fit) where Debian's python3-sklearn is installed, the streamed
 * 1,000,000 × 768 Arrow run (time and peak memory), and the eigen-solver.
 *
 *     npm run bench                       everything
 *     npm run bench -- compute process    only some sections (compute, process, stream, eigen, extract,
 *                                          gemm, fastfood, train-kernels, train)
 *     REPGEOM_BLAS=wasm npm run bench -- compute process    the same on our wasm kernel instead of the system BLAS
 *     BENCH_STREAM_ROWS=200000 npm run bench -- stream
 *     npm run bench -- train              training step and whole run vs PyTorch (not in the default set: about 15–20 min on 2 cores)
 *     npm run bench -- subspace           the subspace step's overhead over a full fine-tuning step vs PyTorch (not in the default set:
 *                                          about 30 min on 2 cores; BENCH_SUBSPACE_MODELS=tiny: about 1 min; knobs in bench/subspace-step.ts)
 *     npm run bench -- istar-twin         the README experiment's SST-2 runs beside the PyTorch twin (not default: about 15 min)
 *
 * Compute times are the best of 3 runs after a warm-up, in this process. Whole-process times are
 * the best of 3 wall-clock runs of the command (start-up and file reading included). Results are
 * printed and written to bench/out/results.json; copy them into BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, statSync, rmSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { writeNpy } from '../src/io/npy.js';
import { createArrowWriter } from '../src/io/arrow.js';
import { Rng } from '../src/backend/rng.js';
import type { Matrix } from '../src/backend/matrix.js';
import { describeProducts } from '../src/backend/products/index.js';
import { FLOAT32 } from '../src/metrics/product-kernel.js';
import { isoScore } from '../src/metrics/isoscore.js';
import { isoScoreStar } from '../src/metrics/isoscore-star.js';
import { accumulate } from '../src/metrics/covariance.js';
import { cosineIsotropy } from '../src/metrics/cosine.js';
import { twoNN } from '../src/metrics/twonn.js';
import { mle } from '../src/metrics/mle.js';
import { covarianceSpectrum } from '../src/metrics/spectrum.js';
import { pcaId } from '../src/metrics/pca-id.js';
import { partitionIsotropy } from '../src/metrics/partition.js';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = resolve(ROOT, 'bench', 'out');
const CLI = resolve(ROOT, 'dist', 'cli', 'main.js');
const PYTHON = '/usr/bin/python3';
const N = 10_000, D = 768;
const sections = new Set(process.argv.slice(2).length ? process.argv.slice(2) : ['compute', 'process', 'stream', 'eigen', 'extract', 'gemm', 'fastfood', 'train-kernels']);
const results: Record<string, unknown>[] = [];

function record(row: Record<string, unknown>): void {
  results.push(row);
  console.log(JSON.stringify(row));
}

/** Seeded points shaped like contextual hidden states: decaying spectrum, one large shared offset. */
function hiddenStateLike(rows: number, dim: number, rng: Rng, scales: Float64Array): Float32Array {
  const out = new Float32Array(rows * dim);
  rng.fillNormal(out);
  for (let i = 0; i < out.length; i++) out[i] *= scales[i % dim];
  for (let i = 0; i < rows; i++) out[i * dim + 77] += 8; // a rogue dimension
  return out;
}

function spectrumScales(dim: number): Float64Array {
  return Float64Array.from({ length: dim }, (_, j) => 0.2 + 3 * Math.exp(-j / 40));
}

async function best(label: string, f: () => unknown | Promise<unknown>, repeats = 3): Promise<number> {
  await f(); // warm-up (JIT, tfjs kernels)
  let t = Infinity;
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    await f();
    t = Math.min(t, (performance.now() - start) / 1000);
  }
  process.stderr.write(`  ${label}: ${t.toFixed(3)} s\n`);
  return t;
}

function timeProcess(cmd: string, args: string[], repeats = 3): { seconds: number; maxRssMb: number; stdout: string } {
  let seconds = Infinity, maxRssMb = 0, stdout = '';
  for (let r = 0; r < repeats; r++) {
    const p = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
    if (p.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${p.stderr}`);
    const [wall, rssKb] = p.stderr.trim().split('\n').pop()!.split(' ').map(Number);
    if (wall < seconds) { seconds = wall; stdout = p.stdout; }
    maxRssMb = Math.max(maxRssMb, rssKb / 1024);
  }
  return { seconds, maxRssMb, stdout };
}

function pythonAnchorsAvailable(): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import sklearn, numpy'], { encoding: 'utf8' }).status === 0;
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run npm run build first');
  const rng = new Rng(1);
  const data = hiddenStateLike(N, D, rng, spectrumScales(D));
  const x: Matrix = { data, rows: N, cols: D };
  const npyPath = resolve(OUT, 'points-10k-768.npy');
  writeNpy(npyPath, data, [N, D]);
  const productsBackend = describeProducts();
  console.log(`# repgeom bench — ${new Date().toISOString()} — ${os.cpus()[0].model}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, products ${productsBackend}`);

  if (sections.has('compute')) {
    console.log(`## compute, in process, ${N} × ${D} float32 (best of 3)`);
    const f32 = FLOAT32;
    const c0 = accumulate(x, f32).covariance(1);
    record({ section: 'compute', metric: 'isoscore', seconds: await best('IsoScore', () => isoScore(x, f32)) });
    record({ section: 'compute', metric: 'isoscore-star (batch = all 10k, C0 given)', seconds: await best('IsoScore⋆', () => isoScoreStar(x, { c0, zeta: 0.2, kernel: f32 })) });
    record({ section: 'compute', metric: 'cosine', seconds: await best('cosine', () => cosineIsotropy(x)) });
    record({ section: 'compute', metric: 'twonn', seconds: await best('TwoNN', () => twoNN(x), 1) });
    record({ section: 'compute', metric: 'mle (k = 20)', seconds: await best('MLE', () => mle(x), 1) });
    record({ section: 'compute', metric: 'pca-id (covariance + eigenvalues)', seconds: await best('PCA-ID', () => pcaId(covarianceSpectrum(accumulate(x, f32).covariance(1), D, N))) });
    record({ section: 'compute', metric: 'partition (eigenvectors + projections)', seconds: await best('partition', () => partitionIsotropy(x, f32), 1) });
  }

  if (sections.has('process')) {
    console.log('## whole processes on the same .npy file (best of 3 wall-clock runs)');
    const anchors = pythonAnchorsAvailable();
    if (!anchors) console.log('(python3-sklearn not installed: no Python anchors; apt-get install python3-sklearn)');
    const pairs: [string, string[], string | null][] = [
      ['isoscore', ['measure', npyPath, '--metrics', 'isoscore', '--quiet'], 'isoscore_authors.py'],
      ['twonn', ['measure', npyPath, '--metrics', 'twonn', '--quiet'], 'twonn_skdim.py'],
      ['all metrics', ['measure', npyPath, '--quiet'], null],
    ];
    for (const [metric, args, script] of pairs) {
      const ours = timeProcess(process.execPath, [CLI, ...args]);
      const layer = JSON.parse(ours.stdout).layers[0];
      const row: Record<string, unknown> = { section: 'process', metric, repgeomSeconds: ours.seconds, repgeomMaxRssMb: Math.round(ours.maxRssMb) };
      if (metric === 'isoscore') row.repgeomValue = layer.isoscore;
      if (metric === 'twonn') row.repgeomValue = layer.twoNN.id;
      if (script && anchors) {
        const py = timeProcess(PYTHON, [resolve(ROOT, 'bench', 'python', script), npyPath]);
        const pyOut = JSON.parse(py.stdout);
        Object.assign(row, { pythonSeconds: py.seconds, pythonComputeSeconds: pyOut.compute_seconds, pythonValue: pyOut.isoscore ?? pyOut.twonn, speedup: +(py.seconds / ours.seconds).toFixed(2) });
      }
      record(row);
    }
  }

  if (sections.has('stream')) {
    const rows = Number(process.env.BENCH_STREAM_ROWS ?? 1_000_000);
    const arrowPath = resolve(OUT, `stream-${rows}x${D}.arrow`);
    if (!existsSync(arrowPath)) {
      process.stderr.write(`  writing ${arrowPath} …\n`);
      const w = createArrowWriter(arrowPath, D, { note: 'repgeom bench: synthetic hidden states' });
      const scales = spectrumScales(D);
      for (let start = 0; start < rows; start += 10_000) {
        const n = Math.min(10_000, rows - start);
        w.write({ layer: new Int16Array(n), example: Int32Array.from({ length: n }, (_, i) => start + i), position: new Int16Array(n), tokenId: new Int32Array(n), vectors: hiddenStateLike(n, D, rng, scales) });
      }
      w.close();
    }
    console.log(`## streamed ${rows.toLocaleString('en-US')} × ${D} Arrow file (${(statSync(arrowPath).size / 2 ** 30).toFixed(2)} GiB)`);
    for (const metrics of ['isoscore,isoscore-star,cosine,pca-id,spectrum,rogue', 'all']) {
      const run = timeProcess(process.execPath, [CLI, 'measure', arrowPath, '--metrics', metrics, '--quiet'], 1);
      record({ section: 'stream', rows, metrics, seconds: run.seconds, maxRssMb: Math.round(run.maxRssMb), isoscore: JSON.parse(run.stdout).layers[0].isoscore });
    }
    if (process.env.BENCH_KEEP !== '1') rmSync(arrowPath);
  }

  // Benchmarks of their own (each prints one JSON line per measurement): run them and keep the lines.
  const scripts: [string, string, string, string[]?][] = [
    ['eigen', 'eigen.ts', 'symmetric eigen-solver'],
    ['extract', 'extract.ts', 'extraction throughput vs PyTorch'],
    ['gemm', 'gemm.ts', 'GFLOP/s of the products layer vs PyTorch and numpy'],
    ['fastfood', 'fastfood.ts', 'Fastfood forward + adjoint vs PyTorch'],
    ['train-kernels', 'train-kernels.ts', 'training kernels at BERT-base shapes'],
    ['train', 'train-step.ts', 'one training step (forward, backward, AdamW) vs PyTorch, system BLAS and wasm'],
    ['train', 'train-run.ts', 'a whole I-STAR run (SST-2, 8000 rows, 2 epochs, λ = −1) vs PyTorch'],
    ['subspace', 'subspace-step.ts', "the subspace training step's overhead over a full fine-tuning step (DID, SAID; Fastfood) vs PyTorch"],
    ['istar-twin', 'train-run.ts', "the README experiment's SST-2 runs (λ = −5, 0, +5, seed 0, 3 epochs, lr 5e-4) vs the PyTorch twin",
      ['--blas', 'auto', '--lambdas=-5,0,5', '--epochs', '3', '--lr', '5e-4']],
  ];
  for (const [section, script, title, scriptArgs = []] of scripts) {
    if (!sections.has(section)) continue;
    console.log(`## ${title} (bench/${script})`);
    const p = spawnSync(process.execPath, ['--import', 'tsx', resolve(ROOT, 'bench', script), ...scriptArgs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
    if (p.status !== 0) throw new Error(`bench/${script} failed`);
    for (const line of p.stdout.split('\n')) if (line.startsWith('{')) record({ section, ...JSON.parse(line) });
  }
  writeFileSync(resolve(OUT, 'results.json'), JSON.stringify({ date: new Date().toISOString(), cpu: os.cpus()[0].model, cores: os.cpus().length, productsBackend, results }, null, 2));
}

await main();
