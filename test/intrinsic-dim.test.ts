/**
 * The subspace trainer of `intrinsic-dim` on the training engine: θ_d's gradient (DID and SAID's
 * [θ | λ], per-tensor and global Fastfood, dense) against central differences of the training
 * loss (dropout off), the weights a step writes (θ0 + Pθ_d in the selected tensors, the others
 * untouched), threaded Fastfood against the single-threaded one, tensor selection, chance per
 * task (known answers), the primary-metric table, and the result files of a decided d90.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { Rng } from '../src/backend/rng.js';
import { readDataset } from '../src/io/datasets.js';
import { loadTokenizer } from '../src/models/tokenizer.js';
import { TrainableModel } from '../src/models/trainable.js';
import { makeBatch } from '../src/train/batches.js';
import { taskSpec } from '../src/train/glue-task.js';
import { bootstrapD90, decideD90 } from '../src/subspace/d90.js';
import { chanceScore } from '../src/intrinsic/chance.js';
import { probesCsv, writeResultFiles } from '../src/intrinsic/outputs.js';
import { checkSubspaceDim, makeProjection, SubspaceModel, tensorSpecs, type SubspaceSpec } from '../src/intrinsic/subspace-model.js';
import { parsePatterns, patternMatches, selectTensors } from '../src/intrinsic/tensor-selection.js';
import { costMessage, estimatedRuns } from '../src/intrinsic/estimate.js';
import type { ProbeRecord } from '../src/intrinsic/outputs.js';
import { runIntrinsicDim, type IntrinsicDimOptions, type ProbeRunner } from '../src/intrinsic/run.js';
import { SHARED } from './helpers/fixtures.js';
import { linearToyScore } from './helpers/linear-toy.js';
import { throwsUser } from './helpers/errors.js';

const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const SST2 = path.resolve(SHARED, 'data', 'glue', 'SST-2');
const HEAD = { kind: 'classification', labels: 2 } as const;

async function tinyModel(dropout = true): Promise<TrainableModel> {
  return TrainableModel.fromCheckpoint(TINY, HEAD, { seed: 0, newHead: true, ...(dropout ? {} : { dropout: { hidden: 0, attention: 0, classifier: 0 } }) });
}

function batchOf(model: TrainableModel, rows: number) {
  const ds = readDataset(SST2, { task: 'sst2', split: 'train', limit: rows });
  const tok = loadTokenizer(TINY, { modelType: 'bert', modelVocabSize: model.config.vocabSize });
  return makeBatch({ examples: ds.examples, labels: ds.labels as number[], regression: false }, Array.from({ length: rows }, (_, i) => i), tok, 16);
}

const spec = (method: 'did' | 'said', mode: SubspaceSpec['mode']): SubspaceSpec => ({ method, mode, publicCodeSizing: false, gradientScaleOneOverL: false });

describe('subspace training: the gradient of θ_d', () => {
  for (const method of ['did', 'said'] as const) {
    for (const mode of ['fastfood', 'global-fastfood', 'dense'] as const) {
      test(`${method.toUpperCase()}, ${mode}: matches central differences of the training loss (dropout off, d = 60)`, async () => {
        const model = await tinyModel(false);
        const batch = batchOf(model, 8);
        // All tensors once (DID, per-tensor Fastfood); elsewhere the 3.9M-entry word embeddings are
        // left out, which keeps the dense matrix small and the 18 loss evaluations quick.
        const tensors = method === 'did' && mode === 'fastfood' ? model.params.list : selectTensors(model.params.list, null, ['word_embeddings']);
        const d = 60, m = method === 'said' ? tensors.length : 0;
        const sub = new SubspaceModel(model, tensors, await makeProjection(spec(method, mode), tensorSpecs(tensors), d, 3), { weightDecay: 0 });
        // Away from the start (θ = 0, λ = 1), so every term of the chain rule counts.
        const rng = new Rng(5);
        for (let i = 0; i < d - m; i++) sub.params[i] = 0.05 * rng.normal();
        for (let i = d - m; i < d; i++) sub.params[i] = 0.5 + rng.nextFloat();
        await sub.gradient(batch);
        const g = Float64Array.from(sub.grad), x = Float64Array.from(sub.params);
        const loss = async (p: Float64Array) => { sub.params.set(p); await sub.materialise(); return model.forward(batch, 0).loss; };
        const scale = g.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        assert.ok(scale > 1e-5, 'a non-trivial gradient');
        const h = 1e-2;
        const coordinates = [0, 1, 7, d - m - 1, ...(m > 0 ? [d - m, d - 2, d - 1] : [d - 2])];
        for (const j of coordinates) {
          const a = Float64Array.from(x), b = Float64Array.from(x);
          a[j] += h; b[j] -= h;
          const fd = ((await loss(a)) - (await loss(b))) / (2 * h);
          assert.ok(Math.abs(fd - g[j]) <= 0.01 * scale + 2e-6, `coordinate ${j}: adjoint ${g[j]}, central difference ${fd}`);
        }
        // Along the gradient itself: the directional derivative is ‖g‖.
        const norm = Math.hypot(...g);
        const a = x.map((v, i) => v + (h * g[i]) / norm), b = x.map((v, i) => v - (h * g[i]) / norm);
        const fd = ((await loss(a)) - (await loss(b))) / (2 * h);
        assert.ok(Math.abs(fd - norm) <= 0.01 * norm, `directional derivative ${fd}, ‖g‖ ${norm}`);
        sub.dispose();
      });
    }
  }

  for (const method of ['did', 'said'] as const) {
    test(`${method.toUpperCase()} on 2 worker threads: the single-threaded offsets exactly, its gradient to rounding`, async () => {
      const model = await tinyModel(false);
      const batch = batchOf(model, 8);
      const tensors = model.params.list, specs = tensorSpecs(tensors), d = 64;
      const one = new SubspaceModel(model, tensors, await makeProjection(spec(method, 'fastfood'), specs, d, 7, 1), { weightDecay: 0 });
      const two = new SubspaceModel(model, tensors, await makeProjection(spec(method, 'fastfood'), specs, d, 7, 2), { weightDecay: 0 });
      const rng = new Rng(9), m = method === 'said' ? tensors.length : 0;
      for (let i = 0; i < d; i++) one.params[i] = two.params[i] = i < d - m ? 0.05 * rng.normal() : 0.5 + rng.nextFloat();
      const offsetsOne = (await one.projection.project(one.params)).map((o) => Float32Array.from(o));
      const offsetsTwo = await two.projection.project(two.params);
      offsetsOne.forEach((o, i) => assert.deepEqual(offsetsTwo[i], o, tensors[i].name));
      assert.equal(await two.gradient(batch), await one.gradient(batch));
      const scale = one.grad.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      for (let i = 0; i < d; i++) assert.ok(Math.abs(two.grad[i] - one.grad[i]) <= 1e-5 * scale, `coordinate ${i}: ${two.grad[i]} vs ${one.grad[i]}`);
      one.dispose();
      two.dispose();
    });
  }
});

describe('subspace training: a step', () => {
  test('writes θ0 + Pθ_d into the selected tensors only; AdamW moves θ_d alone; every step has its own dropout masks', async () => {
    const model = await tinyModel();
    const before = model.params.list.map((p) => Float32Array.from(p.value));
    const tensors = selectTensors(model.params.list, ['attention', 'classifier.*'], ['LayerNorm']);
    const projection = await makeProjection(spec('did', 'fastfood'), tensorSpecs(tensors), 32, 1);
    const sub = new SubspaceModel(model, tensors, projection, { weightDecay: 0 });
    const batch = batchOf(model, 8);
    assert.deepEqual([...sub.params], new Array(32).fill(0));
    const r1 = await sub.step(batch, 0.05, 1);
    assert.ok(Number.isFinite(r1.loss) && r1.gradNorm > 0);
    assert.equal(sub.optimizer.step, 1);
    // Adam's first step moves every coordinate with a gradient by lr.
    for (const v of sub.params) assert.ok(Math.abs(Math.abs(v) - 0.05) < 1e-6, `θ_d entry ${v}`);
    await sub.materialise();
    const offsets = await projection.project(sub.params);
    model.params.list.forEach((p, i) => {
      const k = tensors.indexOf(p);
      if (k < 0) { assert.deepEqual(p.value, before[i], `${p.name} is not selected and stays θ0`); return; }
      for (let j = 0; j < p.value.length; j += 97) assert.equal(p.value[j], Math.fround(before[i][j] + offsets[k][j]), `${p.name}[${j}]`);
    });
    // Dropout is on (train mode) and keyed by the step: the same θ_d at another step gives another loss.
    const l1 = await sub.gradient(batch);
    sub.optimizer.update(0); // lr 0: θ_d unchanged, the step count moves
    const l2 = await sub.gradient(batch);
    assert.notEqual(l1, l2);
    sub.dispose();
  });

  test('a step that reports its phases takes the same step (SAID, 2 workers); the four phases are parts of its time', async () => {
    const make = async () => {
      const model = await tinyModel(false), tensors = model.params.list;
      return new SubspaceModel(model, tensors, await makeProjection(spec('said', 'fastfood'), tensorSpecs(tensors), 64, 2, 2), { weightDecay: 0 });
    };
    const plain = await make(), timed = await make();
    const batch = batchOf(plain.model, 8);
    const phases = { projection: -1, forwardBackward: -1, adjoint: -1, optimizer: -1 };
    for (let s = 0; s < 2; s++) {
      const a = await plain.step(batch, 0.05, 1);
      const started = performance.now();
      const b = await timed.step(batch, 0.05, 1, phases);
      const wall = (performance.now() - started) / 1000;
      assert.deepEqual(b, a);
      assert.ok(phases.projection > 0 && phases.forwardBackward > 0 && phases.adjoint > 0 && phases.optimizer >= 0, `phases written: ${JSON.stringify(phases)}`);
      assert.ok(phases.projection + phases.forwardBackward + phases.adjoint + phases.optimizer <= wall, `phases ${JSON.stringify(phases)} within the step's ${wall} s`);
    }
    assert.deepEqual(timed.params, plain.params);
    plain.dispose();
    timed.dispose();
  });
});

describe('subspace training: SAID with weight decay', () => {
  const selected = (model: TrainableModel) => selectTensors(model.params.list, ['attention', 'classifier.*'], ['LayerNorm']);
  async function saidModel(weightDecay: number): Promise<SubspaceModel> {
    const model = await tinyModel(false);
    const tensors = selected(model);
    const sub = new SubspaceModel(model, tensors, await makeProjection(spec('said', 'fastfood'), tensorSpecs(tensors), 64, 2), { weightDecay });
    // θ away from 0 (so decay has something to shrink); λ at its start, 1.
    const rng = new Rng(5);
    for (let i = 0; i < 64 - tensors.length; i++) sub.params[i] = 0.05 * rng.normal();
    return sub;
  }

  test('a step decays θ only: λ\'s update equals the no-decay update exactly; θ shrinks by lr·wd·θ', async () => {
    const [plain, decayed] = [await saidModel(0), await saidModel(0.5)];
    const k = 64 - selected(plain.model).length;
    assert.equal(decayed.projection.scalars, 64 - k);
    const start = Float64Array.from(plain.params);
    const batch = batchOf(plain.model, 8);
    const lr = 0.01;
    await plain.step(batch, lr, 1);
    await decayed.step(batch, lr, 1);
    assert.ok(plain.params.subarray(k).some((v) => v !== 1), 'λ moved: the comparison is not trivial');
    assert.deepEqual([...decayed.params.subarray(k)], [...plain.params.subarray(k)]);
    for (let i = 0; i < k; i++) {
      // AdamW: p·(1 − lr·wd) − u against p − u, the same u (same gradient).
      assert.ok(Math.abs(decayed.params[i] - (plain.params[i] - lr * 0.5 * start[i])) < 1e-15, `θ[${i}]: ${decayed.params[i]} vs ${plain.params[i]} − ${lr * 0.5 * start[i]}`);
    }
    plain.dispose(); decayed.dispose();
  });

  test('under a zero gradient, weight decay leaves every λ at exactly 1 and scales θ by 1 − lr·wd', async () => {
    const sub = await saidModel(0.5);
    const k = 64 - sub.projection.scalars;
    const start = Float64Array.from(sub.params);
    sub.grad.fill(0);
    sub.optimizer.update(0.1);
    assert.deepEqual([...sub.params.subarray(k)], new Array(64 - k).fill(1));
    for (let i = 0; i < k; i++) assert.equal(sub.params[i], start[i] * (1 - 0.1 * 0.5));
    sub.dispose();
  });
});

describe('the cost estimate', () => {
  const record = (d: number, seed: number): ProbeRecord => ({ d, seed, score: 0.5, lr: 0.01, lrScores: [], steps: 10, seconds: 1 });

  test('a grid: exactly dims × seeds × lrs probe runs, less the finished (d, seed) probes × lrs', () => {
    const grid = { dims: [10, 100, 1000], seedsPerProbe: 3, lrs: [0.01, 0.03], tolerance: 0.1 };
    assert.equal(estimatedRuns(grid, 1, 1000, []), 18);
    assert.equal(estimatedRuns(grid, 1, 1000, [record(10, 0), record(10, 1), record(10, 2), record(100, 0)]), 10);
    assert.equal(estimatedRuns(grid, 1, 1000, [0, 1, 2].flatMap((s) => [10, 100, 1000].map((d) => record(d, s)))), 0);
  });

  test('a search: half the ladder plus the bisection steps, per seed and lr', () => {
    const search = { dims: null, seedsPerProbe: 3, lrs: [0.01], tolerance: 0.1 };
    // Ladder 1, 2, …, 512, 1000: ⌈log2 1000⌉ + 1 = 11 rungs, about half probed; bisection from a
    // factor 2 to 1.1: ⌈log2(ln 2 / ln 1.1)⌉ = ⌈log2 7.27⌉ = 3 steps. ⌈5.5 + 3⌉ = 9 d × 3 seeds.
    assert.equal(estimatedRuns(search, 1, 1000, []), 27);
    // (On min(d/50, 1) the search probes 10 d: 1, 2, 4, …, 64, 45, 54, 49; test/subspace.test.ts.)
    // Tolerance 0 bisects to single d: ⌈log2(1000 / 2)⌉ = 9 steps; ⌈5.5 + 9⌉ = 15 d, 2 lrs each.
    assert.equal(estimatedRuns({ ...search, seedsPerProbe: 1, lrs: [0.01, 0.1], tolerance: 0 }, 1, 1000, []), 30);
    // Finished probes count off; never below 0.
    assert.equal(estimatedRuns(search, 1, 1000, [record(1, 0), record(1, 1)]), 25);
    assert.equal(estimatedRuns(search, 1000, 1000, Array.from({ length: 40 }, (_, i) => record(1000, i))), 0);
  });

  test('the message: runs × steps × seconds per step, and the baseline\'s', () => {
    assert.equal(costMessage(27, 190, { subspaceStepSeconds: 0.25, baselineStepSeconds: 0.08 }),
      'about 27 probe runs × 190 steps × 0.25 s ≈ 21 min 23 s (+ baseline 190 steps × 0.08 s ≈ 15 s)');
    assert.equal(costMessage(4, 10, { subspaceStepSeconds: 0.5, baselineStepSeconds: null }), 'about 4 probe runs × 10 steps × 0.50 s ≈ 20 s');
  });
});

describe('the intrinsic-dim driver on a known answer (a probe runner of exact scores)', () => {
  // The real driver on the tiny model and SST-2 (the folder, the cost estimate's timing step, the
  // search, the decision, resume); only the probes are replaced by a known score function.
  const options = (o: Partial<IntrinsicDimOptions>): IntrinsicDimOptions => ({
    model: TINY, task: 'sst2', data: SST2, method: 'did', projection: 'fastfood', publicCodeSizing: false, gradientScaleOneOverL: false,
    dims: null, search: true, seedsPerProbe: 1, epochs: 1, trainLimit: 8, evalLimit: 32, maxLength: 16, batchSize: 8,
    lrs: [0.01], baselineLr: 1e-4, baseline: 1, include: null, exclude: ['word_embeddings'], minDim: null, maxDim: 1000, tolerance: 0,
    schedule: 'constant', maxGradNorm: 1, subspaceWeightDecay: 0, threads: 1, ...o,
  });
  const env = { version: '0.0.0-test' };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-id-driver-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  /** A probe runner scoring (d, seed) by `score`, counting its calls; it throws at call `failAt` (a killed run). */
  const runner = (score: (d: number, seed: number) => number, failAt = Infinity) => {
    const calls: [number, number][] = [];
    const probe: ProbeRunner = async (_ctx, d, seed) => {
      if (calls.length + 1 === failAt) throw new Error('killed');
      calls.push([d, seed]);
      return { score: score(d, seed), steps: 1, seconds: 0, finalLoss: 0 };
    };
    return { probe, calls };
  };

  test('the expected curve min(d/50, 1), one seed, tolerance 0: the ladder, then bisection, d90 = 46 (strict)', async () => {
    const { probe, calls } = runner((d) => Math.min(d / 50, 1));
    const out = path.join(root, 'curve');
    const r = await runIntrinsicDim(options({}), out, env, {}, probe);
    assert.equal(r.status, 'finished');
    assert.deepEqual(calls.map(([d]) => d), [1, 2, 4, 8, 16, 32, 64, 45, 54, 49, 47, 46]);
    assert.equal(r.result!.d90, 46);
    assert.equal(r.result!.threshold, 0.9);
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8')).d90, 46);
  });

  test('n = 50 random linear constraints, exact least squares in a dense Gaussian subspace, 10 seeds: d90 = 46; killed mid-bisection and rerun, the same result', async () => {
    const score = (d: number, seed: number) => linearToyScore(50, 1000, seed, d);
    const whole = runner(score);
    const r = await runIntrinsicDim(options({ seedsPerProbe: 10 }), path.join(root, 'toy'), env, {}, whole.probe);
    // The mean over 10 instances is within 0.05 of d/50 (test/subspace.test.ts): the search takes
    // the expected curve's path and lands on its answer.
    const d90 = r.result!.d90!;
    assert.equal(d90, 46);
    const ds = [...new Set(whole.calls.map(([d]) => d))];
    assert.deepEqual(ds, [1, 2, 4, 8, 16, 32, 64, 45, 54, 49, 47, 46]);
    for (const d of ds) assert.equal(whole.calls.filter(([x]) => x === d).length, 10, `every probed d has all 10 seeds (d = ${d})`);

    // Killed at probe 85 (the 2nd bisection d, seed 4): 84 probes kept; the same call finishes the
    // half-probed d first and ends where the whole run did.
    const out = path.join(root, 'toy-killed');
    const killed = runner(score, 85);
    await assert.rejects(runIntrinsicDim(options({ seedsPerProbe: 10 }), out, env, {}, killed.probe), /killed/);
    assert.equal(fs.readFileSync(path.join(out, 'probes.jsonl'), 'utf8').trim().split('\n').length, 84);
    assert.ok(!fs.existsSync(path.join(out, 'result.json')));
    const rest = runner(score);
    const resumed = await runIntrinsicDim(options({ seedsPerProbe: 10 }), out, env, {}, rest.probe);
    assert.deepEqual(rest.calls, whole.calls.slice(84), 'no probe runs twice; the rest in the same order');
    assert.equal(resumed.result!.d90, d90);
    assert.deepEqual(resumed.result!.interval, r.result!.interval);
    assert.deepEqual(resumed.result!.probes, r.result!.probes);
  });
});

