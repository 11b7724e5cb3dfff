/**
 * The BERT-family encoder in TensorFlow.js, top to bottom: embeddings → L post-LayerNorm
 * transformer blocks → pooler and masked-LM head, returning every hidden state with Hugging Face
 * numbering (0 = embedding output, i = output of layer i).
 *
 * One implementation for BERT, RoBERTa, DistilBERT and ALBERT; their differences are data in
 * `EncoderConfig` (src/models/config.ts): RoBERTa's position ids, DistilBERT's missing token
 * types and pooler, ALBERT's E → H projection and shared layers.
 *
 * Follows transformers' modeling_bert.py (eval mode, no dropout): scores = QKᵀ/√d_head +
 * (1 − mask)·float32 min; GELU by `hidden_act` (erf for "gelu", tanh for "gelu_new");
 * LayerNorm with the config's eps and the biased variance.
 *
 * Two paths. On the CPU (the wasm and cpu tfjs backends) tfjs is not used at all: the matrix
 * products go through the products layer (src/backend/products: the system BLAS or our threaded
 * WebAssembly SIMD GEMM), with the Linear weights in Hugging Face's [out, in] layout used as a
 * transposed operand and Q, K, V one [3H, H] product; attention, residual + LayerNorm and GELU
 * run in WebAssembly SIMD kernels (kernels/encoder.c) on Float32Arrays. GPU and native tfjs
 * backends use the tfjs-ops path, where every Linear weight is uploaded once as [in, out].
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import { getTf, preferredBackend, type Tf } from '../backend/tf.js';
import { gemm } from '../backend/products/index.js';
import { readConfig, type EncoderConfig } from './config.js';
import { loadWeights, type EncoderWeights, type LinearWeights, type NormWeights } from './weights.js';
import { UserError } from '../errors.js';
import * as kernels from '../backend/encoder-kernels.js';

type Tensor = TfCore.Tensor;
/** auto: the SIMD kernels on the CPU backends when the head size allows, tfjs ops otherwise. */
export type PathChoice = 'auto' | 'kernels' | 'tf';
type Tensor2D = TfCore.Tensor2D;

export interface EncoderInputs {
  batch: number;
  seqLen: number;
  /** [batch, seqLen] row-major. */
  inputIds: Int32Array;
  attentionMask: Int32Array;
  /** Zeros when absent or when the model has no token types. */
  tokenTypeIds?: Int32Array;
}

export interface ForwardOptions {
  /** Hidden states to return (HF numbering); default every one, 0..L. */
  layers?: readonly number[];
  /** Also return the pooler output (tanh(dense(h_L[:, 0]))), when the checkpoint has a pooler. */
  pooler?: boolean;
}

export interface ForwardResult {
  /** layer → [batch, seqLen, hidden] row-major float32. Padding positions are computed but meaningless. */
  hiddenStates: Map<number, Float32Array>;
  /** [batch, hidden] */
  pooler?: Float32Array;
}

/** A Linear layer: weight [outputs, inputs] as Hugging Face stores it, and its tensors on the tfjs path. */
interface Linear { weight: Float32Array; bias: Float32Array; inputs: number; outputs: number; t?: { w: Tensor2D; b: Tensor } }
/** LayerNorm parameters as arrays, and as tensors on the tfjs path. */
interface Norm { g: Float32Array; b: Float32Array; t?: { gamma: Tensor; beta: Tensor } }
interface Layer { qkv: Linear; attentionOutput: Linear; attentionNorm: Norm; intermediate: Linear; output: Linear; outputNorm: Norm }

type EncoderParameters = ReturnType<typeof arrange>;

export class Encoder {
  /** tfjs path: the tied MLM decoder as [E, V], made when first needed. */
  private mlmDecoder: Tensor2D | null = null;

