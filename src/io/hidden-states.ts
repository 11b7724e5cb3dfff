/**
 * The one entry point the rest of repgeom uses to read hidden states, whatever the file format:
 * open, look at the layers, then scan them block by block in bounded memory.
 *
 * Formats (by extension): `.npy` (2-D = one layer, 3-D = L layers), `.npz` (one array per layer,
 * read whole into memory), `.safetensors` (one 3-D tensor, or 2-D tensors one per layer in
 * natural name order), `.arrow`/`.feather`/`.ipc` (Arrow IPC with `layer` and `vector` columns).
 *
 * For Arrow files `openHiddenStates` makes one cheap pass over the record batches to count the
 * rows of every layer and learn d: in the IPC file format it reads only each batch's metadata
 * and `layer` column; in the stream format it decodes each batch once.
 */
import * as nodePath from 'node:path';
import { UserError } from '../errors.js';
import { takeRows, type Matrix } from '../backend/matrix.js';
import { openNpySource, openNpzSource, openSafetensorsSource, type LayerSource, type RawBlock } from './layer-source.js';

export type HiddenStatesFormat = 'npy' | 'npz' | 'safetensors' | 'arrow' | 'memory';

export interface LayerInfo {
  /** Arrow: the value of the `layer` column (HF numbering). Other formats: 0..L-1 in file order. */
  layer: number;
  /** Where the layer lives in the file, for messages: `layer 3`, `hidden_states.3`, `array[3]`. */
  name: string;
  rows: number;
  cols: number;
}

export interface ScanOptions {
  /** Most rows per block (memory is bounded by blockRows × cols per requested layer for Arrow, per block otherwise). */
  blockRows: number;
  /** Layer numbers (LayerInfo.layer) to read; all when absent. Layers are read in file order. */
  layers?: readonly number[];
  /** 'error' (default): the first NaN/±Inf is a UserError. 'drop': rows holding one are skipped and counted in `dropped`. */
  nonFinite?: 'error' | 'drop';
}

export interface ScanBlock {
  layer: number;
  /**
   * Row index within the layer, as stored in the file, of the block's first row. Without dropped
   * rows the block holds rows [firstRow, firstRow + block.rows); with 'drop' the dropped rows are
   * missing from it.
   */
  firstRow: number;
  /** Float64Array for float64 files, Float32Array otherwise. A new array each block. */
  block: Matrix;
}

export interface HiddenStates {
  path: string;
  format: HiddenStatesFormat;
  layers: LayerInfo[];
  /** Arrow schema metadata or safetensors `__metadata__`; {} for other formats. */
  metadata: Record<string, string>;
  /**
   * Rows skipped by the latest scan with nonFinite 'drop', per layer it read. A scan resets the
   * count of each layer it reads to 0 when it starts, and is complete once the scan has finished.
   */
  readonly dropped: Map<number, number>;
  /**
   * One pass over the file; yields blocks of at most blockRows consecutive rows of one layer,
   * tagged with the layer and the index of the block's first row within that layer. Blocks of a
   * layer come in row order (Arrow files interleave blocks of different layers). Only the
   * requested layers are read. Can be called any number of times (each call is a new pass).
   */
  scan(options: ScanOptions): AsyncIterable<ScanBlock>;
  close(): Promise<void>;
}

const OPENERS: Record<string, (path: string) => Promise<LayerSource>> = {
  '.npy': openNpySource,
  '.npz': openNpzSource,
  '.safetensors': openSafetensorsSource,
  '.arrow': openArrowSourceLazily,
  '.feather': openArrowSourceLazily,
  '.ipc': openArrowSourceLazily,
};

/** apache-arrow takes a fifth of a second to load: only when an Arrow file is read. */
async function openArrowSourceLazily(path: string): Promise<LayerSource> {
  return (await import('./arrow-source.js')).openArrowSource(path);
}

export async function openHiddenStates(path: string): Promise<HiddenStates> {
  const ext = nodePath.extname(path).toLowerCase();
  const open = OPENERS[ext];
  if (!open) {
    throw new UserError(`${path}: unknown extension '${ext}'; hidden-state files must be ${Object.keys(OPENERS).join(', ')}`);
  }
  return fromSource(await open(path), path);
}

/**
 * Hidden states already in memory as one matrix per layer (a training run evaluating geometry),
 * read through the same interface and checks as a file, so `measure` gives the same numbers as on
 * the same data saved to .npy. The matrices are not copied up front: each block is a copy of its
 * rows (consumers may modify blocks), so the caller must not change them while a scan runs.
 * `label` stands for the file name in messages and in `path`.
 */
