/**
 * WebAssembly SIMD kernels for the encoder's non-GEMM work on the CPU backends (wasm, cpu),
 * from kernels/encoder.c: attention (softmax(QKᵀ·scale + mask)·V for every sequence and head of
 * a batch, reading Q, K and V in place from the fused [B·T, 3H] projection), residual +
 * LayerNorm, and GELU. tfjs-wasm would run the per-head products through its scalar
 * batched-matmul loop (≈ 1.4 GFLOP/s) and each elementwise step as a separate pass.
 *
 * The module has no imports. Each call copies its inputs to the start of the module's heap,
 * runs, and copies the result out; the memory grows to fit the largest call and is reused.
 */
import { readFileSync } from 'node:fs';

interface KernelExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  attention(qkv: number, bias: number, out: number, scores: number, B: number, T: number, heads: number, d: number, scale: number): void;
  add_layer_norm(a: number, b: number, gamma: number, beta: number, out: number, rows: number, H: number, eps: number): void;
  gelu_erf(x: number, n: number): void;
  gelu_tanh(x: number, n: number): void;
}

let instance: KernelExports | undefined;

function kernels(): KernelExports {
  // kernels/ sits two levels above this file both in src/backend and in dist/backend.
  instance ??= new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL('../../kernels/encoder.wasm', import.meta.url))), {}).exports as unknown as KernelExports;
  return instance;
}

/** Lay out `sizes` floats one after another (16-byte aligned) from the heap base; grow if needed. */
function arena(k: KernelExports, sizes: number[]): number[] {
  let at = ((k.__heap_base.value as number) + 15) & ~15;
  const offsets = sizes.map((n) => {
    const o = at;
    at += (n * 4 + 15) & ~15;
    return o;
  });
  const have = k.memory.buffer.byteLength;
  if (at > have) k.memory.grow(Math.ceil((at - have) / 65536));
  return offsets;
}

const view = (k: KernelExports, at: number, n: number) => new Float32Array(k.memory.buffer, at, n);

/** Whether the attention kernel applies: the head size must be a multiple of 4 (SIMD lanes). */
export function attentionKernelFits(headSize: number): boolean {
  return headSize % 4 === 0;
}

/**
 * Attention output [B·T, H] from the fused projection [B·T, 3H] and the additive mask [B·T].
 * The result is a view into the kernels' memory, valid until the next kernel call: hand it on
 * (e.g. to tf.tensor2d, which copies) or copy it. Saves a 12–50 MB allocation per call.
 */
export function attention(qkv: Float32Array, bias: Float32Array, B: number, T: number, heads: number, d: number, scale: number): Float32Array {
  const k = kernels();
  const H = heads * d;
  const [q, m, out, scores] = arena(k, [qkv.length, bias.length, B * T * H, 4 * T]);
  view(k, q, qkv.length).set(qkv);
  view(k, m, bias.length).set(bias);
  k.attention(q, m, out, scores, B, T, heads, d, scale);
  return view(k, out, B * T * H);
}

/** LayerNorm(a + b)·γ + β per row of H values (no residual when b is null). */
export function addLayerNorm(a: Float32Array, b: Float32Array | null, gamma: Float32Array, beta: Float32Array, eps: number): Float32Array {
  const k = kernels();
  const H = gamma.length;
  const [pa, pb, pg, pbeta, out] = arena(k, [a.length, b ? b.length : 0, H, H, a.length]);
  view(k, pa, a.length).set(a);
  if (b) view(k, pb, b.length).set(b);
  view(k, pg, H).set(gamma);
  view(k, pbeta, H).set(beta);
  k.add_layer_norm(pa, b ? pb : 0, pg, pbeta, out, a.length / H, H, eps);
  return view(k, out, a.length).slice();
}

/**
 * GELU: 'gelu' = x·Φ(x) with a float32 rational erf (Eigen's; ≤ 1.4e-6 absolute from the exact
 * GELU on [−10, 10], i.e. float32 rounding), 'gelu_new' = the tanh form. Like `attention`, the
 * result is a view valid until the next kernel call.
 */
export function gelu(x: Float32Array, kind: 'gelu' | 'gelu_new'): Float32Array {
  const k = kernels();
  const [p] = arena(k, [x.length]);
  view(k, p, x.length).set(x);
  if (kind === 'gelu') k.gelu_erf(p, x.length);
  else k.gelu_tanh(p, x.length);
  return view(k, p, x.length);
}
