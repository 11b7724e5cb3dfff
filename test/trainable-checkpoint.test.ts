/**
 * The trainable model from and to Hugging Face checkpoint folders: the body as stored, a new
 * head drawn N(0, 0.02) with zero biases, a saved model (HF names) loading back bitwise with its
 * head, and a stored head that does not fit the task refused unless a new head is asked for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '../src/io/safetensors.js';
import { readConfig } from '../src/models/config.js';
import { loadWeights } from '../src/models/weights.js';
import { TrainableModel } from '../src/models/trainable.js';
import { checkpointConfig } from '../src/models/checkpoint-config.js';
import { UserError } from '../src/errors.js';

async function rejectsUser(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => e instanceof UserError && !e.message.includes('\n') && pattern.test(e.message));
}

const MODEL = join(import.meta.dirname, '..', '..', 'shared', 'models', 'tiny-bert-mlm');

test('from a checkpoint: body as stored, a new classifier N(0, 0.02) with zero bias', async () => {
  const m = await TrainableModel.fromCheckpoint(MODEL, { kind: 'classification', labels: 3 }, { seed: 4 });
  const w = await loadWeights(MODEL, readConfig(MODEL));
  assert.deepEqual(m.params.get('bert.encoder.layer.1.attention.self.value.weight').value, w.layers[1].value.weight);
  assert.deepEqual(m.params.get('bert.pooler.dense.weight').value, w.pooler!.weight);
  const c = m.params.get('classifier.weight').value;
  assert.deepEqual(m.params.get('classifier.weight').shape, [3, 128]);
  const mean = c.reduce((s, x) => s + x, 0) / c.length;
  const std = Math.sqrt(c.reduce((s, x) => s + (x - mean) ** 2, 0) / c.length);
  assert.ok(Math.abs(std - 0.02) < 0.002 && Math.abs(mean) < 0.003, `mean ${mean}, std ${std}`);
  assert.ok(m.params.get('classifier.bias').value.every((x) => x === 0));
  const again = await TrainableModel.fromCheckpoint(MODEL, { kind: 'classification', labels: 3 }, { seed: 4 });
  assert.deepEqual(again.params.get('classifier.weight').value, c, 'the same seed draws the same head');
});

test('saved with HF names, a model loads back bitwise with its head; a head that does not fit is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'repgeom-trainable-'));
  try {
    const m = await TrainableModel.fromCheckpoint(MODEL, { kind: 'classification', labels: 2 }, { seed: 1 });
    for (const p of m.params.list) for (let i = 0; i < p.value.length; i += 7) p.value[i] += 1e-3; // as after training
    writeSafetensors(join(dir, 'model.safetensors'), m.params.tensors());
    copyFileSync(join(MODEL, 'config.json'), join(dir, 'config.json'));
    const names = m.params.list.map((p) => p.name);
    assert.ok(names.includes('bert.encoder.layer.0.attention.self.query.weight') && names.includes('classifier.weight'));
    assert.equal(new Set(names).size, names.length);

    const back = await TrainableModel.fromCheckpoint(dir, { kind: 'classification', labels: 2 }, { seed: 99 });
    for (const p of m.params.list) assert.deepEqual(back.params.get(p.name).value, p.value, p.name);

    await rejectsUser(() => TrainableModel.fromCheckpoint(dir, { kind: 'classification', labels: 3 }), /classifier\.weight' has shape \[2, 128\].*--new-head/);
    const fresh = await TrainableModel.fromCheckpoint(dir, { kind: 'classification', labels: 3 }, { newHead: true });
    assert.deepEqual(fresh.params.get('classifier.weight').shape, [3, 128]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config.json of a saved model names the head class, its labels and the problem type', () => {
  const config = readConfig(MODEL);
  const cls = checkpointConfig(config, { kind: 'classification', labels: 2 }, ['negative', 'positive']);
  assert.deepEqual(cls.architectures, ['BertForSequenceClassification']);
  assert.deepEqual(cls.id2label, { 0: 'negative', 1: 'positive' });
  assert.deepEqual(cls.label2id, { negative: 0, positive: 1 });
  assert.equal(cls.problem_type, 'single_label_classification');
  assert.equal(cls.hidden_size, 128, 'the body keeps its config');
  const reg = checkpointConfig(config, { kind: 'regression' });
  assert.deepEqual(reg.id2label, { 0: 'LABEL_0' });
  assert.equal(reg.problem_type, 'regression');
  assert.deepEqual(checkpointConfig(config, { kind: 'mlm' }).architectures, ['BertForMaskedLM']);
  assert.equal(config.raw.architectures !== undefined && (config.raw.architectures as string[])[0], 'BertForMaskedLM', 'the loaded config is not changed');
  assert.throws(() => checkpointConfig(config, { kind: 'classification', labels: 3 }, ['a', 'b']), RangeError);
});