export async function hiddenStatesFromArrays(
  layers: readonly { layer: number; matrix: Matrix; name?: string }[],
  label = 'hidden states in memory',
): Promise<HiddenStates> {
  const seen = new Set<number>();
  for (const { layer, matrix } of layers) {
    if (!Number.isInteger(layer) || layer < 0) throw new UserError(`${label}: layer number ${layer} is not a non-negative integer`);
    if (seen.has(layer)) throw new UserError(`${label}: layer ${layer} is given twice; give each layer once`);
    seen.add(layer);
    const { rows, cols, data } = matrix;
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || data.length !== rows * cols) {
      throw new UserError(`${label}: layer ${layer} has ${data.length} values for a ${rows} × ${cols} matrix; give rows × cols values`);
    }
  }
  return fromSource(memorySource(layers), label);
}

function memorySource(layers: readonly { layer: number; matrix: Matrix; name?: string }[]): LayerSource {
  const byNumber = new Map(layers.map((l) => [l.layer, l.matrix]));
  return {
    format: 'memory',
    layers: layers.map(({ layer, matrix, name }) => ({ layer, name: name ?? `layer ${layer}`, rows: matrix.rows, cols: matrix.cols })),
    metadata: {},
    async *blocks(wanted, blockRows) {
      for (const info of wanted) {
        const m = byNumber.get(info.layer)!;
        for (let first = 0; first < info.rows; first += blockRows) {
          const rows = Math.min(blockRows, info.rows - first);
          yield { layer: info.layer, firstRow: first, block: { data: m.data.slice(first * info.cols, (first + rows) * info.cols), rows, cols: info.cols } };
        }
      }
    },
    close: async () => {},
  };
}

/** The HiddenStates over a source: refuses empty layers, then scans with the shared checks. */
async function fromSource(source: LayerSource, path: string): Promise<HiddenStates> {
  for (const l of source.layers) {
    if (l.rows === 0 || l.cols === 0) {
      await source.close();
      throw new UserError(`${path}: layer ${l.layer} (${l.name}) is empty (${l.rows} × ${l.cols}); give at least one row per layer`);
    }
  }
  const dropped = new Map<number, number>();
  return {
    path,
    format: source.format,
    layers: source.layers,
    metadata: source.metadata,
    dropped,
    scan: (options) => scan(source, path, options, dropped),
    close: () => source.close(),
  };
}

async function* scan(source: LayerSource, path: string, options: ScanOptions, dropped: Map<number, number>): AsyncGenerator<ScanBlock> {
  const { blockRows, nonFinite = 'error' } = options;
  if (!Number.isInteger(blockRows) || blockRows <= 0) throw new RangeError(`scan: blockRows ${blockRows} is not a positive integer`);
  const wanted = selectLayers(source.layers, options.layers, path);
  for (const l of wanted) dropped.set(l.layer, 0);
  for await (const raw of source.blocks(wanted, blockRows)) {
    const bad = nonFiniteRows(raw.block);
    if (bad.length === 0) {
      yield raw;
      continue;
    }
    if (nonFinite === 'error') {
      throw new UserError(
        `${path}: layer ${raw.layer}, row ${raw.firstRow + bad[0]}: NaN or Inf value; fix the data or pass --drop-nonfinite to skip such rows`,
      );
    }
    dropped.set(raw.layer, dropped.get(raw.layer)! + bad.length);
    const kept = keptRows(raw, bad);
    if (kept) yield kept;
  }
}

function selectLayers(layers: readonly LayerInfo[], requested: readonly number[] | undefined, path: string): LayerInfo[] {
  if (!requested) return [...layers];
  const available = new Set(layers.map((l) => l.layer));
  const missing = requested.find((l) => !available.has(l));
  if (missing !== undefined) {
    throw new UserError(`${path}: no layer ${missing} (layers: ${layers.map((l) => l.layer).join(', ')}); pick from those`);
  }
  const set = new Set(requested);
  return layers.filter((l) => set.has(l.layer));
}

/** Indices of rows with a NaN or ±Inf (x·0 is NaN exactly for those, so a row sum of x·0 flags them). */
function nonFiniteRows({ data, rows, cols }: Matrix): number[] {
  const bad: number[] = [];
  for (let r = 0, k = 0; r < rows; r++) {
    let s = 0;
    for (const end = k + cols; k < end; k++) s += data[k] * 0;
    if (s !== 0) bad.push(r);
  }
  return bad;
}

/** The block without its `bad` rows (sorted), firstRow moved to the first kept row; undefined if none is left. */
function keptRows(raw: RawBlock, bad: readonly number[]): RawBlock | undefined {
  const keep: number[] = [];
  for (let r = 0, b = 0; r < raw.block.rows; r++) {
    if (bad[b] === r) b++;
    else keep.push(r);
  }
  if (keep.length === 0) return undefined;
  return { layer: raw.layer, firstRow: raw.firstRow + keep[0], block: takeRows(raw.block, keep) };
}
