/**
 * Weights of a Hugging Face checkpoint folder, read from `model.safetensors` or the shards named
 * in `model.safetensors.index.json`, and mapped from each architecture's tensor names onto one
 * layout the encoder uses. F32, F16, BF16 and F64 tensors are all widened to float32.
 *
 * Pickle checkpoints (`pytorch_model.bin`) are refused, never unpickled: unpickling runs code.
 *
 * Every check that needs no tensor data runs before any is read: missing tensors, shapes against
 * config.json, and the float32 size against the memory available (`inspectWeights` runs only
 * these). Each tensor is then scanned once for NaN/Inf as it is widened.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.js';
import { availableMemory, formatBytes } from '../backend/memory.js';
import { readTextFileSync } from '../io/file-io.js';
import { checkNesting, syntaxError } from '../io/json-limits.js';
import type { EncoderConfig, Family } from './config.js';
import { TENSOR_NAMES, type LayerNames } from './tensor-names.js';

/** A torch Linear: weight stored [out, in] as in the checkpoint. */
export interface LinearWeights { weight: Float32Array; bias: Float32Array; inputs: number; outputs: number }
export interface NormWeights { gamma: Float32Array; beta: Float32Array }

export interface LayerWeights {
  query: LinearWeights; key: LinearWeights; value: LinearWeights; attentionOutput: LinearWeights;
  attentionNorm: NormWeights;
  intermediate: LinearWeights; output: LinearWeights;
  outputNorm: NormWeights;
}

export interface EncoderWeights {
  /** [vocab, E] */
  wordEmbeddings: Float32Array;
  /** [maxPositions, E] */
  positionEmbeddings: Float32Array;
  /** [typeVocab, E], null without token types (DistilBERT). */
  tokenTypeEmbeddings: Float32Array | null;
  embeddingNorm: NormWeights;
  /** ALBERT's E → H projection. */
  embeddingProjection: LinearWeights | null;
  /** The distinct layers: numLayers for BERT-like models, numHiddenGroups × innerGroupNum for ALBERT. */
  layers: LayerWeights[];
  pooler: LinearWeights | null;
  /** The masked-LM head; its decoder is tied to the word embeddings unless stored. */
  mlm: { transform: LinearWeights; norm: NormWeights; decoderWeight: Float32Array; decoderBias: Float32Array } | null;
  /** The prefix the checkpoint's names carry ('bert.', '' …). */
  prefix: string;
  /** Tensors in the files that the encoder does not use (e.g. a classifier head). */
  unused: string[];
}

const PICKLE_FILES = ['pytorch_model.bin', 'pytorch_model.bin.index.json'];

/** One name → tensor view over a single file or a sharded checkpoint. */
class TensorStore {
  private constructor(readonly description: string, private readonly files: Map<string, SafetensorsFile>, private readonly where: Map<string, SafetensorsFile>) {}

  static async open(dir: string): Promise<TensorStore> {
    const single = path.join(dir, 'model.safetensors');
    const index = path.join(dir, 'model.safetensors.index.json');
    if (fs.existsSync(single)) {
      const file = await openSafetensors(single);
      return new TensorStore(single, new Map([[single, file]]), new Map(file.entries.map((e) => [e.name, file])));
    }
    if (fs.existsSync(index)) return TensorStore.openSharded(index, dir);
    const pickle = PICKLE_FILES.find((f) => fs.existsSync(path.join(dir, f)));
    if (pickle) {
      throw new UserError(
        `${path.join(dir, pickle)}: pickle checkpoints are not read (unpickling can run code); convert it once in Python with ` +
          `AutoModel.from_pretrained('${dir}').save_pretrained('${dir}', safe_serialization=True)`,
      );
    }
    throw new UserError(`${dir}: no model.safetensors or model.safetensors.index.json (a Hugging Face model folder needs config.json and model.safetensors)`);
  }

