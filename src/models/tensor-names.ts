/**
 * The Hugging Face tensor names of each BERT-family architecture, in one table used by loading
 * (weights.ts), seeded initialisation (init.ts), the trainable model and saving. Names are
 * relative to the architecture's prefix (`bert.`, `roberta.`, …) except the heads', which are
 * absolute as transformers saves them (`cls.predictions.*`, `classifier.*`, `lm_head.*`).
 * Linear weights are [out, in]; a module name here has `.weight` and `.bias` under it.
 */
import type { Family } from './config.js';

/** Module names of one transformer layer. */
export interface LayerNames {
  query: string; key: string; value: string; attentionOutput: string; attentionNorm: string;
  intermediate: string; output: string; outputNorm: string;
}

/** Sequence-classification head modules (absolute names), in the order the head applies them. */
export type ClassifierNames =
  /** BERT, ALBERT: pooler (in the body) → dropout → classifier. */
  | { kind: 'pooled'; classifier: string }
  /** RoBERTa: first token → dropout → dense → tanh → dropout → out_proj. */
  | { kind: 'dense-tanh'; dense: string; outProj: string }
  /** DistilBERT: first token → pre_classifier → ReLU → dropout → classifier. */
  | { kind: 'pre-relu'; preClassifier: string; classifier: string };

export interface ArchitectureNames {
  /** Prefixes a checkpoint's body names may carry, the saving one first. */
  prefixes: string[];
  word: string; position: string; tokenType: string | null; embeddingNorm: string;
  /** ALBERT's E → H projection. */
  embeddingProjection: string | null;
  layer: (group: number, inner: number) => LayerNames;
  pooler: string | null;
  /** The masked-LM head (absolute names); `bias` lists the names the decoder bias is saved under. */
  mlm: { transform: string; norm: string; bias: string[]; decoder: string };
  classifier: ClassifierNames;
}

const BERT_LAYER = (i: number): LayerNames => ({
  query: `encoder.layer.${i}.attention.self.query`, key: `encoder.layer.${i}.attention.self.key`, value: `encoder.layer.${i}.attention.self.value`,
  attentionOutput: `encoder.layer.${i}.attention.output.dense`, attentionNorm: `encoder.layer.${i}.attention.output.LayerNorm`,
  intermediate: `encoder.layer.${i}.intermediate.dense`, output: `encoder.layer.${i}.output.dense`, outputNorm: `encoder.layer.${i}.output.LayerNorm`,
});

export const TENSOR_NAMES: Record<Family, ArchitectureNames> = {
  bert: {
    prefixes: ['bert.', ''], word: 'embeddings.word_embeddings', position: 'embeddings.position_embeddings',
    tokenType: 'embeddings.token_type_embeddings', embeddingNorm: 'embeddings.LayerNorm', embeddingProjection: null,
    layer: (g) => BERT_LAYER(g), pooler: 'pooler.dense',
    mlm: { transform: 'cls.predictions.transform.dense', norm: 'cls.predictions.transform.LayerNorm', bias: ['cls.predictions.bias', 'cls.predictions.decoder.bias'], decoder: 'cls.predictions.decoder.weight' },
    classifier: { kind: 'pooled', classifier: 'classifier' },
  },
  roberta: {
    prefixes: ['roberta.', ''], word: 'embeddings.word_embeddings', position: 'embeddings.position_embeddings',
    tokenType: 'embeddings.token_type_embeddings', embeddingNorm: 'embeddings.LayerNorm', embeddingProjection: null,
    layer: (g) => BERT_LAYER(g), pooler: 'pooler.dense',
    mlm: { transform: 'lm_head.dense', norm: 'lm_head.layer_norm', bias: ['lm_head.bias', 'lm_head.decoder.bias'], decoder: 'lm_head.decoder.weight' },
    classifier: { kind: 'dense-tanh', dense: 'classifier.dense', outProj: 'classifier.out_proj' },
  },
  distilbert: {
    prefixes: ['distilbert.', ''], word: 'embeddings.word_embeddings', position: 'embeddings.position_embeddings',
    tokenType: null, embeddingNorm: 'embeddings.LayerNorm', embeddingProjection: null,
    layer: (i) => ({
      query: `transformer.layer.${i}.attention.q_lin`, key: `transformer.layer.${i}.attention.k_lin`, value: `transformer.layer.${i}.attention.v_lin`,
      attentionOutput: `transformer.layer.${i}.attention.out_lin`, attentionNorm: `transformer.layer.${i}.sa_layer_norm`,
      intermediate: `transformer.layer.${i}.ffn.lin1`, output: `transformer.layer.${i}.ffn.lin2`, outputNorm: `transformer.layer.${i}.output_layer_norm`,
    }),
    pooler: null,
    mlm: { transform: 'vocab_transform', norm: 'vocab_layer_norm', bias: ['vocab_projector.bias'], decoder: 'vocab_projector.weight' },
    classifier: { kind: 'pre-relu', preClassifier: 'pre_classifier', classifier: 'classifier' },
  },
  albert: {
    prefixes: ['albert.', ''], word: 'embeddings.word_embeddings', position: 'embeddings.position_embeddings',
    tokenType: 'embeddings.token_type_embeddings', embeddingNorm: 'embeddings.LayerNorm', embeddingProjection: 'encoder.embedding_hidden_mapping_in',
    layer: (g, j) => {
      const p = `encoder.albert_layer_groups.${g}.albert_layers.${j}`;
      return {
        query: `${p}.attention.query`, key: `${p}.attention.key`, value: `${p}.attention.value`, attentionOutput: `${p}.attention.dense`,
        attentionNorm: `${p}.attention.LayerNorm`, intermediate: `${p}.ffn`, output: `${p}.ffn_output`, outputNorm: `${p}.full_layer_layer_norm`,
      };
    },
    pooler: 'pooler',
    mlm: { transform: 'predictions.dense', norm: 'predictions.LayerNorm', bias: ['predictions.bias', 'predictions.decoder.bias'], decoder: 'predictions.decoder.weight' },
    classifier: { kind: 'pooled', classifier: 'classifier' },
  },
};