describe('tensor selection', () => {
  test('substring patterns, globs over the whole name, include then exclude', async () => {
    assert.ok(patternMatches('attention', 'bert.encoder.layer.0.attention.self.query.weight'));
    assert.ok(!patternMatches('attention.*.bias', 'bert.encoder.layer.0.attention.self.query.weight'), 'a glob is anchored');
    assert.ok(patternMatches('*attention.*.bias', 'bert.encoder.layer.0.attention.self.query.bias'));
    assert.ok(patternMatches('classifier.?eight', 'classifier.weight'));
    assert.ok(!patternMatches('classifier.?eight', 'classifier.bias'));
    const model = await tinyModel();
    const names = selectTensors(model.params.list, ['classifier.*', 'pooler'], ['bias']).map((p) => p.name);
    assert.deepEqual(names, ['bert.pooler.dense.weight', 'classifier.weight']);
    assert.equal(selectTensors(model.params.list, null, []).length, model.params.list.length);
    throwsUser(() => selectTensors(model.params.list, ['no_such_tensor'], []), /--include=no_such_tensor select none of the model's \d+ tensors/);
    throwsUser(() => selectTensors(model.params.list, null, ['*']), /--exclude=\* select none/);
    throwsUser(() => parsePatterns(' , ', '--include'), /--include is empty/);
  });

  test('the dimension checks: d ≤ 0, d beyond D, SAID d ≤ m, a dense matrix too large (with its size)', () => {
    const tensors = [{ name: 'a', size: 1000 }, { name: 'b', size: 24 }];
    throwsUser(() => checkSubspaceDim(spec('did', 'fastfood'), tensors, 0), /positive integer, got 0/);
    throwsUser(() => checkSubspaceDim(spec('did', 'fastfood'), tensors, 1025), /d = 1025 exceeds the 1024 trainable parameters/);
    throwsUser(() => checkSubspaceDim(spec('said', 'fastfood'), tensors, 2), /SAID needs d > m = 2/);
    checkSubspaceDim(spec('said', 'fastfood'), tensors, 3);
    const big = [{ name: 'w', size: 2 ** 26 }];
    throwsUser(() => checkSubspaceDim(spec('did', 'dense'), big, 2 ** 20), /dense projection: d × D × 4 bytes = 1048576 × 67108864 × 4 = 262144\.0 GiB would not fit/);
  });
});

describe('chance and the primary metric', () => {
  test('the primary metric per task', () => {
    const primary = Object.fromEntries(['sst2', 'mrpc', 'qqp', 'cola', 'rte', 'qnli', 'wnli', 'stsb'].map((t) => [t, taskSpec(t).primaryMetric]));
    assert.deepEqual(primary, { sst2: 'accuracy', mrpc: 'f1', qqp: 'f1', cola: 'matthews', rte: 'accuracy', qnli: 'accuracy', wnli: 'accuracy', stsb: 'spearman' });
  });

  test('known answers: majority accuracy, MRPC F1 of all-positive = 2p/(1 + p), Matthews 0, STS-B 0', () => {
    assert.equal(chanceScore(taskSpec('sst2'), [1, 1, 0, 1, 0, 1, 1, 1]), 0.75);
    assert.equal(chanceScore(taskSpec('rte'), [0, 1, 1]), 2 / 3);
    // 7 positives in 10: F1 of predicting all 1 = 2·0.7/1.7; predicting all 0 gives F1 = 0.
    assert.equal(chanceScore(taskSpec('mrpc'), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]), 14 / 17);
    assert.equal(chanceScore(taskSpec('cola'), [1, 0, 1, 1]), 0);
    assert.equal(chanceScore(taskSpec('stsb'), [0.5, 4.2, 3.1]), 0);
    // The real MRPC dev split: 279 of 408 pairs are paraphrases, F1 ≈ 0.81.
    const mrpc = readDataset(path.resolve(SHARED, 'data', 'glue', 'MRPC'), { task: 'mrpc', split: 'dev' });
    const p = (mrpc.labels as number[]).filter((l) => l === 1).length / mrpc.labels!.length;
    assert.ok(Math.abs(chanceScore(taskSpec('mrpc'), mrpc.labels as number[]) - (2 * p) / (1 + p)) < 1e-12);
    assert.ok(Math.abs((2 * p) / (1 + p) - 0.81) < 0.01);
  });
});

