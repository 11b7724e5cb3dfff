/**
 * `.safetensors` files: 8 bytes little-endian u64 header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}`, then the raw
 * little-endian data (offsets are relative to the end of the header).
 *
 * There is no maintained reader on npm, hence this one. It is lazy: `openSafetensors` reads and
 * validates the header only; tensors (or element ranges of them) are read on demand with
 * positioned reads, so model weights and multi-GB hidden states never have to fit in memory at
 * once. Tensors of any dtype may be listed (checkpoints carry e.g. I64 position ids); reading
 * one whose dtype is not F32/F64/F16/BF16 is a UserError.
 */
import type { FileHandle } from 'node:fs/promises';
import { UserError } from '../errors.js';
import type { FloatArray } from '../backend/matrix.js';
import { openForReading, readExactly, readFloats, writeFileAtomic } from './file-io.js';
import { bfloat16ToFloat32, halfToFloat32 } from './half.js';
import { parseJson, preview, shownName } from './json-limits.js';

export interface SafetensorsEntry {
  name: string;
  /** As written in the header: F32, F16, BF16, F64, I64, ... */
  dtype: string;
  shape: number[];
  /** Byte range in the data area (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsTensor {
  dtype: string;
  shape: number[];
  /** F64 stays Float64Array; F32, F16 and BF16 come as Float32Array (16-bit values widened exactly). */
  data: FloatArray;
}

export interface SafetensorsFile {
  path: string;
  /** Tensors in header order. */
  entries: SafetensorsEntry[];
  /** The `__metadata__` map; {} when absent. */
  metadata: Record<string, string>;
  readTensor(name: string): Promise<SafetensorsTensor>;
  /** Elements [start, start + count) of a tensor in C order. */
  readElements(name: string, start: number, count: number): Promise<FloatArray>;
  close(): Promise<void>;
}

export type WritableDtype = 'F32' | 'F64' | 'F16' | 'BF16';

export interface TensorToWrite {
  name: string;
  dtype: WritableDtype;
  shape: readonly number[];
  /** Float32Array for F32, Float64Array for F64, raw bit patterns (Uint16Array) for F16/BF16. */
  data: Float32Array | Float64Array | Uint16Array;
}

/** Bytes per element of every dtype the format defines, to check offsets even for unreadable ones. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};
/** The dtypes `readTensor` converts to floats. */
export const READABLE_DTYPES: readonly string[] = ['F32', 'F64', 'F16', 'BF16'];
/** The format's own limit; it also keeps a corrupt length from making us allocate gigabytes. */
const MAX_HEADER_BYTES = 100_000_000;
/** A valid header nests 4 levels ({name: {shape: [..]}}, __metadata__ values are strings); allow some slack. */
const MAX_HEADER_DEPTH = 8;

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const { handle, size } = await openForReading(path);
  try {
    const { entries, metadata, dataStart } = await readHeader(handle, size, path);
    const byName = new Map(entries.map((e) => [e.name, e]));
    const entry = (name: string): SafetensorsEntry => {
      const e = byName.get(name);
      if (e) return e;
      const names = entries.slice(0, 10).map((x) => shownName(x.name)).join(', ') + (entries.length > 10 ? ', ...' : '');
      throw new UserError(`${path}: no tensor named '${shownName(name)}' (it has ${names})`);
    };
    const readElements = (name: string, start: number, count: number): Promise<FloatArray> =>
      readRange(handle, path, entry(name), dataStart, start, count);
    return {
      path,
      entries,
      metadata,
      readElements,
      async readTensor(name) {
        const e = entry(name);
        return { dtype: e.dtype, shape: e.shape, data: await readElements(name, 0, product(e.shape)) };
      },
      close: () => handle.close(),
    };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

async function readHeader(
  handle: FileHandle,
  size: number,
  path: string,
): Promise<{ entries: SafetensorsEntry[]; metadata: Record<string, string>; dataStart: number }> {
  if (size < 8) throw new UserError(`${path}: ${size} bytes is too short for a .safetensors file (8-byte header length missing); re-save it`);
  const lengthBytes = new Uint8Array(8);
  await readExactly(handle, lengthBytes, 0, path, 'header length');
  const length = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (length > BigInt(size - 8) || length > BigInt(MAX_HEADER_BYTES)) {
    throw new UserError(
      `${path}: header length ${length} goes beyond the end of the file (${size} bytes) or the 100 MB limit; ` +
        'the file is truncated or not .safetensors: re-save it',
    );
  }
  const headerBytes = new Uint8Array(Number(length));
  await readExactly(handle, headerBytes, 8, path, 'header');
  const json = parseJson(new TextDecoder().decode(headerBytes), `${path}: header`, 'the file is corrupt or not .safetensors: re-save it', MAX_HEADER_DEPTH);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserError(`${path}: header is not a JSON object; re-save the file with safetensors`);
  }
  const dataStart = 8 + headerBytes.byteLength;
  const dataSize = size - dataStart;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') metadata = parseMetadata(value, path);
    else entries.push(parseEntry(name, value, dataSize, path));
  }
  return { entries, metadata, dataStart };
}

