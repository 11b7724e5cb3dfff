/**
 * The trainable BERT-family model on the CPU: parameters as HF tensors (parameters.ts), the
 * explicit forward and backward of each piece (layer-pass.ts, heads.ts), composed here in the
 * order transformers runs them. One `forward` per batch returns the loss and every hidden state
 * (HF numbering: 0 = embeddings output, i = layer i) and keeps what the backward needs; one
 * `backward` adds the gradient of loss·scale plus any gradients injected at hidden states (the
 * regularizers') into the parameters' gradients.
 *
 * Dropout (train mode only) is a stateless mask keyed by (seed, stream, step): every site has its
 * own stream (below) and the step is the optimizer step, so a step can be recomputed exactly
 * (resume, determinism) without saving any mask.
 *
 *     const model = await TrainableModel.fromCheckpoint(dir, { kind: 'classification', labels: 2 }, { seed });
 *     const pass = model.train().forward(batch, step);        // pass.loss, pass.hiddenStates[0..L]
 *     const reg = istar.penalty(pass.hiddenStates, batch.attentionMask);
 *     model.params.zeroGrads();
 *     model.backward(pass, { hiddenGrads: reg.hiddenGrads }); // model.params.list[i].grad
 *
 * (src/train/step.ts does exactly this with clipping and AdamW.)
 */
import { attentionMaskBias, type Dropout } from '../backend/train-kernels.js';
import { check } from '../errors.js';
import { readConfig, type EncoderConfig } from './config.js';
import { positionIds, type EncoderInputs } from './encoder.js';
import { classifierBackward, classifierForward, mlmBackward, mlmForward, type ClassifierHead, type MlmHead } from './heads.js';
import { embeddingsBackward, embeddingsForward, layerBackward, layerForward, type EmbeddingTables, type LayerDropouts, type LayerTensors, type Linear, type Norm } from './layer-pass.js';
import { Parameters } from './parameters.js';
import { TENSOR_NAMES, type HeadChoice } from './tensor-names.js';
import { loadWeights, readNamedTensors, type EncoderWeights, type LinearWeights, type NormWeights } from './weights.js';

/** classification: `labels` classes (cross-entropy); regression: one output (MSE); mlm: masked LM. */
export type HeadKind = { kind: 'classification'; labels: number } | { kind: 'regression' } | { kind: 'mlm' };

export interface TrainingBatch extends EncoderInputs {
  /**
   * classification: class ids [B]; regression: targets [B]; mlm: token ids [B·T], −100 where not
   * predicted. Absent (classification, regression): logits only, loss NaN, no backward.
   */
  labels?: Int32Array | Float32Array;
}

/** Dropout probabilities as transformers reads them from config.json per architecture. */
export interface DropoutRates { hidden: number; attention: number; classifier: number }

export function dropoutRates(c: EncoderConfig): DropoutRates {
  const r = c.raw;
  const num = (key: string, fallback: number): number => (typeof r[key] === 'number' ? (r[key] as number) : fallback);
  if (c.family === 'distilbert') return { hidden: num('dropout', 0.1), attention: num('attention_dropout', 0.1), classifier: num('seq_classif_dropout', 0.2) };
  if (c.family === 'albert') {
    return { hidden: num('hidden_dropout_prob', 0), attention: num('attention_probs_dropout_prob', 0), classifier: num('classifier_dropout_prob', 0.1) };
  }
  const hidden = num('hidden_dropout_prob', 0.1);
  return { hidden, attention: num('attention_probs_dropout_prob', 0.1), classifier: num('classifier_dropout', hidden) };
}

/**
 * Dropout streams: 0 the embeddings, 1 and 2 the head's two sites, then 8 + 4·(application
 * index) + site for the layers (site 0 attention probabilities, 1 attention output, 2 feed-forward
 * output). An ALBERT layer applied several times gets a fresh mask each time.
 */
const STREAM = { embeddings: 0, headFirst: 1, headLast: 2, layer: (application: number, site: number) => 8 + 4 * application + site };

export interface ForwardPass {
  loss: number;
  /** [B, labels] for classification/regression, [M, V] at the M labelled positions for mlm. */
  logits: Float32Array;
  /** L + 1 arrays of [B·T, H]. */
  hiddenStates: Float32Array[];
  batch: TrainingBatch;
  /** @internal what the backward needs */
  saved: { embeddings: ReturnType<typeof embeddingsForward>; layers: { layer: number; pass: ReturnType<typeof layerForward> }[]; head: unknown };
}

