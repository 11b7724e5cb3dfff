/**
 * The training step's non-GEMM kernels (kernels/train.c, WebAssembly SIMD), each forward with its
 * backward, over float32 arrays: LayerNorm with residual, GELU ('gelu', 'gelu_new'), tanh,
 * attention with probability dropout, dropout, softmax cross-entropy, MSE, embedding gather and
 * scatter-add, bias sums. The matrix products are not here (the products layer does them).
 *
 * Every array argument is a `F32`: a KernelArray (or a Float32Array view of one), passed by
 * offset, or any other Float32Array, copied in and out around the call (see train-memory.ts for
 * the allocator and the lifetime rules). Sizes are checked; outputs are written in full unless
 * the function says it accumulates. Results are bitwise reproducible: every sum has a fixed
 * order, and dropout masks are a pure function of (seed, stream, step, element index).
 */
import { kernelMemory, KernelArray, type Arg } from './train-memory.js';

export { KernelArray } from './train-memory.js';

export type F32 = Float32Array | KernelArray;
export type GeluKind = 'gelu' | 'gelu_new';

/** The key of one dropout site: the run's seed, a stream per tensor (e.g. layer·8 + site), the step. */
export interface DropoutKey {
  seed: number;
  stream: number;
  step: number;
}

/** Dropout with probability p ∈ [0, 1) at one site. */
export interface Dropout extends DropoutKey {
  p: number;
}

/** Shape of a batch's attention: `batch` sequences of `seqLen` tokens, `heads` × `headSize` = H. */
export interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
  headSize: number;
  /** Multiplies QKᵀ; default 1/√headSize. */
  scale?: number;
  /**
   * Index of this call's first sequence in the whole batch (default 0): a batch split into
   * calls over sequence ranges (e.g. one per thread) then drops the same probabilities as one call.
   */
  firstSequence?: number;
}

/** torch.finfo(torch.float32).min, the bias HF adds at masked key positions. */
export const MASK_BIAS = -3.4028234663852886e38;

const inp = (a: F32 | Int32Array | null, n: number, name: string): Arg => ({ a, n, name, io: 'in' });
const out = (a: F32 | Uint8Array | Uint32Array, n: number, name: string): Arg => ({ a, n, name, io: 'out' });
const inout = (a: F32, n: number, name: string): Arg => ({ a, n, name, io: 'inout' });

function rowsOf(what: string, total: number, H: number): number {
  if (!(Number.isInteger(H) && H > 0) || total % H !== 0) throw new RangeError(`${what}: ${total} floats are not rows of ${H}`);
  return total / H;
}

const u32 = (v: number, name: string) => {
  if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) throw new RangeError(`dropout ${name} ${v} is not an integer in [0, 2^32)`);
  return v | 0;
};

/** keep = 1 − p and the key words, checked. */
function dropoutArgs(d: Dropout | null | undefined): [keep: number, seed: number, stream: number, step: number] {
  if (!d || d.p === 0) return [1, 0, 0, 0];
  if (!(d.p > 0 && d.p < 1)) throw new RangeError(`dropout probability ${d.p} is not in [0, 1)`);
  return [1 - d.p, u32(d.seed, 'seed'), u32(d.stream, 'stream'), u32(d.step, 'step')];
}

function checkStart(start: number): number {
  if (!(Number.isInteger(start) && start >= 0 && start <= Number.MAX_SAFE_INTEGER)) throw new RangeError(`dropout start ${start} is not an element index`);
  return start;
}

// ------------------------------------------------------------------------- memory

/** A zero-filled float32 array of n elements in the kernels' memory. */
export const allocate = (n: number): KernelArray => kernelMemory().allocate(n);
/** The allocation stack's top, for `release`. */
export const mark = (): number => kernelMemory().mark();
/** Free everything allocated after `m`. */
export const release = (m: number): void => kernelMemory().release(m);
/** Grow the memory once for `floats` more floats of allocations, so views stay valid meanwhile. */
export const reserve = (floats: number): void => kernelMemory().reserve(floats);
/** Bytes held by allocations. */
export const allocatedBytes = (): number => kernelMemory().allocatedBytes;

