/**
 * NumPy `.npy` files (format versions 1, 2, 3), float32/float64, little-endian, C order.
 *
 * `openNpy` reads only the header and then serves element ranges with positioned reads, so a
 * multi-GB array is scanned block by block in bounded memory. `decodeNpy` parses an array that is
 * already in memory (an `.npz` member); `encodeNpy`/`writeNpy` produce what `numpy.load` reads.
 */
import type { FileHandle } from 'node:fs/promises';
import { UserError } from '../errors.js';
import type { FloatArray } from '../backend/matrix.js';
import { openForReading, readExactly, readFloats, writeFileAtomic } from './file-io.js';
import { parsePythonLiteral } from './python-literal.js';
import { preview } from './json-limits.js';

export type NpyDtype = 'float32' | 'float64';

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
}

export interface NpyArray {
  data: FloatArray;
  shape: number[];
}

export interface NpyFile {
  path: string;
  header: NpyHeader;
  /** Elements [start, start + count) in C order, read from disk into a new array. */
  readElements(start: number, count: number): Promise<FloatArray>;
  close(): Promise<void>;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Magic (6) + version (2) + header length (2 in v1, 4 in v2/v3). */
const PREAMBLE_BYTES = 12;

/** A header string cut short for a message. */
const cut = (s: string): string => (s.length > 24 ? `${s.slice(0, 24)}…` : s);

const itemSize = (dtype: NpyDtype): number => (dtype === 'float32' ? 4 : 8);

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * numpy.load refuses headers over 10,000 bytes unless told otherwise; allow ten times that (a
 * header holds a dtype and a shape). It also keeps a corrupt length from allocating gigabytes.
 */
const MAX_HEADER_BYTES = 100_000;

/** Where the header text lies, from the first 10–12 bytes; `size` is the whole file (or image). */
function parsePreamble(bytes: Uint8Array, path: string, size: number): { start: number; length: number; utf8: boolean } {
  const { start, length, utf8 } = preambleFields(bytes, path);
  if (length > MAX_HEADER_BYTES) {
    throw new UserError(`${path}: .npy header length ${length} is over the ${MAX_HEADER_BYTES}-byte limit; the file is corrupt: re-save the array with numpy.save`);
  }
  if (start + length > size) {
    throw new UserError(`${path}: truncated .npy header: expected ${length} bytes, found ${Math.max(0, size - start)}; re-save the array`);
  }
  return { start, length, utf8 };
}

function preambleFields(bytes: Uint8Array, path: string): { start: number; length: number; utf8: boolean } {
  if (bytes.byteLength < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    throw new UserError(`${path}: not a .npy file (no \\x93NUMPY magic at the start); save the array with numpy.save`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) return { start: 10, length: view.getUint16(8, true), utf8: false };
  if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) throw new UserError(`${path}: truncated .npy header; re-save the array with numpy.save`);
    return { start: 12, length: view.getUint32(8, true), utf8: major === 3 };
  }
  throw new UserError(`${path}: .npy format version ${major}.${bytes[7]} is not supported (1, 2, 3 are); re-save with numpy.save`);
}

/** Validate the header dict and turn it into an NpyHeader. */
function parseHeaderText(text: string, dataOffset: number, path: string): NpyHeader {
  const { descr, shape } = parseHeaderDict(text, path);
  const dtype = ({ '<f4': 'float32', '|f4': 'float32', '<f8': 'float64', '|f8': 'float64' } as const)[descr];
  if (dtype === undefined) {
    throw new UserError(`${path}: .npy header: dtype '${cut(descr)}' is not supported (float32 '<f4' and float64 '<f8' are); convert with arr.astype('float32')`);
  }
  return { dtype, shape, dataOffset };
}

/** The header's dtype string and shape, validated (little-endian, C order). */
function parseHeaderDict(text: string, path: string): { descr: string; shape: number[] } {
  const where = `${path}: .npy header`;
  const dict = parsePythonLiteral(text, where);
  if (typeof dict !== 'object' || dict === null || Array.isArray(dict)) {
    throw new UserError(`${where} is not a dict; re-save the array with numpy.save`);
  }
  const { descr, fortran_order: fortran, shape } = dict;
  if (typeof descr !== 'string') {
    throw new UserError(`${where}: dtype ${preview(descr)} is not supported (structured arrays are not); save a float32 or float64 array, e.g. arr.astype('float32')`);
  }
  if (descr[0] === '>') {
    throw new UserError(`${where}: dtype '${cut(descr)}' is big-endian; save it little-endian with arr.astype('<${cut(descr.slice(1))}')`);
  }
  if (fortran !== false) {
    throw new UserError(`${where}: fortran_order is ${String(fortran)}; save a C-ordered array with numpy.save(path, numpy.ascontiguousarray(arr))`);
  }
  if (!Array.isArray(shape) || !shape.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) {
    throw new UserError(`${where}: shape ${preview(shape)} is not a tuple of non-negative integers; re-save with numpy.save`);
  }
  return { descr, shape: shape as number[] };
}

function decodeText(bytes: Uint8Array, utf8: boolean): string {
  return new TextDecoder(utf8 ? 'utf-8' : 'latin1').decode(bytes);
}

function checkDataSize(header: NpyHeader, available: number, path: string): void {
  const expected = elementCount(header.shape) * itemSize(header.dtype);
  if (available < expected) {
    throw new UserError(
      `${path}: truncated .npy data: shape (${header.shape.join(', ')}) ${header.dtype} needs ${expected} bytes ` +
        `after the header, the file has ${Math.max(0, available)}; re-create or re-download the file`,
    );
  }
}

