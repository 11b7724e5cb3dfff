/**
 * The Fastfood projection P: R^d → R^D of one parameter tensor (Le, Sarlós & Smola 2013, as used
 * by Li et al. 2018 and Aghajanyan et al. 2021; RESEARCH.md §5):
 *
 *     P θ  = (H G Π H B · pad_L(θ))[0:D] / (‖G‖·√D)
 *     Pᵀy  = (B H Πᵀ G H · pad_L(y))[0:d] / (‖G‖·√D)        (the exact adjoint; B, G diagonal)
 *
 * with H the unnormalised Walsh–Hadamard transform of order L, B random ±1, Π a random
 * permutation ((Πv)ᵢ = v_{π(i)}, a gather, as the public code's `x[Pi]`), G ~ N(0, 1) diagonal.
 * Each column of P has squared norm ≈ 1 (E‖H G Π H B e_j‖² over the first D rows is D·‖G‖²).
 *
 * Sizing: L = 2^⌈log₂ max(D, d)⌉, so every coordinate of θ_d reaches the tensor even when d > D
 * (biases, LayerNorms, a small head). Two quirks of the public (author-attributed) code are
 * options, off by default, and reported by describe():
 *   - publicCodeSizing: L = 2^⌈log₂ D⌉ from D alone, and θ_d cropped to its first L coordinates
 *     when d > L (the other coordinates never reach this tensor);
 *   - gradientScaleOneOverL: the adjoint scaled by 1/L, as the code's custom Hadamard backward
 *     (1/√L per transform) makes every gradient of θ_d.
 *
 * B, Π and G are drawn from the stream (seed, tensor index) in that order, so a projection is
 * reproducible from two integers. Work runs in the precision of the arrays passed in: float32
 * (the training path, the Hadamard kernel) or float64 (the exact tests).
 */
import { check } from '../errors.js';
import type { FloatArray } from '../backend/matrix.js';
import { fwht, nextPowerOfTwo } from './hadamard.js';
import { alloc, f32, i32, kernel, release, scratch } from './kernel.js';
import { fillSigns, streamRng } from './random.js';

export type { FloatArray };

export interface FastfoodOptions {
  /** The public code's sizing: L from D alone, θ_d cropped to its first L coordinates. */
  publicCodeSizing?: boolean;
  /** The public code's gradient convention: the adjoint scaled by 1/L. */
  gradientScaleOneOverL?: boolean;
}

export interface FastfoodDescription {
  kind: 'fastfood';
  rows: number;
  d: number;
  L: number;
  /** Coordinates of θ_d that reach this tensor (d, or L under publicCodeSizing when d > L). */
  usedCoordinates: number;
  seed: number;
  stream: number;
  publicCodeSizing: boolean;
  gradientScaleOneOverL: boolean;
}

/**
 * Which float32 pipeline runs: 'wasm' (the whole transform in kernels/hadamard.c, measured
 * faster at every size by bench/fastfood.ts) or 'js' (JS loops around the Hadamard kernel; also
 * what runs when the module's memory is full). Both give bitwise-equal results.
 */
let engine: 'wasm' | 'js' = 'wasm';
export function useFastfoodEngine(kind: 'wasm' | 'js'): void {
  engine = kind;
}

/** JS scratch vectors of length ≥ L per precision, shared by every Fastfood (JS is single-threaded). */
const jsScratch = { f32: [new Float32Array(0), new Float32Array(0)], f64: [new Float64Array(0), new Float64Array(0)] };