  private constructor(
    /** The tfjs namespace on the tfjs path; null on the CPU path, which does not load tfjs. */
    private readonly tfOrNull: Tf | null,
    readonly config: EncoderConfig,
    readonly dir: string,
    private readonly w: EncoderParameters,
    /** Tensors in the checkpoint this encoder does not use (e.g. a task head). */
    readonly unusedTensors: string[],
  ) {}

  /** How the non-GEMM work runs: WebAssembly SIMD kernels (CPU) or tfjs ops (GPU, native TF). */
  get path(): 'kernels' | 'tf' {
    return this.tfOrNull === null ? 'kernels' : 'tf';
  }

  private get tf(): Tf {
    if (!this.tfOrNull) throw new Error('encoder: tfjs is not loaded on the CPU path');
    return this.tfOrNull;
  }

  /** Load a Hugging Face model folder (config.json + model.safetensors or its shards). */
  static async load(dir: string, options: { path?: PathChoice } = {}): Promise<Encoder> {
    const config = readConfig(dir);
    const path = options.path ?? ((process.env.REPGEOM_ENCODER_PATH as PathChoice | undefined) || 'auto');
    if (!['auto', 'kernels', 'tf'].includes(path)) throw new UserError(`REPGEOM_ENCODER_PATH='${path}' is not one of auto, kernels, tf; unset it or pick one of those`);
    const fits = kernels.attentionKernelFits(config.hiddenSize / config.numHeads);
    if (path === 'kernels' && !fits) throw new UserError(`${dir}: the attention kernel needs a head size divisible by 4, not ${config.hiddenSize / config.numHeads}; use REPGEOM_ENCODER_PATH=auto or tf for this model`);
    const onCpu = path === 'kernels' || (path === 'auto' && fits && ['wasm', 'cpu'].includes(await preferredBackend()));
    const weights = await loadWeights(dir, config);
    const tf = onCpu ? null : (await getTf()).tf;
    return new Encoder(tf, config, dir, arrange(tf, weights), weights.unused);
  }

  get numLayers(): number {
    return this.config.numLayers;
  }

  get hasPooler(): boolean {
    return this.w.pooler !== null;
  }

  /** All requested hidden states of one padded batch; memory is released before returning. */
  forward(inputs: EncoderInputs, options: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    checkInputs(inputs, c);
    const wanted = new Set(options.layers ?? Array.from({ length: c.numLayers + 1 }, (_, i) => i));
    for (const l of wanted) if (!Number.isInteger(l) || l < 0 || l > c.numLayers) throw new UserError(`layer ${l} does not exist: the model in ${this.dir} has hidden states 0..${c.numLayers} (0 = embeddings); ask for layers in that range`);
    const last = options.pooler && this.w.pooler ? c.numLayers : Math.max(...wanted);
    return this.path === 'kernels' ? this.forwardKernels(inputs, wanted, last, options.pooler === true) : this.forwardOps(inputs, wanted, last, options.pooler === true);
  }

  /** ALBERT: layer i runs the inner layers of group ⌊i / (L / groups)⌋; BERT-like models: layer i. */
  private layersOf(i: number): Layer[] {
    const c = this.config;
    const perGroup = c.numLayers / (this.w.layers.length / c.innerGroupNum);
    const first = Math.floor(i / perGroup) * c.innerGroupNum;
    return this.w.layers.slice(first, first + c.innerGroupNum);
  }

