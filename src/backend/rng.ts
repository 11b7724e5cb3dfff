/**
 * The project's one seeded random generator: xoshiro128** (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", ACM TOMS 2021): 128 bits of state, period 2^128 − 1, 32-bit
 * outputs, pure 32-bit integer arithmetic, so a seed gives the same stream on every platform and
 * JS engine. The state is filled from the seed with splitmix32 so that nearby seeds (0, 1, 2...)
 * give unrelated streams. Uniform, normal and permutation draws all come from here, and the state
 * can be saved and restored (exact resume of a training run).
 *
 * Normals are Box–Muller without a cached second value: `normal()` takes two uniforms and
 * returns r·cos θ, so the generator's whole state is the four words; `fillNormal` uses both
 * r·cos θ and r·sin θ of each pair (twice as fast for bulk draws). Both forms are kept because
 * seeded results already depend on each (model initialisation on the first, subspace
 * projections on the second).
 */
import { check } from '../errors.js';

/** The saved state of an Rng: its four 32-bit words (unsigned; plain JSON numbers). */
export interface RngState {
  s0: number;
  s1: number;
  s2: number;
  s3: number;
}

/** xoshiro128** seeded through splitmix32. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    check(Number.isSafeInteger(seed), `seed must be an integer, got ${seed}`);
    // Fold the seed (any safe integer) to 32 bits keeping its high part, then expand with
    // splitmix32.
    const a = Math.abs(seed);
    let x = (a >>> 0) ^ (Math.floor(a / 4294967296) >>> 0) ^ (seed < 0 ? 0x5bd1e995 : 0);
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Uniform integer in [0, n) for 1 ≤ n ≤ 2^32, without modulo bias (Lemire's multiply-shift
   * with rejection, done in exact double arithmetic on 16-bit halves).
   */
  nextInt(n: number): number {
    if (!(n >= 1 && n <= 4294967296 && Number.isInteger(n))) throw new RangeError(`nextInt: bad bound ${n}`);
    if (n === 1) return 0;
    // r·n / 2^32 is uniform on [0, n) once the low words below 2^32 mod n are rejected.
    const threshold = 4294967296 % n;
    for (;;) {
      const r = this.nextUint32();
      if (mulLow32(r, n) >= threshold) return mulHigh32(r, n);
    }
  }

  /** A standard normal draw (Box–Muller on two uniforms, r·cos θ; 1 − u keeps log's argument in (0, 1]). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.nextFloat())) * Math.cos(2 * Math.PI * this.nextFloat());
  }

  /** Fill `out` with independent N(0, 1) draws, two per pair of uniforms (r·cos θ, r·sin θ). */
  fillNormal(out: Float32Array | Float64Array): void {
    for (let i = 0; i < out.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - this.nextFloat()));
      const t = 2 * Math.PI * this.nextFloat();
      out[i] = r * Math.cos(t);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(t);
    }
  }

  /**
   * A uniformly random permutation of 0..n−1 (Fisher–Yates, n ≤ 2^31). The bounded draws use
   * bitmask rejection (the low bits of a 32-bit draw up to the next power of two, retried when
   * ≥ bound): exactly uniform, at most 2 draws expected, integer-only — several times faster than
   * nextInt's general multiply-shift, which matters at 2^25 entries.
   */
  permutation(n: number): Int32Array {
    check(Number.isInteger(n) && n >= 0 && n <= 2147483648, `permutation: n must be an integer in [0, 2^31], got ${n}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    let mask = 0xffffffff;
    for (let i = n - 1; i > 0; i--) {
      const bound = i + 1;
      while (mask >>> 1 >= i) mask >>>= 1; // smallest 2^k − 1 ≥ i
      let j: number;
      do j = (this.nextUint32() & mask) >>> 0; while (j >= bound);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** The generator's state; `Rng.fromState(rng.state())` continues the same sequence. */
  state(): RngState {
    return { s0: this.s0 >>> 0, s1: this.s1 >>> 0, s2: this.s2 >>> 0, s3: this.s3 >>> 0 };
  }

  /** A generator that continues from a saved state. */
  static fromState(state: RngState): Rng {
    const words = [state?.s0, state?.s1, state?.s2, state?.s3];
    check(
      words.every((w) => Number.isInteger(w) && w >= -2147483648 && w <= 4294967295) && words.some((w) => w !== 0),
      'Rng state must be four 32-bit integers s0..s3, not all zero',
    );
    const rng = new Rng(0);
    rng.s0 = words[0] | 0;
    rng.s1 = words[1] | 0;
    rng.s2 = words[2] | 0;
    rng.s3 = words[3] | 0;
    return rng;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** (a·b) mod 2^32 for a < 2^32, b ≤ 2^32, exactly. */
function mulLow32(a: number, b: number): number {
  if (b === 4294967296) return 0;
  return Math.imul(a, b | 0) >>> 0;
}

/** floor(a·b / 2^32) for a < 2^32, b ≤ 2^32, exactly (16-bit limbs keep every product < 2^53). */
function mulHigh32(a: number, b: number): number {
  if (b === 4294967296) return a;
  const aHi = Math.floor(a / 65536), aLo = a % 65536;
  const bHi = Math.floor(b / 65536), bLo = b % 65536;
  const lolo = aLo * bLo;
  const mid = aHi * bLo + aLo * bHi + Math.floor(lolo / 65536); // < 2^34
  return aHi * bHi + Math.floor(mid / 65536);
}