export class TrainableModel {
  readonly config: EncoderConfig;
  readonly params: Parameters;
  readonly head: HeadKind;
  readonly dropout: DropoutRates;
  /** The run's seed: the key of every dropout mask. */
  readonly seed: number;
  training = false;
  private readonly embeddings: EmbeddingTables;
  private readonly layers: LayerTensors[];
  private readonly classifier: ClassifierHead | null;
  private readonly mlm: MlmHead | null;

  /** A model with zero parameters: fill them with `params.initialise` or `params.load`. */
  constructor(config: EncoderConfig, head: HeadKind, options: { seed?: number; prefix?: string; dropout?: Partial<DropoutRates> } = {}) {
    this.config = config;
    this.head = head;
    this.seed = options.seed ?? 0;
    // The seed keys every dropout mask, whose key words are 32-bit.
    check(Number.isInteger(this.seed) && this.seed >= 0 && this.seed < 2 ** 32, `--seed must be a whole number in [0, 2^32), got ${this.seed}`);
    this.dropout = { ...dropoutRates(config), ...options.dropout };
    const heads: HeadChoice = {
      prefix: options.prefix,
      pooler: head.kind !== 'mlm' && TENSOR_NAMES[config.family].classifier.kind === 'pooled',
      mlm: head.kind === 'mlm',
      labels: head.kind === 'classification' ? head.labels : head.kind === 'regression' ? 1 : undefined,
    };
    this.params = new Parameters(config, heads);
    const p = this.params, names = TENSOR_NAMES[config.family], pre = p.prefix;
    const linear = (module: string, inputs: number, outputs: number): Linear => {
      const w = p.get(`${module}.weight`), b = p.get(`${module}.bias`);
      return { weight: w.value, bias: b.value, weightGrad: w.grad, biasGrad: b.grad, inputs, outputs };
    };
    const norm = (module: string): Norm => {
      const g = p.get(`${module}.weight`), b = p.get(`${module}.bias`);
      return { gamma: g.value, beta: b.value, gammaGrad: g.grad, betaGrad: b.grad, eps: config.layerNormEps };
    };
    const H = config.hiddenSize, E = config.embeddingSize, I = config.intermediateSize;
    const word = p.body(`${names.word}.weight`);
    const position = p.body(`${names.position}.weight`);
    const tokenType = names.tokenType && config.typeVocabSize > 0 ? p.body(`${names.tokenType}.weight`) : null;
    this.embeddings = {
      word: word.value, wordGrad: word.grad, position: position.value, positionGrad: position.grad,
      tokenType: tokenType?.value ?? null, tokenTypeGrad: tokenType?.grad ?? null,
      norm: norm(pre + names.embeddingNorm),
      projection: names.embeddingProjection ? linear(pre + names.embeddingProjection, E, H) : null,
      width: E,
      wordPaddingRow: config.padTokenId,
      positionPaddingRow: config.positionsFromPadding ? config.padTokenId : null,
    };
    this.layers = p.layers.map((l) => ({
      qkv: { weight: l.qkvWeight, bias: l.qkvBias, weightGrad: l.qkvWeightGrad, biasGrad: l.qkvBiasGrad, inputs: H, outputs: 3 * H },
      attentionOutput: linear(l.names.attentionOutput, H, H), attentionNorm: norm(l.names.attentionNorm),
      intermediate: linear(l.names.intermediate, H, I), output: linear(l.names.output, I, H), outputNorm: norm(l.names.outputNorm),
      heads: config.numHeads, activation: config.hiddenAct,
    }));
    const labels = heads.labels ?? 0, c = names.classifier;
    this.classifier = labels === 0 ? null
      : c.kind === 'pooled' ? { kind: c.kind, first: linear(pre + names.pooler!, H, H), last: linear(c.classifier, H, labels) }
      : c.kind === 'dense-tanh' ? { kind: c.kind, first: linear(c.dense, H, H), last: linear(c.outProj, H, labels) }
      : { kind: c.kind, first: linear(c.preClassifier, H, H), last: linear(c.classifier, H, labels) };
    this.mlm = head.kind !== 'mlm' ? null : {
      transform: linear(names.mlm.transform, H, E), norm: norm(names.mlm.norm),
      // RoBERTa's lm_head always uses the erf GELU; the others the config's activation.
      activation: config.family === 'roberta' ? 'gelu' : config.hiddenAct,
      decoder: word.value, decoderGrad: word.grad,
      bias: p.get(names.mlm.bias[0]).value, biasGrad: p.get(names.mlm.bias[0]).grad,
    };
  }

