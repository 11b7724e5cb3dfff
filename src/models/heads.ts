/**
 * The heads on top of the encoder, forward and backward, with Hugging Face's semantics:
 *
 *   pooled      (BERT, ALBERT)  h_L[:, 0] → pooler dense → tanh → dropout → classifier
 *   dense-tanh  (RoBERTa)       h_L[:, 0] → dropout → classifier.dense → tanh → dropout → classifier.out_proj
 *   pre-relu    (DistilBERT)    h_L[:, 0] → pre_classifier → ReLU → dropout → classifier
 *   mlm                         h_L → transform dense → activation → LayerNorm → word embeddingsᵀ + bias
 *
 * A classification head has `labels` outputs and the cross-entropy loss; with one output it is
 * the regression head of STS-B (MSE), as transformers' problem_type 'regression'. The MLM
 * decoder is tied to the word embeddings: its weight gradient adds into theirs. Only the rows
 * with a label (≠ −100) go through the decoder: the others do not change the loss.
 */
import * as K from '../backend/train-kernels.js';
import { gemm } from '../backend/products/index.js';
import type { Activation } from './config.js';
import type { ClassifierNames } from './tensor-names.js';
import { activationBackward, activationForward, linearBackward, linearForward, normBackward, normForward, type Linear, type Norm } from './layer-pass.js';

export interface ClassifierHead {
  kind: ClassifierNames['kind'];
  /** pooled: the pooler; dense-tanh: classifier.dense; pre-relu: pre_classifier. */
  first: Linear;
  /** classifier / classifier.out_proj, [labels, H]. */
  last: Linear;
}

export interface MlmHead {
  transform: Linear; norm: Norm; activation: Activation;
  /** The word embeddings [V, E] (the tied decoder weight) and their gradient. */
  decoder: Float32Array; decoderGrad: Float32Array;
  bias: Float32Array; biasGrad: Float32Array;
}

/** Dropout sites of a classifier head: before `first` (RoBERTa only) and before `last`. */
export interface HeadDropouts { beforeFirst: K.Dropout | null; beforeLast: K.Dropout | null }

/** The first token of each sequence: [B, H] rows of h_L [B·T, H]. */
function firstTokens(hidden: Float32Array, batch: number, seqLen: number, H: number): Float32Array {
  const out = new Float32Array(batch * H);
  for (let b = 0; b < batch; b++) out.set(hidden.subarray(b * seqLen * H, b * seqLen * H + H), b * H);
  return out;
}

/**
 * Logits [B, labels] and the loss against `targets` (class ids, or float targets with one
 * output; null: logits only, loss NaN); the loss gradient is kept for `classifierBackward`.
 */
export function classifierForward(h: ClassifierHead, hidden: Float32Array, batch: number, seqLen: number, targets: Int32Array | Float32Array | null, d: HeadDropouts) {
  const H = h.first.inputs, labels = h.last.outputs;
  const cls = firstTokens(hidden, batch, seqLen, H);
  const firstIn = h.kind === 'dense-tanh' ? Float32Array.from(cls) : cls;
  if (h.kind === 'dense-tanh') K.dropoutForward(firstIn, firstIn, d.beforeFirst);
  const pre = linearForward(h.first, firstIn, batch);
  const act = activationForward(h.kind === 'pre-relu' ? 'relu' : 'tanh', pre);
  const lastIn = Float32Array.from(act);
  K.dropoutForward(lastIn, lastIn, d.beforeLast);
  const logits = linearForward(h.last, lastIn, batch);
  const dLogits = new Float32Array(logits.length);
  let loss: number;
  if (targets === null) loss = NaN; // prediction only: no loss, no gradient
  else if (labels === 1) {
    if (!(targets instanceof Float32Array)) throw new TypeError('a regression head takes float targets');
    loss = K.mse(logits, targets, dLogits);
  } else {
    if (!(targets instanceof Int32Array)) throw new TypeError('a classification head takes integer class ids');
    loss = K.crossEntropy(logits, targets, dLogits, labels);
  }
  return { loss, logits, dLogits, cls, firstIn, pre, act, lastIn, batch, seqLen, dropouts: d };
}