  /** The tfjs-ops path: every step a tfjs op (GPU and native backends). */
  private forwardOps(inputs: EncoderInputs, wanted: Set<number>, last: number, pooler: boolean): ForwardResult {
    const { tf, config: c } = this;
    const { batch: B, seqLen: T } = inputs;
    // tidy returns tensors, never typed arrays (it would walk them element by element).
    const out = tf.tidy(() => {
      const states: Record<string, Tensor> = {};
      let h = tf.tidy(() => {
        const e = layerNorm(tf, tf.tensor2d(this.embeddingSum(inputs), [B * T, c.embeddingSize]), this.w.embeddingNorm, c.layerNormEps);
        return this.w.projection ? dense(tf, e, this.w.projection) : e;
      });
      if (wanted.has(0)) states['0'] = h;
      const mask = tf.tensor4d(attentionBias(inputs.attentionMask), [B, 1, 1, T]);
      for (let i = 0; i < last; i++) {
        // A tidy per block frees its intermediates at once (a whole BERT-base batch would not fit otherwise).
        for (const [j, layer] of this.layersOf(i).entries()) {
          const input = h;
          h = tf.tidy(() => this.block(layer, input, mask, B, T));
          if (!wanted.has(i) || j > 0) tf.dispose(input);
        }
        if (wanted.has(i + 1)) states[String(i + 1)] = h;
      }
      if (pooler && this.w.pooler) {
        const cls = tf.reshape(tf.slice(tf.reshape(h, [B, T, c.hiddenSize]), [0, 0, 0], [B, 1, c.hiddenSize]), [B, c.hiddenSize]);
        states.pooler = tf.tanh(dense(tf, cls as Tensor2D, this.w.pooler));
      }
      return states;
    });
    const result: ForwardResult = { hiddenStates: new Map() };
    for (const [key, t] of Object.entries(out)) {
      const data = t.dataSync() as Float32Array;
      t.dispose();
      if (key === 'pooler') result.pooler = data;
      else result.hiddenStates.set(Number(key), data);
    }
    return result;
  }

  /** The CPU path: matrix products in the products layer, the rest in the SIMD kernels, states as Float32Arrays. */
  private forwardKernels(inputs: EncoderInputs, wanted: Set<number>, last: number, pooler: boolean): ForwardResult {
    const c = this.config;
    const { batch: B, seqLen: T } = inputs;
    const rows = B * T;
    const result: ForwardResult = { hiddenStates: new Map() };
    let h = kernels.addLayerNorm(this.embeddingSum(inputs), null, this.w.embeddingNorm.g, this.w.embeddingNorm.b, c.layerNormEps);
    if (this.w.projection) h = this.denseSync(h, rows, this.w.projection);
    if (wanted.has(0)) result.hiddenStates.set(0, h);
    const bias = attentionBias(inputs.attentionMask);
    for (let i = 0; i < last; i++) {
      for (const layer of this.layersOf(i)) h = this.blockKernels(layer, h, bias, B, T);
      if (wanted.has(i + 1)) result.hiddenStates.set(i + 1, h);
    }
    if (pooler && this.w.pooler) {
      const H = c.hiddenSize;
      const cls = new Float32Array(B * H);
      for (let b = 0; b < B; b++) cls.set(h.subarray(b * T * H, (b * T + 1) * H), b * H);
      result.pooler = this.denseSync(cls, B, this.w.pooler).map(Math.tanh);
    }
    return result;
  }

  /** x·Wᵀ + b ([rows, in] → [rows, out]) through the products layer, W in HF's [out, in] layout. */
  private denseSync(x: Float32Array, rows: number, l: Linear): Float32Array {
    const out = new Float32Array(rows * l.outputs);
    for (let r = 0; r < rows; r++) out.set(l.bias, r * l.outputs);
    gemm(false, true, rows, l.outputs, l.inputs, 1, x, l.weight, 1, out);
    return out;
  }

  /** One post-LayerNorm block on the CPU path: [B·T, H] in and out. */
  private blockKernels(layer: Layer, x: Float32Array, bias: Float32Array, B: number, T: number): Float32Array {
    const c = this.config;
    const rows = B * T;
    const d = c.hiddenSize / c.numHeads;
    // attention() and activate() return views into the kernels' memory; denseSync reads them before the next kernel call.
    const context = kernels.attention(this.denseSync(x, rows, layer.qkv), bias, B, T, c.numHeads, d, 1 / Math.sqrt(d));
    const attended = kernels.addLayerNorm(this.denseSync(context, rows, layer.attentionOutput), x, layer.attentionNorm.g, layer.attentionNorm.b, c.layerNormEps);
    const inner = activate(this.denseSync(attended, rows, layer.intermediate), c.hiddenAct);
    return kernels.addLayerNorm(this.denseSync(inner, rows, layer.output), attended, layer.outputNorm.g, layer.outputNorm.b, c.layerNormEps);
  }