  /**
   * A model from a Hugging Face checkpoint folder: the body (and pooler, MLM head) as stored;
   * head tensors the checkpoint holds under their HF names (e.g. `classifier.*` of a fine-tuned
   * model) unless `newHead`; everything else new, as transformers initialises it, from `seed`.
   */
  static async fromCheckpoint(dir: string, head: HeadKind, options: { seed?: number; newHead?: boolean; dropout?: Partial<DropoutRates> } = {}): Promise<TrainableModel> {
    const config = readConfig(dir);
    const model = new TrainableModel(config, head, options);
    const loaded = model.loadEncoderWeights(await loadWeights(dir, config));
    const rest = model.params.list.filter((p) => !loaded.has(p.name));
    const labels = head.kind === 'classification' ? `${head.labels} labels` : head.kind === 'regression' ? '1 output (regression)' : 'the masked-LM head';
    const stored = options.newHead ? new Map<string, Float32Array>()
      : await readNamedTensors(dir, rest, `the task needs ${labels}: pass --new-head to start a new head`);
    model.params.load([...stored].map(([name, data]) => ({ name, data })));
    model.params.initialise(options.seed ?? 0, new Set(rest.filter((p) => !stored.has(p.name)).map((p) => p.name)));
    return model;
  }

  /** Copy a loaded checkpoint's body (and pooler, MLM head) into the parameters; returns the names set. */
  loadEncoderWeights(w: EncoderWeights): Set<string> {
    const p = this.params, names = TENSOR_NAMES[this.config.family], pre = p.prefix;
    const done = new Set<string>();
    const set = (name: string, data: Float32Array) => { p.get(name).value.set(data); done.add(name); };
    const linear = (module: string, l: LinearWeights) => { set(`${module}.weight`, l.weight); set(`${module}.bias`, l.bias); };
    const norm = (module: string, n: NormWeights) => { set(`${module}.weight`, n.gamma); set(`${module}.bias`, n.beta); };
    set(`${pre}${names.word}.weight`, w.wordEmbeddings);
    set(`${pre}${names.position}.weight`, w.positionEmbeddings);
    if (w.tokenTypeEmbeddings && p.has(`${pre}${names.tokenType}.weight`)) set(`${pre}${names.tokenType}.weight`, w.tokenTypeEmbeddings);
    norm(pre + names.embeddingNorm, w.embeddingNorm);
    if (w.embeddingProjection) linear(pre + names.embeddingProjection!, w.embeddingProjection);
    w.layers.forEach((l, i) => {
      const n = p.layers[i].names;
      linear(n.query, l.query); linear(n.key, l.key); linear(n.value, l.value);
      linear(n.attentionOutput, l.attentionOutput); norm(n.attentionNorm, l.attentionNorm);
      linear(n.intermediate, l.intermediate); linear(n.output, l.output); norm(n.outputNorm, l.outputNorm);
    });
    if (w.pooler && names.pooler && p.has(`${pre}${names.pooler}.weight`)) linear(pre + names.pooler, w.pooler);
    if (w.mlm && this.mlm) {
      linear(names.mlm.transform, w.mlm.transform);
      norm(names.mlm.norm, w.mlm.norm);
      set(names.mlm.bias[0], w.mlm.decoderBias);
    }
    return done;
  }

  train(): this { this.training = true; return this; }
  eval(): this { this.training = false; return this; }

  /** The distinct layer each of the L layer applications uses, in order (ALBERT: groups repeat). */
  private applications(): { layer: number; index: number }[] {
    const c = this.config, out: { layer: number; index: number }[] = [];
    const perGroup = c.numLayers / (this.layers.length / c.innerGroupNum);
    for (let i = 0; i < c.numLayers; i++) {
      const first = Math.floor(i / perGroup) * c.innerGroupNum;
      for (let j = 0; j < c.innerGroupNum; j++) out.push({ layer: first + j, index: i * c.innerGroupNum + j });
    }
    return out;
  }

