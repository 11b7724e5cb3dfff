/**
 * Count rows per layer in an Arrow IPC *file* by reading, for each record batch, only its message
 * metadata and the data buffer of the `layer` column (located through the footer's block
 * offsets and the batch's buffer table). This lets `openHiddenStates` learn the rows of every
 * layer of a multi-GB file while reading a few bytes per row instead of the whole file.
 * Layouts it does not compute (a dictionary or union column before `layer`) return undefined and
 * the caller falls back to decoding whole batches.
 */
import type { FileHandle } from 'node:fs/promises';
import { Message, Type, type DataType, type Field, type Int, type RecordBatchReader } from 'apache-arrow';
import { UserError } from '../errors.js';
import { readExactly } from './file-io.js';

type Footer = NonNullable<RecordBatchReader['footer']>;

export interface LayerCounts {
  /** Rows per value of the `layer` column. */
  rows: Map<number, number>;
  /** The layers present in each record batch, by batch index (lets a scan skip batches). */
  perBatch: Set<number>[];
}

/** Field nodes and buffers one column of `type` occupies in a record batch message (Arrow IPC layout). */
function layout(type: DataType): { nodes: number; buffers: number } | undefined {
  const children = (own: { nodes: number; buffers: number }) => {
    for (const child of type.children as Field[]) {
      const c = layout(child.type);
      if (!c) return undefined;
      own.nodes += c.nodes;
      own.buffers += c.buffers;
    }
    return own;
  };
  switch (type.typeId) {
    case Type.Int: case Type.Float: case Type.Bool: case Type.Decimal: case Type.Date: case Type.Time:
    case Type.Timestamp: case Type.Interval: case Type.Duration: case Type.FixedSizeBinary:
      return { nodes: 1, buffers: 2 }; // validity, values
    case Type.Utf8: case Type.Binary: case Type.LargeUtf8: case Type.LargeBinary:
      return { nodes: 1, buffers: 3 }; // validity, offsets, bytes
    case Type.List: case Type.LargeList: case Type.Map:
      return children({ nodes: 1, buffers: 2 }); // validity, offsets, then the child
    case Type.FixedSizeList: case Type.Struct:
      return children({ nodes: 1, buffers: 1 }); // validity, then the children
    default:
      return undefined;
  }
}

/** Read an integer column buffer as numbers. */
function toNumbers(bytes: Uint8Array, type: Int, rows: number): ArrayLike<number> {
  const b = bytes.buffer;
  switch (type.bitWidth) {
    case 8: return type.isSigned ? new Int8Array(b, 0, rows) : new Uint8Array(b, 0, rows);
    case 16: return type.isSigned ? new Int16Array(b, 0, rows) : new Uint16Array(b, 0, rows);
    case 32: return type.isSigned ? new Int32Array(b, 0, rows) : new Uint32Array(b, 0, rows);
    default: {
      const big = type.isSigned ? new BigInt64Array(b, 0, rows) : new BigUint64Array(b, 0, rows);
      return Float64Array.from(big, Number);
    }
  }
}

export async function countLayersFromFooter(
  handle: FileHandle,
  path: string,
  footer: Footer,
  fields: readonly Field[],
  layerIndex: number,
): Promise<LayerCounts | undefined> {
  let nodeIndex = 0;
  let bufferIndex = 0;
  for (const field of fields.slice(0, layerIndex)) {
    const l = layout(field.type);
    if (!l) return undefined;
    nodeIndex += l.nodes;
    bufferIndex += l.buffers;
  }
  const layerType = fields[layerIndex].type as Int;
  const width = layerType.bitWidth / 8;
  const counts: LayerCounts = { rows: new Map(), perBatch: [] };
  for (let i = 0; i < footer.numRecordBatches; i++) {
    const block = footer.getRecordBatch(i);
    if (!block) return undefined;
    const meta = new Uint8Array(block.metaDataLength);
    await readExactly(handle, meta, block.offset, path, `metadata of record batch ${i}`);
    // Modern messages start with a 0xFFFFFFFF continuation marker before the 4-byte length.
    const prefix = new DataView(meta.buffer).getInt32(0, true) === -1 ? 8 : 4;
    const message = Message.decode(meta.subarray(prefix));
    if (!message.isRecordBatch()) return undefined;
    const header = message.header();
    if (header.compression) {
      throw new UserError(`${path}: record batch ${i} is compressed, which this reader cannot decode; rewrite it uncompressed, e.g. pyarrow.feather.write_feather(table, path, compression='uncompressed')`);
    }
    if (header.nodes[nodeIndex].nullCount > 0) {
      throw new UserError(`${path}: column 'layer' has nulls in record batch ${i}; every row needs a layer number`);
    }
    const region = header.buffers[bufferIndex + 1];
    const bytes = new Uint8Array(header.length * width);
    if (region.length < bytes.byteLength) {
      throw new UserError(`${path}: column 'layer' of record batch ${i} holds ${region.length} bytes, ${bytes.byteLength} expected; the file is corrupt: re-write it`);
    }
    await readExactly(handle, bytes, block.offset + block.metaDataLength + region.offset, path, `column 'layer' of record batch ${i}`);
    const present = new Set<number>();
    const layers = toNumbers(bytes, layerType, header.length);
    for (let r = 0; r < layers.length; r++) {
      const l = layers[r];
      present.add(l);
      counts.rows.set(l, (counts.rows.get(l) ?? 0) + 1);
    }
    counts.perBatch.push(present);
  }
  return counts;
}