function parseMetadata(value: unknown, path: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UserError(`${path}: __metadata__ is not a JSON object of strings; re-save the file`);
  }
  // The format says string → string; keep other values readable instead of refusing the file.
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : preview(v, 1000)]),
  );
}

function parseEntry(name: string, value: unknown, dataSize: number, path: string): SafetensorsEntry {
  const where = `${path}: tensor '${shownName(name, 100)}'`;
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { dtype, shape, data_offsets: offsets } = v;
  if (typeof dtype !== 'string' || !Array.isArray(shape) || !shape.every(isCount) || !Array.isArray(offsets)) {
    throw new UserError(`${where}: header entry ${preview(value)} lacks a valid dtype, shape or data_offsets; re-save the file`);
  }
  const [begin, end] = offsets;
  if (offsets.length !== 2 || !isCount(begin) || !isCount(end) || begin > end || end > dataSize) {
    throw new UserError(
      `${where}: data_offsets ${preview(offsets)} lie outside the data area (0..${dataSize} bytes); ` +
        'the file is truncated or corrupt: re-save it',
    );
  }
  const bytes = DTYPE_BYTES[dtype];
  if (bytes !== undefined && end - begin !== product(shape) * bytes) {
    throw new UserError(
      `${where}: data_offsets span ${end - begin} bytes but shape [${shape.slice(0, 8).join(', ')}${shape.length > 8 ? ', …' : ''}] of ${dtype} needs ` +
        `${product(shape) * bytes}; the file is corrupt: re-save it`,
    );
  }
  return { name, dtype, shape, begin, end };
}

async function readRange(
  handle: FileHandle,
  path: string,
  e: SafetensorsEntry,
  dataStart: number,
  start: number,
  count: number,
): Promise<FloatArray> {
  if (!READABLE_DTYPES.includes(e.dtype)) {
    throw new UserError(`${path}: tensor '${e.name}' has unsupported dtype ${e.dtype} (${READABLE_DTYPES.join(', ')} are read); save it as float32`);
  }
  if (start < 0 || count < 0 || start + count > product(e.shape)) {
    throw new RangeError(`readElements: [${start}, ${start + count}) is outside tensor '${e.name}' of ${product(e.shape)} elements`);
  }
  const bytes = DTYPE_BYTES[e.dtype];
  const position = dataStart + e.begin + start * bytes;
  const what = `data of tensor '${e.name}'`;
  if (e.dtype === 'F32') return readFloats(handle, Float32Array, count, position, path, what);
  if (e.dtype === 'F64') return readFloats(handle, Float64Array, count, position, path, what);
  const bits = new Uint16Array(count);
  await readExactly(handle, new Uint8Array(bits.buffer), position, path, what);
  return e.dtype === 'F16' ? halfToFloat32(bits) : bfloat16ToFloat32(bits);
}

/**
 * Write tensors (and optional string metadata) as .safetensors, atomically. Tensors are laid out
 * widest dtype first so every tensor's data stays aligned to its element size, as the reference
 * implementation does; the header is space-padded to a multiple of 8 bytes.
 */
export function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): void {
  const ordered = [...tensors].sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype]);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of ordered) {
    const expected = { F32: Float32Array, F64: Float64Array, F16: Uint16Array, BF16: Uint16Array }[t.dtype];
    if (!(t.data instanceof expected) || t.data.length !== product(t.shape)) {
      throw new RangeError(`writeSafetensors: tensor '${t.name}' needs ${product(t.shape)} values in a ${expected.name} for ${t.dtype}`);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (new TextEncoder().encode(text).byteLength % 8)) % 8);
  const headerBytes = new TextEncoder().encode(text);
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  const bodies = ordered.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  writeFileAtomic(path, [length, headerBytes, ...bodies]);
}