// ------------------------------------------------------------------------- LayerNorm

/**
 * out = LayerNorm(x + residual)·γ + β per row of H = γ.length (residual null: LayerNorm(x)),
 * biased variance as torch.nn.LayerNorm; saves mean and rstd = 1/√(var + eps) per row. Row
 * statistics are two-pass sums in float64. `out` must not alias x or residual.
 */
export function layerNormForward(x: F32, residual: F32 | null, gamma: F32, beta: F32, outY: F32, mean: F32, rstd: F32, eps: number): void {
  const mem = kernelMemory();
  const H = gamma.length, n = x.length, rows = rowsOf('layerNormForward', n, H);
  mem.call('layerNormForward', [inp(x, n, 'x'), inp(residual, n, 'residual'), inp(gamma, H, 'gamma'), inp(beta, H, 'beta'), out(outY, n, 'out'), out(mean, rows, 'mean'), out(rstd, rows, 'rstd')], [], (p) =>
    mem.k.layernorm_forward(p[0], p[1], p[2], p[3], p[4], p[5], p[6], rows, H, eps),
  );
}

/**
 * From dOut: dx (the gradient of x and of the residual, which is the same) written, or added to
 * dx when `accumulate`; dGamma += Σ dOut·x̂ and dBeta += Σ dOut over rows, summed in row order in
 * float64 (zero them at the start of a step). dx may alias dOut.
 */
export function layerNormBackward(dOut: F32, x: F32, residual: F32 | null, gamma: F32, mean: F32, rstd: F32, dx: F32, dGamma: F32, dBeta: F32, accumulate = false): void {
  const mem = kernelMemory();
  const H = gamma.length, n = x.length, rows = rowsOf('layerNormBackward', n, H);
  const args = [inp(dOut, n, 'dOut'), inp(x, n, 'x'), inp(residual, n, 'residual'), inp(gamma, H, 'gamma'), inp(mean, rows, 'mean'), inp(rstd, rows, 'rstd'),
    accumulate ? inout(dx, n, 'dx') : out(dx, n, 'dx'), inout(dGamma, H, 'dGamma'), inout(dBeta, H, 'dBeta')];
  mem.call('layerNormBackward', args, [16 * H], (p, s) =>
    mem.k.layernorm_backward(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], s[0], rows, H, accumulate ? 1 : 0),
  );
}

// ------------------------------------------------------------------------- elementwise

const geluCode = (kind: GeluKind): number => {
  if (kind === 'gelu') return 0;
  if (kind === 'gelu_new') return 1;
  throw new RangeError(`GELU kind ${String(kind)} is not 'gelu' or 'gelu_new'`);
};

/**
 * GELU: 'gelu' = x·Φ(x) with a float32 rational erf (Eigen's; within 1.5e-6 of the exact GELU),
 * as transformers' GELUActivation; 'gelu_new' = x/2·(1 + tanh(√(2/π)(x + 0.044715x³))).
 * out may alias x.
 */
export function geluForward(x: F32, outY: F32, kind: GeluKind): void {
  const mem = kernelMemory(), n = x.length, code = geluCode(kind);
  mem.call('geluForward', [inp(x, n, 'x'), out(outY, n, 'out')], [], (p) => mem.k.gelu_forward(p[0], p[1], n, code));
}

/** dx = dOut·GELU′(x), from the forward's input x; dx may alias dOut. */
export function geluBackward(dOut: F32, x: F32, dx: F32, kind: GeluKind): void {
  const mem = kernelMemory(), n = x.length, code = geluCode(kind);
  mem.call('geluBackward', [inp(dOut, n, 'dOut'), inp(x, n, 'x'), out(dx, n, 'dx')], [], (p) => mem.k.gelu_backward(p[0], p[1], p[2], n, code));
}

