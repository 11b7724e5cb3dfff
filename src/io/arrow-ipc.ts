/**
 * A checked walk over an Arrow IPC file or stream, and direct reads of the integer and float
 * columns the hidden-state reader needs.
 *
 * apache-arrow's readers trust every length in the file: a corrupt byte can make them wait for
 * bytes that never come, allocate what a length field claims, or throw TypeErrors and
 * RangeErrors from deep inside. Here only its synchronous flatbuffer decoders (Message, Footer)
 * are used, inside try/catch, and every number they return is checked against the file before
 * anything is read: message and body lengths against the file size, each buffer against its
 * message body, each column's node length and buffer sizes against the batch's row count and the
 * schema. The column data is then read with positioned reads into our own typed arrays.
 */
import type { FileHandle } from 'node:fs/promises';
import { Message, Precision, Type, type DataType, type Field, type Schema } from 'apache-arrow';
import { Footer } from 'apache-arrow/ipc/metadata/file';
import { UserError } from '../errors.js';
import { readExactly } from './file-io.js';
import { shownName } from './json-limits.js';
import { FlatbufferCheck } from './arrow-flatbuffer.js';

export interface BatchLayout {
  /** Rows of the record batch. */
  rows: number;
  /** Absolute file offset of the message body (buffer offsets are relative to it). */
  bodyStart: number;
  nodes: { length: number; nullCount: number }[];
  buffers: { offset: number; length: number }[];
}

export interface IpcLayout {
  format: 'file' | 'stream';
  schema: Schema;
  batches: BatchLayout[];
}

/** Where a top-level column starts in a batch's node and buffer lists. */
export interface ColumnPlace {
  node: number;
  buffer: number;
}

const MAGIC = 'ARROW1';
const FIX = ' re-create the file with repgeom extract or pyarrow.ipc.new_file';

/** A corrupt-data UserError naming the file and the place. */
export function corrupt(path: string, where: string, why: string): UserError {
  return new UserError(`${path}: corrupt Arrow IPC data (${where}: ${why});${FIX}`);
}

const notArrow = (path: string, why: string): UserError =>
  new UserError(`${path}: not a readable Arrow IPC file (${why}); write it with pyarrow.ipc.new_file or repgeom extract`);

/** Short text of anything a decoder threw (TypeError, RangeError...), for a one-line message. */
const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 120);

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** A bigint or number field of a decoded flatbuffer as a safe non-negative integer, else -1. */
function count(v: unknown): number {
  if (typeof v === 'bigint') return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : -1;
  return isCount(v) ? v : -1;
}

async function bytesAt(handle: FileHandle, position: number, length: number, path: string, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await readExactly(handle, out, position, path, what);
  return out;
}

/** Walk the whole file or stream and check every message; reads only metadata, never bodies. */
export async function readIpcLayout(handle: FileHandle, size: number, path: string): Promise<IpcLayout> {
  const head = await bytesAt(handle, 0, Math.min(8, size), path, 'start of the file');
  const startsWithMagic = new TextDecoder('latin1').decode(head.subarray(0, 6)) === MAGIC;
  try {
    return await (startsWithMagic ? readFileLayout(handle, size, path) : readStreamLayout(handle, size, path));
  } catch (e) {
    // Every check above is meant to end in a UserError; whatever decoded data still slips
    // through is input-driven too, so it is reported the same way rather than as a crash.
    if (e instanceof UserError) throw e;
    throw notArrow(path, `undecodable layout: ${reason(e)}`);
  }
}

