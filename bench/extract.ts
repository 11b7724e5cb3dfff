/**
 * Extraction throughput (tokens/s): repgeom's encoder (CPU path: products layer + SIMD kernels)
 * against the same BERT forward in Debian's PyTorch (bench/python/extract_torch.py: eval mode,
 * no_grad, float32, every hidden state copied to numpy), on the same shapes, in the same run. Two
 * models: tiny-bert-mlm from ../shared (2 layers, hidden 128) and a BERT-base-shaped model with
 * random weights (12 layers, hidden 768), written once to bench/out/bert-base-random. Inputs:
 * random token ids, full attention masks, sequence length 128, batch 32. repgeom runs with each
 * products implementation (the system BLAS when it loads, our wasm kernel): in-process with the
 * products on every core, and with one worker thread per core (single-threaded products each, as
 * `extract` does by default); PyTorch with 1 thread and with all cores.
 *
 *     node --import tsx bench/extract.ts          (or: npm run bench -- extract)
 *     BENCH_EXTRACT_BATCHES=2 ...                  batches timed per configuration (default 8 tiny, 2 base)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Encoder, type EncoderInputs } from '../src/models/encoder.js';
import { EncoderPool } from '../src/models/encoder-pool.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { initialBertTensors } from '../src/models/init.js';
import { Rng } from '../src/backend/rng.js';
import { configureProducts, describeProducts } from '../src/backend/products/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = resolve(ROOT, 'bench', 'out');
const PYTHON = '/usr/bin/python3';
const SEQ = 128, BATCH = 32;
const cores = availableParallelism();

function record(row: Record<string, unknown>): void {
  console.log(JSON.stringify({ section: 'extract', ...row }));
}

/** A BERT-base-shaped checkpoint with N(0, 0.02²) weights (speed does not depend on the values). */
function writeRandomBase(dir: string): void {
  if (existsSync(resolve(dir, 'model.safetensors'))) return;
  mkdirSync(dir, { recursive: true });
  const config = { model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu', max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0 };
  writeFileSync(resolve(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeSafetensors(resolve(dir, 'model.safetensors'), initialBertTensors(config, 7, { mlm: false }));
}

function randomBatch(vocab: number, seed: number): EncoderInputs {
  const rng = new Rng(seed);
  const n = BATCH * SEQ;
  return {
    batch: BATCH, seqLen: SEQ,
    inputIds: Int32Array.from({ length: n }, () => 1000 + rng.nextInt(vocab - 1000)),
    attentionMask: new Int32Array(n).fill(1),
    tokenTypeIds: new Int32Array(n),
  };
}

async function ours(dir: string, batches: number, workers: number, blas: string): Promise<number> {
  process.env.REPGEOM_BLAS = blas; // worker threads read it when they start
  configureProducts({ blas, threads: cores });
  const vocab = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(resolve(dir, 'config.json'), 'utf8'))).vocab_size as number;
  const inputs = Array.from({ length: batches + workers }, (_, i) => randomBatch(vocab, i));
  if (workers === 1) {
    const encoder = await Encoder.load(dir);
    encoder.forward(inputs[0]); // warm-up
    const start = performance.now();
    for (let b = 1; b <= batches; b++) encoder.forward(inputs[b]);
    const seconds = (performance.now() - start) / 1000;
    encoder.dispose();
    return (batches * BATCH * SEQ) / seconds;
  }
  const pool = await EncoderPool.open(dir, workers);
  try {
    await Promise.all(inputs.slice(0, workers).map((x) => pool.forward(x, {}))); // warm-up, every worker
    const start = performance.now();
    await Promise.all(inputs.slice(workers).map((x) => pool.forward(x, {})));
    return (batches * BATCH * SEQ) / ((performance.now() - start) / 1000);
  } finally {
    await pool.close();
  }
}

function torch(dir: string, batches: number, threads: number): number | null {
  if (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0) return null;
  const p = spawnSync(PYTHON, [resolve(ROOT, 'bench', 'python', 'extract_torch.py'), '--model-dir', dir, '--seq-len', String(SEQ), '--batch-size', String(BATCH), '--batches', String(batches), '--threads', String(threads)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (p.status !== 0) throw new Error(`extract_torch.py failed: ${p.stderr}`);
  return (JSON.parse(p.stdout.trim().split('\n').pop()!) as { tokens_per_s: number }).tokens_per_s;
}

const models: [string, string, number][] = [];
const tiny = resolve(ROOT, '..', 'shared', 'models', 'tiny-bert-mlm');
if (existsSync(tiny)) models.push(['tiny-bert-mlm (2 layers, hidden 128)', tiny, Number(process.env.BENCH_EXTRACT_BATCHES ?? 8)]);
const base = resolve(OUT, 'bert-base-random');
writeRandomBase(base);
models.push(['BERT-base shape, random weights (12 layers, hidden 768)', base, Number(process.env.BENCH_EXTRACT_BATCHES ?? 2)]);

for (const [name, dir, batches] of models) {
  const torch1 = torch(dir, batches, 1);
  const torchAll = torch(dir, batches, cores);
  const r = (x: number | null) => (x === null ? null : Number(x.toFixed(1)));
  for (const blas of ['auto', 'wasm']) {
    const inProcess = await ours(dir, batches, 1, blas);
    const products = describeProducts();
    if (blas === 'auto' && products.startsWith('wasm')) continue; // no system BLAS: the wasm row covers it
    const workers = cores > 1 ? await ours(dir, batches * cores, cores, blas) : inProcess;
    const best = Math.max(inProcess, workers);
    record({
      model: name, seqLen: SEQ, batch: BATCH, products,
      repgeomTokensPerSInProcess: r(inProcess), repgeomTokensPerSWorkers: r(workers), workers: cores,
      torchTokensPerS1Thread: r(torch1), torchTokensPerSAllThreads: r(torchAll), torchThreads: cores,
      // time ratio: repgeom's best configuration against PyTorch's best (1.0 = as fast)
      repgeomTimeOverTorch: torch1 === null || torchAll === null ? null : Number((Math.max(torch1, torchAll) / best).toFixed(2)),
    });
  }
}
