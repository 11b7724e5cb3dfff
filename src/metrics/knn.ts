/**
 * Exact k nearest neighbours of every point of a cloud (the point itself excluded), the common
 * input of TwoNN (k = 2) and the Levina–Bickel MLE (k = 20).
 *
 * Two paths give identical results:
 *
 * - **Brute force** (`exact: true`, and small inputs): squared distances Σ(xᵢ − yᵢ)² in float64
 *   for every pair, ordered by (squared distance, index). This is the definition and the oracle
 *   of the tests.
 *
 * - **Gram pass + exact refinement** (the default for large inputs). The data are centred (the
 *   mean is subtracted: distances do not change, the norms and hence the cancellation in the Gram
 *   formula shrink), scaled by a power of two (exact) and rounded to float32. Squared distances
 *   s̃ = ‖x‖² + ‖y‖² − 2·x·y come from float32 products (the products layer's `gemm`, the column
 *   block read transposed in place) over square tiles of the upper triangle only (the distance
 *   matrix is symmetric: each tile updates the candidate lists of its rows and of its columns).
 *   Every row keeps its k + m best candidates by s̃ (m a safety margin) and the smallest s̃ it
 *   rejected or evicted, L. The candidates' distances are then recomputed in float64 from the
 *   original data with the same routine as the brute force, and ordered by (squared distance,
 *   index).
 *
 *   Why this equals the brute force: the float32 product of vectors a, b has error at most
 *   γ_d·‖a‖‖b‖ with γ_d = d·u/(1 − d·u), u = 2⁻²⁴, in any summation order, and rounding the
 *   centred data to float32 moves a distance by at most u·(‖a‖ + ‖b‖). So a point j with
 *   approximate value s̃ has true distance ≥ √(s̃ − Eᵢ) − eᵢ, with Eᵢ, eᵢ these bounds taken
 *   against the largest norm in the cloud (plus float64 rounding terms). The candidates are
 *   recomputed in increasing s̃ until that lower bound, for the next candidate (and so for every
 *   point not recomputed, the rejected ones included), exceeds the exact k-th distance with a
 *   float64 rounding margin: then no other point can enter the top k, nor tie with it, and the
 *   top k of the recomputed points by (exact squared distance, index) is the top k of all
 *   points, bit-identical to the brute force. This usually takes about k recomputations per
 *   row. Rows for which the bound never separates (more than k + m points within the float32
 *   error of the k-th distance, e.g. many exact duplicates) are brute-forced, one search per
 *   group of identical rows; `uncertifiedRows` counts them. The result is therefore always
 *   exact, and fast whenever the data are not degenerate.
 *
 * The products layer spreads each tile's product over its threads (the system BLAS, or our wasm
 * kernel on shared memory); folding a tile into the candidate lists runs on the calling thread.
 * Worker threads of our own (each taking whole tiles, product and folding, as before the products
 * layer) would add only the folding's parallelism: measured on 10,000 × 768 (k = 2, 2 cores), the
 * pass takes 0.55 s with OpenBLAS on 2 threads (0.35 s products, 0.13 s folding) and 1.0 s with the
 * wasm kernel (0.83 s products), so halving the folding would save at most 6–12%, before the
 * workers' start-up and the merge of their candidate lists: not kept.
 */
import type { FloatArray, Matrix } from '../backend/matrix.js';
import { gemm, products } from '../backend/products/index.js';
import { check, UserError } from '../errors.js';

export interface KnnOptions {
  /**
   * true: float64 brute force for every pair (the reference path); false: the float32 pass
   * whatever the size. Default: brute force only for small inputs.
   */
  exact?: boolean;
  /** Extra candidates kept per row in the float32 pass. Default max(8, ceil(k/2)). */
  margin?: number;
  /** Tile edge of the float32 pass (rows per block). Default: about 1024. */
  blockSize?: number;
}

export interface KnnResult {
  k: number;
  rows: number;
  /** rows × k Euclidean distances, ascending in each row. */
  distances: Float64Array;
  /** rows × k row indices of the neighbours; ties in distance are ordered by index. */
  indices: Int32Array;
  method: 'brute-force' | 'gram';
  /** Rows of the float32 pass whose candidates could not be certified and were brute-forced. */
  uncertifiedRows: number;
  /** Threads of the float32 pass's products (the products layer's; 1 for brute force). */
  threads: number;
}