/** out = tanh(x) (the pooler); out may alias x. */
export function tanhForward(x: F32, outY: F32): void {
  const mem = kernelMemory(), n = x.length;
  mem.call('tanhForward', [inp(x, n, 'x'), out(outY, n, 'out')], [], (p) => mem.k.tanh_forward(p[0], p[1], n));
}

/** dx = dOut·(1 − y²) from the forward's output y; dx may alias dOut. */
export function tanhBackward(dOut: F32, y: F32, dx: F32): void {
  const mem = kernelMemory(), n = y.length;
  mem.call('tanhBackward', [inp(dOut, n, 'dOut'), inp(y, n, 'y'), out(dx, n, 'dx')], [], (p) => mem.k.tanh_backward(p[0], p[1], p[2], n));
}

// ------------------------------------------------------------------------- dropout

/**
 * out = x·mask/(1 − p) for elements start.. of a tensor; element i is kept iff
 * bits(seed, stream, step, i) < ⌊(1 − p)·2³²⌋ (see `dropoutBits`). Nothing is saved: the backward
 * recomputes the mask from the same key. p = 0 (or d null) copies. out may alias x.
 */
export function dropoutForward(x: F32, outY: F32, d: Dropout | null, start = 0): void {
  const mem = kernelMemory(), n = x.length;
  const [keep, seed, stream, step] = dropoutArgs(d);
  const s = checkStart(start);
  mem.call('dropout', [inp(x, n, 'x'), out(outY, n, 'out')], [], (p) => mem.k.dropout_apply(p[0], p[1], n, keep, seed, stream, step, s));
}

/** dx = dOut·mask/(1 − p) with the forward's mask (same key and start); dx may alias dOut. */
export function dropoutBackward(dOut: F32, dx: F32, d: Dropout | null, start = 0): void {
  dropoutForward(dOut, dx, d, start);
}

/**
 * The 32 random bits of elements start..start+n−1 for a key: SplitMix64 from the state
 * mix(mix(seed·2³² + stream + γ) + (step + 1)·γ); element i takes output ⌊i/2⌋ + 1, its low half for
 * even i, high half for odd i (γ = 0x9E3779B97F4A7C15, mix = SplitMix64's finalizer). Computed
 * by the same C code the kernels use.
 */
export function dropoutBits(n: number, key: DropoutKey, start = 0): Uint32Array {
  const mem = kernelMemory();
  const bits = new Uint32Array(n);
  const seed = u32(key.seed, 'seed'), stream = u32(key.stream, 'stream'), step = u32(key.step, 'step'), s = checkStart(start);
  mem.call('dropoutBits', [out(bits, n, 'bits')], [], (p) => mem.k.dropout_bits(p[0], n, seed, stream, step, s));
  return bits;
}

/** 1 where an element is kept, 0 where dropped (the mask `dropoutForward` applies). */
export function dropoutMask(n: number, d: Dropout, start = 0): Uint8Array {
  const mem = kernelMemory();
  const mask = new Uint8Array(n);
  const [keep, seed, stream, step] = dropoutArgs(d);
  const s = checkStart(start);
  mem.call('dropoutMask', [out(mask, n, 'mask')], [], (p) => mem.k.dropout_mask(p[0], n, keep, seed, stream, step, s));
  return mask;
}

// ------------------------------------------------------------------------- attention

/** The additive attention bias per key position from a 0/1 attention mask: (1 − m)·MASK_BIAS. */
export function attentionMaskBias(mask: ArrayLike<number>, outBias: Float32Array = new Float32Array(mask.length)): Float32Array {
  for (let i = 0; i < mask.length; i++) outBias[i] = mask[i] ? 0 : MASK_BIAS;
  return outBias;
}

