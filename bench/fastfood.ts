/**
 * Fastfood costs (src/subspace): the Walsh–Hadamard transform (plain JS loop vs the wasm SIMD
 * kernel, which set hadamard.ts's WASM_FROM), then Fastfood set-up, forward (P θ) and adjoint
 * (Pᵀ g) per parameter count (one tensor of 10^5 … 10^8 entries) and per-tensor over the
 * trainable tensors of BERT-base and tiny-bert-mlm (sequence classification, 2 labels), side by
 * side with the same per-tensor Fastfood in PyTorch (bench/python/fastfood_torch.py, Debian's
 * python3-torch, one thread like this process's main thread) in one run.
 *
 *     node --import tsx bench/fastfood.ts                        everything
 *     node --import tsx bench/fastfood.ts hadamard               only some sections (hadamard, sizes, models)
 *     BENCH_FASTFOOD_MAX=1e7 BENCH_D=1000 node --import tsx bench/fastfood.ts sizes
 *
 * The model section also runs the per-tensor projection on worker threads (ThreadedFastfood, one
 * per core, at least 2). Times are the best of 3 after a warm-up (1 run at 10^8 and for
 * BERT-base), float32 throughout; set-up = drawing B, Π, G. Results are
 * printed as JSON lines and written to bench/out/fastfood.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { fwhtJs, fwhtWasm } from '../src/subspace/hadamard.js';
import { PerTensorFastfood, type TensorSpec } from '../src/subspace/projection.js';
import { useFastfoodEngine } from '../src/subspace/fastfood.js';
import { ThreadedFastfood } from '../src/subspace/threaded.js';
import { streamRng } from '../src/subspace/random.js';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = resolve(ROOT, 'bench', 'out');
const PYTHON = '/usr/bin/python3';
const MAX = Number(process.env.BENCH_FASTFOOD_MAX ?? 1e8);
const D_SUB = Number(process.env.BENCH_D ?? 1000);
const sections = new Set(process.argv.slice(2).length ? process.argv.slice(2) : ['hadamard', 'sizes', 'models']);
const results: Record<string, unknown>[] = [];

function record(row: Record<string, unknown>): void {
  results.push(row);
  console.log(JSON.stringify(row));
}

/** Best time in seconds of `repeats` runs after one warm-up. */
function best(f: () => void, repeats = 3): number {
  f();
  let t = Infinity;
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    f();
    t = Math.min(t, (performance.now() - start) / 1000);
  }
  return t;
}

interface BertShape { layers: number; hidden: number; intermediate: number; vocab: number; positions: number; typeVocab: number; labels: number }

/** The trainable tensors of BertForSequenceClassification, in Hugging Face order. */
function bertTensors(c: BertShape): TensorSpec[] {
  const t: TensorSpec[] = [];
  const add = (name: string, size: number) => t.push({ name, size });
  const ln = (prefix: string) => { add(`${prefix}.LayerNorm.weight`, c.hidden); add(`${prefix}.LayerNorm.bias`, c.hidden); };
  const dense = (name: string, out: number, inp: number) => { add(`${name}.weight`, out * inp); add(`${name}.bias`, out); };
  add('bert.embeddings.word_embeddings.weight', c.vocab * c.hidden);
  add('bert.embeddings.position_embeddings.weight', c.positions * c.hidden);
  add('bert.embeddings.token_type_embeddings.weight', c.typeVocab * c.hidden);
  ln('bert.embeddings');
  for (let l = 0; l < c.layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    for (const m of ['query', 'key', 'value']) dense(`${p}.attention.self.${m}`, c.hidden, c.hidden);
    dense(`${p}.attention.output.dense`, c.hidden, c.hidden);
    ln(`${p}.attention.output`);
    dense(`${p}.intermediate.dense`, c.intermediate, c.hidden);
    dense(`${p}.output.dense`, c.hidden, c.intermediate);
    ln(`${p}.output`);
  }
  dense('bert.pooler.dense', c.hidden, c.hidden);
  dense('classifier', c.labels, c.hidden);
  return t;
}

const BERT_BASE = bertTensors({ layers: 12, hidden: 768, intermediate: 3072, vocab: 30522, positions: 512, typeVocab: 2, labels: 2 });
const TINY = bertTensors({ layers: 2, hidden: 128, intermediate: 512, vocab: 30522, positions: 512, typeVocab: 2, labels: 2 });

interface Case { label: string; d: number; sizes: number[]; repeats: number }

function inputs(c: Case): { theta: Float32Array; offsets: Float32Array[]; grads: Float32Array[] } {
  const theta = new Float32Array(c.d);
  streamRng(1, 0).fillNormal(theta);
  const offsets = c.sizes.map((n) => new Float32Array(n));
  const grads = c.sizes.map((n, i) => { const g = new Float32Array(n); streamRng(2, i).fillNormal(g); return g; });
  return { theta, offsets, grads };
}

/** This process, single-threaded: the wasm pipeline, and (sizes ≤ 10^7) the JS loops for comparison. */
function timeOurs(c: Case, withJs: boolean): Record<string, unknown> {
  const tensors = c.sizes.map((size, i) => ({ name: `t${i}`, size }));
  const start = performance.now();
  const p = new PerTensorFastfood(tensors, c.d, { seed: 0 });
  const setupSeconds = (performance.now() - start) / 1000;
  const { theta, offsets, grads } = inputs(c);
  const row: Record<string, unknown> = { setupSeconds, sumL: p.parts.reduce((s, f) => s + f.L, 0) };
  row.forwardSeconds = best(() => p.project(theta, offsets), c.repeats);
  row.adjointSeconds = best(() => p.adjoint(grads), c.repeats);
  if (withJs) {
    useFastfoodEngine('js');
    row.jsLoopsForwardSeconds = best(() => p.project(theta, offsets), c.repeats);
    row.jsLoopsAdjointSeconds = best(() => p.adjoint(grads), c.repeats);
    useFastfoodEngine('wasm');
  }
  p.dispose();
  return row;
}

