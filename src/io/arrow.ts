/**
 * Arrow IPC hidden-state files, the native format written by `extract`: columns `layer` (Int16),
 * `example` (Int32), `position` (Int16), `token_id` (Int32), `vector` (FixedSizeList<Float32>[d]),
 * free-form schema metadata. Written in the IPC *file* format (starts and ends with `ARROW1`),
 * which pyarrow, pandas and polars read directly.
 *
 * Memory: the writer appends one record batch per `write` straight to disk; the reader hands out
 * one record batch at a time. apache-arrow only reads lazily from a `FileHandle` (positioned
 * reads through its AsyncRandomAccessFile); given a stream or async iterable of chunks its file
 * reader first concatenates the whole input, so this module always passes it a FileHandle.
 */
import {
  AsyncByteQueue, DataType, Field, FixedSizeList, Float32, Int16, Int32, RecordBatch,
  Precision, RecordBatchFileWriter, RecordBatchReader, Schema, Struct, makeData, type Int,
} from 'apache-arrow';
import { UserError } from '../errors.js';
import { countLayersFromFooter, type LayerCounts } from './arrow-layer-count.js';
import { openForReading } from './file-io.js';
import { OutputFile, planFileOutput, type FileOutputPlan } from './safe-output.js';

export interface ArrowRowsToWrite {
  layer: Int16Array | readonly number[];
  example: Int32Array | readonly number[];
  position: Int16Array | readonly number[];
  tokenId: Int32Array | readonly number[];
  /** rows × dim values, row-major. */
  vectors: Float32Array;
}

export interface ArrowHiddenStatesWriter {
  /** Append the rows as one record batch (written to disk before returning). */
  write(rows: ArrowRowsToWrite): void;
  /** Finish the file (footer) and move it to its final name. */
  close(): void;
  /** Drop the temporary file; nothing is left at the final name. Call it when a run fails. */
  abort(): void;
}

/** Sink that writes apache-arrow's output synchronously to the output file, so nothing queues in memory. */
class FileSink extends AsyncByteQueue {
  constructor(private readonly file: OutputFile) {
    super();
  }
  override write(chunk: Uint8Array): void {
    this.file.write(chunk);
  }
}

function hiddenStatesSchema(dim: number, metadata: Record<string, string>): Schema {
  const vector = new FixedSizeList(dim, new Field('item', new Float32(), false));
  return new Schema(
    [
      new Field('layer', new Int16(), false),
      new Field('example', new Int32(), false),
      new Field('position', new Int16(), false),
      new Field('token_id', new Int32(), false),
      new Field('vector', vector, false),
    ],
    new Map(Object.entries(metadata)),
  );
}

/** Typed copy of `values` (none if already typed); values that do not fit the type are a bug of the caller. */
function typed<T extends Int16Array | Int32Array>(ctor: { from(v: ArrayLike<number>): T }, values: T | readonly number[], column: string): T {
  if (!Array.isArray(values)) return values as T;
  const out = ctor.from(values);
  const bad = out.findIndex((v, i) => v !== values[i]);
  if (bad >= 0) throw new RangeError(`arrow writer: ${column} value ${values[bad]} does not fit the column type`);
  return out;
}

/**
 * Stream hidden states into `out` (Arrow IPC file) through the safe output path: a temporary
 * name renamed into place by `close()`, so an interrupted run never leaves a half file. `out` is
 * a path, or a plan made by `planFileOutput` before the work started.
 */
