/**
 * The trainable model's gradients against central finite differences of its own forward, for
 * every tensor of every architecture and head, in train mode (dropout on at every site: the
 * masks are a pure function of the key, so the function differentiated is fixed), with padding
 * in the batch and random gradients injected at every hidden state (what the regularizers do).
 *
 * Each tensor is checked along three unit directions v (its gradient's and two random ones):
 * |FD(v) − ⟨g, v⟩| ≤ 2e-3·‖g‖ + 1e-4, FD the Richardson extrapolation of central quotients at
 * h = 1e-2 and 2e-2 (truncation O(h⁴)). Why this tolerance: the forward runs in float32, so the
 * function (loss plus the injected terms, a few units) carries ~1e-6 absolute noise, ~1e-4 in
 * the extrapolated quotient at worst, hence the floor; the rest is relative to the tensor's
 * gradient. A wrong sign, a missing term, a wrong dropout mask or a transposed product shows up
 * as an error of order ‖g‖.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseConfig } from '../src/models/config.js';
import { TrainableModel, type HeadKind, type TrainingBatch } from '../src/models/trainable.js';
import { Rng } from '../src/backend/rng.js';
import { throwsUser } from './helpers/errors.js';

const RAW: Record<string, Record<string, unknown>> = {
  bert: { model_type: 'bert', vocab_size: 30, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 12, max_position_embeddings: 8, type_vocab_size: 2, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 },
  roberta: { model_type: 'roberta', vocab_size: 30, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 12, max_position_embeddings: 9, type_vocab_size: 1, pad_token_id: 1, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 },
  distilbert: { model_type: 'distilbert', vocab_size: 30, dim: 8, n_layers: 2, n_heads: 2, hidden_dim: 12, max_position_embeddings: 8, dropout: 0.1, attention_dropout: 0.1, seq_classif_dropout: 0.2 },
  // Two layers in one group of two: 4 layer applications over 2 distinct layers (summed gradients).
  albert: { model_type: 'albert', vocab_size: 30, embedding_size: 6, hidden_size: 8, num_hidden_layers: 2, num_hidden_groups: 1, inner_group_num: 2, num_attention_heads: 2, intermediate_size: 12, max_position_embeddings: 8, type_vocab_size: 2, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, classifier_dropout_prob: 0.1 },
};

const B = 2, T = 5;

function batchFor(family: string, head: HeadKind): TrainingBatch {
  const pad = family === 'roberta' ? 1 : 0;
  const inputIds = Int32Array.from([2, 7, 11, 5, 3, 2, 9, 4, pad, pad]);
  const attentionMask = Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  const tokenTypeIds = family === 'roberta' ? new Int32Array(B * T) : Int32Array.from([0, 0, 0, 1, 1, 0, 0, 1, 0, 0]);
  const labels = head.kind === 'mlm' ? Int32Array.from([-100, 12, -100, 5, -100, 17, -100, 4, -100, -100])
    : head.kind === 'regression' ? Float32Array.from([0.7, -1.3]) : Int32Array.from([head.labels - 1, 0]);
  return { batch: B, seqLen: T, inputIds, attentionMask, tokenTypeIds, labels };
}

function model(family: string, head: HeadKind, seed = 5): TrainableModel {
  const config = normaliseConfig({ ...RAW[family], initializer_range: 0.3 });
  const m = new TrainableModel(config, head, { seed });
  m.params.initialise(seed);
  // Non-trivial LayerNorm parameters and biases, so their gradients are checked in general position.
  const rng = new Rng(seed + 1);
  for (const p of m.params.list) if (p.noDecay) for (let i = 0; i < p.value.length; i++) p.value[i] += 0.2 * (rng.nextFloat() - 0.5);
  return m.train();
}

const CASES: [string, HeadKind][] = [
  ['bert', { kind: 'classification', labels: 3 }], ['bert', { kind: 'regression' }], ['bert', { kind: 'mlm' }],
  ['roberta', { kind: 'classification', labels: 2 }], ['roberta', { kind: 'mlm' }],
  ['distilbert', { kind: 'classification', labels: 2 }], ['distilbert', { kind: 'mlm' }],
  ['albert', { kind: 'classification', labels: 2 }], ['albert', { kind: 'mlm' }],
];

for (const [family, head] of CASES) {
  test(`${family} ${head.kind}: every tensor's gradient matches finite differences (dropout on, padding, injected state gradients)`, () => {
    // DistilBERT's ReLU head: seed 7 puts every ReLU input ≥ 0.12 from 0, beyond what the steps
    // move it (‖Δpre‖ ≤ 2h·|LayerNorm output| ≈ 0.06), so the function is smooth where differenced.
    const m = model(family, head, family === 'distilbert' && head.kind === 'classification' ? 7 : 5);
    const batch = batchFor(family, head);
    const step = 3;
    const L = m.config.numLayers, H = m.config.hiddenSize;
    // Random weights on every hidden state: f = loss + Σᵢ ⟨wᵢ, hidden_states[i]⟩.
    const rng = new Rng(11);
    const weights = Array.from({ length: L + 1 }, () => Float32Array.from({ length: B * T * H }, () => 0.3 * (rng.nextFloat() - 0.5)));
    const f = (): number => {
      const pass = m.forward(batch, step);
      let v = pass.loss;
      pass.hiddenStates.forEach((h, i) => { for (let j = 0; j < h.length; j++) v += weights[i][j] * h[j]; });
      return v;
    };
    m.params.zeroGrads();
    const pass = m.forward(batch, step);
    assert.equal(pass.hiddenStates.length, L + 1);
    m.backward(pass, { hiddenGrads: weights });

    const h = 1e-2;
    let checked = 0;
    for (const p of m.params.list) {
      const g = Float64Array.from(p.grad);
      const gNorm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
      const directions: Float64Array[] = [];
      if (gNorm > 0) directions.push(g.map((x) => x / gNorm));
      for (let k = 0; k < 2; k++) {
        const v = Float64Array.from({ length: g.length }, () => rng.nextFloat() - 0.5);
        const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
        directions.push(v.map((x) => x / n));
      }
      // Rows under padding_idx get no gradient by definition (nn.Embedding), so are not perturbed.
      const frozen = p.name.endsWith('word_embeddings.weight') || (family === 'roberta' && p.name.endsWith('position_embeddings.weight'))
        ? m.config.padTokenId : -1;
      const width = p.shape[1];
      if (frozen >= 0) for (const v of directions) v.fill(0, frozen * width, (frozen + 1) * width);
      const saved = Float32Array.from(p.value);
      const quotient = (v: Float64Array, step: number) => {
        for (let i = 0; i < v.length; i++) p.value[i] = saved[i] + step * v[i];
        const plus = f();
        for (let i = 0; i < v.length; i++) p.value[i] = saved[i] - step * v[i];
        const minus = f();
        p.value.set(saved);
        return (plus - minus) / (2 * step);
      };
      for (const v of directions) {
        // Richardson: the h² terms of the two central quotients cancel.
        const fd = (4 * quotient(v, h) - quotient(v, 2 * h)) / 3;
        let analytic = 0;
        for (let i = 0; i < v.length; i++) analytic += g[i] * v[i];
        assert.ok(Math.abs(fd - analytic) <= 2e-3 * gNorm + 1e-4, `${p.name}: finite differences ${fd} vs analytic ${analytic} (‖g‖ ${gNorm})`);
      }
      checked++;
    }
    assert.equal(checked, m.params.list.length);
  });
}

test('word-embedding gradients are zero outside the used rows and on the pad row (padding_idx)', () => {
  const m = model('bert', { kind: 'classification', labels: 2 });
  const batch = batchFor('bert', { kind: 'classification', labels: 2 });
  m.params.zeroGrads();
  m.backward(m.forward(batch, 0));
  const word = m.params.get('bert.embeddings.word_embeddings.weight');
  const used = new Set(batch.inputIds);
  for (let r = 0; r < 30; r++) {
    const row = word.grad.subarray(r * 8, r * 8 + 8);
    const nonzero = row.some((x) => x !== 0);
    // The pad row (id 0) is used but, as nn.Embedding(padding_idx=pad_token_id), gets no gradient.
    assert.equal(nonzero, used.has(r) && r !== 0, `row ${r}`);
  }
});

test('eval mode has no dropout: two steps give the same loss; train mode differs between steps', () => {
  const m = model('bert', { kind: 'classification', labels: 2 });
  const batch = batchFor('bert', { kind: 'classification', labels: 2 });
  m.eval();
  assert.equal(m.forward(batch, 1).loss, m.forward(batch, 2).loss);
  m.train();
  assert.notEqual(m.forward(batch, 1).loss, m.forward(batch, 2).loss);
  assert.equal(m.forward(batch, 1).loss, m.forward(batch, 1).loss);
});

test('ALBERT: hidden states per outer layer (L + 1), shared tensors counted once', () => {
  const m = model('albert', { kind: 'classification', labels: 2 });
  const names = m.params.list.map((p) => p.name);
  assert.ok(names.includes('albert.encoder.albert_layer_groups.0.albert_layers.1.ffn.weight'));
  assert.ok(!names.some((n) => n.includes('albert_layer_groups.1')));
  assert.ok(names.includes('albert.encoder.embedding_hidden_mapping_in.weight'));
  assert.equal(m.forward(batchFor('albert', { kind: 'classification', labels: 2 }), 0).hiddenStates.length, 3);
});

test('RoBERTa: the padding position row gets no gradient (padding_idx of its position embeddings)', () => {
  const m = model('roberta', { kind: 'classification', labels: 2 });
  m.params.zeroGrads();
  m.backward(m.forward(batchFor('roberta', { kind: 'classification', labels: 2 }), 0));
  const pos = m.params.get('roberta.embeddings.position_embeddings.weight');
  assert.ok(pos.grad.subarray(8, 16).every((x) => x === 0), 'row 1 (padding_idx)');
  assert.ok(pos.grad.subarray(16, 24).some((x) => x !== 0), 'row 2 (the first token)');
});

test('lossScale scales the head gradient (gradient accumulation); a seed outside [0, 2^32) is refused', () => {
  const m = model('bert', { kind: 'classification', labels: 2 });
  const batch = batchFor('bert', { kind: 'classification', labels: 2 });
  m.params.zeroGrads();
  m.backward(m.forward(batch, 1));
  const once = m.params.list.map((p) => Float32Array.from(p.grad));
  m.params.zeroGrads();
  m.backward(m.forward(batch, 1), { lossScale: 0.5 });
  m.backward(m.forward(batch, 1), { lossScale: 0.5 });
  m.params.list.forEach((p, i) => p.grad.forEach((g, j) => assert.ok(Math.abs(g - once[i][j]) <= 1e-6 * (1 + Math.abs(once[i][j])), p.name)));
  const config = normaliseConfig(RAW.bert);
  throwsUser(() => new TrainableModel(config, { kind: 'mlm' }, { seed: -1 }), /--seed must be a whole number/);
  throwsUser(() => new TrainableModel(config, { kind: 'mlm' }, { seed: 2 ** 32 }), /--seed must be a whole number/);
});

test('an injected gradient of the wrong size or at a layer past L is refused', () => {
  const m = model('bert', { kind: 'classification', labels: 2 });
  const pass = m.forward(batchFor('bert', { kind: 'classification', labels: 2 }), 0);
  assert.throws(() => m.backward(pass, { hiddenGrads: [null, new Float32Array(3)] }), /hiddenGrads\[1\] has 3 values/);
  assert.throws(() => m.backward(pass, { hiddenGrads: [null, null, null, new Float32Array(B * T * 8)] }), /hiddenGrads\[3\]/);
});
