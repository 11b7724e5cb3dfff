/**
 * NumPy `.npz` archives (numpy.savez / numpy.savez_compressed): a zip of `.npy` members. The
 * archive is read whole into memory (zip members may be deflated, so ranges cannot be served
 * from disk); use .npy, .safetensors or .arrow for inputs larger than memory.
 */
import { createRequire } from 'node:module';
import type { Zippable } from 'fflate';
import { UserError } from '../errors.js';
import type { FloatArray } from '../backend/matrix.js';
import { openForReading, readExactly, writeFileAtomic } from './file-io.js';
import { decodeNpyImage, encodeNpy, type NpyArray } from './npy.js';
import { shownName } from './json-limits.js';

/** fflate loads only when an .npz is read or written (a tenth of a second off every other start). */
let zip: typeof import('fflate') | undefined;
const fflate = (): typeof import('fflate') => (zip ??= createRequire(import.meta.url)('fflate') as typeof import('fflate'));

export interface NpzMember extends NpyArray {
  /** Member name without the `.npy` suffix, as numpy.load shows it (`arr_0`, or the keyword). */
  name: string;
}

/** Deflate cannot expand data more than ~1032:1; a member declaring more lies about its size. */
const DEFLATE_MAX_RATIO = 1032;
/**
 * The archive is inflated whole into memory; members inflating to more than this many times the
 * file (and over MIN_REFUSED bytes) are refused from the sizes the zip declares, before inflating:
 * real hidden states compress a little, a zip bomb (or an array of constants) a thousandfold.
 */
const MAX_INFLATE_RATIO = 50;
const MIN_REFUSED = 64 * 1024 * 1024;
/** Smallest central-directory entry: bounds the entry count a corrupt end record may claim. */
const CENTRAL_ENTRY_BYTES = 46;

const short = (name: string): string => shownName(name);
const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/** Entry count of the zip's end-of-central-directory record, checked against the file size. */
function checkEndRecord(bytes: Uint8Array, path: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let e = bytes.byteLength - 22; e >= 0 && bytes.byteLength - e <= 65558; e--) {
    if (view.getUint32(e, true) !== 0x06054b50) continue;
    let entries = view.getUint16(e + 10, true);
    if (e >= 20 && view.getUint32(e - 20, true) === 0x07064b50) {
      const at = Number(view.getBigUint64(e - 12, true)); // zip64 end record
      if (at + 40 <= bytes.byteLength && view.getUint32(at, true) === 0x06064b50) entries = Number(view.getBigUint64(at + 32, true));
    }
    if (entries * CENTRAL_ENTRY_BYTES > bytes.byteLength) {
      throw new UserError(`${path}: the zip directory claims ${entries} members, more than the ${bytes.byteLength}-byte file can hold; the archive is corrupt: re-save it with numpy.savez`);
    }
    return;
  }
  throw new UserError(`${path}: not a readable .npz (zip) archive (no end-of-directory record); re-save with numpy.savez`);
}

/** All arrays of an .npz, in the order they are stored in the zip. */
export async function readNpz(path: string): Promise<NpzMember[]> {
  const { handle, size } = await openForReading(path);
  const bytes = new Uint8Array(size);
  try {
    await readExactly(handle, bytes, 0, path, '.npz archive');
  } finally {
    await handle.close();
  }
  checkEndRecord(bytes, path);
  let files: Record<string, Uint8Array>;
  const declared = new Map<string, number>();
  let total = 0;
  try {
    // The filter sees each member's declared sizes before it is inflated (into a buffer of exactly
    // the declared size: fflate never writes past it, so a member lying low is cut, not grown).
    files = fflate().unzipSync(bytes, {
      filter: ({ name, size: packed, originalSize, compression }) => {
        if (compression !== 0 && compression !== 8) {
          throw new UserError(`${path}: member '${short(name)}' uses zip compression method ${compression}; numpy.savez writes stored or deflated members: re-save it`);
        }
        const possible = compression === 0 ? packed : packed * DEFLATE_MAX_RATIO + 1024;
        if (originalSize > possible) {
          throw new UserError(`${path}: member '${short(name)}' declares ${originalSize} bytes from ${packed} compressed, more than zip can produce; the archive is corrupt: re-save it`);
        }
        total += originalSize;
        if (total > MIN_REFUSED && total > MAX_INFLATE_RATIO * size) {
          throw new UserError(
            `${path}: the arrays inflate to more than ${mb(total)} from a ${mb(size)} archive (over ${MAX_INFLATE_RATIO}×): ` +
              'a zip bomb, or arrays of constants; save real hidden states with numpy.save (.npy), which is read without inflating',
          );
        }
        declared.set(name, originalSize);
        return true;
      },
    });
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path}: not a readable .npz (zip) archive (${(e as Error).message}); re-save with numpy.savez`);
  }
  const members = Object.entries(files).map(([file, data]) => {
    if (!file.endsWith('.npy')) {
      throw new UserError(`${path}: member '${short(file)}' is not a .npy array; an .npz must hold only arrays saved by numpy.savez`);
    }
    const where = `${path}/${short(file)}`;
    const { end, ...array } = decodeNpyImage(data, where);
    // numpy writes a member as header + data, nothing more: any other declared size is corrupt.
    if (declared.get(file) !== end) {
      throw new UserError(`${where}: the zip declares ${declared.get(file)} bytes but the .npy header describes ${end}; the archive is corrupt: re-save it`);
    }
    return { name: file.slice(0, -'.npy'.length), ...array };
  });
  if (members.length === 0) throw new UserError(`${path}: the .npz archive holds no arrays; save at least one with numpy.savez`);
  return members;
}

/**
 * Write arrays as an .npz that numpy.load reads: members `<name>.npy`, stored (numpy.savez) or
 * deflated (`compressed: true`, numpy.savez_compressed). Written atomically.
 */
export function writeNpz(
  path: string,
  arrays: readonly { name: string; data: FloatArray; shape: readonly number[] }[],
  options: { compressed?: boolean } = {},
): void {
  const level = options.compressed ? 6 : 0;
  const zippable: Zippable = {};
  for (const { name, data, shape } of arrays) {
    const [header, body] = encodeNpy(data, shape);
    const image = new Uint8Array(header.byteLength + body.byteLength);
    image.set(header);
    image.set(body, header.byteLength);
    zippable[`${name}.npy`] = [image, { level }];
  }
  writeFileAtomic(path, [fflate().zipSync(zippable)]);
}