export function createArrowWriter(out: string | FileOutputPlan, dim: number, metadata: Record<string, string> = {}): ArrowHiddenStatesWriter {
  if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`createArrowWriter: dim ${dim} is not a positive integer`);
  const schema = hiddenStatesSchema(dim, metadata);
  const plan = typeof out === 'string' ? planFileOutput(out, 'output file') : out;
  const path = plan.path;
  const file = OutputFile.open(plan);
  const writer = new RecordBatchFileWriter();
  writer.reset(new FileSink(file), schema);
  let open = true;
  const ensureOpen = () => {
    if (!open) throw new Error(`arrow writer for ${path} is already closed`);
  };
  return {
    write(rows) {
      ensureOpen();
      const n = rows.layer.length;
      if ([rows.example, rows.position, rows.tokenId].some((c) => c.length !== n) || rows.vectors.length !== n * dim) {
        throw new RangeError(`arrow writer: columns disagree (${n} layers, ${rows.vectors.length} values for dim ${dim})`);
      }
      if (n === 0) return;
      const columns = [
        makeData({ type: new Int16(), length: n, data: typed(Int16Array, rows.layer, 'layer') }),
        makeData({ type: new Int32(), length: n, data: typed(Int32Array, rows.example, 'example') }),
        makeData({ type: new Int16(), length: n, data: typed(Int16Array, rows.position, 'position') }),
        makeData({ type: new Int32(), length: n, data: typed(Int32Array, rows.tokenId, 'token_id') }),
        makeData({
          type: schema.fields[4].type as FixedSizeList<Float32>,
          length: n,
          child: makeData({ type: new Float32(), length: n * dim, data: rows.vectors }),
        }),
      ];
      writer.write(new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, children: columns })));
    },
    close() {
      ensureOpen();
      open = false;
      writer.close(); // writes the footer and the closing magic through the sink
      file.commit();
    },
    abort() {
      if (!open) return;
      open = false;
      file.abort();
    },
  };
}

/** One decoded record batch: the `layer` value and the vector of each row. */
export interface ArrowBatch {
  index: number;
  rows: number;
  layer: ArrayLike<number>;
  /** rows × dim float32 values (a view into the batch). */
  vectors: Float32Array;
  /** The `example` and `token_id` columns, when the file has them (files written by extract do). */
  example: ArrayLike<number> | null;
  tokenId: ArrayLike<number> | null;
}

export interface ArrowStates {
  path: string;
  dim: number;
  metadata: Record<string, string>;
  /** Rows per layer value, in ascending layer order. */
  layerRows: Map<number, number>;
  /**
   * One pass over the record batches in file order, each read from disk when reached. In the
   * IPC file format, batches holding none of the `wanted` layers are not read at all.
   */
  batches(wanted: ReadonlySet<number>): AsyncGenerator<ArrowBatch>;
}

type Reader = Awaited<ReturnType<typeof openReader>>;

async function openReader(path: string) {
  const { handle } = await openForReading(path);
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open({ autoDestroy: false });
    if (!reader.schema) throw new Error('no schema message');
    return { handle, reader };
  } catch (e) {
    await handle.close();
    throw new UserError(`${path}: not a readable Arrow IPC file (${(e as Error).message}); write it with pyarrow.ipc.new_file or repgeom extract`);
  }
}

async function closeReader({ handle, reader }: Reader): Promise<void> {
  await reader.cancel();
  await handle.close(); // no-op when the reader already closed it
}

const isFloat32 = (t: DataType): boolean => DataType.isFloat(t) && t.precision === Precision.SINGLE;

/** Column indices of `layer` and `vector`, checked against the format. */
function checkSchema(schema: Schema, path: string): { layer: number; vector: number; dim: number; example: number; tokenId: number } {
  const index = (name: string): number => {
    const i = schema.fields.findIndex((f) => f.name === name);
    if (i < 0) {
      throw new UserError(`${path}: missing column '${name}' (it has ${schema.fields.map((f) => f.name).join(', ')}); hidden-state files need 'layer' and 'vector'`);
    }
    return i;
  };
  const layer = index('layer');
  const vector = index('vector');
  const layerType = schema.fields[layer].type;
  if (!DataType.isInt(layerType)) {
    throw new UserError(`${path}: column 'layer' has type ${layerType}; it must be an integer column (int16)`);
  }
  const vectorType = schema.fields[vector].type;
  if (!DataType.isFixedSizeList(vectorType) || !isFloat32(vectorType.children[0].type) || vectorType.listSize <= 0) {
    throw new UserError(`${path}: column 'vector' has type ${vectorType}; it must be FixedSizeList<Float32>[d] (pyarrow: pa.list_(pa.float32(), d))`);
  }
  // Optional integer columns: -1 when absent (or not integers, then they are ignored).
  const optional = (name: string): number => {
    const i = schema.fields.findIndex((f) => f.name === name);
    return i >= 0 && DataType.isInt(schema.fields[i].type) ? i : -1;
  };
  return { layer, vector, dim: vectorType.listSize, example: optional('example'), tokenId: optional('token_id') };
}

/** An integer column of a batch as numbers (64-bit columns converted). */
function integerColumn(batch: RecordBatch, column: number, rows: number): ArrayLike<number> {
  const data = batch.data.children[column];
  const raw = (data.values as Int['TArray']).subarray(data.offset, data.offset + rows);
  return raw instanceof BigInt64Array || raw instanceof BigUint64Array ? Float64Array.from(raw, Number) : raw;
}