function attentionSizes(what: string, s: AttentionShape) {
  const { batch: B, seqLen: T, heads, headSize: d } = s;
  for (const [k, v] of Object.entries({ batch: B, seqLen: T, heads, headSize: d })) {
    if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`${what}: ${k} ${v} is not a positive integer`);
  }
  const H = heads * d, b0 = s.firstSequence ?? 0;
  if (!(Number.isInteger(b0) && b0 >= 0 && b0 < 2 ** 31)) throw new RangeError(`${what}: firstSequence ${b0} is not a sequence index`);
  return { B, T, heads, d, H, b0, scale: s.scale ?? 1 / Math.sqrt(d), rows: B * T, probs: B * heads * T * T };
}

/**
 * Self-attention of a batch from the fused projection qkv [B·T, 3H] (rows q | k | v) and the
 * additive mask bias [B·T]: probs [B, heads, T, T] = softmax(QKᵀ·scale + bias) (saved for the
 * backward, before dropout), out [B·T, H] = dropout(probs)·V, as HF's BertSelfAttention. The
 * dropout mask of probs element ((b·heads + h)·T + i)·T + j of the whole batch (b counted from
 * the batch's first sequence, see `firstSequence`) comes from `d`'s key.
 */
export function attentionForward(qkv: F32, maskBias: F32, outO: F32, probs: F32, shape: AttentionShape, d: Dropout | null = null): void {
  const mem = kernelMemory();
  const { B, T, heads, d: hd, H, b0, scale, rows, probs: np } = attentionSizes('attentionForward', shape);
  const [keep, seed, stream, step] = dropoutArgs(d);
  const args = [inp(qkv, rows * 3 * H, 'qkv'), inp(maskBias, rows, 'maskBias'), out(outO, rows * H, 'out'), out(probs, np, 'probs')];
  mem.call('attentionForward', args, [48 * T], (p, s) =>
    mem.k.attention_forward(p[0], p[1], p[2], p[3], s[0], B, T, heads, hd, scale, keep, seed, stream, step, b0),
  );
}

/**
 * dQkv [B·T, 3H] (written in full) from dOut [B·T, H], the forward's qkv and probs and the same
 * dropout key: dV = Pdᵀ·dO, dP = dO·Vᵀ ⊙ mask/(1 − p), dS = P ⊙ (dP − rowsum(dP ⊙ P)),
 * dQ = dS·K·scale, dK = dSᵀ·Q·scale.
 */
export function attentionBackward(dOut: F32, qkv: F32, probs: F32, dQkv: F32, shape: AttentionShape, d: Dropout | null = null): void {
  const mem = kernelMemory();
  const { B, T, heads, d: hd, H, b0, scale, rows, probs: np } = attentionSizes('attentionBackward', shape);
  const [keep, seed, stream, step] = dropoutArgs(d);
  const args = [inp(dOut, rows * H, 'dOut'), inp(qkv, rows * 3 * H, 'qkv'), inp(probs, np, 'probs'), out(dQkv, rows * 3 * H, 'dQkv')];
  mem.call('attentionBackward', args, [48 * T], (p, s) =>
    mem.k.attention_backward(p[0], p[1], p[2], p[3], s[0], B, T, heads, hd, scale, keep, seed, stream, step, b0),
  );
}

// ------------------------------------------------------------------------- losses

/**
 * Softmax cross-entropy over rows of `classes` logits, labels in [0, classes) or −100 (ignored):
 * returns the mean over the non-ignored rows (NaN when all are ignored, as
 * torch.nn.functional.cross_entropy) and writes dLogits = (softmax − onehot)·gradScale/count
 * (0 on ignored rows). Per-row losses are summed in float64. dLogits may alias logits (the MLM
 * head's [N, 30522] logits need no second buffer).
 */