/**
 * What an estimator does with points whose nearest neighbour is at distance 0 (exact
 * duplicates): 'drop' removes them (Ansuini et al. 2019), 'keep' keeps every point as
 * scikit-dimension does but refuses to compute with the infinite ratios they produce.
 */
export type DuplicatePolicy = 'drop' | 'keep';

/** Inputs at or below this many N²·d multiply-adds go to the brute force. */
const BRUTE_FORCE_WORK = 1e8;
const U32 = 2 ** -24;
const U64 = 2 ** -53;

/** The k nearest neighbours of every row of `x` (rows = points), exactly (see module comment). */
export async function knn(x: Matrix, k: number, options: KnnOptions = {}): Promise<KnnResult> {
  validate(x, k);
  const n = x.rows, d = x.cols;
  if (options.exact === true || (options.exact === undefined && (n * n * d <= BRUTE_FORCE_WORK || n <= 64))) {
    return knnBruteForce(x, k);
  }
  const margin = options.margin ?? Math.max(8, Math.ceil(k / 2));
  check(Number.isInteger(margin) && margin >= 0, `knn: margin must be a non-negative integer, got ${margin}`);
  const cap = Math.min(n - 1, k + margin);
  const layout = tileLayout(n, options.blockSize);
  const xc = new Float32Array(n * d);
  const prep = prepare(x, xc);
  const heaps = new CandidateHeaps(n, cap);
  runTiles(xc, d, prep.norms, layout, heaps);
  const result = refine(x, k, heaps, prep);
  return { ...result, method: 'gram', threads: products().threads };
}

/** Float64 brute force over all pairs: the definition, O(N²·d). */
export function knnBruteForce(x: Matrix, k: number): KnnResult {
  validate(x, k);
  const n = x.rows, d = x.cols, data = x.data;
  const top = new ExactTopK(n, k);
  for (let i = 0; i < n; i++) {
    const oi = i * d;
    for (let j = i + 1; j < n; j++) {
      const s = sqdist(data, d, oi, j * d);
      top.push(i, s, j);
      top.push(j, s, i);
    }
  }
  const distances = new Float64Array(n * k);
  const indices = new Int32Array(n * k);
  for (let i = 0; i < n; i++) top.write(i, distances, indices);
  return { k, rows: n, distances, indices, method: 'brute-force', uncertifiedRows: 0, threads: 1 };
}

function validate(x: Matrix, k: number): void {
  check(Number.isInteger(k) && k >= 1, `knn: k must be a positive integer, got ${k}`);
  check(x.rows >= k + 1, `knn: ${k} neighbours need at least ${k + 1} points, got ${x.rows}`);
  check(x.cols >= 1, 'knn: the points have no coordinates');
  const data = x.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      // Hot loop: throw the UserError directly rather than through check().
      throw new UserError(`knn: non-finite value ${v} at row ${Math.floor(i / x.cols)}, column ${i % x.cols}`);
    }
  }
}

/**
 * Σ(a_t − b_t)² over the rows starting at oa and ob. Four partial sums (speed); the order of the
 * operations is fixed, and (a − b)² = (b − a)² exactly, so every caller, whichever point comes
 * first, gets the same float64 value for a pair: the Gram path's refinement and the brute force
 * agree bit for bit.
 */
function sqdist(x: FloatArray, d: number, oa: number, ob: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let t = 0;
  for (; t + 3 < d; t += 4) {
    const v0 = x[oa + t] - x[ob + t];
    const v1 = x[oa + t + 1] - x[ob + t + 1];
    const v2 = x[oa + t + 2] - x[ob + t + 2];
    const v3 = x[oa + t + 3] - x[ob + t + 3];
    s0 += v0 * v0;
    s1 += v1 * v1;
    s2 += v2 * v2;
    s3 += v3 * v3;
  }
  for (; t < d; t++) {
    const v = x[oa + t] - x[ob + t];
    s0 += v * v;
  }
  return (s0 + s1) + (s2 + s3);
}

/** Per-row bounded max-heaps ordered by (squared distance, index): the exact top k. */
class ExactTopK {
  private readonly val: Float64Array;
  private readonly idx: Int32Array;
  private readonly cnt: Int32Array;