  /** Forward of a batch at optimizer step `step` (the dropout key); the loss of the model's head. */
  forward(batch: TrainingBatch, step = 0): ForwardPass {
    const c = this.config, B = batch.batch, T = batch.seqLen, rows = B * T;
    const drop = (p: number, stream: number): Dropout | null => (this.training && p > 0 ? { p, seed: this.seed, stream, step } : null);
    const ids = {
      word: batch.inputIds, position: positionIds(batch, c),
      tokenType: this.embeddings.tokenType ? (batch.tokenTypeIds ?? new Int32Array(rows)) : null,
    };
    const embeddings = embeddingsForward(this.embeddings, ids, drop(this.dropout.hidden, STREAM.embeddings));
    const maskBias = attentionMaskBias(batch.attentionMask);
    const hiddenStates = [embeddings.out];
    const layers: ForwardPass['saved']['layers'] = [];
    let x = embeddings.out;
    const perApplication = c.innerGroupNum;
    this.applications().forEach(({ layer, index }, k) => {
      const d: LayerDropouts = {
        attentionProbs: drop(this.dropout.attention, STREAM.layer(index, 0)),
        attentionOutput: c.family === 'distilbert' ? null : drop(this.dropout.hidden, STREAM.layer(index, 1)),
        // AlbertLayer defines a dropout but never applies it after its feed-forward.
        output: c.family === 'albert' ? null : drop(this.dropout.hidden, STREAM.layer(index, 2)),
      };
      const pass = layerForward(this.layers[layer], x, maskBias, { batch: B, seqLen: T }, d);
      layers.push({ layer, pass });
      x = pass.out;
      // transformers records a state per outer layer (after a whole ALBERT group).
      if ((k + 1) % perApplication === 0) hiddenStates.push(x);
    });
    if (this.mlm) {
      if (!(batch.labels instanceof Int32Array) || batch.labels.length !== rows) throw new TypeError('masked-LM labels are token ids [B·T]');
      const head = mlmForward(this.mlm, x, batch.labels);
      return { loss: head.loss, logits: head.logits, hiddenStates, batch, saved: { embeddings, layers, head } };
    }
    const dropouts = {
      beforeFirst: drop(this.dropout.classifier, STREAM.headFirst),
      beforeLast: drop(this.dropout.classifier, STREAM.headLast),
    };
    const head = classifierForward(this.classifier!, x, B, T, batch.labels ?? null, dropouts);
    return { loss: head.loss, logits: head.logits, hiddenStates, batch, saved: { embeddings, layers, head } };
  }

  /**
   * Add the gradient of lossScale·loss + Σ ⟨hiddenGrads[i], hidden_states[i]⟩ into the parameters'
   * gradients (`params.zeroGrads()` first, once per step). hiddenGrads[i] (HF numbering, null or
   * absent where none) are the regularizers' gradients with respect to the hidden states.
   */
  backward(pass: ForwardPass, options: { lossScale?: number; hiddenGrads?: (Float32Array | null | undefined)[] } = {}): void {
    const L = this.config.numLayers, extra = options.hiddenGrads ?? [];
    const rows = pass.batch.batch * pass.batch.seqLen, H = this.config.hiddenSize;
    if (!pass.batch.labels) throw new Error('backward needs a forward with labels');
    extra.forEach((g, i) => {
      if (g && (i > L || g.length !== rows * H)) throw new RangeError(`hiddenGrads[${i}] has ${g.length} values; hidden states 0..${L} have ${rows * H}`);
    });
    let d: Float32Array = new Float32Array(rows * H);
    if (this.mlm) mlmBackward(this.mlm, pass.saved.head as ReturnType<typeof mlmForward>, d, options.lossScale ?? 1);
    else classifierBackward(this.classifier!, pass.saved.head as ReturnType<typeof classifierForward>, d, options.lossScale ?? 1);
    const addExtra = (i: number) => {
      const g = extra[i];
      if (g) for (let j = 0; j < d.length; j++) d[j] += g[j];
    };
    addExtra(L);
    const per = this.config.innerGroupNum;
    for (let k = pass.saved.layers.length - 1; k >= 0; k--) {
      const { layer, pass: saved } = pass.saved.layers[k];
      d = layerBackward(this.layers[layer], saved, d);
      if (k % per === 0) addExtra(k / per); // now the gradient of hidden_states[k / per]
    }
    embeddingsBackward(this.embeddings, pass.saved.embeddings, d);
  }
}