/** Every field of a decoded schema has a name and a type, and list-like types their child. */
function checkSchemaShape(schema: Schema, path: string): void {
  const walk = (fields: readonly Field[], depth: number): void => {
    if (!Array.isArray(fields)) throw notArrow(path, 'schema fields missing');
    for (const f of fields) {
      if (!f || typeof f.name !== 'string' || !f.type || typeof f.type.typeId !== 'number') throw notArrow(path, 'a schema field lacks a name or type');
      const children = (f.type.children ?? []) as Field[];
      const needs = [Type.List, Type.LargeList, Type.FixedSizeList, Type.Map].includes(f.type.typeId) ? 1 : 0;
      if (children.length < needs) throw notArrow(path, `column '${shownName(f.name, 40)}' of type ${f.type.typeId} has no child type`);
      if (f.type.typeId === Type.FixedSizeList && !isCount((f.type as unknown as { listSize: number }).listSize)) {
        throw notArrow(path, `column '${shownName(f.name, 40)}' has an invalid list size`);
      }
      const { bitWidth: bits, precision } = f.type as unknown as { bitWidth: number; precision: number };
      if (f.type.typeId === Type.Int && ![8, 16, 32, 64].includes(bits)) throw notArrow(path, `column '${shownName(f.name, 40)}' has integer width ${bits}`);
      if (f.type.typeId === Type.Float && ![Precision.HALF, Precision.SINGLE, Precision.DOUBLE].includes(precision)) {
        throw notArrow(path, `column '${shownName(f.name, 40)}' has float precision ${precision}`);
      }
      walk(children, depth + 1);
    }
  };
  walk(schema.fields, 0);
}

/** IPC file: ARROW1, padding, the stream, the footer, its int32 length, ARROW1. */
async function readFileLayout(handle: FileHandle, size: number, path: string): Promise<IpcLayout> {
  if (size < 8 + 10) throw notArrow(path, `${size} bytes is too short for an Arrow IPC file`);
  const tail = await bytesAt(handle, size - 10, 10, path, 'end of the file');
  if (new TextDecoder('latin1').decode(tail.subarray(4)) !== MAGIC) {
    throw notArrow(path, 'no ARROW1 magic at the end: the file is truncated or not finished');
  }
  const footerLength = new DataView(tail.buffer).getInt32(0, true);
  const footerStart = size - 10 - footerLength;
  if (footerLength <= 0 || footerStart < 8) {
    throw notArrow(path, `footer length ${footerLength} does not fit in the ${size}-byte file`);
  }
  const footerBytes = await bytesAt(handle, footerStart, footerLength, path, 'footer');
  let schema: Schema;
  let blocks: { offset: number; metaDataLength: number; bodyLength: number }[];
  let dictionaries: number;
  try {
    new FlatbufferCheck(footerBytes).footer();
    const footer = Footer.decode(footerBytes);
    schema = footer.schema;
    if (!schema || !Array.isArray(schema.fields)) throw new Error('no schema in the footer');
    checkSchemaShape(schema, path);
    blocks = [...footer.recordBatches()].map((b) => ({
      offset: count(b.offset), metaDataLength: count(b.metaDataLength), bodyLength: count(b.bodyLength),
    }));
    dictionaries = footer.numDictionaries;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw notArrow(path, `unreadable footer: ${reason(e)}`);
  }
  if (dictionaries > 0) {
    throw new UserError(`${path}: dictionary-encoded columns are not supported; write the hidden states without dictionaries (repgeom extract does)`);
  }
  const batches: BatchLayout[] = [];
  for (const [i, b] of blocks.entries()) {
    const where = `record batch ${i}`;
    if (b.offset < 8 || b.metaDataLength < 8 || b.bodyLength < 0 || b.offset + b.metaDataLength + b.bodyLength > footerStart) {
      throw corrupt(path, where, `block at byte ${b.offset} with ${b.metaDataLength} metadata and ${b.bodyLength} body bytes lies outside the data (${footerStart} bytes)`);
    }
    const meta = await bytesAt(handle, b.offset, b.metaDataLength, path, `metadata of ${where}`);
    const view = new DataView(meta.buffer);
    const prefix = view.getInt32(0, true) === -1 ? 8 : 4;
    const length = view.getInt32(prefix - 4, true);
    if (length <= 0 || prefix + length > b.metaDataLength) {
      throw corrupt(path, where, `message length ${length} does not fit its ${b.metaDataLength}-byte block`);
    }
    const message = decodeMessage(meta.subarray(prefix, prefix + length), path, where);
    if (message.bodyLength > b.bodyLength) {
      throw corrupt(path, where, `message body of ${message.bodyLength} bytes exceeds its block (${b.bodyLength})`);
    }
    if (message.kind !== 'batch') throw corrupt(path, where, 'the block does not hold a record batch');
    batches.push(checkBatch(message, b.offset + b.metaDataLength, schema, path, where));
  }
  return { format: 'file', schema, batches };
}