export function crossEntropy(logits: F32, labels: Int32Array, dLogits: F32, classes: number, gradScale = 1): number {
  const mem = kernelMemory();
  const N = rowsOf('crossEntropy', logits.length, classes);
  for (let r = 0; r < labels.length && r < N; r++) {
    const y = labels[r];
    if (y !== -100 && !(y >= 0 && y < classes)) throw new RangeError(`crossEntropy: label ${y} at row ${r} is outside 0..${classes - 1} (−100 ignores a row)`);
  }
  return mem.call('crossEntropy', [inp(logits, N * classes, 'logits'), inp(labels, N, 'labels'), out(dLogits, N * classes, 'dLogits')], [], (p) =>
    mem.k.cross_entropy(p[0], p[1], p[2], N, classes, gradScale),
  );
}

/** Mean squared error of one output per row (STS-B); dPred = 2(pred − target)·gradScale/n. */
export function mse(pred: F32, target: F32, dPred: F32, gradScale = 1): number {
  const mem = kernelMemory(), n = pred.length;
  return mem.call('mse', [inp(pred, n, 'pred'), inp(target, n, 'target'), out(dPred, n, 'dPred')], [], (p) => mem.k.mse(p[0], p[1], p[2], n, gradScale));
}

// ------------------------------------------------------------------------- embeddings, biases

function checkIds(what: string, ids: Int32Array, vocab: number): void {
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < vocab)) throw new RangeError(`${what}: id ${ids[i]} at ${i} is outside the table's ${vocab} rows`);
  }
}

/** out[n] = table[ids[n]] (or += with `accumulate`: word + position + token-type embeddings). */
export function embeddingForward(table: F32, ids: Int32Array, outE: F32, H: number, accumulate = false): void {
  const mem = kernelMemory(), V = rowsOf('embeddingForward', table.length, H), N = ids.length;
  checkIds('embeddingForward', ids, V);
  mem.call('embeddingForward', [inp(table, V * H, 'table'), inp(ids, N, 'ids'), accumulate ? inout(outE, N * H, 'out') : out(outE, N * H, 'out')], [], (p) =>
    mem.k.embedding_forward(p[0], p[1], p[2], N, H, accumulate ? 1 : 0),
  );
}

/** dTable[ids[n]] += dOut[n] for n in order (the gradient of a gather; float32 sums, fixed order). */
export function embeddingBackward(dOut: F32, ids: Int32Array, dTable: F32, H: number): void {
  const mem = kernelMemory(), V = rowsOf('embeddingBackward', dTable.length, H), N = ids.length;
  checkIds('embeddingBackward', ids, V);
  mem.call('embeddingBackward', [inp(dOut, N * H, 'dOut'), inp(ids, N, 'ids'), inout(dTable, V * H, 'dTable')], [], (p) =>
    mem.k.embedding_backward(p[0], p[1], p[2], N, H),
  );
}

/** db += Σ rows of dY (a bias gradient), rows summed in order in float64; H = db.length. */
export function columnSum(dY: F32, db: F32): void {
  const mem = kernelMemory(), H = db.length, rows = rowsOf('columnSum', dY.length, H);
  mem.call('columnSum', [inp(dY, rows * H, 'dY'), inout(db, H, 'db')], [8 * H], (p, s) => mem.k.column_sum(p[0], p[1], s[0], rows, H));
}

/** y[r] += b for every row of H = b.length (a bias after a product). */
export function biasAdd(y: F32, b: F32): void {
  const mem = kernelMemory(), H = b.length, rows = rowsOf('biasAdd', y.length, H);
  mem.call('biasAdd', [inout(y, rows * H, 'y'), inp(b, H, 'b')], [], (p) => mem.k.bias_add(p[0], p[1], rows, H));
}

/** y += x (gradients that fan in). */
export function addInto(y: F32, x: F32): void {
  const mem = kernelMemory(), n = y.length;
  mem.call('addInto', [inout(y, n, 'y'), inp(x, n, 'x')], [], (p) => mem.k.add_into(p[0], p[1], n));
}
