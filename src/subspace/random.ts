/**
 * The random draws of the subspace projections, all from the project's seeded generator (Rng,
 * xoshiro128**), so that a (seed, tensor index) pair gives the same projection on every
 * platform and in every worker thread.
 */
import { Rng } from '../metrics/sample.js';

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

/**
 * Fill `out` with independent N(0, 1) draws by Box–Muller (two normals per pair of uniforms;
 * 1 − u keeps the logarithm's argument in (0, 1]).
 */
export function fillNormals(rng: Rng, out: Float32Array | Float64Array): void {
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.nextFloat()));
    const t = 2 * Math.PI * rng.nextFloat();
    out[i] = r * Math.cos(t);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(t);
  }
}

/** Fill `out` with independent ±1 signs, 32 per generator draw. */
export function fillSigns(rng: Rng, out: Int8Array): void {
  for (let i = 0; i < out.length; i += 32) {
    const bits = rng.nextUint32();
    const end = Math.min(32, out.length - i);
    for (let b = 0; b < end; b++) out[i + b] = (bits >>> b) & 1 ? 1 : -1;
  }
}

/**
 * A uniformly random permutation of 0..n−1 (Fisher–Yates, n ≤ 2^32). The bounded draws use
 * bitmask rejection (take the low bits of a 32-bit draw up to the next power of two, retry when
 * ≥ bound): exactly uniform, at most 2 draws expected, integer-only — several times faster than
 * Rng.nextInt's general multiply-shift, which matters at L = 2^25 per tensor.
 */
export function randomPermutation(rng: Rng, n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  let mask = 0xffffffff;
  for (let i = n - 1; i > 0; i--) {
    const bound = i + 1;
    while (mask >>> 1 >= i) mask >>>= 1; // smallest 2^k − 1 ≥ i
    let j: number;
    do j = (rng.nextUint32() & mask) >>> 0; while (j >= bound);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