  constructor(n: number, private readonly cap: number) {
    this.val = new Float64Array(n * cap);
    this.idx = new Int32Array(n * cap);
    this.cnt = new Int32Array(n);
  }

  push(row: number, s: number, j: number): void {
    const cap = this.cap, base = row * cap, val = this.val, idx = this.idx;
    const c = this.cnt[row];
    if (c < cap) {
      let p = c;
      while (p > 0) {
        const q = (p - 1) >> 1;
        if (val[base + q] > s || (val[base + q] === s && idx[base + q] > j)) break;
        val[base + p] = val[base + q];
        idx[base + p] = idx[base + q];
        p = q;
      }
      val[base + p] = s;
      idx[base + p] = j;
      this.cnt[row] = c + 1;
      return;
    }
    const rs = val[base];
    if (s > rs || (s === rs && j > idx[base])) return;
    siftDownLex(val, idx, base, cap, s, j);
  }

  reset(): void {
    this.cnt.fill(0);
  }

  /** The row's entries in ascending (distance, index) order, as distances (not squared). */
  write(row: number, distances: Float64Array, indices: Int32Array): void {
    const cap = this.cap, base = row * cap;
    const order = sortedOrder(this.val.subarray(base, base + cap), this.idx.subarray(base, base + cap));
    for (let q = 0; q < cap; q++) {
      distances[row * cap + q] = Math.sqrt(this.val[base + order[q]]);
      indices[row * cap + q] = this.idx[base + order[q]];
    }
  }
}

/** Put (s, j) at the root of a full lexicographic max-heap and restore the heap. */
function siftDownLex(val: Float64Array, idx: Int32Array, base: number, cap: number, s: number, j: number): void {
  let p = 0;
  for (;;) {
    let c = 2 * p + 1;
    if (c >= cap) break;
    if (c + 1 < cap) {
      const a = val[base + c], b = val[base + c + 1];
      if (b > a || (b === a && idx[base + c + 1] > idx[base + c])) c++;
    }
    const vc = val[base + c];
    if (vc < s || (vc === s && idx[base + c] < j)) break;
    val[base + p] = vc;
    idx[base + p] = idx[base + c];
    p = c;
  }
  val[base + p] = s;
  idx[base + p] = j;
}

/** Indices 0..len−1 sorted by (val, idx). */
function sortedOrder(val: ArrayLike<number>, idx: ArrayLike<number>, len = val.length): number[] {
  const order = Array.from({ length: len }, (_, q) => q);
  order.sort((a, b) => val[a] - val[b] || idx[a] - idx[b]);
  return order;
}

/**
 * Candidate lists of the float32 pass: per row a max-heap of the `cap` smallest approximate
 * squared distances, the current admission threshold (the heap's maximum once full) and the
 * smallest approximate value that was rejected or evicted (the certification bound L).
 */
class CandidateHeaps {
  constructor(
    readonly n: number,
    readonly cap: number,
    readonly val = new Float64Array(n * cap),
    readonly idx = new Int32Array(n * cap),
    readonly cnt = new Int32Array(n),
    readonly thr = new Float64Array(n).fill(Infinity),
    readonly rej = new Float64Array(n).fill(Infinity),
  ) {}

  /** Caller has checked s < thr[row]. */
  push(row: number, s: number, j: number): void {
    const cap = this.cap, base = row * cap, val = this.val, idx = this.idx;
    const c = this.cnt[row];
    if (c < cap) {
      let p = c;
      while (p > 0) {
        const q = (p - 1) >> 1;
        if (val[base + q] >= s) break;
        val[base + p] = val[base + q];
        idx[base + p] = idx[base + q];
        p = q;
      }
      val[base + p] = s;
      idx[base + p] = j;
      this.cnt[row] = c + 1;
      if (c + 1 === cap) this.thr[row] = val[base];
      return;
    }
    const evicted = val[base];
    if (evicted < this.rej[row]) this.rej[row] = evicted;
    let p = 0;
    for (;;) {
      let ch = 2 * p + 1;
      if (ch >= cap) break;
      if (ch + 1 < cap && val[base + ch + 1] > val[base + ch]) ch++;
      if (val[base + ch] <= s) break;
      val[base + p] = val[base + ch];
      idx[base + p] = idx[base + ch];
      p = ch;
    }
    val[base + p] = s;
    idx[base + p] = j;
    this.thr[row] = val[base];
  }
}

