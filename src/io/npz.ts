/**
 * NumPy `.npz` archives (numpy.savez / numpy.savez_compressed): a zip of `.npy` members. The
 * archive is read whole into memory (zip members may be deflated, so ranges cannot be served
 * from disk); use .npy, .safetensors or .arrow for inputs larger than memory.
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { UserError } from '../errors.js';
import type { FloatArray } from '../backend/matrix.js';
import { openForReading, readExactly, writeFileAtomic } from './file-io.js';
import { decodeNpy, encodeNpy, type NpyArray } from './npy.js';

export interface NpzMember extends NpyArray {
  /** Member name without the `.npy` suffix, as numpy.load shows it (`arr_0`, or the keyword). */
  name: string;
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
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new UserError(`${path}: not a readable .npz (zip) archive (${(e as Error).message}); re-save with numpy.savez`);
  }
  const members = Object.entries(files).map(([file, data]) => {
    if (!file.endsWith('.npy')) {
      throw new UserError(`${path}: member '${file}' is not a .npy array; an .npz must hold only arrays saved by numpy.savez`);
    }
    return { name: file.slice(0, -'.npy'.length), ...decodeNpy(data, `${path}/${file}`) };
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
  writeFileAtomic(path, [zipSync(zippable)]);
}
