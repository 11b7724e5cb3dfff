/**
 * The subspace training step's overhead over a full fine-tuning step (issue 11): batch 32, a
 * 2-class head as SST-2's, dropout off, for tiny-bert-mlm (the checkpoint in ../shared, a new
 * head) and a BERT-base-shaped model (random weights), every tensor trained or projected:
 *
 *   - full: one `repgeom train` step (trainStep: forward, backward, clipping to norm 1, AdamW with
 *     weight decay 0.01 over every tensor);
 *   - DID and SAID with per-tensor Fastfood at each d (default 1,000 and 100,000), and DID with
 *     global-fastfood at the smallest d: one `repgeom intrinsic-dim` step (SubspaceModel.step:
 *     θ0 + Pθ_d into the tensors, forward and backward through lossGradients, the adjoint Pᵀ,
 *     clipping and AdamW on θ_d);
 *
 * on the main thread (--threads 1: one product thread, Fastfood on the main thread) and with the
 * threads `intrinsic-dim` uses by default (one per core, for the products and the per-tensor
 * Fastfood's workers; global-fastfood always runs on the main thread). Beside them, the full
 * step and the DID step in PyTorch (bench/python/subspace_step_torch.py: per-tensor Fastfood in
 * plain torch, autograd through the projection) at the same threads, when /usr/bin/python3 has
 * torch. Its tiny model has tiny-bert-mlm's shape with random weights (the time is the same).
 *
 * Each row: model, parameters, tensors, method (full, did, said), projection, d, threads,
 * seconds per step (best of `steps` after one warm-up: tiny 5, BERT-base 2), overhead =
 * seconds / the full step's seconds (same implementation, model, sequence length and threads) − 1,
 * and the split: projectSeconds (θ0 + Pθ_d written into the tensors), forwardBackwardSeconds,
 * adjointSeconds (Pᵀ; PyTorch: inside its backward, null), optimizerSeconds (clipping + AdamW);
 * setupSeconds (drawing the projection, not in the step); vsPytorch = seconds / PyTorch's.
 *
 *     node --import tsx bench/subspace-step.ts      everything: about half an hour on 2 cores (tiny ≈ 1 min; BERT-base at seq 64
 *                                                   the rest, up to 8 GiB per process; seq 128 adds about as much again)
 *     BENCH_SUBSPACE_MODELS=tiny node --import tsx bench/subspace-step.ts
 *     node --import tsx bench/subspace-step.ts --model tiny --seq-len 64 --threads 2 [--steps 5] [--dims 1000,100000]
 *                                                   one process's rows (repgeom only)
 *
 * Knobs: BENCH_SUBSPACE_MODELS (tiny,base), BENCH_SUBSPACE_SEQ_LENS (64; 64,128 adds seq 128),
 * BENCH_SUBSPACE_THREADS (1,<cores>), BENCH_SUBSPACE_DIMS (1000,100000), BENCH_SUBSPACE_STEPS
 * (timed steps after the warm-up), BENCH_SUBSPACE_TORCH=0 (no PyTorch). Each (model, sequence
 * length, threads) runs in a process of its own, as the command would.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { configureProducts, describeProducts } from '../src/backend/products/index.js';
import { TrainableModel } from '../src/models/trainable.js';
import { checkSubspaceDim, makeProjection, SubspaceModel, tensorSpecs, type SubspaceSpec, type SubspaceStepPhases } from '../src/intrinsic/subspace-model.js';
import { createOptimizer, trainStep, type StepPhases } from '../src/train/step.js';
import { NO_DROPOUT, randomBatch, randomModel, TINY_BERT_MLM, TWO_CLASS, type ShapeName } from './train-setup.js';

const B = 32, MAX_GRAD_NORM = 1;
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const list = (text: string): number[] => text.split(',').map(Number);

type Row = Record<string, unknown>;

/** The best of `steps` timed steps after one warm-up: its wall seconds and its phases. */
async function bestStep<P extends StepPhases>(steps: number, step: (phases: P) => Promise<unknown> | unknown, blank: () => P): Promise<P & { seconds: number }> {
  let best: (P & { seconds: number }) | null = null;
  for (let s = 0; s <= steps; s++) {
    const phases = blank();
    const t = performance.now();
    await step(phases);
    const seconds = (performance.now() - t) / 1000;
    if (s > 0 && (!best || seconds < best.seconds)) best = { ...phases, seconds };
  }
  return best!;
}