/** Adds the head's loss gradient (times `scale`) into dHidden [B·T, H] at the first tokens. */
export function classifierBackward(h: ClassifierHead, s: ReturnType<typeof classifierForward>, dHidden: Float32Array, scale = 1): void {
  const H = h.first.inputs, B = s.batch;
  const dLogits = scale === 1 ? s.dLogits : s.dLogits.map((v) => v * scale);
  const dLastIn = new Float32Array(B * H);
  linearBackward(h.last, dLogits, s.lastIn, B, dLastIn);
  K.dropoutBackward(dLastIn, dLastIn, s.dropouts.beforeLast);
  activationBackward(h.kind === 'pre-relu' ? 'relu' : 'tanh', dLastIn, s.pre, s.act, dLastIn);
  const dFirstIn = new Float32Array(B * H);
  linearBackward(h.first, dLastIn, s.firstIn, B, dFirstIn);
  if (h.kind === 'dense-tanh') K.dropoutBackward(dFirstIn, dFirstIn, s.dropouts.beforeFirst);
  for (let b = 0; b < B; b++) {
    const row = b * s.seqLen * H;
    for (let j = 0; j < H; j++) dHidden[row + j] += dFirstIn[b * H + j];
  }
}

/** The masked-LM loss (mean over labelled positions) and the logits of those positions [M, V]. */
export function mlmForward(h: MlmHead, hidden: Float32Array, labels: Int32Array) {
  const H = h.transform.inputs, E = h.transform.outputs, V = h.bias.length;
  const rowsUsed: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] !== -100) rowsUsed.push(i);
  const M = rowsUsed.length;
  const x = new Float32Array(M * H);
  rowsUsed.forEach((r, i) => x.set(hidden.subarray(r * H, r * H + H), i * H));
  const pre = linearForward(h.transform, x, M);
  const act = activationForward(h.activation, pre);
  const norm = normForward(h.norm, act, null);
  const logits = new Float32Array(M * V);
  gemm(false, true, M, V, E, 1, norm.y, h.decoder, 0, logits);
  K.biasAdd(logits, h.bias);
  const target = Int32Array.from(rowsUsed, (r) => labels[r]);
  const dLogits = new Float32Array(M * V);
  // No labelled position: loss 0 and no gradient (torch gives NaN; a batch without masks is skipped).
  const loss = M === 0 ? 0 : K.crossEntropy(logits, target, dLogits, V);
  return { loss, logits, dLogits, rowsUsed, x, pre, act, norm };
}

export function mlmBackward(h: MlmHead, s: ReturnType<typeof mlmForward>, dHidden: Float32Array, scale = 1): void {
  const M = s.rowsUsed.length;
  if (M === 0) return;
  const H = h.transform.inputs, E = h.transform.outputs, V = h.bias.length;
  const dLogits = scale === 1 ? s.dLogits : s.dLogits.map((v) => v * scale);
  K.columnSum(dLogits, h.biasGrad);
  gemm(true, false, V, E, M, 1, dLogits, s.norm.y, 1, h.decoderGrad); // the tied decoder: into the word embeddings' gradient
  const dNormed = new Float32Array(M * E);
  gemm(false, false, M, E, V, 1, dLogits, h.decoder, 0, dNormed);
  const dAct = normBackward(h.norm, s.norm, dNormed);
  activationBackward(h.activation, dAct, s.pre, s.act, dAct);
  const dx = new Float32Array(M * H);
  linearBackward(h.transform, dAct, s.x, M, dx);
  s.rowsUsed.forEach((r, i) => {
    for (let j = 0; j < H; j++) dHidden[r * H + j] += dx[i * H + j];
  });
}
