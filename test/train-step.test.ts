/**
 * The training step as a mechanism, on a tiny BERT and a toy task whose label is which of two
 * marker tokens a sequence holds: training reaches high held-out accuracy; the I-STAR penalty
 * moves the batch IsoScore⋆ the way its sign says; the same seed gives bitwise the same
 * parameters whatever the products' thread count; the weight-decay groups follow HF's rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { configureProducts } from '../src/backend/products/index.js';
import { normaliseConfig } from '../src/models/config.js';
import { TrainableModel, type TrainingBatch } from '../src/models/trainable.js';
import { Rng } from '../src/backend/rng.js';
import { IStar } from '../src/regularizers/istar.js';
import { createOptimizer, refreshRegularizer, trainStep } from '../src/train/step.js';

const CONFIG = { model_type: 'bert', vocab_size: 24, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16, type_vocab_size: 2 };
const CLS = 2, SEP = 3, MARK = [5, 6];

/** B sequences of 6–8 tokens (padded to 8): [CLS] filler… with marker 5 (label 0) or 6 (label 1) somewhere, [SEP]. */
function toyBatch(rng: Rng, B: number): TrainingBatch {
  const T = 8, ids = new Int32Array(B * T), mask = new Int32Array(B * T), labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const len = 6 + Math.floor(rng.nextFloat() * 3), label = rng.nextFloat() < 0.5 ? 0 : 1, at = 1 + Math.floor(rng.nextFloat() * (len - 2));
    labels[b] = label;
    for (let t = 0; t < len; t++) {
      ids[b * T + t] = t === 0 ? CLS : t === len - 1 ? SEP : t === at ? MARK[label] : 7 + Math.floor(rng.nextFloat() * 17);
      mask[b * T + t] = 1;
    }
  }
  return { batch: B, seqLen: T, inputIds: ids, attentionMask: mask, labels };
}

function newModel(seed: number): TrainableModel {
  const m = new TrainableModel(normaliseConfig(CONFIG), { kind: 'classification', labels: 2 }, { seed });
  m.params.initialise(seed);
  return m;
}

/** Accuracy of eval-mode predictions (a forward without labels: logits only). */
function accuracy(m: TrainableModel, batch: TrainingBatch): number {
  const { logits, loss } = m.eval().forward({ ...batch, labels: undefined });
  assert.ok(Number.isNaN(loss));
  let right = 0;
  for (let b = 0; b < batch.batch; b++) right += Number((logits[2 * b + 1] > logits[2 * b] ? 1 : 0) === batch.labels![b]);
  return right / batch.batch;
}

function run(seed: number, steps: number, lambda: number | null) {
  const m = newModel(seed);
  const opt = createOptimizer(m, { weightDecay: 0.01, noDecayNormsBiases: true });
  const data = new Rng(seed + 100);
  const reg = lambda === null ? null : new IStar({ lambda, zeta: 0.2, c0: 'identity', layers: 2 });
  if (reg) refreshRegularizer(m, reg, Array.from({ length: 4 }, () => toyBatch(new Rng(7), 16)));
  const values: number[] = [];
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const r = trainStep(m, opt, toyBatch(data, 16), { lr: 1e-3, maxGradNorm: 1, regularizer: reg });
    if (r.regValue !== null) values.push(r.regValue);
    losses.push(r.taskLoss);
  }
  return { model: m, values, losses };
}

const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;

test('a few hundred steps on a separable toy task reach high held-out accuracy', () => {
  const heldOut = toyBatch(new Rng(999), 200);
  const before = accuracy(newModel(1), heldOut);
  const { model, losses } = run(1, 300, null);
  const after = accuracy(model, heldOut);
  assert.ok(before < 0.7, `untrained accuracy ${before} is near chance`);
  assert.ok(after >= 0.95, `accuracy after training ${after} (loss ${mean(losses.slice(-20)).toFixed(4)})`);
});

test('I-STAR: λ < 0 ends with a lower batch IsoScore⋆ than λ = 0, λ > 0 with a higher one (same seed)', () => {
  const last = (lambda: number) => mean(run(2, 150, lambda).values.slice(-20));
  const [down, none, up] = [last(-1), last(0), last(1)];
  console.log(`batch IsoScore⋆ over the last 20 steps: λ=−1 ${down.toFixed(4)}, λ=0 ${none.toFixed(4)}, λ=+1 ${up.toFixed(4)}`);
  assert.ok(down < none && none < up, `IsoScore⋆ λ=−1 ${down.toFixed(4)}, λ=0 ${none.toFixed(4)}, λ=+1 ${up.toFixed(4)}`);
});

