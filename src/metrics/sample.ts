/**
 * Seeded row sampling over the project's generator (backend/rng.ts).
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
import { Rng } from '../backend/rng.js';

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
