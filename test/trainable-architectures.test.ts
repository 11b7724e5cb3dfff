/**
 * The trainable model's eval-mode forward against the float64 PyTorch re-implementation of the
 * four architectures (test/fixtures/models: 1-layer BERT, RoBERTa, DistilBERT, ALBERT with its
 * shared layer run twice; tiny-bert-mlm's reference in ../shared): every hidden state at the
 * non-padding positions and the masked-LM logits, within 1e-4 absolute as the encoder's tests
 * (float32 forward passes are within a few 1e-6 of these). With the finite-difference tests of
 * the backward, this checks each architecture's gradients against PyTorch's semantics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainableModel } from '../src/models/trainable.js';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures', 'models');
const TOLERANCE = 1e-4;

for (const arch of ['bert', 'roberta', 'distilbert', 'albert']) {
  test(`${arch}: hidden states and MLM logits (tied decoder) match PyTorch`, async () => {
    const dir = path.join(FIXTURES, arch);
    const inputs = JSON.parse(fs.readFileSync(path.join(dir, 'inputs.json'), 'utf8')) as Record<string, number[][]>;
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { hidden_states: number[][][][]; mlm_logits: number[][][] };
    const B = inputs.input_ids.length, T = inputs.input_ids[0].length;
    const mask = Int32Array.from(inputs.attention_mask.flat());
    const ids = Int32Array.from(inputs.input_ids.flat());
    // Predict every real token (its own id as the label), so logits come back at every non-padding position.
    const labels = Int32Array.from(ids, (id, i) => (mask[i] ? id : -100));
    const model = await TrainableModel.fromCheckpoint(dir, { kind: 'mlm' });
    const pass = model.eval().forward({
      batch: B, seqLen: T, inputIds: ids, attentionMask: mask,
      tokenTypeIds: inputs.token_type_ids ? Int32Array.from(inputs.token_type_ids.flat()) : undefined, labels,
    });
    assert.equal(pass.hiddenStates.length, expected.hidden_states.length);
    const H = model.config.hiddenSize, V = model.config.vocabSize;
    pass.hiddenStates.forEach((h, l) => {
      const want = expected.hidden_states[l].flat(2);
      let worst = 0;
      for (let i = 0; i < B * T; i++) if (mask[i]) for (let k = 0; k < H; k++) worst = Math.max(worst, Math.abs(h[i * H + k] - want[i * H + k]));
      assert.ok(worst < TOLERANCE, `${arch} layer ${l}: ${worst}`);
    });
    const wantLogits = expected.mlm_logits.flat(2);
    let row = 0, worst = 0;
    for (let i = 0; i < B * T; i++) {
      if (!mask[i]) continue;
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(pass.logits[row * V + v] - wantLogits[i * V + v]));
      row++;
    }
    assert.equal(row * V, pass.logits.length);
    assert.ok(worst < TOLERANCE, `${arch} MLM logits: ${worst}`);
    assert.ok(Number.isFinite(pass.loss) && pass.loss > 0);
  });
}

for (const arch of ['bert', 'albert']) {
  test(`${arch}: the classification head's pooler (dense + tanh on the first token) matches PyTorch's pooler output`, async () => {
    const dir = path.join(FIXTURES, arch);
    const inputs = JSON.parse(fs.readFileSync(path.join(dir, 'inputs.json'), 'utf8')) as Record<string, number[][]>;
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { pooler_output: number[][] };
    const B = inputs.input_ids.length, T = inputs.input_ids[0].length;
    const model = await TrainableModel.fromCheckpoint(dir, { kind: 'classification', labels: 2 });
    const pass = model.eval().forward({
      batch: B, seqLen: T, inputIds: Int32Array.from(inputs.input_ids.flat()), attentionMask: Int32Array.from(inputs.attention_mask.flat()),
      tokenTypeIds: inputs.token_type_ids ? Int32Array.from(inputs.token_type_ids.flat()) : undefined, labels: new Int32Array(B),
    });
    const pooled = (pass.saved.head as { act: Float32Array }).act;
    const want = expected.pooler_output.flat();
    assert.equal(pooled.length, want.length);
    pooled.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < TOLERANCE, `${arch} pooler ${i}: ${v} vs ${want[i]}`));
  });
}