function digest(m: TrainableModel): string {
  const h = createHash('sha256');
  for (const p of m.params.list) h.update(p.name).update(Buffer.from(p.value.buffer, p.value.byteOffset, p.value.byteLength));
  return h.digest('hex');
}

/** A wider model and batch (rows 16·32 = 512, H 64), so products are large enough to be split over threads. */
function wideRun(seed: number, steps: number): TrainableModel {
  const m = new TrainableModel(normaliseConfig({ ...CONFIG, hidden_size: 64, num_attention_heads: 4, intermediate_size: 256, max_position_embeddings: 32 }), { kind: 'classification', labels: 2 }, { seed });
  m.params.initialise(seed);
  const opt = createOptimizer(m, { weightDecay: 0.01, noDecayNormsBiases: true });
  const reg = new IStar({ lambda: -1, zeta: 0.2, c0: 'identity', layers: 2 });
  const data = new Rng(seed);
  for (let s = 0; s < steps; s++) {
    const short = toyBatch(data, 16), T = 32;
    // Pad the toy sequences to 32 positions.
    const ids = new Int32Array(16 * T), mask = new Int32Array(16 * T);
    for (let b = 0; b < 16; b++) { ids.set(short.inputIds.subarray(b * 8, b * 8 + 8), b * T); mask.set(short.attentionMask.subarray(b * 8, b * 8 + 8), b * T); }
    trainStep(m, opt, { ...short, seqLen: T, inputIds: ids, attentionMask: mask }, { lr: 1e-3, maxGradNorm: 1, regularizer: reg });
  }
  return m;
}

for (const blas of ['auto', 'wasm']) {
  test(`the same seed gives bitwise the same parameters after 10 steps, with 1 or 2 product threads (products: ${blas})`, () => {
    try {
      configureProducts({ blas, threads: 1 });
      const one = digest(wideRun(3, 10));
      configureProducts({ blas, threads: 2 });
      const two = digest(wideRun(3, 10));
      assert.equal(one, two);
      assert.equal(digest(wideRun(3, 10)), two, 'a second run');
      assert.notEqual(digest(wideRun(4, 10)), two, 'another seed gives other parameters');
    } finally {
      configureProducts({ blas: undefined, threads: undefined });
    }
  });
}

test('a step that reports its phases takes bitwise the same step; the phases are parts of its time', () => {
  const plain = newModel(0), timed = newModel(0);
  const optPlain = createOptimizer(plain, { weightDecay: 0.01, noDecayNormsBiases: false });
  const optTimed = createOptimizer(timed, { weightDecay: 0.01, noDecayNormsBiases: false });
  const dataPlain = new Rng(3), dataTimed = new Rng(3);
  const phases = { forwardBackward: -1, optimizer: -1 };
  for (let s = 0; s < 3; s++) {
    const a = trainStep(plain, optPlain, toyBatch(dataPlain, 16), { lr: 1e-3, maxGradNorm: 1 });
    const started = performance.now();
    const b = trainStep(timed, optTimed, toyBatch(dataTimed, 16), { lr: 1e-3, maxGradNorm: 1, phases });
    const wall = (performance.now() - started) / 1000;
    assert.deepEqual(b, a);
    assert.ok(phases.forwardBackward > 0 && phases.optimizer >= 0, `phases written: ${JSON.stringify(phases)}`);
    assert.ok(phases.forwardBackward + phases.optimizer <= wall, `phases ${JSON.stringify(phases)} within the step's ${wall} s`);
  }
  plain.params.list.forEach((p, i) => assert.deepEqual(timed.params.list[i].value, p.value, p.name));
});

test('weight-decay groups: none on biases and LayerNorm weights under HF’s rule, all decayed otherwise', () => {
  const m = newModel(0);
  const decays = (noDecayNormsBiases: boolean) => {
    const opt = createOptimizer(m, { weightDecay: 0.01, noDecayNormsBiases });
    // AdamW with zero gradients changes a parameter only through its decay.
    const before = m.params.list.map((p) => Float32Array.from(p.value));
    m.params.zeroGrads();
    opt.update(0.1);
    return m.params.list.filter((p, i) => p.value.some((v, j) => v !== before[i][j])).map((p) => p.name);
  };
  const hf = new Set(decays(true));
  assert.ok(hf.has('bert.encoder.layer.0.attention.self.query.weight'));
  assert.ok(hf.has('bert.embeddings.word_embeddings.weight'));
  assert.ok(!hf.has('bert.encoder.layer.0.attention.output.LayerNorm.weight'));
  assert.ok(!hf.has('bert.embeddings.LayerNorm.weight'));
  assert.ok(![...hf].some((n) => n.endsWith('.bias')));
  const all = new Set(decays(false));
  assert.ok(all.has('bert.embeddings.LayerNorm.weight'));
});