  /** Masked-LM logits [rows, vocab] for last-layer hidden states [rows, hidden]. */
  mlmLogits(hidden: Float32Array, rows: number): Float32Array {
    const c = this.config;
    const mlm = this.w.mlm;
    if (!mlm) throw new UserError(`${this.dir}: the checkpoint has no masked-LM head (no ${this.config.family} MLM tensors in its weights); use a *ForMaskedLM checkpoint`);
    // RoBERTa's LM head applies erf GELU whatever hidden_act says (transformers' RobertaLMHead).
    const act = c.family === 'roberta' ? 'gelu' : c.hiddenAct;
    if (this.tfOrNull === null) {
      const t = kernels.addLayerNorm(activate(this.denseSync(hidden, rows, mlm.transform), act), null, mlm.norm.g, mlm.norm.b, c.layerNormEps);
      // The decoder is tied to the word embeddings, [V, E]: a transposed operand, as Linear weights are.
      return this.denseSync(t, rows, { weight: mlm.decoderWeight, bias: mlm.decoderBias, inputs: c.embeddingSize, outputs: c.vocabSize });
    }
    const tf = this.tf;
    this.mlmDecoder ??= tf.tidy(() => tf.transpose(tf.tensor2d(mlm.decoderWeight, [c.vocabSize, c.embeddingSize])));
    const logits = tf.tidy(() => {
      const h = tf.tensor2d(hidden, [rows, c.hiddenSize]);
      const t = layerNorm(tf, activation(tf, dense(tf, h, mlm.transform), act), mlm.norm, c.layerNormEps);
      return tf.add(tf.matMul(t, this.mlmDecoder!), mlm.decoderBias);
    });
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    return data;
  }

  /** Release the tfjs tensors (the CPU path holds plain arrays only). */
  dispose(): void {
    if (this.tfOrNull === null) return;
    const all: Tensor[] = [];
    const lin = (l: Linear | null) => l?.t && all.push(l.t.w, l.t.b);
    const nrm = (n: Norm) => n.t && all.push(n.t.gamma, n.t.beta);
    nrm(this.w.embeddingNorm);
    lin(this.w.projection);
    lin(this.w.pooler);
    for (const l of this.w.layers) {
      lin(l.qkv); lin(l.attentionOutput); nrm(l.attentionNorm); lin(l.intermediate); lin(l.output); nrm(l.outputNorm);
    }
    if (this.w.mlm) {
      lin(this.w.mlm.transform);
      nrm(this.w.mlm.norm);
    }
    if (this.mlmDecoder) all.push(this.mlmDecoder);
    this.tfOrNull.dispose(all);
  }

  /** word + position (+ token type) embeddings summed in JS (cheaper than tf.gather on wasm): [B·T, E]. */
  private embeddingSum(inputs: EncoderInputs): Float32Array {
    const c = this.config;
    const n = inputs.batch * inputs.seqLen;
    const E = c.embeddingSize;
    const positions = positionIds(inputs, c);
    const sum = new Float32Array(n * E);
    const { word, position, tokenType } = this.w;
    for (let i = 0; i < n; i++) {
      const w = inputs.inputIds[i] * E, p = positions[i] * E, o = i * E;
      const t = tokenType ? (inputs.tokenTypeIds ? inputs.tokenTypeIds[i] : 0) * E : -1;
      // Same summation order as transformers: (word + token type) + position.
      if (t >= 0) for (let k = 0; k < E; k++) sum[o + k] = word[w + k] + tokenType![t + k] + position[p + k];
      else for (let k = 0; k < E; k++) sum[o + k] = word[w + k] + position[p + k];
    }
    return sum;
  }

