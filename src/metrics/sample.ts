/**
 * Seeded randomness and row sampling.
 *
 * The generator is xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number
 * generators", ACM TOMS 2021): 128 bits of state, period 2^128 − 1, 32-bit outputs, pure 32-bit
 * integer arithmetic, so a seed gives the same stream on every platform and JS engine. The state
 * is filled from the seed with splitmix32 so that nearby seeds (0, 1, 2...) give unrelated
 * streams.
 *
 * Row selection uses reservoir sampling (Algorithm R, Vitter 1985: row t ≥ n replaces slot
 * j = uniform{0..t} when j < n). Its random draws depend only on the position of a row in the
 * stream, never on how the stream is cut into blocks or on its total length, which is what makes
 * `sampleRows` (whole matrix in memory) and `RowReservoir` (rows arriving block by block) pick
 * exactly the same rows for the same seed. Every n-subset is equally likely. It costs one draw
 * per row seen (a few ms per million rows).
 */
import { check } from '../errors.js';
import type { FloatArray, Matrix } from '../backend/matrix.js';
import { takeRows } from '../backend/matrix.js';

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

/**
 * One step of reservoir selection (Algorithm R) for the row at stream `position`, with a
 * reservoir of `slots.length` places: the slot it takes, or −1 when it is not kept. The one
 * routine behind `sampleIndices`, `sampleRows` and `RowReservoir`, so that all three agree.
 */
function reservoirStep(rng: Rng, slots: Float64Array, position: number): number {
  const n = slots.length;
  if (position < n) return position;
  const j = rng.nextInt(position + 1);
  return j < n ? j : -1;
}

/**
 * `count` distinct indices of [0, total), uniformly at random, in increasing order; all of them
 * (0..total−1) when count ≥ total. Same selection as `sampleRows`/`RowReservoir` for the same
 * seed (pass a number) or continues the stream of a given generator (pass an Rng).
 */
export function sampleIndices(total: number, count: number, seed: number | Rng): Int32Array {
  check(Number.isInteger(total) && total >= 0, `sample: total must be a non-negative integer, got ${total}`);
  check(Number.isInteger(count) && count >= 0, `sample: count must be a non-negative integer, got ${count}`);
  if (count >= total) return Int32Array.from({ length: total }, (_, i) => i);
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  const slots = new Float64Array(count).fill(-1);
  for (let t = 0; t < total; t++) {
    const s = reservoirStep(rng, slots, t);
    if (s >= 0) slots[s] = t;
  }
  return Int32Array.from(slots).sort();
}

/**
 * `n` rows of `x` chosen uniformly without replacement, in increasing row order, deterministic
 * for the seed; `x` itself (no copy) when n ≥ rows.
 */
export function sampleRows<T extends FloatArray>(x: Matrix<T>, n: number, seed: number): Matrix<T> {
  check(Number.isInteger(n) && n >= 0, `sampleRows: n must be a non-negative integer, got ${n}`);
  if (n >= x.rows) return x;
  return takeRows(x, sampleIndices(x.rows, n, seed));
}

/**
 * Streaming form of `sampleRows`: feed the rows block by block with `add`; `result()` returns
 * the same rows `sampleRows(allRows, capacity, seed)` would (Algorithm R draws depend only on the
 * row's position in the stream). Memory: capacity × cols values of the first block's type (or
 * `dtype` when given; later blocks are converted to it).
 */
export class RowReservoir {
  private readonly rng: Rng;
  private readonly positions: Float64Array;
  private store: FloatArray | undefined;
  private count = 0;

  constructor(
    readonly capacity: number,
    readonly cols: number,
    seed: number,
    private readonly dtype?: 'float32' | 'float64',
  ) {
    check(Number.isInteger(capacity) && capacity >= 0, `RowReservoir: capacity must be a non-negative integer, got ${capacity}`);
    check(Number.isInteger(cols) && cols >= 0, `RowReservoir: cols must be a non-negative integer, got ${cols}`);
    this.rng = new Rng(seed);
    this.positions = new Float64Array(capacity).fill(-1);
  }

  /** Rows seen so far. */
  get seen(): number {
    return this.count;
  }

  add(block: Matrix): void {
    check(block.cols === this.cols, `RowReservoir: block has ${block.cols} columns, expected ${this.cols}`);
    if (this.store === undefined) {
      const f64 = this.dtype === 'float64' || (this.dtype === undefined && block.data instanceof Float64Array);
      this.store = f64 ? new Float64Array(this.capacity * this.cols) : new Float32Array(this.capacity * this.cols);
    }
    const d = this.cols;
    for (let r = 0; r < block.rows; r++) {
      const slot = reservoirStep(this.rng, this.positions, this.count);
      if (slot >= 0) {
        this.positions[slot] = this.count;
        this.store.set(block.data.subarray(r * d, (r + 1) * d), slot * d);
      }
      this.count++;
    }
  }

  /** The selected rows in stream order, how many rows were seen, and their stream positions. */
  result(): { matrix: Matrix; seen: number; indices: Int32Array } {
    const filled = Math.min(this.count, this.capacity);
    const order = Array.from({ length: filled }, (_, s) => s).sort((a, b) => this.positions[a] - this.positions[b]);
    const d = this.cols;
    const src = this.store ?? (this.dtype === 'float32' ? new Float32Array(0) : new Float64Array(0));
    const out = src instanceof Float32Array ? new Float32Array(filled * d) : new Float64Array(filled * d);
    const indices = new Int32Array(filled);
    order.forEach((slot, r) => {
      out.set(src.subarray(slot * d, (slot + 1) * d), r * d);
      indices[r] = this.positions[slot];
    });
    return { matrix: { data: out, rows: filled, cols: d }, seen: this.count, indices };
  }
}