/** IPC stream: messages (continuation marker, int32 length, metadata, body) up to an end marker or the end. */
async function readStreamLayout(handle: FileHandle, size: number, path: string): Promise<IpcLayout> {
  let schema: Schema | undefined;
  const batches: BatchLayout[] = [];
  let position = 0;
  for (let m = 0; position < size; m++) {
    const where = schema ? `record batch ${batches.length} (message at byte ${position})` : 'schema message';
    const fail = (why: string): UserError => (schema ? corrupt(path, where, why) : notArrow(path, why));
    if (position + 4 > size) throw fail(`${size - position} stray bytes at the end`);
    const word = await bytesAt(handle, position, Math.min(8, size - position), path, 'message length');
    const view = new DataView(word.buffer);
    let prefix = 4;
    let length = view.getInt32(0, true);
    if (length === -1) {
      if (word.byteLength < 8) throw fail('truncated message length');
      prefix = 8;
      length = view.getInt32(4, true);
    }
    if (length === 0) break; // end-of-stream marker
    if (length < 0 || position + prefix + length > size) {
      throw fail(`message declares ${length} metadata bytes, the file has ${size - position - prefix} left`);
    }
    const message = decodeMessage(await bytesAt(handle, position + prefix, length, path, 'message metadata'), path, where, !schema);
    const bodyStart = position + prefix + length;
    if (bodyStart + message.bodyLength > size) {
      throw fail(`message body of ${message.bodyLength} bytes goes past the end of the file (${size - bodyStart} bytes left)`);
    }
    if (message.kind === 'schema') {
      if (schema) throw corrupt(path, where, 'a second schema message');
      checkSchemaShape(message.schema, path);
      schema = message.schema;
    } else if (!schema) {
      throw notArrow(path, 'the first message is not a schema');
    } else if (message.kind === 'dictionary') {
      throw new UserError(`${path}: dictionary-encoded columns are not supported; write the hidden states without dictionaries (repgeom extract does)`);
    } else {
      batches.push(checkBatch(message, bodyStart, schema, path, where));
    }
    position = bodyStart + message.bodyLength;
  }
  if (!schema) throw notArrow(path, 'no schema message');
  return { format: 'stream', schema, batches };
}

type Decoded =
  | { kind: 'schema'; bodyLength: number; schema: Schema }
  | { kind: 'dictionary'; bodyLength: number }
  | { kind: 'batch'; bodyLength: number; rows: number; nodes: BatchLayout['nodes']; buffers: BatchLayout['buffers'] };