interface Prepared {
  /** ‖x̃ᵢ‖² in float64 of the float32 rows (scaled units). */
  norms: Float64Array;
  /** ‖xᵢ − mean‖·scale in float64 (before rounding to float32). */
  rho: Float64Array;
  scale: number;
}

/** Blocks of about `blockSize` rows and the tiles (I ≤ J) of the upper triangle. */
interface TileLayout { blockStart: Int32Array; tileI: Int32Array; tileJ: Int32Array }

function tileLayout(n: number, blockSize: number | undefined): TileLayout {
  const target = Math.max(16, Math.floor(blockSize ?? 1024));
  const nb = Math.ceil(n / target);
  const b = Math.ceil(n / nb);
  const blockStart = new Int32Array(nb + 1);
  for (let J = 0; J <= nb; J++) blockStart[J] = Math.min(n, J * b);
  const count = (nb * (nb + 1)) / 2;
  const tileI = new Int32Array(count), tileJ = new Int32Array(count);
  let q = 0;
  // Column block outermost: consecutive tiles share their (transposed, packed) column operand.
  for (let J = 0; J < nb; J++) for (let I = 0; I <= J; I++) { tileI[q] = I; tileJ[q] = J; q++; }
  return { blockStart, tileI, tileJ };
}

/**
 * Fill the shared float32 data: centred, scaled by a power of two (exact: it keeps float32 away
 * from overflow and underflow without changing relative errors) and rounded; and the float64
 * squared norms of the rounded rows.
 */
function prepare(x: Matrix, xc: Float32Array): Prepared {
  const n = x.rows, d = x.cols, data = x.data;
  const mean = new Float64Array(d), lo = new Float64Array(d).fill(Infinity), hi = new Float64Array(d).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let t = 0; t < d; t++) {
      const v = data[o + t];
      mean[t] += v;
      if (v < lo[t]) lo[t] = v;
      if (v > hi[t]) hi[t] = v;
    }
  }
  let maxAbs = 0;
  for (let t = 0; t < d; t++) {
    mean[t] /= n;
    maxAbs = Math.max(maxAbs, Math.abs(hi[t] - mean[t]), Math.abs(lo[t] - mean[t]));
  }
  const scale = maxAbs > 0 ? 2 ** -Math.round(Math.log2(maxAbs)) : 1;
  const norms = new Float64Array(n);
  const rho = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let s = 0, r = 0;
    for (let t = 0; t < d; t++) {
      const v = (data[o + t] - mean[t]) * scale;
      const f = Math.fround(v);
      xc[o + t] = f;
      s += f * f;
      r += v * v;
    }
    norms[i] = s;
    rho[i] = Math.sqrt(r);
  }
  return { norms, rho, scale };
}

/**
 * Compute every tile's Gram values x̃ᵢ·x̃ⱼ (one `gemm` each, the column block read transposed)
 * and fold them into `heaps`. Tiles go column block by column block, so consecutive products
 * share their column operand.
 */
function runTiles(xc: Float32Array, d: number, norms: Float64Array, layout: TileLayout, heaps: CandidateHeaps): void {
  const { blockStart, tileI, tileJ } = layout;
  let widest = 0;
  for (let J = 0; J + 1 < blockStart.length; J++) widest = Math.max(widest, blockStart[J + 1] - blockStart[J]);
  const g = new Float32Array(widest * widest);
  for (let t = 0; t < tileI.length; t++) {
    const I = tileI[t], J = tileJ[t];
    const i0 = blockStart[I], bi = blockStart[I + 1] - i0;
    const j0 = blockStart[J], bj = blockStart[J + 1] - j0;
    gemm(false, true, bi, bj, d, 1, xc.subarray(i0 * d, (i0 + bi) * d), xc.subarray(j0 * d, (j0 + bj) * d), 0, g);
    foldTile(g, i0, bi, j0, bj, I === J, norms, heaps, heaps.thr, heaps.rej);
  }
}