  /** One post-LayerNorm transformer block on [B·T, H], in tfjs ops. */
  private block(layer: Layer, x: Tensor2D, mask: Tensor, B: number, T: number): Tensor2D {
    const { tf, config: c } = this;
    const H = c.hiddenSize;
    const heads = c.numHeads;
    const d = H / heads;
    const [q, k, v] = tf.split(dense(tf, x, layer.qkv), 3, 1);
    // [B·T, H] → [B, heads, T, d]; Kᵀ as [B, heads, d, T] so the score product needs no transpose flag.
    const qh = tf.transpose(tf.reshape(q, [B, T, heads, d]), [0, 2, 1, 3]);
    const kt = tf.transpose(tf.reshape(k, [B, T, heads, d]), [0, 2, 3, 1]);
    const vh = tf.transpose(tf.reshape(v, [B, T, heads, d]), [0, 2, 1, 3]);
    const probs = tf.softmax(tf.add(tf.mul(tf.matMul(qh, kt), 1 / Math.sqrt(d)), mask));
    const context = tf.reshape(tf.transpose(tf.matMul(probs, vh), [0, 2, 1, 3]), [B * T, H]) as Tensor2D;
    const attended = layerNorm(tf, tf.add(dense(tf, context, layer.attentionOutput), x) as Tensor2D, layer.attentionNorm, c.layerNormEps);
    const inner = activation(tf, dense(tf, attended, layer.intermediate), c.hiddenAct);
    return layerNorm(tf, tf.add(dense(tf, inner, layer.output), attended) as Tensor2D, layer.outputNorm, c.layerNormEps);
  }
}

function checkInputs(inputs: EncoderInputs, c: EncoderConfig): void {
  const n = inputs.batch * inputs.seqLen;
  if (inputs.inputIds.length !== n || inputs.attentionMask.length !== n || (inputs.tokenTypeIds && inputs.tokenTypeIds.length !== n)) {
    throw new RangeError(`forward: inputs must hold batch × seqLen = ${n} ids`);
  }
  for (const id of inputs.inputIds) if (id < 0 || id >= c.vocabSize) throw new UserError(`token id ${id} is outside the model's vocabulary (vocab_size ${c.vocabSize} in config.json); the tokenizer does not belong to this model`);
  if (inputs.tokenTypeIds && c.typeVocabSize > 0) {
    for (const t of inputs.tokenTypeIds) if (t < 0 || t >= c.typeVocabSize) throw new UserError(`token type ${t} is outside the model's ${c.typeVocabSize} token types (type_vocab_size in config.json); give single sentences or a model with token types`);
  }
}

/**
 * Position ids. BERT: 0..T−1. RoBERTa (transformers' create_position_ids_from_input_ids):
 * padding_idx + 1 + the index among non-padding tokens, padding_idx at padding tokens.
 */
export function positionIds(inputs: EncoderInputs, c: EncoderConfig): Int32Array {
  const { batch: B, seqLen: T, inputIds } = inputs;
  const ids = new Int32Array(B * T);
  const limit = c.maxPositions;
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      if (c.positionsFromPadding) ids[i] = inputIds[i] === c.padTokenId ? c.padTokenId : c.padTokenId + ++count;
      else ids[i] = t;
      if (ids[i] >= limit) throw new UserError(`a sequence of ${T} tokens needs position ${ids[i]}, beyond the model's ${limit} position embeddings: lower --max-length`);
    }
  }
  return ids;
}

/** (1 − mask)·float32 min per position, added to every head's scores (as [B, 1, 1, T]). */
function attentionBias(mask: Int32Array): Float32Array {
  const bias = new Float32Array(mask.length);
  for (let i = 0; i < bias.length; i++) bias[i] = mask[i] ? 0 : -3.4028234663852886e38;
  return bias;
}

