/**
 * Random subspaces over a model's parameter tensors: θ = θ0 + P θ_d (DID, Li et al. 2018;
 * Aghajanyan et al. 2021). P maps R^d to the concatenation of the tensors; `project` gives the
 * per-tensor offsets P θ_d (the caller adds θ0), `adjoint` pulls per-tensor gradients back to the
 * gradient of θ_d (Pᵀ g, summed over tensors, float64).
 *
 * Modes (RESEARCH.md §5):
 *   - 'fastfood' (default): each tensor its own Fastfood, stream = the tensor's index, all
 *     sharing one θ_d (the author-attributed code); every tensor's columns have norm ≈ 1;
 *   - 'global-fastfood': one Fastfood over the concatenation of all tensors, sliced (Li et al.);
 *   - 'dense': an explicit Gaussian matrix, N(0, 1/D) over all D parameters (columns of norm ≈ 1
 *     overall, Li et al.) or N(0, 1/Dᵢ) per tensor (columns of norm ≈ 1 per tensor, as the
 *     per-tensor Fastfood); d × D floats, refused when they would not fit in memory.
 */
import os from 'node:os';
import { check } from '../errors.js';
import { Fastfood, type FastfoodOptions, type FloatArray } from './fastfood.js';
import { streamRng } from './random.js';

export interface TensorSpec {
  name: string;
  size: number;
}

export type ProjectionMode = 'fastfood' | 'global-fastfood' | 'dense';

export interface ProjectionOptions extends FastfoodOptions {
  mode?: ProjectionMode;
  seed?: number;
  /** Dense only: 'global' = N(0, 1/D) (default), 'per-tensor' = N(0, 1/Dᵢ). */
  denseColumnNorm?: 'global' | 'per-tensor';
  /** Dense only: bytes the matrix may take (default: the memory free now). */
  memoryLimitBytes?: number;
}

/** The common interface of the three modes (and, with its own layout of θ, of SAID). */
export interface SubspaceProjection {
  /** Trainable dimensions. */
  readonly d: number;
  readonly tensors: readonly TensorSpec[];
  /** Per-tensor offsets (in the precision of θ unless `out` is given). */
  project(theta: FloatArray, out?: FloatArray[]): FloatArray[];
  /** Gradient of θ from per-tensor gradients, float64. */
  adjoint(grads: readonly FloatArray[], theta?: FloatArray): Float64Array;
  describe(): Record<string, unknown>;
  /** Free the Fastfood parameters held in the kernel's memory now (they are freed on GC otherwise). */
  dispose(): void;
}

/** Total number of parameters, checked. */
function totalSize(tensors: readonly TensorSpec[]): number {
  check(tensors.length > 0, 'subspace projection: no parameter tensors selected; check --include/--exclude');
  let total = 0;
  for (const t of tensors) {
    check(Number.isInteger(t.size) && t.size >= 1, `subspace projection: tensor ${t.name} has size ${t.size}; expected a positive integer`);
    total += t.size;
  }
  return total;
}

function checkD(d: number, total: number): void {
  check(Number.isInteger(d) && d >= 1, `subspace dimension d must be a positive integer, got ${d}`);
  check(d <= total, `subspace dimension d = ${d} exceeds the ${total} trainable parameters; use d ≤ ${total}`);
}

function outputs(tensors: readonly TensorSpec[], like: FloatArray, out?: FloatArray[]): FloatArray[] {
  if (out) {
    check(out.length === tensors.length, `subspace projection: ${out.length} output tensors, expected ${tensors.length}`);
    out.forEach((o, i) => check(o.length === tensors[i].size, `subspace projection: output for ${tensors[i].name} has ${o.length} entries, expected ${tensors[i].size}`));
    return out;
  }
  return tensors.map((t) => (like instanceof Float64Array ? new Float64Array(t.size) : new Float32Array(t.size)));
}

function checkGrads(tensors: readonly TensorSpec[], grads: readonly FloatArray[]): void {
  check(grads.length === tensors.length, `subspace adjoint: ${grads.length} gradients, expected one per tensor (${tensors.length})`);
  grads.forEach((g, i) => check(g.length === tensors[i].size, `subspace adjoint: gradient of ${tensors[i].name} has ${g.length} entries, expected ${tensors[i].size}`));
}

export function createProjection(tensors: readonly TensorSpec[], d: number, options: ProjectionOptions = {}): SubspaceProjection {
  const mode = options.mode ?? 'fastfood';
  if (mode === 'fastfood') return new PerTensorFastfood(tensors, d, options);
  if (mode === 'global-fastfood') return new GlobalFastfood(tensors, d, options);
  if (mode === 'dense') return new DenseProjection(tensors, d, options);
  throw new Error(`unknown projection mode ${String(mode)}`);
}

export class PerTensorFastfood implements SubspaceProjection {
  readonly parts: Fastfood[];
  readonly seed: number;

  /** The checks of the constructor (also used by ThreadedFastfood). */
  static check(tensors: readonly TensorSpec[], d: number): void {
    checkD(d, totalSize(tensors));
  }

  constructor(readonly tensors: readonly TensorSpec[], readonly d: number, readonly options: ProjectionOptions = {}) {
    PerTensorFastfood.check(tensors, d);
    this.seed = options.seed ?? 0;
    this.parts = tensors.map((t, i) => new Fastfood(t.size, d, this.seed, i, options));
  }

  project(theta: FloatArray, out?: FloatArray[]): FloatArray[] {
    const ys = outputs(this.tensors, theta, out);
    this.parts.forEach((p, i) => p.project(theta, ys[i]));
    return ys;
  }