describe('the result files with a d90', () => {
  test('decideD90 and bootstrapD90 on synthetic probes → result.json, probes.csv and a page that pass the checker and name d90', async () => {
    // Scores min(d/50, 1)·0.9 + seed noise: the smoothed mean first beats 0.9 × 0.85 = 0.765 at d = 64.
    const records = [16, 32, 64, 128].flatMap((d) => [0, 1, 2].map((seed) => {
      const score = Math.min(d / 50, 1) * 0.9 + (seed - 1) * 0.01;
      return { d, seed, score, lr: 0.01, lrScores: [{ lr: 0.01, score }], steps: 10, seconds: 1.5 };
    }));
    const probes = records.map((r) => ({ d: r.d, seed: r.seed, score: r.score }));
    const decision = { baseline: 0.85, chance: 0.5 };
    const d90 = decideD90(probes, decision);
    assert.equal(d90.d90, 64);
    const interval = bootstrapD90(probes, { ...decision, resamples: 100, seed: 0 }).interval;
    assert.deepEqual(interval, [64, 64]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-id-files-'));
    try {
      await writeResultFiles(dir, {
        d90: d90.d90, interval, baseline: 0.85, threshold: 0.9 * 0.85, chance: 0.5, method: 'did',
        projection: { mode: 'fastfood', publicCodeSizing: false, gradientScaleOneOverL: false },
        probes: records.map((r) => ({ d: r.d, seed: r.seed, score: r.score, lr: r.lr })), metric: 'accuracy', task: 'sst2',
        decision: { curve: d90.curve }, version: '0.0.0-test',
      }, records);
      const r = spawnSync('python3', [path.resolve(SHARED, 'tools', 'check-output-folder.py'), 'intrinsic-dim', dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(fs.readFileSync(path.join(dir, 'probes.csv'), 'utf8'), probesCsv(records));
      assert.equal(probesCsv(records).split('\n')[1], '16,0,0.278,0.01,10,1.500,0.01:0.278');
      const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
      assert.match(html, /<title>Intrinsic dimension \(DID\): d90 = 64<\/title>/);
      assert.match(html, /bootstrap 95% interval 64 – 64/);
      assert.equal((html.match(/<svg/g) ?? []).length, 1);
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8')).d90, 64);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