/** Decode the columns we need from one batch; nulls are refused. */
function extract(batch: RecordBatch, index: number, cols: ReturnType<typeof checkSchema>, path: string): ArrowBatch {
  const layerData = batch.data.children[cols.layer];
  const vectorData = batch.data.children[cols.vector];
  const valuesData = vectorData.children[0];
  for (const [name, data] of [['layer', layerData], ['vector', vectorData], ['vector values', valuesData]] as const) {
    if (data.nullCount > 0) throw new UserError(`${path}: column '${name}' has nulls in record batch ${index}; write a value for every row`);
  }
  const rows = batch.numRows;
  // Children of a (possibly sliced) FixedSizeList are sliced with it, so offsets add up as below.
  const layer = integerColumn(batch, cols.layer, rows);
  const start = valuesData.offset;
  const vectors = (valuesData.values as Float32Array).subarray(start, start + rows * cols.dim);
  const example = cols.example >= 0 && batch.data.children[cols.example].nullCount === 0 ? integerColumn(batch, cols.example, rows) : null;
  const tokenId = cols.tokenId >= 0 && batch.data.children[cols.tokenId].nullCount === 0 ? integerColumn(batch, cols.tokenId, rows) : null;
  return { index, rows, layer, vectors, example, tokenId };
}

/**
 * Open an Arrow hidden-state file: validate the schema and count the rows of every layer. For
 * the IPC file format that pass reads only each batch's metadata and `layer` column (see
 * arrow-layer-count.ts); for the stream format (or unusual layouts) it decodes every batch once,
 * one at a time.
 */
export async function openArrowStates(path: string): Promise<ArrowStates> {
  const opened = await openReader(path);
  let counts: LayerCounts | undefined;
  let cols: ReturnType<typeof checkSchema>;
  let metadata: Record<string, string>;
  try {
    const { reader, handle } = opened;
    cols = checkSchema(reader.schema, path);
    metadata = Object.fromEntries(reader.schema.metadata);
    if (reader.footer) counts = await countLayersFromFooter(handle, path, reader.footer, reader.schema.fields, cols.layer);
    if (!counts) counts = await countByDecoding(opened, cols, path);
  } finally {
    await closeReader(opened);
  }
  const rows = counts.rows;
  if (rows.size === 0) throw new UserError(`${path}: the Arrow file has no rows; re-run extract`);
  const perBatch = counts.perBatch;
  const checked = cols;

  async function* batches(wanted: ReadonlySet<number>): AsyncGenerator<ArrowBatch> {
    const r = await openReader(path);
    try {
      let i = 0;
      for (;;) {
        if (r.reader.isFile()) {
          while (i < perBatch.length && ![...perBatch[i]].some((l) => wanted.has(l))) i++;
          if (i >= perBatch.length) return;
        }
        const batch = await readBatch(r, i, path);
        if (!batch) return;
        yield extract(batch, i++, checked, path);
      }
    } finally {
      await closeReader(r);
    }
  }

  return {
    path,
    dim: cols.dim,
    metadata,
    layerRows: new Map([...rows].sort((a, b) => a[0] - b[0])),
    batches,
  };
}

/** Batch `index` (file format: direct seek; stream format: the next one), decode errors as UserError. */
async function readBatch({ reader }: Reader, index: number, path: string): Promise<RecordBatch | null> {
  try {
    if (reader.isFile()) return await reader.readRecordBatch(index);
    const next = await reader.next();
    return next.done ? null : next.value;
  } catch (e) {
    throw new UserError(`${path}: cannot decode record batch ${index} (${(e as Error).message}); rewrite the file uncompressed with pyarrow`);
  }
}

async function countByDecoding(r: Reader, cols: ReturnType<typeof checkSchema>, path: string): Promise<LayerCounts> {
  const counts: LayerCounts = { rows: new Map(), perBatch: [] };
  for (let i = 0; ; i++) {
    const batch = await readBatch(r, i, path);
    if (!batch) return counts;
    const { layer } = extract(batch, i, cols, path);
    const present = new Set<number>();
    for (let k = 0; k < layer.length; k++) {
      present.add(layer[k]);
      counts.rows.set(layer[k], (counts.rows.get(layer[k]) ?? 0) + 1);
    }
    counts.perBatch.push(present);
  }
}