  adjoint(grads: readonly FloatArray[]): Float64Array {
    checkGrads(this.tensors, grads);
    const g = new Float64Array(this.d);
    this.parts.forEach((p, i) => p.adjointAdd(grads[i], g));
    return g;
  }

  dispose(): void {
    for (const p of this.parts) p.dispose();
  }

  describe(): Record<string, unknown> {
    return {
      mode: 'fastfood', d: this.d, seed: this.seed, tensors: this.tensors.length,
      publicCodeSizing: !!this.options.publicCodeSizing, gradientScaleOneOverL: !!this.options.gradientScaleOneOverL,
      croppedTensors: this.parts.filter((p) => p.used < this.d).length,
    };
  }
}

export class GlobalFastfood implements SubspaceProjection {
  readonly fastfood: Fastfood;
  readonly total: number;
  readonly seed: number;

  constructor(readonly tensors: readonly TensorSpec[], readonly d: number, readonly options: ProjectionOptions = {}) {
    this.total = totalSize(tensors);
    checkD(d, this.total);
    this.seed = options.seed ?? 0;
    this.fastfood = new Fastfood(this.total, d, this.seed, 0, options);
  }

  /** The concatenated output or gradient, kept between calls (one per precision). */
  private buffers: { f32?: Float32Array; f64?: Float64Array } = {};

  private buffer(f64: boolean): FloatArray {
    if (f64) return (this.buffers.f64 ??= new Float64Array(this.total));
    return (this.buffers.f32 ??= new Float32Array(this.total));
  }

  project(theta: FloatArray, out?: FloatArray[]): FloatArray[] {
    const ys = outputs(this.tensors, theta, out);
    const all = this.fastfood.project(theta, this.buffer(ys[0] instanceof Float64Array));
    let at = 0;
    ys.forEach((y) => { y.set(all.subarray(at, at + y.length)); at += y.length; });
    return ys;
  }

  adjoint(grads: readonly FloatArray[]): Float64Array {
    checkGrads(this.tensors, grads);
    const all = this.buffer(grads[0] instanceof Float64Array);
    let at = 0;
    for (const g of grads) { all.set(g, at); at += g.length; }
    return this.fastfood.adjoint(all);
  }

  dispose(): void {
    this.fastfood.dispose();
    this.buffers = {};
  }

  describe(): Record<string, unknown> {
    const f = this.fastfood.describe();
    return { mode: 'global-fastfood', d: this.d, seed: this.seed, L: f.L, publicCodeSizing: f.publicCodeSizing, gradientScaleOneOverL: f.gradientScaleOneOverL, usedCoordinates: f.usedCoordinates };
  }
}

export class DenseProjection implements SubspaceProjection {
  /** Per tensor, row-major Dᵢ × d. */
  readonly matrices: Float32Array[];
  readonly seed: number;
  readonly columnNorm: 'global' | 'per-tensor';

  /** The checks of the constructor, memory included (so a caller can refuse a too-large d before any work). */
  static check(tensors: readonly TensorSpec[], d: number, options: ProjectionOptions = {}): void {
    const total = totalSize(tensors);
    checkD(d, total);
    const bytes = d * total * 4;
    const limit = options.memoryLimitBytes ?? os.freemem();
    check(bytes <= limit, `dense projection: d × D × 4 bytes = ${d} × ${total} × 4 = ${gib(bytes)} would not fit in the ${gib(limit)} of memory available; use --projection fastfood`);
    for (const t of tensors) check(t.size * d <= 2 ** 32, `dense projection: tensor ${t.name} would need ${t.size} × ${d} entries (over 2^32); use --projection fastfood`);
  }

  constructor(readonly tensors: readonly TensorSpec[], readonly d: number, options: ProjectionOptions = {}) {
    DenseProjection.check(tensors, d, options);
    const total = totalSize(tensors);
    this.seed = options.seed ?? 0;
    this.columnNorm = options.denseColumnNorm ?? 'global';
    this.matrices = tensors.map((t, i) => {
      const m = new Float32Array(t.size * d);
      streamRng(this.seed, i).fillNormal(m);
      const s = 1 / Math.sqrt(this.columnNorm === 'global' ? total : t.size);
      for (let j = 0; j < m.length; j++) m[j] *= s;
      return m;
    });
  }

  project(theta: FloatArray, out?: FloatArray[]): FloatArray[] {
    check(theta.length === this.d, `dense projection: θ has ${theta.length} entries, expected d = ${this.d}`);
    const ys = outputs(this.tensors, theta, out);
    const d = this.d;
    this.matrices.forEach((m, i) => {
      const y = ys[i];
      for (let r = 0; r < y.length; r++) {
        let s = 0;
        const row = r * d;
        for (let c = 0; c < d; c++) s += m[row + c] * theta[c];
        y[r] = s;
      }
    });
    return ys;
  }

  adjoint(grads: readonly FloatArray[]): Float64Array {
    checkGrads(this.tensors, grads);
    const d = this.d;
    const g = new Float64Array(d);
    this.matrices.forEach((m, i) => {
      const y = grads[i];
      for (let r = 0; r < y.length; r++) {
        const v = y[r];
        const row = r * d;
        for (let c = 0; c < d; c++) g[c] += m[row + c] * v;
      }
    });
    return g;
  }

  dispose(): void {
    // Plain JS arrays: nothing held in the kernel's memory.
  }

  describe(): Record<string, unknown> {
    return { mode: 'dense', d: this.d, seed: this.seed, columnNorm: this.columnNorm };
  }
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