/** The sizes a tensor list is made of (EncoderConfig has them all). */
export interface ShapeSizes {
  family: Family;
  vocabSize: number;
  embeddingSize: number;
  hiddenSize: number;
  intermediateSize: number;
  maxPositions: number;
  /** 0: no token-type embeddings. */
  typeVocabSize: number;
  numLayers: number;
  /** ALBERT's distinct layer groups and layers per group (BERT-like: numLayers and 1). */
  numHiddenGroups: number;
  innerGroupNum: number;
}

/** How a tensor starts in a fresh model (transformers' `_init_weights`). */
export type InitKind = 'normal' | 'zeros' | 'ones';

export interface TensorSpec {
  name: string;
  shape: number[];
  init: InitKind;
}

/** Which heads a tensor list holds. */
export interface HeadChoice {
  /** The body's name prefix, default the architecture's saving one (`bert.` …). */
  prefix?: string;
  /** The pooler (BERT, RoBERTa, ALBERT): default true where the architecture has one. */
  pooler?: boolean;
  /** The masked-LM head (its decoder weight is tied to the word embeddings and not listed). */
  mlm?: boolean;
  /** A sequence-classification (or, with 1 label, regression) head with this many outputs. */
  labels?: number;
}

/**
 * Every tensor of a model, in one fixed order (embeddings, layers, pooler, MLM head,
 * classifier): the order of seeded initialisation, so the same seed gives the same weights.
 */
export function tensorSpecs(s: ShapeSizes, heads: HeadChoice = {}): TensorSpec[] {
  const names = TENSOR_NAMES[s.family];
  const prefix = heads.prefix ?? names.prefixes[0];
  const H = s.hiddenSize, E = s.embeddingSize, V = s.vocabSize;
  const specs: TensorSpec[] = [];
  const add = (name: string, shape: number[], init: InitKind) => specs.push({ name, shape, init });
  const linear = (name: string, inputs: number, outputs: number) => {
    add(`${name}.weight`, [outputs, inputs], 'normal');
    add(`${name}.bias`, [outputs], 'zeros');
  };
  const norm = (name: string, size: number) => {
    add(`${name}.weight`, [size], 'ones');
    add(`${name}.bias`, [size], 'zeros');
  };
  add(`${prefix}${names.word}.weight`, [V, E], 'normal');
  add(`${prefix}${names.position}.weight`, [s.maxPositions, E], 'normal');
  if (names.tokenType && s.typeVocabSize > 0) add(`${prefix}${names.tokenType}.weight`, [s.typeVocabSize, E], 'normal');
  norm(`${prefix}${names.embeddingNorm}`, E);
  if (names.embeddingProjection) linear(`${prefix}${names.embeddingProjection}`, E, H);
  for (const l of layerNames(s, prefix)) {
    for (const m of [l.query, l.key, l.value]) linear(m, H, H);
    linear(l.attentionOutput, H, H);
    norm(l.attentionNorm, H);
    linear(l.intermediate, H, s.intermediateSize);
    linear(l.output, s.intermediateSize, H);
    norm(l.outputNorm, H);
  }
  if (names.pooler && (heads.pooler ?? true)) linear(`${prefix}${names.pooler}`, H, H);
  if (heads.mlm) {
    linear(names.mlm.transform, H, E);
    norm(names.mlm.norm, E);
    add(names.mlm.bias[0], [V], 'zeros');
  }
  if (heads.labels !== undefined) {
    const c = names.classifier;
    if (c.kind === 'pooled') linear(c.classifier, H, heads.labels);
    else if (c.kind === 'dense-tanh') { linear(c.dense, H, H); linear(c.outProj, H, heads.labels); }
    else { linear(c.preClassifier, H, H); linear(c.classifier, H, heads.labels); }
  }
  return specs;
}

/** The distinct layers' names with the prefix: numLayers for BERT-like models, groups × inner for ALBERT. */
export function layerNames(s: Pick<ShapeSizes, 'family' | 'numLayers' | 'numHiddenGroups' | 'innerGroupNum'>, prefix: string): LayerNames[] {
  const names = TENSOR_NAMES[s.family];
  const groups = s.family === 'albert' ? s.numHiddenGroups : s.numLayers;
  const inner = s.family === 'albert' ? s.innerGroupNum : 1;
  const out: LayerNames[] = [];
  for (let g = 0; g < groups; g++) {
    for (let j = 0; j < inner; j++) {
      const l = names.layer(g, j);
      out.push(Object.fromEntries(Object.entries(l).map(([k, v]) => [k, prefix + v])) as unknown as LayerNames);
    }
  }
  return out;
}
