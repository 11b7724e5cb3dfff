/**
 * The random draws of the subspace projections, all from the project's seeded generator (Rng,
 * xoshiro128**), so that a (seed, tensor index) pair gives the same projection on every
 * platform and in every worker thread. (Normals and permutations: Rng.fillNormal, Rng.permutation.)
 */
import { Rng } from '../backend/rng.js';

/** A 32-bit stream seed for (seed, stream index): unrelated streams for nearby pairs. */
export function streamSeed(seed: number, index: number): number {
  const lo = seed >>> 0, hi = Math.floor(seed / 4294967296) >>> 0;
  let h = lo ^ Math.imul(hi, 0x85ebca6b) ^ Math.imul(index + 1, 0x9e3779b1);
  // murmur3's finaliser: every input bit reaches every output bit.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The generator of stream `index` under `seed`. */
export function streamRng(seed: number, index: number): Rng {
  return new Rng(streamSeed(seed, index));
}

/** Fill `out` with independent ±1 signs, 32 per generator draw. */
export function fillSigns(rng: Rng, out: Int8Array): void {
  for (let i = 0; i < out.length; i += 32) {
    const bits = rng.nextUint32();
    const end = Math.min(32, out.length - i);
    for (let b = 0; b < end; b++) out[i + b] = (bits >>> b) & 1 ? 1 : -1;
  }
}
