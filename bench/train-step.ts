/**
 * One training step of the trainable model (forward, backward, AdamW) at batch 32, for
 * tiny-bert-mlm's shape (H 128, 2 layers, 2 heads, FFN 512, vocab 30,522) and BERT-base's, at 64
 * and 128 tokens, with a 2-class head: repgeom on the system BLAS (REPGEOM_BLAS=auto) and on its
 * wasm kernel alone (REPGEOM_BLAS=wasm), beside the same step in PyTorch
 * (bench/python/train_step_torch.py, Debian's python3-torch with torch.set_num_threads) when
 * /usr/bin/python3 has torch.
 *
 *     node --import tsx bench/train-step.ts [--only tiny|base]   all shapes, one JSON line each
 *     node --import tsx bench/train-step.ts --shape tiny --seq-len 64 [--blas wasm] [--threads 2] [--steps 3] [--dropout]
 *                                                            one measurement in this process
 *
 * Every measurement runs in a process of its own, so that its peak resident memory (maxRSS) is
 * that of the one model. Times are the best of `steps` after one warm-up (tiny: 10, BERT-base: 2).
 * Dropout is off by default, as on the PyTorch side (hf_bert_torch's forward has none).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { configureProducts, describeProducts } from '../src/backend/products/index.js';
import { createOptimizer } from '../src/train/step.js';
import { randomBatch, randomModel } from './train-setup.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const threads = Number(option('threads') ?? 2), B = 32;

/** One measurement in this process: best step of `steps` after a warm-up, and its parts. */
function measureHere(shape: 'tiny' | 'base', T: number, blas: string, steps: number, dropout: boolean): Record<string, unknown> {
  configureProducts({ threads, blas });
  const model = randomModel(shape, dropout);
  const opt = createOptimizer(model, { weightDecay: 0.01, noDecayNormsBiases: false });
  const batch = randomBatch(B, T);
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
  return { impl: `repgeom ${blas === 'wasm' ? 'wasm' : 'system BLAS'}`, products: describeProducts(), config: shape, batch: B, seqLen: T, dropout, steps,
    ...best!, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
}

function child(cmd: string, childArgs: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> | { error: string } {
  const p = spawnSync(cmd, childArgs, { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (p.status !== 0) return { error: (p.stderr || p.error?.message || `exit ${p.status}`).trim().split('\n').pop()! };
  return JSON.parse(p.stdout.trim().split('\n').pop()!);
}

/**
 * PyTorch's OpenMP threads spin while they wait; on a shared machine that costs it up to 3× at
 * tiny shapes (measured 2026-11-27 under load 6). Passive waiting makes the anchor faster there,
 * so the comparison is against the better PyTorch.
 */
const TORCH_ENV = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'passive' };

const shapeArg = option('shape');
if (shapeArg) {
  const shape = shapeArg === 'base' ? 'base' : 'tiny';
  const steps = Number(option('steps') ?? (shape === 'base' ? 2 : 10));
  console.log(JSON.stringify(measureHere(shape, Number(option('seq-len') ?? 128), option('blas') ?? 'auto', steps, args.includes('--dropout'))));
} else {
  const self = resolve(import.meta.dirname, 'train-step.ts');
  const torchScript = resolve(import.meta.dirname, 'python', 'train_step_torch.py');
  const only = option('only');
  for (const shape of (['tiny', 'base'] as const).filter((s) => !only || s === only)) {
    const steps = shape === 'base' ? 2 : 10;
    for (const T of [64, 128]) {
      const rows: Record<string, unknown>[] = [];
      for (const blas of ['auto', 'wasm']) {
        const r = child(process.execPath, ['--import', 'tsx', self, '--shape', shape, '--seq-len', String(T), '--blas', blas, '--threads', String(threads), '--steps', String(steps)]);
        rows.push('error' in r ? { impl: `repgeom ${blas}`, config: shape, seqLen: T, ...r } : r);
      }
      const py = child('/usr/bin/python3', [torchScript, '--config', shape, '--threads', String(threads), '--steps', String(steps), '--seq-len', String(T)], TORCH_ENV);
      rows.push({ impl: 'pytorch', ...py });
      const torchStep = 'step' in py ? (py.step as number) : null;
      for (const row of rows) {
        if (torchStep && typeof row.step === 'number' && row.impl !== 'pytorch') row.vsPytorch = +(row.step / torchStep).toFixed(2);
        console.log(JSON.stringify(row));
      }
    }
  }
}
