/**
 * What each file format contributes to `openHiddenStates`: its list of layers and raw blocks of
 * rows. The non-finite policy and option checks live once, in hidden-states.ts.
 *
 * Array formats (.npy, .npz, .safetensors) map layers to row ranges of arrays: a 2-D (N, d)
 * array is one layer, a 3-D (L, N, d) array is L layers, numbered 0.. in file order.
 */
import { UserError } from '../errors.js';
import type { FloatArray, Matrix } from '../backend/matrix.js';
import type { HiddenStatesFormat, LayerInfo } from './hidden-states.js';
import { naturalCompare } from './natural-compare.js';
import { openNpy } from './npy.js';
import { readNpz } from './npz.js';
import { openSafetensors, READABLE_DTYPES } from './safetensors.js';

export interface RawBlock {
  layer: number;
  firstRow: number;
  block: Matrix;
}

export interface LayerSource {
  format: HiddenStatesFormat;
  layers: LayerInfo[];
  metadata: Record<string, string>;
  /** Consecutive rows of the given layers, at most `blockRows` per block, not yet checked for NaN/Inf. Each block is a new array the consumer owns. */
  blocks(layers: readonly LayerInfo[], blockRows: number): AsyncGenerator<RawBlock>;
  close(): Promise<void>;
}

/** A layer stored as a row range of an array, with a reader for rows [first, first + rows). */
interface ArrayLayer {
  info: LayerInfo;
  read(first: number, rows: number): Promise<FloatArray>;
}

/** (L, N, d) of an array that holds hidden states, or a UserError saying which shapes work. */
function layerShape(shape: readonly number[], where: string): [number, number, number] {
  const shown = `(${shape.slice(0, 6).join(', ')}${shape.length > 6 ? ', …' : ''})`;
  const lnd: [number, number, number] | undefined =
    shape.length === 2 ? [1, shape[0], shape[1]] : shape.length === 3 ? [shape[0], shape[1], shape[2]] : undefined;
  if (!lnd) throw new UserError(`${where} has shape ${shown}; hidden states need (N, d) for one layer or (L, N, d) for L layers: reshape it`);
  // Refused here, before L layer records are made: with a 0 elsewhere, L is not bounded by the file size.
  if (lnd[0] > 1 && lnd.includes(0)) throw new UserError(`${where} has shape ${shown}, which holds no values; give at least one row per layer`);
  return lnd;
}

/**
 * The layers of one array, numbered from `firstLayer`; `readElements(start, count)` reads
 * elements of the whole array in C order.
 */
function arrayLayers(
  name: string,
  shape: readonly number[],
  where: string,
  firstLayer: number,
  readElements: (start: number, count: number) => Promise<FloatArray>,
): ArrayLayer[] {
  const [count, rows, cols] = layerShape(shape, where);
  return Array.from({ length: count }, (_, i) => ({
    info: { layer: firstLayer + i, name: shape.length === 3 ? `${name}[${i}]` : name, rows, cols },
    read: (first: number, n: number) => readElements((i * rows + first) * cols, n * cols),
  }));
}

function arraySource(
  format: HiddenStatesFormat,
  layers: ArrayLayer[],
  metadata: Record<string, string>,
  close: () => Promise<void>,
): LayerSource {
  const byNumber = new Map(layers.map((l) => [l.info.layer, l]));
  return {
    format,
    layers: layers.map((l) => l.info),
    metadata,
    close,
    async *blocks(wanted, blockRows) {
      for (const info of wanted) {
        const layer = byNumber.get(info.layer)!;
        for (let first = 0; first < info.rows; first += blockRows) {
          const rows = Math.min(blockRows, info.rows - first);
          yield { layer: info.layer, firstRow: first, block: { data: await layer.read(first, rows), rows, cols: info.cols } };
        }
      }
    },
  };
}

export async function openNpySource(path: string): Promise<LayerSource> {
  const file = await openNpy(path);
  try {
    const layers = arrayLayers('array', file.header.shape, `${path}: the array`, 0, file.readElements);
    return arraySource('npy', layers, {}, file.close);
  } catch (e) {
    await file.close();
    throw e;
  }
}

/** Whole archive in memory; blocks are copies so consumers may modify them freely. */
export async function openNpzSource(path: string): Promise<LayerSource> {
  const layers: ArrayLayer[] = [];
  for (const m of await readNpz(path)) {
    const read = async (start: number, count: number) => m.data.slice(start, start + count);
    layers.push(...arrayLayers(m.name, m.shape, `${path}: array '${m.name}'`, layers.length, read));
  }
  return arraySource('npz', layers, {}, async () => {});
}

/** One 3-D tensor (L, N, d), or 2-D tensors one per layer in natural name order. */
export async function openSafetensorsSource(path: string): Promise<LayerSource> {
  const file = await openSafetensors(path);
  try {
    const entries = [...file.entries].sort((a, b) => naturalCompare(a.name, b.name));
    if (entries.length === 0) throw new UserError(`${path}: the file holds no tensors; save the hidden states in it`);
    for (const e of entries) {
      if (!READABLE_DTYPES.includes(e.dtype)) {
        throw new UserError(`${path}: tensor '${e.name}' has unsupported dtype ${e.dtype} (${READABLE_DTYPES.join(', ')} are read); save hidden states as float32`);
      }
    }
    const threeD = entries.find((e) => e.shape.length === 3);
    if (threeD && entries.length > 1) {
      throw new UserError(`${path}: tensor '${threeD.name}' is 3-D but the file has ${entries.length} tensors; use one (L, N, d) tensor or one (N, d) tensor per layer`);
    }
    const layers: ArrayLayer[] = [];
    for (const e of entries) {
      const read = (start: number, count: number) => file.readElements(e.name, start, count);
      layers.push(...arrayLayers(e.name, e.shape, `${path}: tensor '${e.name}'`, layers.length, read));
    }
    return arraySource('safetensors', layers, file.metadata, file.close);
  } catch (e) {
    await file.close();
    throw e;
  }
}
