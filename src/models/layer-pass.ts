/**
 * Forward and backward of the encoder's pieces over float32 arrays, side by side (as llm.c's
 * train_gpt2.c does for GPT-2): Linear, the activation, the embeddings and one post-LayerNorm
 * transformer layer. Each forward returns what its backward needs; each backward adds into the
 * parameter gradients (zero them once per step) and returns or writes the input's gradient.
 *
 * Products go through the products layer (HF weights are [out, in]: y = x·Wᵀ + b is
 * gemm(false, true); dW += dYᵀ·X is gemm(true, false, β = 1); dX = dY·W is gemm(false, false));
 * everything else through the training kernels. Rows are the batch's B·T token positions.
 */
import { gemm } from '../backend/products/index.js';
import * as K from '../backend/train-kernels.js';
import type { Activation } from './config.js';

export interface Linear { weight: Float32Array; bias: Float32Array; weightGrad: Float32Array; biasGrad: Float32Array; inputs: number; outputs: number }
export interface Norm { gamma: Float32Array; beta: Float32Array; gammaGrad: Float32Array; betaGrad: Float32Array; eps: number }

/** y [rows, outputs] = x·Wᵀ + b. */
export function linearForward(l: Linear, x: Float32Array, rows: number, y = new Float32Array(rows * l.outputs)): Float32Array {
  gemm(false, true, rows, l.outputs, l.inputs, 1, x, l.weight, 0, y);
  K.biasAdd(y, l.bias);
  return y;
}

/**
 * dW += dYᵀ·X, db += Σ rows of dY; then dX = dY·W written into `dx` (added to it when
 * `accumulate`), or skipped when dx is null (the first layer of a path needs none).
 */
export function linearBackward(l: Linear, dy: Float32Array, x: Float32Array, rows: number, dx: Float32Array | null, accumulate = false): void {
  K.columnSum(dy, l.biasGrad);
  gemm(true, false, l.outputs, l.inputs, rows, 1, dy, x, 1, l.weightGrad);
  if (dx) gemm(false, false, rows, l.inputs, l.outputs, 1, dy, l.weight, accumulate ? 1 : 0, dx);
}

/** The layers' activation: erf or tanh GELU and tanh by kernel, ReLU here. */
export function activationForward(kind: Activation, x: Float32Array, y = new Float32Array(x.length)): Float32Array {
  if (kind === 'gelu' || kind === 'gelu_new') K.geluForward(x, y, kind);
  else if (kind === 'tanh') K.tanhForward(x, y);
  else for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  return y;
}

