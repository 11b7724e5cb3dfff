/**
 * Seeded initial weights of a BERT checkpoint, as transformers' `BertPreTrainedModel._init_weights`
 * makes them: Linear and Embedding weights N(0, initializer_range²), biases 0, LayerNorm γ = 1 and
 * β = 0, the padding row of the word embeddings 0. Tensor names and [out, in] layouts as
 * `BertForMaskedLM` saves them (the tied MLM decoder is not stored).
 */
import type { TensorToWrite } from '../io/safetensors.js';
import { Rng } from '../metrics/sample.js';

export interface BertShape {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  intermediate_size: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  pad_token_id: number;
  initializer_range?: number;
}

export function initialBertTensors(config: BertShape, seed: number, heads: { pooler?: boolean; mlm?: boolean } = {}): TensorToWrite[] {
  const uniform = new Rng(seed);
  const std = config.initializer_range ?? 0.02;
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform.nextFloat())) * Math.cos(2 * Math.PI * uniform.nextFloat());
  const H = config.hidden_size, I = config.intermediate_size, V = config.vocab_size;
  const tensors: TensorToWrite[] = [];
  const add = (name: string, shape: number[], fill: 'normal' | 'zeros' | 'ones') => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (fill === 'normal') for (let i = 0; i < data.length; i++) data[i] = std * normal();
    if (fill === 'ones') data.fill(1);
    tensors.push({ name, dtype: 'F32', shape, data });
    return data;
  };
  const linear = (name: string, inputs: number, outputs: number) => {
    add(`${name}.weight`, [outputs, inputs], 'normal');
    add(`${name}.bias`, [outputs], 'zeros');
  };
  const norm = (name: string, size: number) => {
    add(`${name}.weight`, [size], 'ones');
    add(`${name}.bias`, [size], 'zeros');
  };
  const word = add('bert.embeddings.word_embeddings.weight', [V, H], 'normal');
  word.fill(0, config.pad_token_id * H, (config.pad_token_id + 1) * H);
  add('bert.embeddings.position_embeddings.weight', [config.max_position_embeddings, H], 'normal');
  add('bert.embeddings.token_type_embeddings.weight', [config.type_vocab_size, H], 'normal');
  norm('bert.embeddings.LayerNorm', H);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    for (const m of ['query', 'key', 'value']) linear(`${p}.attention.self.${m}`, H, H);
    linear(`${p}.attention.output.dense`, H, H);
    norm(`${p}.attention.output.LayerNorm`, H);
    linear(`${p}.intermediate.dense`, H, I);
    linear(`${p}.output.dense`, I, H);
    norm(`${p}.output.LayerNorm`, H);
  }
  if (heads.pooler ?? true) linear('bert.pooler.dense', H, H);
  if (heads.mlm ?? true) {
    linear('cls.predictions.transform.dense', H, H);
    norm('cls.predictions.transform.LayerNorm', H);
    add('cls.predictions.bias', [V], 'zeros');
  }
  return tensors;
}