function dense(tf: Tf, x: Tensor2D, l: Linear): Tensor2D {
  return tf.fused.matMul({ a: x, b: l.t!.w, bias: l.t!.b }) as Tensor2D;
}

function layerNorm(tf: Tf, x: Tensor2D, n: Norm, eps: number): Tensor2D {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), n.t!.gamma), n.t!.beta) as Tensor2D;
}

function activation(tf: Tf, x: Tensor2D, kind: EncoderConfig['hiddenAct']): Tensor2D {
  switch (kind) {
    case 'gelu': // x·Φ(x), exact (erf), as torch.nn.functional.gelu
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as Tensor2D;
    case 'gelu_new': // tanh approximation (transformers' NewGELUActivation)
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1)) as Tensor2D;
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
  }
}

/** The activation on the CPU path: GELUs in the kernels (a view, see kernels.gelu), relu/tanh in JS. */
function activate(x: Float32Array, kind: EncoderConfig['hiddenAct']): Float32Array {
  if (kind === 'gelu' || kind === 'gelu_new') return kernels.gelu(x, kind);
  return kind === 'relu' ? x.map((v) => (v > 0 ? v : 0)) : x.map(Math.tanh);
}

/**
 * The weights as the encoder uses them: Q, K, V stacked into one [3H, H] Linear (HF's [out, in]
 * layout, so stacking is concatenation), and on the tfjs path (`tf` given) every Linear also
 * uploaded once as an [in, out] tensor, the layout tfjs' plain matmul wants.
 */
function arrange(tf: Tf | null, w: EncoderWeights) {
  const linear = (l: LinearWeights): Linear => ({
    weight: l.weight, bias: l.bias, inputs: l.inputs, outputs: l.outputs,
    t: tf ? { w: tf.tensor2d(transposed(l.weight, l.outputs, l.inputs), [l.inputs, l.outputs]), b: tf.tensor1d(l.bias) } : undefined,
  });
  const norm = (n: NormWeights): Norm => ({ g: n.gamma, b: n.beta, t: tf ? { gamma: tf.tensor1d(n.gamma), beta: tf.tensor1d(n.beta) } : undefined });
  const stacked = (parts: LinearWeights[]): LinearWeights => {
    const weight = new Float32Array(parts.reduce((s, p) => s + p.weight.length, 0));
    const bias = new Float32Array(parts.reduce((s, p) => s + p.bias.length, 0));
    let at = 0, bt = 0;
    for (const p of parts) {
      weight.set(p.weight, at); at += p.weight.length;
      bias.set(p.bias, bt); bt += p.bias.length;
    }
    return { weight, bias, inputs: parts[0].inputs, outputs: parts.reduce((s, p) => s + p.outputs, 0) };
  };
  return {
    /** Embedding tables stay in JS: a row lookup. */
    word: w.wordEmbeddings,
    position: w.positionEmbeddings,
    tokenType: w.tokenTypeEmbeddings,
    embeddingNorm: norm(w.embeddingNorm),
    projection: w.embeddingProjection ? linear(w.embeddingProjection) : null,
    layers: w.layers.map((l): Layer => ({
      qkv: linear(stacked([l.query, l.key, l.value])), attentionOutput: linear(l.attentionOutput), attentionNorm: norm(l.attentionNorm),
      intermediate: linear(l.intermediate), output: linear(l.output), outputNorm: norm(l.outputNorm),
    })),
    pooler: w.pooler ? linear(w.pooler) : null,
    mlm: w.mlm ? { transform: linear(w.mlm.transform), norm: norm(w.mlm.norm), decoderWeight: w.mlm.decoderWeight, decoderBias: w.mlm.decoderBias } : null,
  };
}

/** A row-major [rows, cols] matrix as [cols, rows]. */
function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}
