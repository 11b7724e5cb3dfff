/**
 * Seeded initial weights as transformers' `_init_weights` makes them: Linear and Embedding
 * weights N(0, initializer_range²), biases 0, LayerNorm γ = 1 and β = 0, the padding row of the
 * word embeddings 0. Tensor names, order and [out, in] layouts come from tensor-names.ts (the
 * tied MLM decoder is not stored). New heads of the trainable model are drawn here too.
 */
import type { TensorToWrite } from '../io/safetensors.js';
import { Rng } from '../backend/rng.js';
import { tensorSpecs, type TensorSpec } from './tensor-names.js';

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

/** Standard normal draws from a seeded generator (Rng.normal: Box–Muller, one draw per pair of uniforms). */
export function normalGenerator(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.normal();
}

/** A tensor's initial values: N(0, std²) for 'normal', else zeros or ones. */
export function initialValues(spec: TensorSpec, normal: () => number, std: number): Float32Array {
  const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
  if (spec.init === 'normal') for (let i = 0; i < data.length; i++) data[i] = std * normal();
  if (spec.init === 'ones') data.fill(1);
  return data;
}

export function initialBertTensors(config: BertShape, seed: number, heads: { pooler?: boolean; mlm?: boolean } = {}): TensorToWrite[] {
  const normal = normalGenerator(seed);
  const std = config.initializer_range ?? 0.02;
  const H = config.hidden_size, L = config.num_hidden_layers;
  const specs = tensorSpecs(
    { family: 'bert', vocabSize: config.vocab_size, embeddingSize: H, hiddenSize: H, intermediateSize: config.intermediate_size,
      maxPositions: config.max_position_embeddings, typeVocabSize: config.type_vocab_size, numLayers: L, numHiddenGroups: L, innerGroupNum: 1 },
    { pooler: heads.pooler ?? true, mlm: heads.mlm ?? true },
  );
  return specs.map((spec, i) => {
    const data = initialValues(spec, normal, std);
    if (i === 0) data.fill(0, config.pad_token_id * H, (config.pad_token_id + 1) * H); // the word embeddings' padding row
    return { name: spec.name, dtype: 'F32' as const, shape: spec.shape, data };
  });
}
