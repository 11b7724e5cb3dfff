/**
 * The trainable model's parameters: one Float32Array per Hugging Face tensor, under its HF name
 * and shape, and a gradient of the same shape for each. These are what is saved, counted,
 * optimised and (in the subspace issue) projected.
 *
 * The only layout trick: each layer's query, key and value tensors are consecutive views of one
 * fused buffer ([3H, H] weights, [3H] biases, rows q | k | v), so that one product gives the
 * fused [rows, 3H] projection the attention kernel reads, and one product gives all three
 * weight gradients. The views still are exactly the HF tensors.
 */
import type { TensorToWrite } from '../io/safetensors.js';
import type { EncoderConfig } from './config.js';
import { initialValues, normalGenerator } from './init.js';
import { layerNames, tensorSpecs, TENSOR_NAMES, type HeadChoice, type InitKind, type LayerNames } from './tensor-names.js';

export interface Parameter {
  name: string;
  shape: number[];
  value: Float32Array;
  grad: Float32Array;
  /** How a fresh model fills it (transformers' _init_weights). */
  init: InitKind;
  /** A LayerNorm weight or any bias: no weight decay under HF Trainer's rule. */
  noDecay: boolean;
}

/** One distinct transformer layer's tensors (ALBERT: one per layer of a group). */
export interface LayerParameters {
  /** [3H, H] and [3H]: query, key and value fused (their HF tensors are views of these). */
  qkvWeight: Float32Array; qkvBias: Float32Array;
  qkvWeightGrad: Float32Array; qkvBiasGrad: Float32Array;
  names: LayerNames;
}

export class Parameters {
  readonly list: Parameter[] = [];
  readonly layers: LayerParameters[] = [];
  private readonly byName = new Map<string, Parameter>();

  /** Fresh tensors for `specs` (zeros; see `initialise` and `load`). */
  constructor(readonly config: EncoderConfig, readonly heads: HeadChoice, readonly prefix = heads.prefix ?? TENSOR_NAMES[config.family].prefixes[0]) {
    const specs = tensorSpecs(config, { ...heads, prefix });
    const H = config.hiddenSize;
    const fused = new Map<string, { value: Float32Array; grad: Float32Array; at: number }>();
    for (const names of layerNames(config, prefix)) {
      const layer: LayerParameters = {
        qkvWeight: new Float32Array(3 * H * H), qkvBias: new Float32Array(3 * H),
        qkvWeightGrad: new Float32Array(3 * H * H), qkvBiasGrad: new Float32Array(3 * H), names,
      };
      this.layers.push(layer);
      [names.query, names.key, names.value].forEach((m, i) => {
        fused.set(`${m}.weight`, { value: layer.qkvWeight, grad: layer.qkvWeightGrad, at: i * H * H });
        fused.set(`${m}.bias`, { value: layer.qkvBias, grad: layer.qkvBiasGrad, at: i * H });
      });
    }
    for (const spec of specs) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const f = fused.get(spec.name);
      const p: Parameter = {
        name: spec.name, shape: spec.shape,
        value: f ? f.value.subarray(f.at, f.at + size) : new Float32Array(size),
        grad: f ? f.grad.subarray(f.at, f.at + size) : new Float32Array(size),
        init: spec.init,
        noDecay: spec.name.endsWith('.bias') || spec.init === 'ones',
      };
      this.list.push(p);
      this.byName.set(spec.name, p);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The tensor of an HF name (body names with the prefix, head names absolute). */
  get(name: string): Parameter {
    const p = this.byName.get(name);
    if (!p) throw new Error(`no parameter named ${name}`);
    return p;
  }

  /** A body tensor by its name without the prefix (e.g. 'embeddings.word_embeddings.weight'). */
  body(name: string): Parameter {
    return this.get(this.prefix + name);
  }

  /** Fill `names` (default all) as transformers' _init_weights does, from a seeded generator. */
  initialise(seed: number, names?: ReadonlySet<string>): void {
    const std = typeof this.config.raw.initializer_range === 'number' ? this.config.raw.initializer_range : 0.02;
    const normal = normalGenerator(seed);
    const word = this.prefix + TENSOR_NAMES[this.config.family].word + '.weight';
    for (const p of this.list) {
      if (names && !names.has(p.name)) continue;
      p.value.set(initialValues(p, normal, std));
      if (p.name === word) {
        const E = this.config.embeddingSize, pad = this.config.padTokenId;
        p.value.fill(0, pad * E, (pad + 1) * E);
      }
    }
  }

  /** Copy tensors in by name (e.g. from a checkpoint); every one must have its parameter's size. */
  load(tensors: Iterable<{ name: string; data: ArrayLike<number> }>): void {
    for (const t of tensors) {
      const p = this.get(t.name);
      if (t.data.length !== p.value.length) throw new Error(`${t.name}: ${t.data.length} values for a tensor of ${p.value.length}`);
      p.value.set(t.data);
    }
  }

  zeroGrads(): void {
    for (const p of this.list) p.grad.fill(0);
  }

  /** Every tensor under its HF name, for writing model.safetensors (views, no copies). */
  tensors(): TensorToWrite[] {
    return this.list.map((p) => ({ name: p.name, dtype: 'F32' as const, shape: p.shape, data: p.value }));
  }

  /** Number of trainable values. */
  count(): number {
    return this.list.reduce((n, p) => n + p.value.length, 0);
  }
}
