/**
 * `config.json` of a Hugging Face BERT-family checkpoint, read into one normalised encoder
 * config. The four architectures share one encoder (src/models/encoder.ts); what differs between
 * them is named here:
 * - BERT: the reference (post-LayerNorm blocks, absolute positions 0..T−1, token types).
 * - RoBERTa (and XLM-R, CamemBERT): positions start at padding_idx + 1 and skip padding
 *   (transformers' `create_position_ids_from_input_ids`); one token type.
 * - DistilBERT: its own key names (dim, n_layers, …), no token types, no pooler.
 * - ALBERT: embeddings of size E projected to H, layers shared within hidden groups.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { readTextFileSync } from '../io/file-io.js';
import { checkNesting, syntaxError } from '../io/json-limits.js';

export const MODEL_TYPES = ['bert', 'roberta', 'xlm-roberta', 'camembert', 'distilbert', 'albert'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];
export type Family = 'bert' | 'roberta' | 'distilbert' | 'albert';
export type Activation = 'gelu' | 'gelu_new' | 'relu' | 'tanh';

export interface EncoderConfig {
  modelType: ModelType;
  family: Family;
  vocabSize: number;
  /** Width of the token embeddings (ALBERT's E; otherwise the hidden size). */
  embeddingSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  hiddenAct: Activation;
  maxPositions: number;
  /** 0 when the architecture has no token-type embeddings (DistilBERT). */
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
  /** RoBERTa: position ids are padding_idx + 1 + (index among non-padding tokens). */
  positionsFromPadding: boolean;
  /** ALBERT: distinct layer groups and layers per group (BERT-like: numLayers groups of 1). */
  numHiddenGroups: number;
  innerGroupNum: number;
  /** The raw config.json, kept for reports and Arrow metadata. */
  raw: Record<string, unknown>;
}

const FAMILY: Record<ModelType, Family> = {
  bert: 'bert', roberta: 'roberta', 'xlm-roberta': 'roberta', camembert: 'roberta', distilbert: 'distilbert', albert: 'albert',
};

/** transformers' ACT2FN names for the activations these encoders use. */
const ACTIVATIONS: Record<string, Activation> = {
  gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', gelu_fast: 'gelu_new', relu: 'relu', tanh: 'tanh',
};

export function readConfig(dir: string): EncoderConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`${dir}: not a model folder (expected a Hugging Face folder with config.json and model.safetensors)`);
  if (!fs.existsSync(file)) throw new UserError(`${dir}: no config.json (a Hugging Face model folder needs config.json and model.safetensors)`);
  let raw: unknown;
  try {
    const text = readTextFileSync(file, { expected: 'a config.json file' });
    checkNesting(text, file, 'fix or re-download config.json');
    raw = JSON.parse(text);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${file}: not valid JSON (${syntaxError(e)})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UserError(`${file}: expected a JSON object`);
  return normaliseConfig(raw as Record<string, unknown>, file);
}

