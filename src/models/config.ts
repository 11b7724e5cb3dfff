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
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new UserError(`${file}: '${key}' must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) throw new UserError(`${file}: '${key}' must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const act = (key: string, fallback: string): Activation => {
    const v = raw[key] ?? fallback;
    const a = typeof v === 'string' ? ACTIVATIONS[v] : undefined;
    if (!a) throw new UserError(`${file}: ${key} '${String(v)}' is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
    return a;
  };
  const positionType = raw.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') throw new UserError(`${file}: position_embedding_type '${String(positionType)}' is not supported (only 'absolute')`);

  let c: Omit<EncoderConfig, 'raw' | 'modelType' | 'family'>;
  if (family === 'distilbert') {
    if (raw.sinusoidal_pos_embds === true) {
      // The sinusoidal table is still stored as position_embeddings.weight, so loading works as is.
    }
    const dim = int('dim', 768);
    c = {
      vocabSize: int('vocab_size'), embeddingSize: dim, hiddenSize: dim, numLayers: int('n_layers', 6), numHeads: int('n_heads', 12),
      intermediateSize: int('hidden_dim', 3072), hiddenAct: act('activation', 'gelu'), maxPositions: int('max_position_embeddings', 512),
      typeVocabSize: 0, layerNormEps: 1e-12, padTokenId: int('pad_token_id', 0), positionsFromPadding: false,
      numHiddenGroups: int('n_layers', 6), innerGroupNum: 1,
    };
  } else {
    const hidden = int('hidden_size', 768);
    const layers = int('num_hidden_layers', 12);
    c = {
      vocabSize: int('vocab_size'), embeddingSize: family === 'albert' ? int('embedding_size', 128) : hidden, hiddenSize: hidden,
      numLayers: layers, numHeads: int('num_attention_heads', 12), intermediateSize: int('intermediate_size', 3072),
      hiddenAct: act('hidden_act', family === 'albert' ? 'gelu_new' : 'gelu'), maxPositions: int('max_position_embeddings', 512),
      typeVocabSize: int('type_vocab_size', 2), layerNormEps: num('layer_norm_eps', family === 'roberta' ? 1e-5 : 1e-12),
      padTokenId: int('pad_token_id', family === 'roberta' ? 1 : 0), positionsFromPadding: family === 'roberta',
      numHiddenGroups: family === 'albert' ? int('num_hidden_groups', 1) : layers,
      innerGroupNum: family === 'albert' ? int('inner_group_num', 1) : 1,
    };
  }
  if (c.hiddenSize === 0 || c.numHeads === 0 || c.hiddenSize % c.numHeads !== 0) {
    throw new UserError(`${file}: hidden size ${c.hiddenSize} is not a multiple of the ${c.numHeads} attention heads`);
  }
  if (c.numHiddenGroups === 0 || c.numLayers % c.numHiddenGroups !== 0) {
    throw new UserError(`${file}: num_hidden_layers ${c.numLayers} is not a multiple of num_hidden_groups ${c.numHiddenGroups}`);
  }
  if (c.vocabSize === 0 || c.maxPositions === 0) throw new UserError(`${file}: vocab_size and max_position_embeddings must be positive`);
  return { modelType: modelType as ModelType, family, ...c, raw };
}

/**
 * The longest input the model takes: its position table, less RoBERTa's padding_idx + 1 offset
 * (514 positions hold 512 tokens).
 */
export function maxInputLength(config: EncoderConfig): number {
  return config.positionsFromPadding ? config.maxPositions - config.padTokenId - 1 : config.maxPositions;
}
