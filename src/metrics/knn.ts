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
 *   s̃ = ‖x‖² + ‖y‖² − 2·x·y come from float32 matrix products (tfjs) over square tiles of the
 *   upper triangle only (the distance matrix is symmetric: each tile updates the candidate lists
 *   of its rows and of its columns). Every row keeps its k + m best candidates by s̃ (m a safety
 *   margin) and the smallest s̃ it rejected or evicted, L. The candidates' distances are then
 *   recomputed in float64 from the original data with the same routine as the brute force, and
 *   ordered by (squared distance, index).
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
 * On the wasm and cpu backends, which use one core, the tiles are shared with worker threads
 * (each with its own tfjs instance) through an atomic tile counter; tfjs-node is multithreaded
 * itself and is used from the calling thread only. A worker runs this module's own file (it
 * starts only from a file named knn.js/knn.ts, so that a bundle never re-runs its entry point
 * in a worker); one that fails to start costs nothing but its tiles, which the calling thread
 * computes.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../backend/worker.js';
import type { FloatArray, Matrix } from '../backend/matrix.js';
import { getTf, requestBackend, type Tf } from '../backend/tf.js';
import { check, UserError } from '../errors.js';

export interface KnnOptions {
  /**
   * true: float64 brute force for every pair (the reference path); false: the float32 pass
   * whatever the size. Default: brute force only for small inputs.
   */
  exact?: boolean;
  /** Extra candidates kept per row in the float32 pass. Default max(8, ceil(k/2)). */
  margin?: number;
  /** Threads for the float32 pass (wasm and cpu backends). Default: available cores, at most 8. */
  threads?: number;
  /** Tile edge of the float32 pass (rows per block). Default: about 1024. */
  blockSize?: number;
  /** Start computing only once every worker thread is ready (tests; costs the start-up time). */
  waitForThreads?: boolean;
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
  /** Threads that computed tiles of the float32 pass (1 for brute force). */
  threads: number;
}

/**
 * What an estimator does with points whose nearest neighbour is at distance 0 (exact
 * duplicates): 'drop' removes them (Ansuini et al. 2019), 'keep' keeps every point as
 * scikit-dimension does but refuses to compute with the infinite ratios they produce.
 */
export type DuplicatePolicy = 'drop' | 'keep';

/** Inputs at or below this many N²·d multiply-adds go to the brute force (no tfjs start-up). */
const BRUTE_FORCE_WORK = 1e8;
/** Below this many N²·d multiply-adds (≈ 0.5 s on one core) no worker thread is started (start-up ≈ 0.3 s). */
const THREAD_WORK = 1e10;
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
  const { tf, name } = await getTf();

  const layout = tileLayout(n, options.blockSize);
  const tiles = layout.tileI.length;
  let threads = 1;
  if (name === 'wasm' || name === 'cpu') {
    const wanted = options.threads ?? (n * n * d >= THREAD_WORK ? Math.min(8, availableParallelism()) : 1);
    check(Number.isInteger(wanted) && wanted >= 1, `knn: threads must be a positive integer, got ${wanted}`);
    threads = Math.max(1, Math.min(wanted, tiles));
  }
  const shared: SharedState = {
    n, d, cap, ...layout,
    xc: new Float32Array(new SharedArrayBuffer(4 * n * d)),
    norms: new Float64Array(new SharedArrayBuffer(8 * n)),
    ready: new Int32Array(new SharedArrayBuffer(4)),
    counter: new Int32Array(new SharedArrayBuffer(4)),
    owner: new Int32Array(new SharedArrayBuffer(4 * tiles)).fill(-1),
    status: new Int32Array(new SharedArrayBuffer(4 * threads)),
  };
  // Workers boot (module load, tfjs start-up) while this thread prepares the data.
  const workers = startWorkers(shared, threads, name);
  const parts: CandidateHeaps[] = [];
  let prep: Prepared;
  try {
    prep = prepare(x, shared);
    Atomics.store(shared.ready, 0, 1);
    Atomics.notify(shared.ready, 0);
    if (options.waitForThreads) {
      for (const w of workers) {
        while (Atomics.load(shared.status, w.id) === 0 && !w.settled()) await new Promise((r) => setTimeout(r, 2));
      }
    }
    const heaps = new CandidateHeaps(n, cap);
    parts.push(heaps);
    Atomics.store(shared.status, 0, 1);
    runTiles(tf, shared, heaps, 0);

    // Collect the workers' candidate lists. A worker that has not started yet is cancelled (the
    // others took all the tiles); one that failed leaves its tiles to be redone here.
    const failed: number[] = [];
    for (const w of workers) {
      if (Atomics.compareExchange(shared.status, w.id, 0, 3) === 0) continue;
      const reply = await w.reply;
      if (reply && 'val' in reply) parts.push(CandidateHeaps.from(n, cap, reply));
      else failed.push(w.id);
    }
    const redo: number[] = [];
    for (let t = 0; t < tiles; t++) {
      const o = shared.owner[t];
      if (o === -1 || failed.includes(o)) redo.push(t);
    }
    if (redo.length > 0) runTiles(tf, shared, heaps, 0, redo);
  } finally {
    // Stop any worker still running (on an error here, they would otherwise go on computing).
    Atomics.store(shared.counter, 0, tiles);
    for (const w of workers) void w.worker.terminate();
  }
  const contributors = new Set(shared.owner).size;

  const result = refine(x, k, parts, prep);
  return { ...result, method: 'gram', threads: contributors };
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

  static from(n: number, cap: number, r: HeapBuffers): CandidateHeaps {
    // The admission thresholds are not needed after the pass.
    return new CandidateHeaps(n, cap, new Float64Array(r.val), new Int32Array(r.idx), new Int32Array(r.cnt),
      new Float64Array(0), new Float64Array(r.rej));
  }

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