/**
 * Fold one tile of Gram values into the candidate lists of its rows and of its columns (the
 * strict upper triangle only on the diagonal tile). rej ≥ thr always holds (a value is rejected
 * only when ≥ thr, evicted only for a smaller one, and thr only decreases), so the common case
 * costs one comparison per side.
 */
function foldTile(
  g: Float32Array, i0: number, bi: number, j0: number, bj: number, diagonal: boolean,
  norms: Float64Array, heaps: CandidateHeaps, thr: Float64Array, rej: Float64Array,
): void {
  for (let a = 0; a < bi; a++) {
    const i = i0 + a, ni = norms[i], base = a * bj;
    for (let b = diagonal ? a + 1 : 0; b < bj; b++) {
      const j = j0 + b;
      const s = ni + norms[j] - 2 * g[base + b];
      if (s < rej[i]) {
        if (s < thr[i]) heaps.push(i, s, j);
        else rej[i] = s;
      }
      if (s < rej[j]) {
        if (s < thr[j]) heaps.push(j, s, i);
        else rej[j] = s;
      }
    }
  }
}

/**
 * Recompute the candidates exactly, in increasing order of their
 * approximate distance, until the lower bound of the next one (valid for every point not yet
 * recomputed, see the module comment) exceeds the exact k-th distance: usually after about k of
 * them. Rows where the bound never separates are recomputed by brute force.
 */
function refine(x: Matrix, k: number, heaps: CandidateHeaps, prep: Prepared): Pick<KnnResult, 'k' | 'rows' | 'distances' | 'indices' | 'uncertifiedRows'> {
  const n = x.rows, d = x.cols, data = x.data, cap = heaps.cap;
  const distances = new Float64Array(n * k);
  const indices = new Int32Array(n * k);
  let maxNorm = 0, maxRho = 0;
  for (let i = 0; i < n; i++) {
    maxNorm = Math.max(maxNorm, Math.sqrt(prep.norms[i]));
    maxRho = Math.max(maxRho, prep.rho[i]);
  }
  // Error bounds in the scaled units of the float32 pass (see the module comment); the factors
  // (1 + 1e-6) absorb the rounding of the bounds themselves, `delta` the float64 rounding of
  // the exact squared distances.
  const gamma = (d * U32) / (1 - d * U32);
  const scale2 = prep.scale * prep.scale;
  const delta = (2 * d + 16) * U64;
  const tiny = d * 2 ** -140; // underflow of float32 products of subnormal values
  const vals = new Float64Array(cap);
  const ids = new Int32Array(cap);
  const bestS = new Float64Array(k), bestJ = new Int32Array(k);
  const uncertified: number[] = [];
  for (let i = 0; i < n; i++) {
    // The row's candidates sorted by s̃.
    let m = 0;
    const c = heaps.cnt[i], base = i * cap, rej = heaps.rej[i];
    for (let q = 0; q < c; q++) {
      const v = heaps.val[base + q], id = heaps.idx[base + q];
      let p = m++;
      while (p > 0 && vals[p - 1] > v) { vals[p] = vals[p - 1]; ids[p] = ids[p - 1]; p--; }
      vals[p] = v;
      ids[p] = id;
    }
    const ri = Math.sqrt(prep.norms[i]);
    const bigE = (2 * gamma * ri * maxNorm + (d + 8) * U64 * (ri + maxNorm) ** 2 + tiny) * (1 + 1e-6);
    const smallE = ((U32 + 2 * U64) * (prep.rho[i] + maxRho) + Math.sqrt(d) * 2 ** -149) * (1 + 1e-6);
    /** Whether every point with approximate value ≥ sApprox is provably farther than the k-th. */
    const beyond = (sApprox: number): boolean => {
      const lbSq = sApprox - bigE;
      if (!(lbSq > 0)) return false;
      const lb = Math.sqrt(lbSq) - smallE;
      return lb > 0 && lb * lb * (1 - delta) > bestS[k - 1] * scale2;
    };
    const oi = i * d;
    let filled = 0, certified = false;
    for (let q = 0; q < m; q++) {
      if (filled === k && beyond(vals[q])) { certified = true; break; }
      const j = ids[q], sj = sqdist(data, d, oi, j * d);
      let p: number;
      if (filled < k) p = filled++;
      else if (sj < bestS[k - 1] || (sj === bestS[k - 1] && j < bestJ[k - 1])) p = k - 1;
      else continue;
      while (p > 0 && (bestS[p - 1] > sj || (bestS[p - 1] === sj && bestJ[p - 1] > j))) {
        bestS[p] = bestS[p - 1];
        bestJ[p] = bestJ[p - 1];
        p--;
      }
      bestS[p] = sj;
      bestJ[p] = j;
    }
    // All candidates recomputed: the rejected points remain (none if rej is infinite).
    if (!certified) certified = filled === k && (rej === Infinity || beyond(rej));
    if (certified) {
      for (let q = 0; q < k; q++) {
        distances[i * k + q] = Math.sqrt(bestS[q]);
        indices[i * k + q] = bestJ[q];
      }
    } else {
      uncertified.push(i);
    }
  }
  bruteForceRows(x, k, uncertified, distances, indices);
  return { k, rows: n, distances, indices, uncertifiedRows: uncertified.length };
}