/** The rows of one (model, sequence length, threads) in this process. */
async function measureHere(name: ShapeName, T: number, threads: number, steps: number, dims: number[]): Promise<Row[]> {
  configureProducts({ threads });
  const model = name === 'tiny'
    ? await TrainableModel.fromCheckpoint(TINY_BERT_MLM, TWO_CLASS, { seed: 0, newHead: true, dropout: NO_DROPOUT })
    : randomModel('base', false);
  const batch = randomBatch(B, T);
  const tensors = model.params.list, specs = tensorSpecs(tensors);
  const common = {
    impl: 'repgeom', products: describeProducts(), model: name === 'tiny' ? 'tiny-bert-mlm' : 'BERT-base shape',
    parameters: specs.reduce((n, t) => n + t.size, 0), tensors: specs.length, threads, batch: B, seqLen: T, steps,
  };
  const rows: Row[] = [];
  const say = (row: Row) => { rows.push(row); process.stderr.write(`  ${row.model} seq ${T} threads ${threads} ${row.method} ${row.projection ?? ''} ${row.d ?? ''}: ${(row.seconds as number).toFixed(3)} s\n`); };

  let optimizer: ReturnType<typeof createOptimizer> | null = createOptimizer(model, { weightDecay: 0.01, noDecayNormsBiases: false });
  const full = await bestStep<StepPhases>(steps, (phases) => trainStep(model, optimizer!, batch, { lr: 1e-5, maxGradNorm: MAX_GRAD_NORM, phases }),
    () => ({ forwardBackward: 0, optimizer: 0 }));
  optimizer = null; // its moments (2 × the parameters) can go before the subspaces take memory
  say({ ...common, method: 'full', projection: null, d: null, seconds: full.seconds, overhead: 0,
    projectSeconds: 0, forwardBackwardSeconds: full.forwardBackward, adjointSeconds: 0, optimizerSeconds: full.optimizer });

  const variants: [SubspaceSpec['method'], SubspaceSpec['mode'], number][] = [
    ...dims.flatMap((d) => [['did', 'fastfood', d], ['said', 'fastfood', d]] as [SubspaceSpec['method'], SubspaceSpec['mode'], number][]),
    ['did', 'global-fastfood', Math.min(...dims)],
  ];
  for (const [method, mode, d] of variants) {
    const spec: SubspaceSpec = { method, mode, publicCodeSizing: false, gradientScaleOneOverL: false };
    checkSubspaceDim(spec, specs, d);
    const started = performance.now();
    // The projection `intrinsic-dim` makes for probe seed 0; the model's tensors as they are become θ0.
    const sub = new SubspaceModel(model, tensors, await makeProjection(spec, specs, d, 0, threads), { weightDecay: 0 });
    const setupSeconds = (performance.now() - started) / 1000;
    try {
      const r = await bestStep<SubspaceStepPhases>(steps, (phases) => sub.step(batch, 1e-2, MAX_GRAD_NORM, phases),
        () => ({ projection: 0, forwardBackward: 0, adjoint: 0, optimizer: 0 }));
      say({ ...common, method, projection: mode, d, seconds: r.seconds, overhead: r.seconds / full.seconds - 1,
        projectSeconds: r.projection, forwardBackwardSeconds: r.forwardBackward, adjointSeconds: r.adjoint, optimizerSeconds: r.optimizer, setupSeconds });
    } finally {
      // The next variant's θ0 is these tensors as this one left them: the values do not change the time.
      sub.dispose();
    }
  }
  return rows;
}

function child(cmd: string, childArgs: string[], env: NodeJS.ProcessEnv = process.env): Row[] | { error: string } {
  const p = spawnSync(cmd, childArgs, { encoding: 'utf8', maxBuffer: 1 << 24, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (p.status !== 0) return { error: (p.stderr || p.error?.message || `exit ${p.status}`).trim().split('\n').pop()! };
  process.stderr.write(p.stderr);
  return p.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
}

/** As bench/train-step.ts: PyTorch's OpenMP threads wait passively, its better setting on a shared machine. */
const TORCH_ENV = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'passive' };
const PYTHON = '/usr/bin/python3';

function torchAvailable(): boolean {
  return process.env.BENCH_SUBSPACE_TORCH !== '0' && existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

const modelArg = option('model');
if (modelArg) {
  const name: ShapeName = modelArg === 'base' ? 'base' : 'tiny';
  const steps = Number(option('steps') ?? (name === 'base' ? 2 : 5));
  if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`--steps must be a whole number ≥ 1, got ${option('steps')}`);
  const rows = await measureHere(name, Number(option('seq-len') ?? 64), Number(option('threads') ?? os.availableParallelism()), steps, list(option('dims') ?? '1000,100000'));
  for (const row of rows) console.log(JSON.stringify(row));
} else {
  const self = resolve(import.meta.dirname, 'subspace-step.ts');
  const torchScript = resolve(import.meta.dirname, 'python', 'subspace_step_torch.py');
  const env = process.env;
  const models = (env.BENCH_SUBSPACE_MODELS ?? 'tiny,base').split(',') as ShapeName[];
  const seqLens = list(env.BENCH_SUBSPACE_SEQ_LENS ?? '64');
  const threadCounts = [...new Set(list(env.BENCH_SUBSPACE_THREADS ?? `1,${os.availableParallelism()}`))];
  const dims = env.BENCH_SUBSPACE_DIMS ?? '1000,100000';
  const torch = torchAvailable();
  if (!torch) console.log(`# PyTorch side skipped: ${env.BENCH_SUBSPACE_TORCH === '0' ? 'BENCH_SUBSPACE_TORCH=0' : `${PYTHON} has no torch (apt-get install python3-torch)`}`);
  for (const name of models) {
    const steps = env.BENCH_SUBSPACE_STEPS ?? (name === 'base' ? '2' : '5');
    for (const T of seqLens) {
      for (const threads of threadCounts) {
        const ours = child(process.execPath, ['--import', 'tsx', self, '--model', name, '--seq-len', String(T), '--threads', String(threads), '--steps', steps, '--dims', dims]);
        const theirs = torch ? child(PYTHON, [torchScript, '--config', name, '--seq-len', String(T), '--threads', String(threads), '--steps', steps, '--dims', dims], TORCH_ENV) : [];
        const torchRows = Array.isArray(theirs) ? theirs : [{ impl: 'pytorch', model: name, seqLen: T, threads, ...theirs }];
        const anchor = (row: Row) => torchRows.find((t) => t.method === row.method && t.projection === row.projection && t.d === row.d);
        const rows = Array.isArray(ours) ? ours : [{ impl: 'repgeom', model: name, seqLen: T, threads, ...ours }];
        for (const row of rows) {
          const t = anchor(row);
          if (t && typeof t.seconds === 'number' && typeof row.seconds === 'number') row.vsPytorch = +(row.seconds / t.seconds).toFixed(2);
          console.log(JSON.stringify(row));
        }
        for (const row of torchRows) console.log(JSON.stringify(row));
      }
    }
  }
}