/** Worker threads over tensors (ThreadedFastfood), gradients copied into shared memory included. */
async function timeThreaded(c: Case, threads: number): Promise<Record<string, unknown>> {
  const tensors = c.sizes.map((size, i) => ({ name: `t${i}`, size }));
  let start = performance.now();
  const p = await ThreadedFastfood.create(tensors, c.d, { seed: 0, threads });
  const setupSeconds = (performance.now() - start) / 1000;
  const { theta, grads } = inputs(c);
  const time = async (f: () => Promise<unknown>) => {
    await f();
    let t = Infinity;
    for (let r = 0; r < c.repeats; r++) { start = performance.now(); await f(); t = Math.min(t, (performance.now() - start) / 1000); }
    return t;
  };
  const forwardSeconds = await time(() => p.project(theta));
  const adjointSeconds = await time(() => p.adjoint(grads));
  p.close();
  return { [`threads${threads}SetupSeconds`]: setupSeconds, [`threads${threads}ForwardSeconds`]: forwardSeconds, [`threads${threads}AdjointSeconds`]: adjointSeconds };
}

function timeTorch(cases: Case[]): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0) {
    console.log('(python3-torch not installed: no PyTorch column; apt-get install python3-torch)');
    return out;
  }
  const p = spawnSync(PYTHON, [resolve(ROOT, 'bench', 'python', 'fastfood_torch.py')], {
    input: JSON.stringify({ threads: 1, cases }), encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 1 << 24,
  });
  if (p.status !== 0) throw new Error(`fastfood_torch.py failed with status ${p.status}`);
  for (const line of p.stdout.split('\n')) if (line.startsWith('{')) { const row = JSON.parse(line); out.set(row.label, row); }
  return out;
}

async function sideBySide(section: string, cases: Case[], threads: number): Promise<void> {
  // Ours first (in this process), then PyTorch (its own process), so that they never overlap.
  const ours: Record<string, unknown>[] = [];
  for (const c of cases) {
    const r = timeOurs(c, section === 'sizes' && c.sizes[0] <= 1e7);
    if (threads > 1) Object.assign(r, await timeThreaded(c, threads));
    process.stderr.write(`  ${c.label}: ${JSON.stringify(r)}\n`);
    ours.push(r);
  }
  const torch = timeTorch(cases);
  cases.forEach((c, i) => {
    const t = torch.get(c.label);
    const row: Record<string, unknown> = { section, label: c.label, d: c.d, tensors: c.sizes.length, parameters: c.sizes.reduce((s, v) => s + v, 0), ...ours[i] };
    if (t) {
      Object.assign(row, { torchSetupSeconds: t.setupSeconds, torchForwardSeconds: t.forwardSeconds, torchAdjointSeconds: t.adjointSeconds, torchThreads: t.threads });
      row.speedupForwardPlusAdjoint = +(((t.forwardSeconds as number) + (t.adjointSeconds as number)) / ((ours[i].forwardSeconds as number) + (ours[i].adjointSeconds as number))).toFixed(2);
    }
    record(row);
  });
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  console.log(`# repgeom Fastfood bench — ${new Date().toISOString()} — ${os.cpus()[0].model}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}, node ${process.version}`);

  if (sections.has('hadamard')) {
    console.log('## Walsh–Hadamard transform, float32 in place: JS loop vs wasm SIMD kernel (copies in and out included), ms');
    for (let k = 4; k <= 24; k += k < 10 ? 2 : 1) {
      const n = 2 ** k;
      const x = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 13) - 6);
      const a = x.slice();
      const reps = Math.max(1, Math.round(2 ** 21 / n)); // ≈ 2M values per timed run
      const time = (f: (v: Float32Array) => void) => best(() => { for (let r = 0; r < reps; r++) { a.set(x); f(a); } }) / reps;
      const copy = best(() => { for (let r = 0; r < reps; r++) a.set(x); }) / reps;
      const js = time(fwhtJs) - copy, wasm = time(fwhtWasm) - copy;
      record({ section: 'hadamard', L: `2^${k}`, jsMs: +(js * 1e3).toPrecision(3), wasmMs: +(wasm * 1e3).toPrecision(3), speedup: +(js / wasm).toFixed(2) });
    }
  }

  if (sections.has('sizes')) {
    console.log(`## Fastfood, one tensor of D entries, d = ${D_SUB}: set-up, forward P θ, adjoint Pᵀ g (s)`);
    const cases: Case[] = [1e5, 1e6, 1e7, 1e8].filter((D) => D <= MAX).map((D) => ({ label: `D=${D.toExponential(0)}`, d: D_SUB, sizes: [D], repeats: D >= 1e8 ? 1 : 3 }));
    await sideBySide('sizes', cases, 1);
  }

  if (sections.has('models')) {
    console.log(`## per-tensor Fastfood over a model's trainable tensors, d = ${D_SUB} (s)`);
    await sideBySide('models', [
      { label: 'tiny-bert-mlm', d: D_SUB, sizes: TINY.map((t) => t.size), repeats: 3 },
      { label: 'bert-base', d: D_SUB, sizes: BERT_BASE.map((t) => t.size), repeats: 1 },
    ], Math.max(2, os.availableParallelism()));
  }
  writeFileSync(resolve(OUT, 'fastfood.json'), JSON.stringify({ date: new Date().toISOString(), cpu: os.cpus()[0].model, cores: os.cpus().length, results }, null, 2));
}

await main();
