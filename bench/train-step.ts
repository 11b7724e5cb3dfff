/**
 * One training step of the trainable model (forward, backward, AdamW) at batch 32 × 128 tokens,
 * for tiny-bert-mlm's shape (H 128, 2 layers, 2 heads, FFN 512, vocab 30,522) or BERT-base's,
 * with a 2-class head, beside the same step in PyTorch (bench/python/train_step_torch.py, Debian's
 * python3-torch on the same thread count) when /usr/bin/python3 has torch.
 *
 *     node --import tsx bench/train-step.ts [tiny|base] [--threads 2] [--steps 3]
 *
 * Prints the best of `steps` after one warm-up, with its parts and the process's peak resident
 * memory, for dropout off (as the PyTorch side) and on. The machine may be shared: treat the numbers as an indication.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { configureProducts, describeProducts } from '../src/backend/products/index.js';
import { normaliseConfig } from '../src/models/config.js';
import { TrainableModel, type TrainingBatch } from '../src/models/trainable.js';
import { Rng } from '../src/backend/rng.js';
import { createOptimizer } from '../src/train/step.js';

const args = process.argv.slice(2);
const shape = args.find((a) => a === 'tiny' || a === 'base') ?? 'tiny';
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const threads = flag('threads', 2), steps = flag('steps', 3), B = 32, T = flag('seq-len', 128);
configureProducts({ threads });

const TINY = { model_type: 'bert', vocab_size: 30522, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512, max_position_embeddings: 512, type_vocab_size: 2 };
const BASE = { ...TINY, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 };

function ours(dropout: boolean) {
  const config = normaliseConfig(shape === 'tiny' ? TINY : BASE);
  const model = new TrainableModel(config, { kind: 'classification', labels: 2 }, { seed: 0, dropout: dropout ? {} : { hidden: 0, attention: 0, classifier: 0 } });
  model.params.initialise(0);
  const opt = createOptimizer(model, { weightDecay: 0.01, noDecayNormsBiases: false });
  const rng = new Rng(1);
  const batch: TrainingBatch = {
    batch: B, seqLen: T, inputIds: Int32Array.from({ length: B * T }, () => 1000 + Math.floor(rng.nextFloat() * 29000)),
    attentionMask: new Int32Array(B * T).fill(1), labels: Int32Array.from({ length: B }, () => (rng.nextFloat() < 0.5 ? 0 : 1)),
  };
  let best: Record<string, number> | null = null;
  for (let s = 0; s <= steps; s++) {
    const t0 = performance.now();
    model.train();
    model.params.zeroGrads();
    const pass = model.forward(batch, s);
    const t1 = performance.now();
    model.backward(pass);
    const t2 = performance.now();
    opt.update(1e-5);
    const t3 = performance.now();
    const parts = { step: (t3 - t0) / 1000, forward: (t1 - t0) / 1000, backward: (t2 - t1) / 1000, optimizer: (t3 - t2) / 1000 };
    if (s > 0 && (!best || parts.step < best.step)) best = parts;
  }
  // The process's peak so far (the first call's, dropout off, is the one to read: the same sizes follow).
  return { ...best!, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

const fmt = (r: Record<string, number>) => `step ${r.step.toFixed(3)} s (forward ${r.forward.toFixed(3)}, backward ${r.backward.toFixed(3)}, AdamW ${r.optimizer.toFixed(3)})` +
  (r.peakRssMiB ? `, peak memory ${r.peakRssMiB.toFixed(0)} MiB` : '');
console.log(`${shape}, batch ${B} × ${T}, ${describeProducts()}`);
console.log(`repgeom, dropout off: ${fmt(ours(false))}`);
console.log(`repgeom, dropout on:  ${fmt(ours(true))}`);
const py = spawnSync('/usr/bin/python3', [resolve(import.meta.dirname, 'python', 'train_step_torch.py'), '--config', shape, '--threads', String(threads), '--steps', String(steps), '--seq-len', String(T)], { encoding: 'utf8' });
if (py.status === 0) console.log(`PyTorch ${fmt(JSON.parse(py.stdout.trim().split('\n').pop()!))}`);
else console.log(`PyTorch side not run: ${(py.stderr || py.error?.message || '').trim().split('\n').pop()}`);