function work<T extends FloatArray>(like: T, L: number): [T, T] {
  const pool = (like instanceof Float64Array ? jsScratch.f64 : jsScratch.f32) as T[];
  if (pool[0].length < L) {
    const make = (n: number) => (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as T;
    pool[0] = make(L);
    pool[1] = make(L);
  }
  return [pool[0].subarray(0, L) as T, pool[1].subarray(0, L) as T];
}

/** Frees the module memory of Fastfoods that were garbage-collected without dispose(). */
const reclaim = new FinalizationRegistry<{ at: number; bytes: number }>((b) => release(b.at, b.bytes));

export class Fastfood {
  readonly L: number;
  /** How many leading coordinates of θ_d reach this tensor. */
  readonly used: number;
  /** 1 / (‖G‖·√D): every column of P has norm ≈ 1. */
  readonly scale: number;
  private readonly adjointScale: number;
  /** B, Π, G in the kernel's memory (at = −1: in the JS arrays below). */
  private block: { at: number; bytes: number } | undefined;
  private js: { signs: Float32Array; permutation: Int32Array; gaussian: Float32Array } | undefined;

  /**
   * @param rows D, the entries of the tensor; @param d the subspace dimension;
   * @param seed, @param stream the random stream (the tensor's index for per-tensor projections).
   */
  constructor(readonly rows: number, readonly d: number, readonly seed: number, readonly stream: number, readonly options: FastfoodOptions = {}) {
    check(Number.isInteger(rows) && rows >= 1, `Fastfood: the tensor size must be a positive integer, got ${rows}`);
    check(Number.isInteger(d) && d >= 1, `Fastfood: d must be a positive integer, got ${d}`);
    this.L = nextPowerOfTwo(options.publicCodeSizing ? rows : Math.max(rows, d));
    check(this.L <= 2 ** 30, `Fastfood: a tensor of ${rows} entries with d = ${d} needs L = ${this.L}, beyond the limit of 2^30; exclude the tensor (--exclude) or use a smaller d`);
    this.used = Math.min(d, this.L);
    const L = this.L;
    const rng = streamRng(seed, stream);
    const signs = new Int8Array(L);
    fillSigns(rng, signs);
    const permutation = rng.permutation(L);
    const gaussian = new Float32Array(L);
    rng.fillNormal(gaussian);
    let g2 = 0;
    for (let i = 0; i < L; i++) g2 += gaussian[i] * gaussian[i];
    this.scale = 1 / Math.sqrt(g2 * rows);
    this.adjointScale = options.gradientScaleOneOverL ? this.scale / L : this.scale;
    const at = alloc(12 * L);
    if (at < 0) {
      this.js = { signs: Float32Array.from(signs), permutation, gaussian };
    } else {
      this.block = { at, bytes: 12 * L };
      f32(at, L).set(signs);
      i32(at + 4 * L, L).set(permutation);
      f32(at + 8 * L, L).set(gaussian);
      reclaim.register(this, this.block, this);
    }
  }

  /** B (±1). A view of the kernel's memory: do not keep it across another Fastfood's creation. */
  get signs(): Float32Array {
    return this.js ? this.js.signs : f32(this.block!.at, this.L);
  }

  /** Π: (Πv)ᵢ = v[permutation[i]]. A view, as `signs`. */
  get permutation(): Int32Array {
    return this.js ? this.js.permutation : i32(this.block!.at + 4 * this.L, this.L);
  }

  /** G. A view, as `signs`. */
  get gaussian(): Float32Array {
    return this.js ? this.js.gaussian : f32(this.block!.at + 8 * this.L, this.L);
  }

  /** Give the kernel memory back now (otherwise when garbage-collected); the Fastfood is unusable after. */
  dispose(): void {
    if (this.block) {
      reclaim.unregister(this);
      release(this.block.at, this.block.bytes);
      this.block = undefined;
      this.js = { signs: new Float32Array(0), permutation: new Int32Array(0), gaussian: new Float32Array(0) };
      (this as { L: number }).L = 0;
    }
  }

  private checkLive(): void {
    check(this.L > 0, 'Fastfood: used after dispose()');
  }

  /**
   * out[0:D] = P θ (θ of length d; only its first `used` coordinates are read). Runs in the
   * precision of `out` (default: that of θ).
   */
  project<T extends FloatArray>(theta: FloatArray, out?: T): T {
    this.checkLive();
    check(theta.length === this.d, `Fastfood: θ has ${theta.length} entries, expected d = ${this.d}`);
    const y = out ?? (theta instanceof Float64Array ? new Float64Array(this.rows) : new Float32Array(this.rows)) as T;
    check(y.length === this.rows, `Fastfood: output has ${y.length} entries, expected ${this.rows}`);
    if (y instanceof Float32Array && this.block && engine === 'wasm' && this.projectWasm(theta, y)) return y;
    const [a, b] = work(y, this.L);
    const { L, used } = this;
    const B = this.signs;
    for (let i = 0; i < used; i++) a[i] = B[i] * theta[i];
    a.fill(0, used, L);
    fwht(a);
    const perm = this.permutation, G = this.gaussian; // after fwht: it may have grown the kernel's memory
    for (let i = 0; i < L; i++) b[i] = G[i] * a[perm[i]];
    fwht(b);
    const s = this.scale;
    for (let r = 0; r < this.rows; r++) y[r] = b[r] * s;
    return y;
  }

  private projectWasm(theta: FloatArray, y: Float32Array): boolean {
    const { L, used } = this;
    const base = scratch(8 * L + 4 * used + 16);
    if (base < 0) return false;
    const a = base, b = base + 4 * L, t = base + 8 * L;
    f32(t, used).set(theta.subarray(0, used));
    const at = this.block!.at;
    kernel().ff_forward(t, used, at, at + 4 * L, at + 8 * L, a, b, L, this.rows, this.scale);
    y.set(f32(b, this.rows));
    return true;
  }

  /**
   * grad[0:used] += Pᵀ y (y of length D; times 1/L under gradientScaleOneOverL). Runs in the
   * precision of y; accumulates into `grad` (float64, length d), the gradient of θ_d summed over
   * tensors.
   */
  adjointAdd(y: FloatArray, grad: Float64Array): void {
    this.checkLive();
    check(y.length === this.rows, `Fastfood: gradient has ${y.length} entries, expected ${this.rows}`);
    check(grad.length === this.d, `Fastfood: θ_d gradient has ${grad.length} entries, expected d = ${this.d}`);
    const { L, used } = this;
    const s = this.adjointScale;
    if (y instanceof Float32Array && this.block && engine === 'wasm') {
      const base = scratch(8 * L);
      if (base >= 0) {
        const a = base, b = base + 4 * L, at = this.block.at;
        f32(a, this.rows).set(y);
        kernel().ff_adjoint(used, at, at + 4 * L, at + 8 * L, a, b, L, this.rows);
        const r = f32(b, used);
        for (let i = 0; i < used; i++) grad[i] += r[i] * s;
        return;
      }
    }
    const [a, b] = work(y, L);
    a.set(y);
    a.fill(0, this.rows, L);
    fwht(a);
    const perm = this.permutation, G = this.gaussian;
    for (let i = 0; i < L; i++) b[perm[i]] = G[i] * a[i];
    fwht(b);
    const B = this.signs;
    for (let i = 0; i < used; i++) grad[i] += B[i] * b[i] * s;
  }

  /** Pᵀ y as a new float64 vector of length d. */
  adjoint(y: FloatArray): Float64Array {
    const grad = new Float64Array(this.d);
    this.adjointAdd(y, grad);
    return grad;
  }

  describe(): FastfoodDescription {
    return {
      kind: 'fastfood', rows: this.rows, d: this.d, L: this.L, usedCoordinates: this.used, seed: this.seed, stream: this.stream,
      publicCodeSizing: !!this.options.publicCodeSizing, gradientScaleOneOverL: !!this.options.gradientScaleOneOverL,
    };
  }
}