interface HeapBuffers {
  val: ArrayBuffer;
  idx: ArrayBuffer;
  cnt: ArrayBuffer;
  rej: ArrayBuffer;
}

interface Prepared {
  /** ‖x̃ᵢ‖² in float64 of the float32 rows (scaled units). */
  norms: Float64Array;
  /** ‖xᵢ − mean‖·scale in float64 (before rounding to float32). */
  rho: Float64Array;
  scale: number;
}

/** Blocks of about `blockSize` rows and the tiles (I ≤ J) of the upper triangle. */
function tileLayout(n: number, blockSize: number | undefined): { blockStart: Int32Array; tileI: Int32Array; tileJ: Int32Array } {
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
function prepare(x: Matrix, st: SharedState): Prepared {
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
  const xc = st.xc;
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
  st.norms.set(norms);
  return { norms, rho, scale };
}

interface SharedState {
  n: number;
  d: number;
  cap: number;
  xc: Float32Array;
  norms: Float64Array;
  blockStart: Int32Array;
  tileI: Int32Array;
  tileJ: Int32Array;
  /** Set to 1 once xc and norms are filled. */
  ready: Int32Array;
  /** Next tile to take. */
  counter: Int32Array;
  /** Thread that took each tile (−1: none). */
  owner: Int32Array;
  /** Per thread: 0 starting, 1 working, 3 cancelled before it started. */
  status: Int32Array;
}

/**
 * Take tiles from the shared counter until none is left (or compute the given ones) and fold
 * their approximate squared distances into `heaps`.
 */
function runTiles(tf: Tf, st: SharedState, heaps: CandidateHeaps, tid: number, only?: number[]): void {
  const { d, xc, blockStart } = st;
  // A private copy: element reads from SharedArrayBuffer-backed arrays are markedly slower in V8.
  const norms = new Float64Array(st.norms);
  const thr = heaps.thr, rej = heaps.rej;
  // The column operand (d × b, transposed in tfjs) is kept while consecutive tiles share it: the
  // wasm backend caches its packed form per tensor.
  let colBlock = -1;
  let colTensor: ReturnType<Tf['tensor2d']> | undefined;
  try {
    for (let q = 0; ; q++) {
      let t: number;
      if (only) {
        if (q >= only.length) break;
        t = only[q];
      } else {
        t = Atomics.add(st.counter, 0, 1);
        if (t >= st.tileI.length) break;
      }
      Atomics.store(st.owner, t, tid);
      const I = st.tileI[t], J = st.tileJ[t];
      const i0 = blockStart[I], bi = blockStart[I + 1] - i0;
      const j0 = blockStart[J], bj = blockStart[J + 1] - j0;
      if (J !== colBlock) {
        colTensor?.dispose();
        colTensor = tf.tidy(() => tf.transpose(tf.tensor2d(xc.subarray(j0 * d, (j0 + bj) * d), [bj, d])));
        colBlock = J;
      }
      const rowTensor = tf.tensor2d(xc.subarray(i0 * d, (i0 + bi) * d), [bi, d]);
      const product = tf.matMul(rowTensor, colTensor!);
      const g = product.dataSync() as Float32Array;
      rowTensor.dispose();
      product.dispose();
      foldTile(g, i0, bi, j0, bj, I === J, norms, heaps, thr, rej);
    }
  } finally {
    colTensor?.dispose();
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

interface WorkerInput {
  repgeomKnnWorker: true;
  id: number;
  backend: string;
  state: SharedState;
}

type WorkerReply = HeapBuffers | { error: string } | { cancelled: true };

interface WorkerHandle {
  id: number;
  worker: Worker;
  reply: Promise<WorkerReply | null>;
  settled: () => boolean;
}

function startWorkers(st: SharedState, threads: number, backend: string): WorkerHandle[] {
  const out: WorkerHandle[] = [];
  for (let id = 1; id < threads; id++) {
    let worker: Worker;
    try {
      const input: WorkerInput = { repgeomKnnWorker: true, id, backend, state: st };
      worker = spawnSelf(input);
    } catch {
      Atomics.store(st.status, id, 3);
      continue;
    }
    worker.unref();
    let settled = false;
    const reply = new Promise<WorkerReply | null>((resolve) => {
      const done = (m: WorkerReply | null) => { settled = true; resolve(m); };
      worker.once('message', (m: WorkerReply) => done(m));
      worker.once('error', () => done(null));
      worker.once('exit', () => done(null));
    });
    out.push({ id, worker, reply, settled: () => settled });
  }
  return out;
}

/**
 * A worker running this very module (its top level starts `workerMain` when it sees the
 * workerData marker). From TypeScript sources (tests under tsx) the loader hooks of the parent
 * are not inherited by workers, so the worker registers tsx itself before importing this file.
 */
function spawnSelf(input: WorkerInput): Worker {
  const self = new URL(import.meta.url);
  if (!/\/knn\.(js|ts|mjs)$/.test(self.pathname)) throw new Error('knn: not running from its own module file');
  return spawnModuleWorker(self, { workerData: input });
}

async function workerMain(input: WorkerInput): Promise<void> {
  const port = parentPort!;
  try {
    requestBackend(input.backend);
    const { tf } = await getTf();
    const st = input.state;
    while (Atomics.load(st.ready, 0) === 0) Atomics.wait(st.ready, 0, 0, 100);
    if (Atomics.compareExchange(st.status, input.id, 0, 1) !== 0) {
      port.postMessage({ cancelled: true });
      return;
    }
    const heaps = new CandidateHeaps(st.n, st.cap);
    runTiles(tf, st, heaps, input.id);
    const reply: HeapBuffers = {
      val: heaps.val.buffer as ArrayBuffer, idx: heaps.idx.buffer as ArrayBuffer,
      cnt: heaps.cnt.buffer as ArrayBuffer, rej: heaps.rej.buffer as ArrayBuffer,
    };
    port.postMessage(reply, [reply.val, reply.idx, reply.cnt, reply.rej]);
  } catch (e) {
    port.postMessage({ error: String(e) });
  }
}

if (!isMainThread && (workerData as Partial<WorkerInput> | null)?.repgeomKnnWorker === true) {
  void workerMain(workerData as WorkerInput);
}

/**
 * Merge the threads' candidate lists and recompute them exactly, in increasing order of their
 * approximate distance, until the lower bound of the next one (valid for every point not yet
 * recomputed, see the module comment) exceeds the exact k-th distance: usually after about k of
 * them. Rows where the bound never separates are recomputed by brute force.
 */
function refine(x: Matrix, k: number, parts: CandidateHeaps[], prep: Prepared): Pick<KnnResult, 'k' | 'rows' | 'distances' | 'indices' | 'uncertifiedRows'> {
  const n = x.rows, d = x.cols, data = x.data, cap = parts[0].cap;
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
  const vals = new Float64Array(parts.length * cap);
  const ids = new Int32Array(parts.length * cap);
  const bestS = new Float64Array(k), bestJ = new Int32Array(k);
  const uncertified: number[] = [];
  for (let i = 0; i < n; i++) {
    // Union of the threads' candidates (disjoint: each pair is in one tile), sorted by s̃.
    let m = 0, rej = Infinity;
    for (const h of parts) {
      const c = h.cnt[i], base = i * cap;
      for (let q = 0; q < c; q++) {
        const v = h.val[base + q], id = h.idx[base + q];
        let p = m++;
        while (p > 0 && vals[p - 1] > v) { vals[p] = vals[p - 1]; ids[p] = ids[p - 1]; p--; }
        vals[p] = v;
        ids[p] = id;
      }
      if (h.rej[i] < rej) rej = h.rej[i];
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