  private static async openSharded(index: string, dir: string): Promise<TensorStore> {
    let map: unknown;
    try {
      const text = readTextFileSync(index, { expected: 'a weight index file' });
      checkNesting(text, index, 'fix or re-download the index');
      map = (JSON.parse(text) as { weight_map?: unknown }).weight_map;
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${index}: not valid JSON (${syntaxError(e)})`);
    }
    if (map === null || typeof map !== 'object') throw new UserError(`${index}: no "weight_map" object`);
    const files = new Map<string, SafetensorsFile>();
    const where = new Map<string, SafetensorsFile>();
    try {
      for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
        if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) throw new UserError(`${index}: weight_map entry for '${name}' is not a file name in the folder`);
        const shardPath = path.join(dir, shard);
        if (!files.has(shardPath)) {
          if (!fs.existsSync(shardPath)) throw new UserError(`${index}: shard ${shard} (holding '${name}') is missing from ${dir}`);
          files.set(shardPath, await openSafetensors(shardPath));
        }
        const file = files.get(shardPath)!;
        if (!file.entries.some((e) => e.name === name)) throw new UserError(`${shardPath}: has no tensor '${name}' although ${path.basename(index)} says so`);
        where.set(name, file);
      }
    } catch (e) {
      await Promise.all([...files.values()].map((f) => f.close()));
      throw e;
    }
    return new TensorStore(index, files, where);
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  names(): string[] {
    return [...this.where.keys()];
  }

  shape(name: string): number[] {
    return this.where.get(name)!.entries.find((e) => e.name === name)!.shape;
  }

  /** Where a tensor lives (the shard, for sharded checkpoints). */
  fileOf(name: string): string {
    return this.where.get(name)?.path ?? this.description;
  }

  async read(name: string, shape: readonly number[]): Promise<Float32Array> {
    const file = this.where.get(name);
    if (!file) throw new UserError(`${this.description}: missing tensor '${name}'`);
    const actual = this.shape(name);
    if (actual.length !== shape.length || actual.some((s, i) => s !== shape[i])) {
      throw new UserError(`${file.path}: tensor '${name}' has shape [${actual.join(', ')}] but config.json implies [${shape.join(', ')}]`);
    }
    const { data } = await file.readTensor(name);
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    checkFinite(values, actual, name, file.path);
    return values;
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.close()));
  }
}

/** A diverged or corrupt checkpoint would otherwise give all-NaN hidden states and exit 0. */
function checkFinite(values: Float32Array, shape: readonly number[], name: string, file: string): void {
  let bad = 0, first = -1;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x - x !== 0) { // NaN or ±Inf
      if (bad++ === 0) first = i;
    }
  }
  if (bad === 0) return;
  const index: number[] = [];
  for (let rest = first, k = shape.length - 1; k >= 0; k--) { index.unshift(rest % shape[k]); rest = Math.floor(rest / shape[k]); }
  throw new UserError(
    `${file}: tensor '${name}' holds ${bad} NaN/Inf value(s), the first ${values[first]} at [${index.join(', ')}]; ` +
      'the checkpoint is corrupt (e.g. saved from a diverged run): use an earlier checkpoint or re-save it',
  );
}

/** What loading a checkpoint will take, found without reading any tensor data. */
export interface WeightsPlan {
  /** The checkpoint file (or shard index). */
  description: string;
  /** The tensors the encoder reads, with the shapes config.json implies (already checked). */
  tensors: { name: string; shape: number[] }[];
  /** Their size once widened to float32. */
  float32Bytes: number;
  /** Tensors in the files that the encoder does not use (e.g. a classifier head). */
  unused: string[];
  /** Things the user should know, e.g. layers in the weights that config.json leaves out. */
  warnings: string[];
}

type Reader = (name: string, shape: readonly number[]) => Promise<Float32Array>;

/** Check a checkpoint against its config without reading tensor data: missing tensors and shapes (memory: checkWeightsFit). */
export async function inspectWeights(dir: string, config: EncoderConfig): Promise<WeightsPlan> {
  const store = await TensorStore.open(dir);
  try {
    return await planWeights(store, config);
  } finally {
    await store.close();
  }
}

/** Read and check every tensor the encoder needs; missing and misshapen tensors are named. */
export async function loadWeights(dir: string, config: EncoderConfig): Promise<EncoderWeights> {
  const store = await TensorStore.open(dir);
  try {
    checkWeightsFit(await planWeights(store, config));
    return await mapWeights(store, config, (name, shape) => store.read(name, shape));
  } finally {
    await store.close();
  }
}

/**
 * The tensors of `wanted` that the checkpoint holds (e.g. a classification head beside the
 * encoder), read and checked against the given shapes; absent names are left out. `fix` ends
 * the message of a shape mismatch (e.g. how to start a new head instead).
 */
export async function readNamedTensors(dir: string, wanted: readonly { name: string; shape: readonly number[] }[], fix: string): Promise<Map<string, Float32Array>> {
  const store = await TensorStore.open(dir);
  try {
    const out = new Map<string, Float32Array>();
    for (const { name, shape } of wanted) {
      if (!store.has(name)) continue;
      const actual = store.shape(name);
      if (actual.length !== shape.length || actual.some((v, i) => v !== shape[i])) {
        throw new UserError(`${store.fileOf(name)}: tensor '${name}' has shape [${actual.join(', ')}] but [${shape.join(', ')}] is needed here; ${fix}`);
      }
      out.set(name, await store.read(name, shape));
    }
    return out;
  } finally {
    await store.close();
  }
}

/** Refuse, before reading, weights that cannot fit in the memory left (e.g. a config.json with absurd sizes). */
export function checkWeightsFit(plan: WeightsPlan): void {
  const available = availableMemory();
  if (plan.float32Bytes > available) {
    throw new UserError(
      `${plan.description}: the weights take ${formatBytes(plan.float32Bytes)} as float32 but only ${formatBytes(available)} of memory is available; ` +
        'free memory, use a machine with more, or check config.json (REPGEOM_MEMORY, when set, caps what repgeom may use)',
    );
  }
}

/** A dry run of the mapping: records the tensors it would read, then checks all their shapes. */
async function planWeights(store: TensorStore, c: EncoderConfig): Promise<WeightsPlan> {
  const tensors: { name: string; shape: number[] }[] = [];
  const mapped = await mapWeights(store, c, async (name, shape) => {
    tensors.push({ name, shape: [...shape] });
    return new Float32Array(0);
  });
  for (const t of tensors) {
    const actual = store.shape(t.name);
    if (actual.length !== t.shape.length || actual.some((s, i) => s !== t.shape[i])) {
      throw new UserError(
        `${store.fileOf(t.name)}: tensor '${t.name}' has shape [${actual.join(', ')}] but config.json implies [${t.shape.join(', ')}]; ` +
          `${mismatchFix(c, actual, t.shape)}`,
      );
    }
  }
  const float32Bytes = tensors.reduce((sum, t) => sum + 4 * t.shape.reduce((a, b) => a * b, 1), 0);
  const extra = unusedLayers(store.description, c, mapped.unused);
  return { description: store.description, tensors, float32Bytes, unused: mapped.unused, warnings: extra ? [extra] : [] };
}

/** config.json's names for the sizes a tensor shape is made of. */
function sizeFields(c: EncoderConfig): [string, number][] {
  const distil = c.family === 'distilbert';
  return [
    ['vocab_size', c.vocabSize], [distil ? 'dim' : 'hidden_size', c.hiddenSize], [distil ? 'hidden_dim' : 'intermediate_size', c.intermediateSize],
    ['max_position_embeddings', c.maxPositions], ['type_vocab_size', c.typeVocabSize], ...(c.family === 'albert' ? [['embedding_size', c.embeddingSize] as [string, number]] : []),
  ];
}

/** Which config.json field a misshapen tensor points at, as the fix of the message. */
function mismatchFix(c: EncoderConfig, actual: readonly number[], expected: readonly number[]): string {
  const wrong = expected.find((e, i) => actual[i] !== e);
  const fields = sizeFields(c).filter(([, v]) => v === wrong).map(([k, v]) => `${k} ${v}`);
  const which = fields.length > 0 ? `its ${fields.join(' or ')}` : 'its sizes';
  return `config.json does not match these weights (check ${which}): use the config.json saved with them`;
}

/** The layer a tensor name belongs to (ALBERT: its group), or null. */
function layerOf(family: Family, name: string): number | null {
  const m = (family === 'albert' ? /albert_layer_groups\.(\d+)\./ : family === 'distilbert' ? /transformer\.layer\.(\d+)\./ : /encoder\.layer\.(\d+)\./).exec(name);
  return m ? Number(m[1]) : null;
}

function layerField(c: EncoderConfig): string {
  return c.family === 'albert' ? 'num_hidden_groups' : c.family === 'distilbert' ? 'n_layers' : 'num_hidden_layers';
}

/** A warning when the weights hold layers past those config.json uses (their states would be silently missing). */
function unusedLayers(description: string, c: EncoderConfig, unused: string[]): string | null {
  const used = c.family === 'albert' ? c.numHiddenGroups : c.numLayers;
  const layers = unused.map((n) => layerOf(c.family, n)).filter((l): l is number => l !== null && l >= used);
  if (layers.length === 0) return null;
  const top = Math.max(...layers);
  const what = c.family === 'albert' ? 'layer groups' : 'layers';
  return `${description}: ${layers.length} tensor(s) of ${what} ${Math.min(...layers)}..${top} are not used because config.json sets ` +
    `${layerField(c)} to ${used}; set it to ${top + 1} in config.json to use them (or ignore this if the layers were dropped on purpose)`;
}

/** For a missing-tensor message: how many layers the weights do hold, when config.json asks for more. */
function layersHeld(store: TensorStore, c: EncoderConfig, missing: string[]): string {
  const wanted = missing.map((n) => layerOf(c.family, n)).filter((l): l is number => l !== null);
  if (wanted.length === 0) return '';
  const held = new Set(store.names().map((n) => layerOf(c.family, n)).filter((l): l is number => l !== null));
  const count = held.size;
  if (count === 0 || Math.min(...wanted) < count || ![...held].every((l) => l < count)) return '';
  return `; the weights hold ${c.family === 'albert' ? 'layer groups' : 'layers'} 0..${count - 1} only: set ${layerField(c)} to ${count} in config.json`;
}

async function mapWeights(store: TensorStore, c: EncoderConfig, read: Reader): Promise<EncoderWeights> {
  const scheme = TENSOR_NAMES[c.family];
  const prefix = scheme.prefixes.find((p) => store.has(`${p}${scheme.word}.weight`));
  if (prefix === undefined) {
    const looked = scheme.prefixes.map((p) => `'${p}${scheme.word}.weight'`).join(' or ');
    throw new UserError(`${store.description}: missing the word embeddings (looked for ${looked}); is this a ${c.modelType} checkpoint? Check model_type in config.json`);
  }
  const used = new Set<string>();
  // Collect every missing name first, so one error lists them all.
  const missing: string[] = [];
  const name = (n: string, absolute = false): string => {
    const full = absolute ? n : prefix + n;
    if (!store.has(full)) missing.push(full);
    used.add(full);
    return full;
  };
  // Old TF-converted BERT checkpoints name LayerNorm parameters gamma/beta.
  const normNames = (base: string, absolute = false): [string, string] => {
    const full = absolute ? base : prefix + base;
    return store.has(`${full}.gamma`) ? [name(`${full}.gamma`, true), name(`${full}.beta`, true)] : [name(`${full}.weight`, true), name(`${full}.bias`, true)];
  };
  const E = c.embeddingSize;
  const H = c.hiddenSize;
  const plan: { word: string; position: string; tokenType: string | null; norm: [string, string]; projection: [string, string] | null } = {
    word: name(`${scheme.word}.weight`),
    position: name(`${scheme.position}.weight`),
    tokenType: scheme.tokenType && c.typeVocabSize > 0 ? name(`${scheme.tokenType}.weight`) : null,
    norm: normNames(scheme.embeddingNorm),
    projection: scheme.embeddingProjection ? [name(`${scheme.embeddingProjection}.weight`), name(`${scheme.embeddingProjection}.bias`)] : null,
  };
  const groups = c.family === 'albert' ? c.numHiddenGroups : c.numLayers;
  const inner = c.family === 'albert' ? c.innerGroupNum : 1;
  const layerPlans: LayerNames[] = [];
  for (let g = 0; g < groups; g++) for (let j = 0; j < inner; j++) layerPlans.push(scheme.layer(g, j));
  for (const lp of layerPlans) {
    for (const key of ['query', 'key', 'value', 'attentionOutput', 'intermediate', 'output'] as const) {
      name(`${lp[key]}.weight`);
      name(`${lp[key]}.bias`);
    }
    normNames(lp.attentionNorm);
    normNames(lp.outputNorm);
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 4).map((m) => `'${m}'`).join(', ');
    throw new UserError(
      `${store.description}: missing ${missing.length} tensor(s) that config.json (${c.numLayers} layers, ${c.modelType}) needs: ${shown}${missing.length > 4 ? ', …' : ''}` +
        (layersHeld(store, c, missing) || '; re-save the checkpoint with save_pretrained, or use the config.json saved with it'),
    );
  }

  const linear = async (base: string, inputs: number, outputs: number, absolute = false): Promise<LinearWeights> => {
    const full = absolute ? base : prefix + base;
    used.add(`${full}.weight`);
    used.add(`${full}.bias`);
    return { weight: await read(`${full}.weight`, [outputs, inputs]), bias: await read(`${full}.bias`, [outputs]), inputs, outputs };
  };
  const norm = async (base: string, size: number, absolute = false): Promise<NormWeights> => {
    const [g, b] = normNames(base, absolute);
    return { gamma: await read(g, [size]), beta: await read(b, [size]) };
  };

  const layers: LayerWeights[] = [];
  for (const lp of layerPlans) {
    layers.push({
      query: await linear(lp.query, H, H), key: await linear(lp.key, H, H), value: await linear(lp.value, H, H),
      attentionOutput: await linear(lp.attentionOutput, H, H), attentionNorm: await norm(lp.attentionNorm, H),
      intermediate: await linear(lp.intermediate, H, c.intermediateSize), output: await linear(lp.output, c.intermediateSize, H),
      outputNorm: await norm(lp.outputNorm, H),
    });
  }
  const wordEmbeddings = await read(plan.word, [c.vocabSize, E]);
  const weights: EncoderWeights = {
    wordEmbeddings,
    positionEmbeddings: await read(plan.position, [c.maxPositions, E]),
    tokenTypeEmbeddings: plan.tokenType ? await read(plan.tokenType, [c.typeVocabSize, E]) : null,
    embeddingNorm: await norm(scheme.embeddingNorm, E),
    embeddingProjection: scheme.embeddingProjection ? await linear(scheme.embeddingProjection, E, H) : null,
    layers,
    pooler: scheme.pooler && store.has(`${prefix}${scheme.pooler}.weight`) ? await linear(scheme.pooler, H, H) : null,
    mlm: null,
    prefix,
    unused: [],
  };
  const m = scheme.mlm;
  if (m && store.has(`${m.transform}.weight`)) {
    const bias = m.bias.find((b) => store.has(b));
    if (bias) {
      used.add(bias);
      // transformers saves tied weights once: an absent decoder means "the word embeddings".
      const decoderWeight = store.has(m.decoder) ? (used.add(m.decoder), await read(m.decoder, [c.vocabSize, E])) : wordEmbeddings;
      weights.mlm = {
        transform: await linear(m.transform, H, E, true),
        norm: await norm(m.norm, E, true),
        decoderWeight,
        decoderBias: await read(bias, [c.vocabSize]),
      };
      for (const b of m.bias) if (store.has(b)) used.add(b);
    }
  }
  weights.unused = store.names().filter((n) => !used.has(n) && !n.endsWith('position_ids'));
  return weights;
}