/**
 * Exact neighbours of the given rows against all points. Identical rows (typically many copies
 * of one vector, the usual reason a row cannot be certified) share one search: their distances
 * to every point are bitwise equal, so the top k + 1 of the first copy over all points, itself
 * included, gives each copy's top k once the copy itself is removed.
 */
function bruteForceRows(x: Matrix, k: number, rows: number[], distances: Float64Array, indices: Int32Array): void {
  const n = x.rows, d = x.cols, data = x.data;
  const groups = new Map<number, number[][]>();
  for (const i of rows) {
    const h = rowHash(data, i * d, d);
    const bucket = groups.get(h) ?? [];
    const same = bucket.find((g) => sameRow(data, d, g[0], i));
    if (same) same.push(i);
    else bucket.push([i]);
    groups.set(h, bucket);
  }
  const top = new ExactTopK(1, Math.min(k + 1, n));
  const listD = new Float64Array(k + 1), listI = new Int32Array(k + 1);
  for (const bucket of groups.values()) {
    for (const group of bucket) {
      const r = group[0], or = r * d;
      top.reset();
      for (let j = 0; j < n; j++) top.push(0, sqdist(data, d, or, j * d), j);
      top.write(0, listD, listI);
      for (const i of group) {
        let q = 0;
        for (let p = 0; p < listI.length && q < k; p++) {
          if (listI[p] === i) continue;
          distances[i * k + q] = listD[p];
          indices[i * k + q] = listI[p];
          q++;
        }
      }
    }
  }
}

function sameRow(data: FloatArray, d: number, a: number, b: number): boolean {
  for (let t = 0; t < d; t++) if (data[a * d + t] !== data[b * d + t]) return false;
  return true;
}

/** A 32-bit hash of a row's values (equal values, ±0 aside, hash equally). */
function rowHash(data: FloatArray, o: number, d: number): number {
  let h = 0x811c9dc5;
  for (let t = 0; t < d; t++) {
    const v = data[o + t];
    // Mix the value's integer and fractional parts (no typed-array views of the caller's buffer).
    h = Math.imul(h ^ (v | 0), 0x01000193);
    h = Math.imul(h ^ ((v - Math.trunc(v)) * 4294967296 | 0), 0x01000193);
    h = Math.imul(h ^ Math.floor(Math.log2(Math.abs(v) + 1e-300) * 1048576), 0x01000193);
  }
  return h >>> 0;
}

/**
 * Exact k nearest neighbours of row i among the rows listed in `among` (i itself skipped), by
 * (float64 squared distance, index) like `knnBruteForce`: O(|among|·d).
 */
export function neighboursAmong(x: Matrix, i: number, k: number, among: ArrayLike<number>): { distances: Float64Array; indices: Int32Array } {
  const d = x.cols, oi = i * d;
  const top = new ExactTopK(1, k);
  let seen = 0;
  for (let q = 0; q < among.length; q++) {
    const j = among[q];
    if (j === i) continue;
    top.push(0, sqdist(x.data, d, oi, j * d), j);
    seen++;
  }
  check(seen >= k, `knn: ${k} neighbours need at least ${k + 1} points, got ${seen + 1}`);
  const distances = new Float64Array(k), indices = new Int32Array(k);
  top.write(0, distances, indices);
  return { distances, indices };
}