export function normaliseConfig(raw: Record<string, unknown>, file = 'config.json'): EncoderConfig {
  const modelType = raw.model_type;
  if (typeof modelType !== 'string' || !(MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new UserError(`${file}: model_type '${String(modelType)}' is not supported (supported: ${MODEL_TYPES.join(', ')})`);
  }
  const family = FAMILY[modelType as ModelType];
  const int = (key: string, fallback?: number, min = 1): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw new UserError(`${file}: '${key}' must be an integer ≥ ${min}, got ${JSON.stringify(v)}; ${fieldFix(key)}`);
    }
    const max = FIELD_LIMITS[key];
    if (max !== undefined && v > max) {
      throw new UserError(`${file}: '${key}' is ${v}, beyond any BERT-family checkpoint (at most ${max} here); ${fieldFix(key)}`);
    }
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new UserError(`${file}: '${key}' must be a positive number, got ${JSON.stringify(v)}; ${fieldFix(key)}`);
    return v;
  };
  const act = (key: string, fallback: string): Activation => {
    const v = raw[key] ?? fallback;
    const a = typeof v === 'string' ? ACTIVATIONS[v] : undefined;
    if (!a) throw new UserError(`${file}: ${key} '${String(v)}' is not supported; use one of ${Object.keys(ACTIVATIONS).join(', ')}`);
    return a;
  };
  const positionType = raw.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') {
    throw new UserError(`${file}: position_embedding_type '${String(positionType)}' is not supported (only 'absolute'); this checkpoint needs another tool`);
  }

  let c: Omit<EncoderConfig, 'raw' | 'modelType' | 'family'>;
  if (family === 'distilbert') {
    if (raw.sinusoidal_pos_embds === true) {
      // The sinusoidal table is still stored as position_embeddings.weight, so loading works as is.
    }
    const dim = int('dim', 768);
    c = {
      vocabSize: int('vocab_size'), embeddingSize: dim, hiddenSize: dim, numLayers: int('n_layers', 6), numHeads: int('n_heads', 12),
      intermediateSize: int('hidden_dim', 3072), hiddenAct: act('activation', 'gelu'), maxPositions: int('max_position_embeddings', 512),
      typeVocabSize: 0, layerNormEps: 1e-12, padTokenId: int('pad_token_id', 0, 0), positionsFromPadding: false,
      numHiddenGroups: int('n_layers', 6), innerGroupNum: 1,
    };
  } else {
    const hidden = int('hidden_size', 768);
    const layers = int('num_hidden_layers', 12);
    c = {
      vocabSize: int('vocab_size'), embeddingSize: family === 'albert' ? int('embedding_size', 128) : hidden, hiddenSize: hidden,
      numLayers: layers, numHeads: int('num_attention_heads', 12), intermediateSize: int('intermediate_size', 3072),
      hiddenAct: act('hidden_act', family === 'albert' ? 'gelu_new' : 'gelu'), maxPositions: int('max_position_embeddings', 512),
      typeVocabSize: int('type_vocab_size', 2, 0), layerNormEps: num('layer_norm_eps', family === 'roberta' ? 1e-5 : 1e-12),
      padTokenId: int('pad_token_id', family === 'roberta' ? 1 : 0, 0), positionsFromPadding: family === 'roberta',
      numHiddenGroups: family === 'albert' ? int('num_hidden_groups', 1) : layers,
      innerGroupNum: family === 'albert' ? int('inner_group_num', 1) : 1,
    };
  }
  const [hiddenKey, headsKey, layersKey] = family === 'distilbert' ? ['dim', 'n_heads', 'n_layers'] : ['hidden_size', 'num_attention_heads', 'num_hidden_layers'];
  if (c.hiddenSize % c.numHeads !== 0) {
    throw new UserError(`${file}: ${hiddenKey} ${c.hiddenSize} is not a multiple of ${headsKey} ${c.numHeads}; fix one of them to the checkpoint's values (768 and 12 for BERT-base)`);
  }
  if (c.numLayers % c.numHiddenGroups !== 0) {
    throw new UserError(`${file}: ${layersKey} ${c.numLayers} is not a multiple of num_hidden_groups ${c.numHiddenGroups}; fix one of them (ALBERT checkpoints have num_hidden_groups 1)`);
  }
  if (c.padTokenId >= c.vocabSize) {
    throw new UserError(`${file}: pad_token_id ${c.padTokenId} is outside the vocabulary (vocab_size ${c.vocabSize}); fix one of them to the checkpoint's values`);
  }
  if (c.positionsFromPadding && c.maxPositions <= c.padTokenId + 1) {
    throw new UserError(`${file}: max_position_embeddings ${c.maxPositions} leaves no positions after RoBERTa's padding_idx + 1 = ${c.padTokenId + 1}; ${fieldFix('max_position_embeddings')}`);
  }
  return { modelType: modelType as ModelType, family, ...c, raw };
}

/**
 * Upper bounds far above every published BERT-family checkpoint (BERT-large 1024 × 24, ALBERT
 * xxlarge 4096/16384, XLM-R's 250k vocabulary), so a typo such as `num_hidden_layers: 1e9` is
 * refused here instead of sizing allocations.
 */
const FIELD_LIMITS: Record<string, number> = {
  hidden_size: 65_536, dim: 65_536, embedding_size: 65_536,
  num_hidden_layers: 1024, n_layers: 1024, num_attention_heads: 1024, n_heads: 1024,
  intermediate_size: 262_144, hidden_dim: 262_144,
  vocab_size: 8_388_608, max_position_embeddings: 65_536, type_vocab_size: 1024,
  num_hidden_groups: 1024, inner_group_num: 64,
};

/** What a field means, with a typical value, for the fix part of an error message. */
const FIELD_MEANING: Record<string, string> = {
  hidden_size: 'the width of the hidden states, 768 for BERT-base', dim: 'the width of the hidden states, 768 for DistilBERT-base',
  embedding_size: 'the width of the token embeddings, 128 for ALBERT-base',
  num_hidden_layers: 'the number of transformer layers, 12 for BERT-base', n_layers: 'the number of transformer layers, 6 for DistilBERT-base',
  num_attention_heads: 'the number of attention heads, 12 for BERT-base', n_heads: 'the number of attention heads, 12 for DistilBERT-base',
  intermediate_size: 'the feed-forward width, 3072 for BERT-base', hidden_dim: 'the feed-forward width, 3072 for DistilBERT-base',
  vocab_size: 'the rows of the word-embedding matrix, 30522 for bert-base-uncased',
  max_position_embeddings: 'the rows of the position-embedding matrix, 512 for BERT',
  type_vocab_size: 'the number of token types, 2 for BERT', pad_token_id: 'the id of the padding token, 0 for BERT, 1 for RoBERTa',
  num_hidden_groups: 'the number of distinct ALBERT layer groups, 1 for ALBERT', inner_group_num: 'ALBERT layers per group, 1 for ALBERT',
  layer_norm_eps: 'the LayerNorm epsilon, 1e-12 for BERT',
};

function fieldFix(key: string): string {
  const meaning = FIELD_MEANING[key];
  return meaning ? `set it to the checkpoint's value (${meaning})` : "set it to the checkpoint's value";
}

/**
 * The longest input the model takes: its position table, less RoBERTa's padding_idx + 1 offset
 * (514 positions hold 512 tokens).
 */
export function maxInputLength(config: EncoderConfig): number {
  return config.positionsFromPadding ? config.maxPositions - config.padTokenId - 1 : config.maxPositions;
}