/** Decode one message's flatbuffer into plain checked numbers; anything the decoder throws is a UserError. */
function decodeMessage(bytes: Uint8Array, path: string, where: string, first = false): Decoded {
  let decoded: Decoded;
  try {
    new FlatbufferCheck(bytes).message();
    const message = Message.decode(bytes);
    const bodyLength = count(message.bodyLength);
    if (bodyLength < 0) throw new Error(`body length ${String(message.bodyLength)}`);
    if (message.isSchema()) {
      const schema = message.header();
      if (!schema || !Array.isArray(schema.fields)) throw new Error('empty schema');
      decoded = { kind: 'schema', bodyLength, schema };
    } else if (message.isDictionaryBatch()) {
      decoded = { kind: 'dictionary', bodyLength };
    } else if (message.isRecordBatch()) {
      const header = message.header();
      if (header.compression) {
        throw new UserError(`${path}: ${where} is compressed, which this reader cannot decode; rewrite it uncompressed, e.g. pyarrow.feather.write_feather(table, path, compression='uncompressed')`);
      }
      decoded = {
        kind: 'batch',
        bodyLength,
        rows: count(header.length),
        nodes: header.nodes.map((n) => ({ length: count(n.length), nullCount: count(n.nullCount) })),
        buffers: header.buffers.map((b) => ({ offset: count(b.offset), length: count(b.length) })),
      };
    } else {
      throw new Error(`unknown message type ${String(message.headerType)}`);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw first ? notArrow(path, `undecodable message: ${reason(e)}`) : corrupt(path, where, `undecodable message: ${reason(e)}`);
  }
  return decoded;
}

/** Check a record batch's nodes and buffers against its body and the schema. */
function checkBatch(message: Extract<Decoded, { kind: 'batch' }>, bodyStart: number, schema: Schema, path: string, where: string): BatchLayout {
  const { rows, nodes, buffers, bodyLength } = message;
  if (rows < 0) throw corrupt(path, where, 'row count is not a non-negative integer');
  for (const [k, b] of buffers.entries()) {
    if (b.offset < 0 || b.length < 0 || b.offset + b.length > bodyLength) {
      throw corrupt(path, where, `buffer ${k} (${b.length} bytes at ${b.offset}) lies outside the ${bodyLength}-byte body`);
    }
  }
  for (const n of nodes) {
    if (n.length < 0 || n.nullCount < 0 || n.nullCount > n.length) throw corrupt(path, where, 'a column has an invalid length or null count');
  }
  const cursor = { node: 0, buffer: 0 };
  for (const field of schema.fields) checkColumn(field, rows, { nodes, buffers }, cursor, path, where);
  if (cursor.node !== nodes.length || cursor.buffer !== buffers.length) {
    throw corrupt(path, where, `${nodes.length} field nodes and ${buffers.length} buffers, the schema needs ${cursor.node} and ${cursor.buffer}`);
  }
  return { rows, bodyStart, nodes, buffers };
}

/** Bits per value of fixed-width types; undefined where the width is not needed to read our columns. */
function bitWidth(type: DataType): number | undefined {
  switch (type.typeId) {
    case Type.Int: return (type as unknown as { bitWidth: number }).bitWidth;
    case Type.Float: {
      const p = (type as unknown as { precision: Precision }).precision;
      return p === Precision.HALF ? 16 : p === Precision.SINGLE ? 32 : 64;
    }
    case Type.Bool: return 1;
    case Type.FixedSizeBinary: return 8 * (type as unknown as { byteWidth: number }).byteWidth;
    default: return undefined;
  }
}

/** Consume one column's nodes and buffers (Arrow IPC layout), checking sizes against `length` rows. */
function checkColumn(
  field: Field,
  length: number,
  batch: { nodes: BatchLayout['nodes']; buffers: BatchLayout['buffers'] },
  cursor: ColumnPlace,
  path: string,
  where: string,
): void {
  const name = `column '${shownName(field.name, 40)}'`;
  const node = batch.nodes[cursor.node++];
  if (!node) throw corrupt(path, where, `no field node for ${name}`);
  if (length >= 0 && node.length !== length) throw corrupt(path, where, `${name} has ${node.length} rows, the batch ${length}`);
  const rows = node.length;
  const buffer = (what: string, atLeast: number) => {
    const b = batch.buffers[cursor.buffer++];
    if (!b) throw corrupt(path, where, `no ${what} buffer for ${name}`);
    if (b.length < atLeast) throw corrupt(path, where, `${name} has a ${b.length}-byte ${what} buffer, ${atLeast} bytes needed`);
  };
  const validity = () => buffer('validity', node.nullCount > 0 ? Math.ceil(rows / 8) : 0);
  const type = field.type;
  const children = (childLength: number) => {
    for (const child of type.children as Field[]) checkColumn(child, childLength, batch, cursor, path, where);
  };
  switch (type.typeId) {
    case Type.Null:
      return;
    case Type.Int: case Type.Float: case Type.Bool: case Type.Decimal: case Type.Date: case Type.Time:
    case Type.Timestamp: case Type.Interval: case Type.Duration: case Type.FixedSizeBinary:
      validity();
      buffer('values', Math.ceil((rows * (bitWidth(type) ?? 0)) / 8));
      return;
    case Type.Utf8: case Type.Binary:
      validity();
      buffer('offsets', rows > 0 ? (rows + 1) * 4 : 0);
      buffer('data', 0);
      return;
    case Type.LargeUtf8: case Type.LargeBinary:
      validity();
      buffer('offsets', rows > 0 ? (rows + 1) * 8 : 0);
      buffer('data', 0);
      return;
    case Type.List: case Type.Map:
      validity();
      buffer('offsets', rows > 0 ? (rows + 1) * 4 : 0);
      children(-1); // the child's length comes from the offsets; its own node is checked
      return;
    case Type.LargeList:
      validity();
      buffer('offsets', rows > 0 ? (rows + 1) * 8 : 0);
      children(-1);
      return;
    case Type.FixedSizeList:
      validity();
      children(rows * (type as unknown as { listSize: number }).listSize);
      return;
    case Type.Struct:
      validity();
      children(rows);
      return;
    default:
      throw new UserError(`${path}: ${name} has type ${shownName(String(type), 80)}, which this reader cannot skip; write the hidden states with integer, float, string or list columns only`);
  }
}

/** Where each top-level column starts (the walk that checkBatch made, without the checks). */
export function columnPlaces(schema: Schema): ColumnPlace[] {
  const places: ColumnPlace[] = [];
  const cursor = { node: 0, buffer: 0 };
  const walk = (type: DataType): void => {
    cursor.node++;
    switch (type.typeId) {
      case Type.Null: return;
      case Type.Utf8: case Type.Binary: case Type.LargeUtf8: case Type.LargeBinary: cursor.buffer += 3; return;
      case Type.List: case Type.Map: case Type.LargeList: cursor.buffer += 2; break;
      case Type.FixedSizeList: case Type.Struct: cursor.buffer += 1; break;
      default: cursor.buffer += 2; return;
    }
    for (const child of type.children as Field[]) walk(child.type);
  };
  for (const field of schema.fields) {
    places.push({ ...cursor });
    walk(field.type);
  }
  return places;
}

/** An integer column of a batch as numbers (read from disk; 64-bit values converted). */
export async function readIntColumn(
  handle: FileHandle, batch: BatchLayout, place: ColumnPlace, type: DataType, path: string, what: string,
): Promise<ArrayLike<number>> {
  const { bitWidth: bits, isSigned } = type as unknown as { bitWidth: number; isSigned: boolean };
  const region = batch.buffers[place.buffer + 1];
  const bytes = await bytesAt(handle, batch.bodyStart + region.offset, batch.rows * (bits / 8), path, what);
  const b = bytes.buffer, rows = batch.rows;
  switch (bits) {
    case 8: return isSigned ? new Int8Array(b, 0, rows) : new Uint8Array(b, 0, rows);
    case 16: return isSigned ? new Int16Array(b, 0, rows) : new Uint16Array(b, 0, rows);
    case 32: return isSigned ? new Int32Array(b, 0, rows) : new Uint32Array(b, 0, rows);
    default: {
      const big = isSigned ? new BigInt64Array(b, 0, rows) : new BigUint64Array(b, 0, rows);
      return Float64Array.from(big, Number);
    }
  }
}

/** The float32 values of a FixedSizeList<Float32>[dim] column (its child's values buffer). */
export async function readVectorColumn(
  handle: FileHandle, batch: BatchLayout, place: ColumnPlace, dim: number, path: string, what: string,
): Promise<Float32Array> {
  const region = batch.buffers[place.buffer + 2]; // list validity, child validity, child values
  const out = new Float32Array(batch.rows * dim);
  await readExactly(handle, new Uint8Array(out.buffer), batch.bodyStart + region.offset, path, what);
  return out;
}
