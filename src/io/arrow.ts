/**
 * Arrow IPC hidden-state files, the native format written by `extract`: columns `layer` (Int16),
 * `example` (Int32), `position` (Int16), `token_id` (Int32), `vector` (FixedSizeList<Float32>[d]),
 * free-form schema metadata. Written in the IPC *file* format (starts and ends with `ARROW1`),
 * which pyarrow, pandas and polars read directly.
 *
 * Memory: the writer appends one record batch per `write` straight to disk; the reader hands out
 * one record batch at a time. The reader does not use apache-arrow's readers (they trust every
 * length in the file and hang or throw on corrupt input): arrow-ipc.ts checks the layout of the
 * whole file first, then reads just the columns needed with positioned reads (IPC file or stream).
 */
import type { FileHandle } from 'node:fs/promises';
import {
  AsyncByteQueue, DataType, Field, FixedSizeList, Float32, Int16, Int32, RecordBatch,
  Precision, RecordBatchFileWriter, Schema, Struct, makeData,
} from 'apache-arrow';
import { UserError } from '../errors.js';
import {
  columnPlaces, readIntColumn, readIpcLayout, readVectorColumn, type BatchLayout, type ColumnPlace, type IpcLayout,
} from './arrow-ipc.js';
import { openForReading } from './file-io.js';
import { shownName } from './json-limits.js';
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

const isFloat32 = (t: DataType): boolean => DataType.isFloat(t) && t.precision === Precision.SINGLE;

/** Column indices of `layer` and `vector`, checked against the format. */
function checkSchema(schema: Schema, path: string): { layer: number; vector: number; dim: number; example: number; tokenId: number } {
  const index = (name: string): number => {
    const i = schema.fields.findIndex((f) => f.name === name);
    if (i < 0) {
      throw new UserError(`${path}: missing column '${name}' (it has ${schema.fields.slice(0, 10).map((f) => shownName(f.name, 40)).join(', ')}); hidden-state files need 'layer' and 'vector'`);
    }
    return i;
  };
  const layer = index('layer');
  const vector = index('vector');
  const layerType = schema.fields[layer].type;
  if (!DataType.isInt(layerType)) {
    throw new UserError(`${path}: column 'layer' has type ${shownName(String(layerType), 80)}; it must be an integer column (int16)`);
  }
  const vectorType = schema.fields[vector].type;
  if (!DataType.isFixedSizeList(vectorType) || !isFloat32(vectorType.children[0].type) || vectorType.listSize <= 0) {
    throw new UserError(`${path}: column 'vector' has type ${shownName(String(vectorType), 80)}; it must be FixedSizeList<Float32>[d] (pyarrow: pa.list_(pa.float32(), d))`);
  }
  // Optional integer columns: -1 when absent (or not integers, then they are ignored).
  const optional = (name: string): number => {
    const i = schema.fields.findIndex((f) => f.name === name);
    return i >= 0 && DataType.isInt(schema.fields[i].type) ? i : -1;
  };
  return { layer, vector, dim: vectorType.listSize, example: optional('example'), tokenId: optional('token_id') };
}

/**
 * Open an Arrow hidden-state file (IPC file or stream format): check the whole layout (see
 * arrow-ipc.ts), validate the schema and count the rows of every layer, reading only each
 * batch's metadata and `layer` column.
 */
export async function openArrowStates(path: string): Promise<ArrowStates> {
  const { handle, size } = await openForReading(path);
  let layout: IpcLayout;
  let cols: ReturnType<typeof checkSchema>;
  let places: ColumnPlace[];
  const rows = new Map<number, number>();
  const perBatch: Set<number>[] = [];
  try {
    layout = await readIpcLayout(handle, size, path);
    cols = checkSchema(layout.schema, path);
    places = columnPlaces(layout.schema);
    for (const [i, batch] of layout.batches.entries()) {
      const layer = await readIntColumn(handle, batch, places[cols.layer], layout.schema.fields[cols.layer].type, path, `column 'layer' of record batch ${i}`);
      checkNoNulls(batch, places[cols.layer], 'layer', i, path);
      const present = new Set<number>();
      for (let r = 0; r < layer.length; r++) {
        present.add(layer[r]);
        rows.set(layer[r], (rows.get(layer[r]) ?? 0) + 1);
      }
      perBatch.push(present);
    }
  } finally {
    await handle.close();
  }
  if (rows.size === 0) throw new UserError(`${path}: the Arrow file has no rows; re-run extract`);
  const { schema, batches: layouts } = layout;
  const checked = cols;

  async function* batches(wanted: ReadonlySet<number>): AsyncGenerator<ArrowBatch> {
    const opened = await openForReading(path);
    try {
      if (opened.size !== size) throw new UserError(`${path}: the file changed while it was being read (${size} bytes, now ${opened.size}); read it again`);
      for (const [index, batch] of layouts.entries()) {
        if (![...perBatch[index]].some((l) => wanted.has(l))) continue;
        yield await readBatch(opened.handle, batch, index, schema, places, checked, path);
      }
    } finally {
      await opened.handle.close();
    }
  }

  return {
    path,
    dim: cols.dim,
    metadata: Object.fromEntries(schema.metadata),
    layerRows: new Map([...rows].sort((a, b) => a[0] - b[0])),
    batches,
  };
}

function checkNoNulls(batch: BatchLayout, place: ColumnPlace, name: string, index: number, path: string): void {
  if (batch.nodes[place.node].nullCount > 0) {
    throw new UserError(`${path}: column '${name}' has nulls in record batch ${index}; write a value for every row`);
  }
}

/** Read the columns we need from one batch; nulls in `layer` or `vector` are refused. */
async function readBatch(
  handle: FileHandle, batch: BatchLayout, index: number, schema: Schema, places: ColumnPlace[],
  cols: ReturnType<typeof checkSchema>, path: string,
): Promise<ArrowBatch> {
  const where = (name: string) => `column '${name}' of record batch ${index}`;
  checkNoNulls(batch, places[cols.layer], 'layer', index, path);
  const vectorPlace = places[cols.vector];
  checkNoNulls(batch, vectorPlace, 'vector', index, path);
  checkNoNulls(batch, { node: vectorPlace.node + 1, buffer: 0 }, 'vector values', index, path);
  const int = (column: number, name: string) => readIntColumn(handle, batch, places[column], schema.fields[column].type, path, where(name));
  const optional = (column: number, name: string) =>
    column >= 0 && batch.nodes[places[column].node].nullCount === 0 ? int(column, name) : Promise.resolve(null);
  return {
    index,
    rows: batch.rows,
    layer: await int(cols.layer, 'layer'),
    vectors: await readVectorColumn(handle, batch, vectorPlace, cols.dim, path, where('vector')),
    example: await optional(cols.example, 'example'),
    tokenId: await optional(cols.tokenId, 'token_id'),
  };
}
