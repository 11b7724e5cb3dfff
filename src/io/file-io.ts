/**
 * Low-level file access shared by the readers and writers: opening with a user-facing error,
 * positioned reads that never touch more than asked, and atomic writes (temp name + rename) so an
 * interrupted run never leaves a half-written output file.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import { UserError } from '../errors.js';
import { planFileOutput, writeOutputFile } from './safe-output.js';

/** Node refuses single reads above 2 GiB; stay well below so huge blocks still read. */
const MAX_READ_CHUNK = 1 << 30;

/** Opening flags for reading: O_NONBLOCK so that a file swapped for a FIFO after the stat cannot block the open. */
const READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

function cannotOpen(path: string, e: unknown): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'ENOTDIR' ? 'not a directory on the way' : String(code ?? e);
  return new UserError(`${path}: cannot open (${why}); check the path`);
}

/** What a non-regular file is, for messages. */
function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notRegular(path: string, stat: fs.Stats, expected: string): UserError {
  return new UserError(`${path}: not a regular file (${kindOf(stat)}); give the path of ${expected}`);
}

/**
 * Open `path` for reading; a missing, unreadable or non-regular file is a UserError. The file is
 * stat'ed before it is opened: opening a FIFO or some devices blocks until a writer appears.
 */
export async function openForReading(path: string, expected = 'a regular file'): Promise<{ handle: fsp.FileHandle; size: number }> {
  let handle: fsp.FileHandle;
  try {
    const before = await fsp.stat(path);
    if (!before.isFile()) throw notRegular(path, before, expected);
    handle = await fsp.open(path, READ_FLAGS);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw cannotOpen(path, e);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw notRegular(path, stat, expected);
  }
  return { handle, size: stat.size };
}

/** The synchronous twin of openForReading: a file descriptor and the size of a regular file. */
export function openForReadingSync(path: string, expected = 'a regular file'): { fd: number; size: number } {
  let fd: number;
  try {
    const before = fs.statSync(path);
    if (!before.isFile()) throw notRegular(path, before, expected);
    fd = fs.openSync(path, READ_FLAGS);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw cannotOpen(path, e);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw notRegular(path, stat, expected);
  }
  return { fd, size: stat.size };
}

/**
 * Read a whole small regular file as UTF-8 text (config.json, tokenizer files, weight indexes):
 * refuses FIFOs and devices instead of blocking on them, and files over `maxBytes`.
 */
export function readTextFileSync(path: string, options: { maxBytes?: number; expected?: string } = {}): string {
  const { maxBytes = 1 << 30, expected = 'a regular file' } = options;
  const { fd, size } = openForReadingSync(path, expected);
  try {
    if (size > maxBytes) {
      throw new UserError(`${path}: ${size} bytes is more than the ${maxBytes}-byte limit for this file; check that it is the right file`);
    }
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, bytes, done, Math.min(size - done, MAX_READ_CHUNK), done);
      if (n === 0) break; // the file shrank while reading: use what is there
      done += n;
    }
    return new TextDecoder().decode(bytes.subarray(0, done));
  } finally {
    fs.closeSync(fd);
  }
}

/** Size of the blocks the line reader asks for; a `--limit` read costs about this per few lines. */
const LINE_CHUNK = 1 << 16;
/** Longer lines are refused: a binary file or a runaway line, not an example. */
const MAX_LINE_CHARS = 1 << 26;

/**
 * The lines of a regular text file, read in chunks as they are consumed (stop iterating and the
 * rest of the file is never read). UTF-8 with a leading BOM dropped, `\n` or `\r\n` endings,
 * a final newline adds no empty line. Invalid UTF-8 becomes U+FFFD, as readFileSync does.
 */
export function* readLinesSync(path: string, expected = 'a text file'): Generator<string> {
  const { fd } = openForReadingSync(path, expected);
  try {
    const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
    const chunk = new Uint8Array(LINE_CHUNK);
    let carry = '';
    let position = 0;
    let lineNumber = 0;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.byteLength, position);
      position += n;
      const part = decoder.decode(chunk.subarray(0, n), { stream: n > 0 });
      if (n > 0 && !part.includes('\n')) {
        carry += part; // no line ends here: keep reading (cheap, the string is not flattened)
        if (carry.length > MAX_LINE_CHARS) {
          throw new UserError(`${path}: line ${lineNumber + 1} is longer than ${MAX_LINE_CHARS} characters; is this a text file?`);
        }
        continue;
      }
      const parts = (carry + part).split('\n');
      carry = n > 0 ? parts.pop()! : '';
      if (n === 0 && parts[parts.length - 1] === '') parts.pop();
      for (const line of parts) {
        lineNumber++;
        yield line.endsWith('\r') ? line.slice(0, -1) : line;
      }
      if (n === 0) return;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Fill `target` with the bytes at `position`. A short file is a UserError that says how many
 * bytes were expected and how many the file has (`what` names the place, e.g. "data of layer 3").
 */
export async function readExactly(
  handle: fsp.FileHandle,
  target: Uint8Array,
  position: number,
  path: string,
  what: string,
): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const want = Math.min(target.byteLength - done, MAX_READ_CHUNK);
    const { bytesRead } = await handle.read(target, done, want, position + done);
    if (bytesRead === 0) {
      throw new UserError(
        `${path}: truncated ${what}: expected ${target.byteLength} bytes at offset ${position}, ` +
          `the file ends after ${done}; re-create or re-download the file`,
      );
    }
    done += bytesRead;
  }
}

/** The formats we read store little-endian floats; reading them raw into typed arrays needs an LE host. */
const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/** Read `count` elements of 4 or 8 bytes at `position` straight into a new typed array (no copy). */
export async function readFloats<T extends Float32Array | Float64Array>(
  handle: fsp.FileHandle,
  ctor: { new (n: number): T },
  count: number,
  position: number,
  path: string,
  what: string,
): Promise<T> {
  if (!LITTLE_ENDIAN_HOST) throw new Error('repgeom reads binary files on little-endian hosts only');
  const out = new ctor(count);
  await readExactly(handle, new Uint8Array(out.buffer, 0, out.byteLength), position, path, what);
  return out;
}

/**
 * Write `chunks` as the whole of `path` through the one safe output path (a temporary name and a
 * rename for a regular file; see safe-output.ts). `label` names the output in messages.
 */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[], label = 'output file'): void {
  writeOutputFile(planFileOutput(path, label), chunks);
}
