/**
 * Training-kernel micro-benchmark at BERT-base shapes: batch 32 × 128 tokens (B·T = 4096),
 * H = 768, 12 heads, FFN 3072; cross-entropy on 614 rows (15 % of the tokens) × 30,522 classes.
 * Arrays live in the kernels' memory (no copies), as the model keeps them.
 *
 *     node --import tsx bench/train-kernels.ts
 *
 * Prints ms per call (best of REPEATS after one warm-up) and the bytes each call streams over
 * that time (GB/s: inputs read + outputs written once; attention is compute-bound, so its figure
 * is GFLOP/s instead).
 */
import { Rng } from '../src/backend/rng.js';
import * as K from '../src/backend/train-kernels.js';

const REPEATS = 3;
const B = 32, T = 128, heads = 12, d = 64, H = heads * d, rows = B * T, FF = 4 * H, C = 30522, masked = 614;

function time(fn: () => void): number {
  fn();
  let best = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

function fill(a: K.KernelArray, seed: number, lo = -1, hi = 1): K.KernelArray {
  const rng = new Rng(seed), data = a.data;
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * rng.nextFloat();
  return a;
}

const floats = 3 * rows * H * 3 + rows * FF * 3 + B * heads * T * T + masked * C + 8 * H + 4 * rows;
K.reserve(floats);
const qkv = fill(K.allocate(rows * 3 * H), 1), dqkv = K.allocate(rows * 3 * H);
const x = fill(K.allocate(rows * H), 2), res = fill(K.allocate(rows * H), 3), y = K.allocate(rows * H), dy = fill(K.allocate(rows * H), 4);
const attnOut = K.allocate(rows * H), probs = K.allocate(B * heads * T * T);
const ff = fill(K.allocate(rows * FF), 5, -4, 4), ffOut = K.allocate(rows * FF), dff = fill(K.allocate(rows * FF), 6);
const gamma = fill(K.allocate(H), 7, 0.5, 1.5), beta = fill(K.allocate(H), 8), dg = K.allocate(H), db = K.allocate(H);
const mean = K.allocate(rows), rstd = K.allocate(rows), bias = K.allocate(rows);
const logits = fill(K.allocate(masked * C), 9, -8, 8);
const labels = Int32Array.from({ length: masked }, (_, i) => (i * 7919) % C);
const drop = { p: 0.1, seed: 0, stream: 1, step: 1 };
const shape = { batch: B, seqLen: T, heads, headSize: d };
const attnFlops = 4 * B * heads * T * T * d;

const results: { kernel: string; ms: number; rate: string }[] = [];
const gb = (bytes: number, ms: number) => `${(bytes / ms / 1e6).toFixed(1)} GB/s`;
const add = (kernel: string, ms: number, rate: string) => results.push({ kernel, ms, rate });

let ms = time(() => K.layerNormForward(x, res, gamma, beta, y, mean, rstd, 1e-12));
add('layerNormForward (residual)', ms, gb(3 * rows * H * 4, ms));
ms = time(() => K.layerNormBackward(dy, x, res, gamma, mean, rstd, y, dg, db));
add('layerNormBackward (residual)', ms, gb(4 * rows * H * 4, ms));
ms = time(() => K.geluForward(ff, ffOut, 'gelu'));
add('geluForward gelu [4096, 3072]', ms, gb(2 * rows * FF * 4, ms));
ms = time(() => K.geluBackward(dff, ff, ffOut, 'gelu'));
add('geluBackward gelu', ms, gb(3 * rows * FF * 4, ms));
ms = time(() => K.geluForward(ff, ffOut, 'gelu_new'));
add('geluForward gelu_new', ms, gb(2 * rows * FF * 4, ms));
ms = time(() => K.geluBackward(dff, ff, ffOut, 'gelu_new'));
add('geluBackward gelu_new', ms, gb(3 * rows * FF * 4, ms));
ms = time(() => K.dropoutForward(x, y, drop));
add('dropout [4096, 768]', ms, gb(2 * rows * H * 4, ms));
ms = time(() => K.attentionForward(qkv, bias, attnOut, probs, shape, null));
add('attentionForward', ms, `${(attnFlops / ms / 1e6).toFixed(1)} GFLOP/s`);
ms = time(() => K.attentionForward(qkv, bias, attnOut, probs, shape, drop));
add('attentionForward, dropout 0.1', ms, `${(attnFlops / ms / 1e6).toFixed(1)} GFLOP/s`);
ms = time(() => K.attentionBackward(dy, qkv, probs, dqkv, shape, drop));
add('attentionBackward, dropout 0.1', ms, `${((2 * attnFlops) / ms / 1e6).toFixed(1)} GFLOP/s`);
ms = time(() => K.crossEntropy(logits, labels, logits, C));
add(`crossEntropy [${masked}, ${C}] in place`, ms, gb(2 * masked * C * 4, ms));
ms = time(() => K.columnSum(dy, dg));
add('columnSum [4096, 768]', ms, gb(rows * H * 4, ms));

const width = Math.max(...results.map((r) => r.kernel.length));
for (const r of results) console.log(`${r.kernel.padEnd(width)}  ${r.ms.toFixed(2).padStart(8)} ms  ${r.rate}`);
for (const r of results) console.log(JSON.stringify(r));