/** dx from dy and the forward's input x (and output y, for tanh); dx may alias dy. */
export function activationBackward(kind: Activation, dy: Float32Array, x: Float32Array, y: Float32Array, dx: Float32Array): void {
  if (kind === 'gelu' || kind === 'gelu_new') K.geluBackward(dy, x, dx, kind);
  else if (kind === 'tanh') K.tanhBackward(dy, y, dx);
  else for (let i = 0; i < x.length; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
}

/** LayerNorm(x + residual) with the statistics its backward needs. */
export function normForward(n: Norm, x: Float32Array, residual: Float32Array | null) {
  const rows = x.length / n.gamma.length;
  const y = new Float32Array(x.length), mean = new Float32Array(rows), rstd = new Float32Array(rows);
  K.layerNormForward(x, residual, n.gamma, n.beta, y, mean, rstd, n.eps);
  return { x, residual, y, mean, rstd };
}

/** The gradient of x (equal to that of the residual), written into a new array. */
export function normBackward(n: Norm, saved: ReturnType<typeof normForward>, dy: Float32Array): Float32Array {
  const dx = new Float32Array(dy.length);
  K.layerNormBackward(dy, saved.x, saved.residual, n.gamma, saved.mean, saved.rstd, dx, n.gammaGrad, n.betaGrad);
  return dx;
}

// ------------------------------------------------------------------------- embeddings

export interface EmbeddingTables {
  word: Linear['weight']; wordGrad: Float32Array;
  position: Float32Array; positionGrad: Float32Array;
  /** null without token types (DistilBERT). */
  tokenType: Float32Array | null; tokenTypeGrad: Float32Array | null;
  norm: Norm;
  /** ALBERT's E → H projection. */
  projection: Linear | null;
  /** E */
  width: number;
  /**
   * Rows whose gradient stays 0, as torch's nn.Embedding(padding_idx): the pad token's word
   * embedding (every architecture) and RoBERTa's padding position.
   */
  wordPaddingRow: number;
  positionPaddingRow: number | null;
}

export interface EmbeddingIds { word: Int32Array; position: Int32Array; tokenType: Int32Array | null }

/**
 * hidden_states[0]: dropout(LayerNorm(word + position + token type)), then ALBERT's projection
 * (transformers numbers the projected states as layer 0).
 */
export function embeddingsForward(t: EmbeddingTables, ids: EmbeddingIds, dropout: K.Dropout | null) {
  const rows = ids.word.length, E = t.width;
  const sum = new Float32Array(rows * E);
  K.embeddingForward(t.word, ids.word, sum, E);
  K.embeddingForward(t.position, ids.position, sum, E, true);
  if (t.tokenType && ids.tokenType) K.embeddingForward(t.tokenType, ids.tokenType, sum, E, true);
  const norm = normForward(t.norm, sum, null);
  const dropped = norm.y; // dropout in place: its backward needs only the key
  K.dropoutForward(dropped, dropped, dropout);
  const out = t.projection ? linearForward(t.projection, dropped, rows) : dropped;
  return { ids, norm, dropped, out, dropout };
}

export function embeddingsBackward(t: EmbeddingTables, saved: ReturnType<typeof embeddingsForward>, dOut: Float32Array): void {
  const rows = saved.ids.word.length;
  let dDropped = dOut;
  if (t.projection) {
    dDropped = new Float32Array(rows * t.width);
    linearBackward(t.projection, dOut, saved.dropped, rows, dDropped);
  } else dDropped = Float32Array.from(dOut);
  K.dropoutBackward(dDropped, dDropped, saved.dropout);
  const dSum = normBackward(t.norm, saved.norm, dDropped);
  K.embeddingBackward(dSum, saved.ids.word, t.wordGrad, t.width);
  K.embeddingBackward(dSum, saved.ids.position, t.positionGrad, t.width);
  t.wordGrad.fill(0, t.wordPaddingRow * t.width, (t.wordPaddingRow + 1) * t.width);
  if (t.positionPaddingRow !== null) t.positionGrad.fill(0, t.positionPaddingRow * t.width, (t.positionPaddingRow + 1) * t.width);
  if (t.tokenTypeGrad && saved.ids.tokenType) K.embeddingBackward(dSum, saved.ids.tokenType, t.tokenTypeGrad, t.width);
}

// ------------------------------------------------------------------------- one transformer layer

export interface LayerTensors {
  /** Query, key and value fused: [3H, H] and [3H]. */
  qkv: Linear;
  attentionOutput: Linear; attentionNorm: Norm;
  intermediate: Linear; output: Linear; outputNorm: Norm;
  heads: number;
  activation: Activation;
}

/** The layer's three dropout sites (null: off, as in eval mode). */
export interface LayerDropouts {
  attentionProbs: K.Dropout | null;
  /** After the attention output dense (BERT, RoBERTa, ALBERT; DistilBERT has none there). */
  attentionOutput: K.Dropout | null;
  /** After the feed-forward output dense (BERT, RoBERTa, DistilBERT; ALBERT has none there). */
  output: K.Dropout | null;
}

export interface BatchShape { batch: number; seqLen: number }

/**
 * out = LN2(dropout(W2·act(W1·h1)) + h1), h1 = LN1(dropout(Wo·Attention(x)) + x): HF's
 * BertLayer (DistilBERT's TransformerBlock and AlbertLayer are the same computation).
 */
export function layerForward(w: LayerTensors, x: Float32Array, maskBias: Float32Array, shape: BatchShape, d: LayerDropouts) {
  const rows = shape.batch * shape.seqLen, H = w.attentionOutput.outputs;
  const attention: K.AttentionShape = { batch: shape.batch, seqLen: shape.seqLen, heads: w.heads, headSize: H / w.heads };
  const qkv = linearForward(w.qkv, x, rows);
  const context = new Float32Array(rows * H), probs = new Float32Array(shape.batch * w.heads * shape.seqLen * shape.seqLen);
  K.attentionForward(qkv, maskBias, context, probs, attention, d.attentionProbs);
  const attended = linearForward(w.attentionOutput, context, rows);
  K.dropoutForward(attended, attended, d.attentionOutput);
  const norm1 = normForward(w.attentionNorm, attended, x);
  const h1 = norm1.y;
  const pre = linearForward(w.intermediate, h1, rows);
  const act = activationForward(w.activation, pre);
  const ffn = linearForward(w.output, act, rows);
  K.dropoutForward(ffn, ffn, d.output);
  const norm2 = normForward(w.outputNorm, ffn, h1);
  return { x, qkv, context, probs, attention, norm1, pre, act, norm2, out: norm2.y, rows, dropouts: d };
}

/** The gradient of the layer's input x from that of its output; parameter gradients added. */
export function layerBackward(w: LayerTensors, s: ReturnType<typeof layerForward>, dOut: Float32Array): Float32Array {
  const { rows } = s;
  // Output LayerNorm: its input is ffn + h1, so dh1 starts as the same gradient.
  const dSum2 = normBackward(w.outputNorm, s.norm2, dOut);
  const dFfn = new Float32Array(dSum2.length);
  K.dropoutBackward(dSum2, dFfn, s.dropouts.output);
  const dAct = new Float32Array(s.act.length);
  linearBackward(w.output, dFfn, s.act, rows, dAct);
  activationBackward(w.activation, dAct, s.pre, s.act, dAct);
  const dH1 = dSum2; // += the feed-forward path
  linearBackward(w.intermediate, dAct, s.norm1.y, rows, dH1, true);
  // Attention LayerNorm: its input is attended + x.
  const dSum1 = normBackward(w.attentionNorm, s.norm1, dH1);
  const dAttended = new Float32Array(dSum1.length);
  K.dropoutBackward(dSum1, dAttended, s.dropouts.attentionOutput);
  const dContext = new Float32Array(dSum1.length);
  linearBackward(w.attentionOutput, dAttended, s.context, rows, dContext);
  const dQkv = new Float32Array(s.qkv.length);
  K.attentionBackward(dContext, s.qkv, s.probs, dQkv, s.attention, s.dropouts.attentionProbs);
  const dx = dSum1; // += the attention path
  linearBackward(w.qkv, dQkv, s.x, rows, dx, true);
  return dx;
}
