/**
 * A whole I-STAR fine-tuning run, end to end, beside the same run in PyTorch
 * (bench/python/train_run_torch.py, written from RESEARCH.md §2):
 *
 *     repgeom train --model tiny-bert-mlm --task sst2 --data SST-2 --train-limit 8000 --epochs 2
 *                   --max-length 64 --reg istar --lambda=-1 --out bench/out/train-run-<blas> --quiet
 *
 *     node --import tsx bench/train-run.ts [--blas auto,wasm] [--lambdas=-1] [--epochs 2] [--lr 2e-5]
 *                                          [--seed 0] [--model DIR] [--data DIR]
 *
 * The I-STAR twin of the README's experiment (issue 10): the same SST-2 run in repgeom and in an
 * independent PyTorch implementation for λ ∈ {−5, 0, +5}, seed 0:
 *
 *     node --import tsx bench/train-run.ts --blas auto --lambdas=-5,0,5 --epochs 3 --lr 5e-4
 *
 * One JSON line per run: wall time (process start to exit, /usr/bin/time), steps/s over the wall
 * time, peak resident memory, final dev accuracy, the last training batch's IsoScore⋆ and the mean
 * batch IsoScore⋆ of the last epoch; both sides' per-step logs stay in bench/out. The
 * PyTorch side reads the token ids repgeom's tokenizer gives (bench/sst2-ids.ts), so both train on
 * the same ids; its training-loop time is reported beside its wall time. repgeom's end-of-epoch
 * evaluation also measures geometry (C0 of the training tokens, IsoScore⋆, TwoNN, cosine on up
 * to 2000 dev rows), which the PyTorch side does not: its wall time includes that work.
 * Needs dist/ (npx tsc -p tsconfig.build.json).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = resolve(ROOT, 'bench', 'out');
const CLI = resolve(ROOT, 'dist', 'cli', 'main.js');
const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  if (eq) return eq.slice(name.length + 3);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const model = option('model', '/work/shared/models/tiny-bert-mlm');
const data = option('data', '/work/shared/data/glue/SST-2');
const lambdas = option('lambdas', '-1').split(',');
const blases = option('blas', 'auto').split(',');
const EPOCHS = option('epochs', '2'), LR = option('lr', '2e-5'), SEED = option('seed', '0');
const TRAIN_LIMIT = 8000, MAX_LENGTH = 64;

function timed(cmd: string, cmdArgs: string[], env: NodeJS.ProcessEnv = process.env): { seconds: number; peakRssMiB: number; stdout: string } {
  const p = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...cmdArgs], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (p.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(' ')} failed:\n${p.stderr}`);
  const [seconds, rssKiB] = p.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds, peakRssMiB: Math.round(rssKiB / 1024), stdout: p.stdout };
}

const jsonLines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const lastLine = (path: string) => jsonLines(path).pop();
/** Mean batch IsoScore⋆ over the last epoch's steps (less noisy than one batch). */
function lastEpochMeanIso(steps: { isoscoreStarBatch: number }[], epochs: number): number {
  const tail = steps.slice(steps.length - Math.round(steps.length / epochs));
  return tail.reduce((s, r) => s + r.isoscoreStarBatch, 0) / tail.length;
}

if (!existsSync(CLI)) throw new Error('dist/ is missing: run npx tsc -p tsconfig.build.json first');
mkdirSync(OUT, { recursive: true });
const runFor = (lambda: string) => ({ task: 'sst2', trainLimit: TRAIN_LIMIT, epochs: Number(EPOCHS), lr: Number(LR), seed: Number(SEED), maxLength: MAX_LENGTH,
  batchSize: 32, reg: 'istar', lambda: Number(lambda), zeta: 0.2 });

for (const lambda of lambdas) {
  for (const blas of blases) {
    const out = resolve(OUT, `train-run-${blas}-lambda=${lambda}`);
    rmSync(out, { recursive: true, force: true }); // our own scratch folder: a fresh run, not a resume
    const r = timed(process.execPath, [CLI, 'train', '--model', model, '--task', 'sst2', '--data', data, '--train-limit', String(TRAIN_LIMIT),
      '--epochs', EPOCHS, '--lr', LR, '--seed', SEED, '--max-length', String(MAX_LENGTH), '--reg', 'istar', `--lambda=${lambda}`, '--out', out, '--quiet'],
    { ...process.env, REPGEOM_BLAS: blas });
    const finalEval = lastLine(resolve(out, 'eval.jsonl'));
    const steps = jsonLines(resolve(out, 'log.jsonl'));
    const lastStep = steps[steps.length - 1];
    const products = JSON.parse(readFileSync(resolve(out, 'run.json'), 'utf8')).productsBackend;
    console.log(JSON.stringify({ impl: `repgeom ${blas === 'wasm' ? 'wasm' : 'system BLAS'}`, products, ...runFor(lambda), steps: lastStep.step, seconds: r.seconds,
      stepsPerSecond: +(lastStep.step / r.seconds).toFixed(2), accuracy: finalEval.metrics.accuracy, finalBatchIsoscoreStar: lastStep.isoscoreStarBatch,
      lastEpochMeanBatchIsoscoreStar: lastEpochMeanIso(steps, Number(EPOCHS)), peakRssMiB: r.peakRssMiB }));
  }
}

const ids = resolve(OUT, `sst2-ids-${MAX_LENGTH}.json`);
const tsx = ['--import', 'tsx'];
const write = spawnSync(process.execPath, [...tsx, resolve(ROOT, 'bench', 'sst2-ids.ts'), model, data, String(TRAIN_LIMIT), String(MAX_LENGTH), ids], { encoding: 'utf8' });
if (write.status !== 0) throw new Error(`bench/sst2-ids.ts failed:\n${write.stderr}`);
if (spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0) {
  console.error('PyTorch side not run: /usr/bin/python3 has no torch (apt-get install python3-torch)');
} else {
  for (const lambda of lambdas) {
    const py = timed('/usr/bin/python3', [resolve(ROOT, 'bench', 'python', 'train_run_torch.py'), '--model', model, '--ids', ids, '--epochs', EPOCHS, '--lr', LR,
      '--seed', SEED, '--lambda', lambda, '--threads', '2', '--log', resolve(OUT, `train-run-torch-lambda=${lambda}.jsonl`)],
    { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'passive' }); // as in train-step.ts
    const row = JSON.parse(py.stdout.trim().split('\n').pop()!);
    console.log(JSON.stringify({ ...row, ...runFor(lambda), seconds: py.seconds, stepsPerSecond: +(row.steps / py.seconds).toFixed(2), trainLoopStepsPerSecond: +row.stepsPerSecond.toFixed(2), peakRssMiB: py.peakRssMiB }));
  }
}