/** Open a .npy file: header parsed and data size checked against the file size, data not read. */
export async function openNpy(path: string): Promise<NpyFile> {
  const { handle, size } = await openForReading(path);
  try {
    const header = await readHeader(handle, size, path);
    checkDataSize(header, size - header.dataOffset, path);
    const ctor = header.dtype === 'float32' ? Float32Array : Float64Array;
    const bytesPer = itemSize(header.dtype);
    return {
      path,
      header,
      readElements: (start, count) =>
        readFloats<FloatArray>(handle, ctor, count, header.dataOffset + start * bytesPer, path, 'data'),
      close: () => handle.close(),
    };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

async function readHeader(handle: FileHandle, size: number, path: string): Promise<NpyHeader> {
  const preamble = new Uint8Array(Math.min(PREAMBLE_BYTES, size));
  await readExactly(handle, preamble, 0, path, '.npy preamble');
  const { start, length, utf8 } = parsePreamble(preamble, path, size);
  const text = new Uint8Array(length);
  await readExactly(handle, text, start, path, '.npy header');
  return parseHeaderText(decodeText(text, utf8), start + length, path);
}

/** Read a whole integer .npy file (int32 or int64, e.g. token ids) as Int32Array. */
export async function readNpyInt32(path: string): Promise<{ data: Int32Array; shape: number[] }> {
  const { handle, size } = await openForReading(path);
  try {
    const preamble = new Uint8Array(Math.min(PREAMBLE_BYTES, size));
    await readExactly(handle, preamble, 0, path, '.npy preamble');
    const { start, length, utf8 } = parsePreamble(preamble, path, size);
    const text = new Uint8Array(length);
    await readExactly(handle, text, start, path, '.npy header');
    const { descr, shape } = parseHeaderDict(decodeText(text, utf8), path);
    const bytes = ({ '<i4': 4, '|i4': 4, '<i8': 8, '|i8': 8 } as Record<string, number>)[descr];
    if (bytes === undefined) throw new UserError(`${path}: .npy dtype '${cut(descr)}' is not an integer type (int32 '<i4' or int64 '<i8' expected)`);
    const n = elementCount(shape);
    if (size - start - length < n * bytes) throw new UserError(`${path}: truncated .npy data`);
    const raw = new Uint8Array(n * bytes);
    await readExactly(handle, raw, start + length, path, 'data');
    const view = new DataView(raw.buffer);
    const data = new Int32Array(n);
    for (let i = 0; i < n; i++) data[i] = bytes === 4 ? view.getInt32(i * 4, true) : Number(view.getBigInt64(i * 8, true));
    return { data, shape };
  } finally {
    await handle.close();
  }
}

/** Read a whole .npy file (for small arrays such as a d×d covariance). */
export async function readNpy(path: string): Promise<NpyArray> {
  const file = await openNpy(path);
  try {
    return { data: await file.readElements(0, elementCount(file.header.shape)), shape: file.header.shape };
  } finally {
    await file.close();
  }
}

/**
 * Parse a .npy image held in memory; `path` names it in errors (e.g. "x.npz/arr_0.npy"). `end` is
 * where the array's data ends in `bytes` (header + data: the size numpy writes).
 */
export function decodeNpyImage(bytes: Uint8Array, path: string): NpyArray & { end: number } {
  const { start, length, utf8 } = parsePreamble(bytes, path, bytes.byteLength);
  const header = parseHeaderText(decodeText(bytes.subarray(start, start + length), utf8), start + length, path);
  checkDataSize(header, bytes.byteLength - header.dataOffset, path);
  const count = elementCount(header.shape);
  const raw = bytes.subarray(header.dataOffset, header.dataOffset + count * itemSize(header.dtype));
  // A typed-array view needs an aligned offset; copy the bytes otherwise.
  const aligned = raw.byteOffset % itemSize(header.dtype) === 0 ? raw : raw.slice();
  const data = header.dtype === 'float32'
    ? new Float32Array(aligned.buffer, aligned.byteOffset, count)
    : new Float64Array(aligned.buffer, aligned.byteOffset, count);
  return { data, shape: header.shape, end: header.dataOffset + raw.byteLength };
}

/**
 * The .npy image of `data` with `shape`: header then the raw little-endian data (returned as two
 * chunks so the data is not copied). The header is padded so the data starts on a 64-byte
 * boundary, as numpy does.
 */
export function encodeNpy(data: FloatArray, shape: readonly number[]): Uint8Array[] {
  if (elementCount(shape) !== data.length) {
    throw new RangeError(`encodeNpy: ${data.length} values do not fill shape (${shape.join(', ')})`);
  }
  const descr = data instanceof Float32Array ? '<f4' : '<f8';
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let text = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const version = text.length + 11 > 0xffff ? 2 : 1;
  const start = version === 1 ? 10 : 12;
  text += ' '.repeat((64 - ((start + text.length + 1) % 64)) % 64) + '\n';
  const header = new Uint8Array(start + text.length);
  header.set(MAGIC);
  header[6] = version;
  const view = new DataView(header.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  header.set(new TextEncoder().encode(text), start);
  return [header, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

/** Write a .npy file atomically (temp name, then rename). */
export function writeNpy(path: string, data: FloatArray, shape: readonly number[]): void {
  writeFileAtomic(path, encodeNpy(data, shape));
}
