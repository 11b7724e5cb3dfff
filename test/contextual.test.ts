/**
 * Ethayarajh's self-similarity and intra-sentence similarity: hand-computed answers, and the
 * O(n·d) sum forms against the pairwise definitions on random data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContextualAccumulator } from '../src/metrics/contextual.js';
import { gaussianMatrix } from './helpers/fixtures.js';

test('hand-computed: self-similarity 1/3 for one type, intra-sentence (1/√2 + 1)/2', () => {
  // rows: (example, token, vector)
  const rows: [number, number, number[]][] = [
    [0, 7, [1, 0]], [0, 8, [0, 1]], // sentence 0: mean (½, ½), cosines 1/√2 each
    [1, 7, [2, 0]], [1, 9, [1, 0]], // sentence 1: cosines 1 each
    [2, 7, [0, 3]],                 // one-token sentence: no intra-sentence value
  ];
  const acc = new ContextualAccumulator(2, 3);
  acc.add(rows.map((r) => r[0]), rows.map((r) => r[1]), rows.flatMap((r) => r[2]), rows.length);
  const r = acc.result();
  // Type 7 occurs 3 times: unit vectors (1,0), (1,0), (0,1): pairwise cosines 1, 0, 0 → 1/3.
  assert.equal(r.wordTypes, 1, 'types 8 and 9 occur fewer than 3 times');
  assert.ok(Math.abs(r.selfSimilarity! - 1 / 3) < 1e-15);
  assert.equal(r.sentences, 2);
  assert.ok(Math.abs(r.intraSentenceSimilarity! - (Math.SQRT1_2 + 1) / 2) < 1e-15);
});

test('random data: equal to the pairwise definitions, in any row order and split into any batches', () => {
  const d = 6, n = 200;
  const x = gaussianMatrix(n, d, 3);
  const example = Array.from({ length: n }, (_, i) => i % 17);
  const token = Array.from({ length: n }, (_, i) => (i * 7) % 11);
  const cos = (i: number, j: number) => {
    let ab = 0, aa = 0, bb = 0;
    for (let k = 0; k < d; k++) {
      ab += x.data[i * d + k] * x.data[j * d + k];
      aa += x.data[i * d + k] ** 2;
      bb += x.data[j * d + k] ** 2;
    }
    return ab / Math.sqrt(aa * bb);
  };
  let selfSum = 0, types = 0;
  for (let t = 0; t < 11; t++) {
    const idx = token.flatMap((v, i) => (v === t ? [i] : []));
    let s = 0;
    for (const i of idx) for (const j of idx) if (i !== j) s += cos(i, j);
    selfSum += s / (idx.length * (idx.length - 1));
    types++;
  }
  let intraSum = 0;
  for (let e = 0; e < 17; e++) {
    const idx = example.flatMap((v, i) => (v === e ? [i] : []));
    const mean = new Float64Array(d);
    for (const i of idx) for (let k = 0; k < d; k++) mean[k] += x.data[i * d + k] / idx.length;
    let s = 0;
    for (const i of idx) {
      let ab = 0, aa = 0, bb = 0;
      for (let k = 0; k < d; k++) {
        ab += mean[k] * x.data[i * d + k];
        aa += mean[k] ** 2;
        bb += x.data[i * d + k] ** 2;
      }
      s += ab / Math.sqrt(aa * bb);
    }
    intraSum += s / idx.length;
  }
  const acc = new ContextualAccumulator(d);
  // Reverse order, in three uneven batches.
  const order = Array.from({ length: n }, (_, i) => n - 1 - i);
  for (const [a, b] of [[0, 13], [13, 150], [150, n]]) {
    const part = order.slice(a, b);
    acc.add(part.map((i) => example[i]), part.map((i) => token[i]), part.flatMap((i) => [...x.data.subarray(i * d, (i + 1) * d)]), part.length);
  }
  const r = acc.result();
  assert.equal(r.wordTypes, types);
  assert.ok(Math.abs(r.selfSimilarity! - selfSum / types) < 1e-13, `${r.selfSimilarity} vs ${selfSum / types}`);
  assert.ok(Math.abs(r.intraSentenceSimilarity! - intraSum / 17) < 1e-13);
});

test('zero vectors count as occurrences with cosine 0; too few occurrences give null', () => {
  const acc = new ContextualAccumulator(2, 2);
  acc.add([0, 1], [5, 5], [1, 0, 0, 0], 2);
  assert.equal(acc.result().selfSimilarity, 0);
  const none = new ContextualAccumulator(2);
  none.add([0], [5], [1, 0], 1);
  assert.deepEqual([none.result().selfSimilarity, none.result().intraSentenceSimilarity], [null, null]);
  assert.throws(() => new ContextualAccumulator(2, 1), /minOccurrences ≥ 2/);
});
