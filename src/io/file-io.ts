/**
 * Low-level file access shared by the readers and writers: opening with a user-facing error,
 * positioned reads that never touch more than asked, and atomic writes (temp name + rename) so an
 * interrupted run never leaves a half-written output file.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import { UserError } from '../errors.js';
import { planFileOutput, writeOutputFile } from './safe-output.js';

/** Node refuses single reads above 2 GiB; stay well below so huge blocks still read. */
const MAX_READ_CHUNK = 1 << 30;

/** Open `path` for reading; a missing, unreadable or non-regular file is a UserError. */
export async function openForReading(path: string): Promise<{ handle: fsp.FileHandle; size: number }> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? e);
    throw new UserError(`${path}: cannot open (${why}); check the path`);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new UserError(`${path}: not a regular file; give the path of a hidden-state file`);
  }
  return { handle, size: stat.size };
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
