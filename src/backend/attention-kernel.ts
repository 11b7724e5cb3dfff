/**
 * The WebAssembly SIMD attention kernel (kernels/attention.c), for the encoder on the CPU
 * backends (wasm, cpu): one call does softmax(QKᵀ·scale + mask)·V for every sequence and head of
 * a batch, reading Q, K and V in place from the fused [B·T, 3H] projection. tfjs-wasm would run
 * the per-head products through its scalar batched-matmul loop (≈ 1.4 GFLOP/s).
 *
 * The module has no imports; its memory grows to fit the largest batch seen and is reused.
 */
import { readFileSync } from 'node:fs';

interface KernelExports {
  memory: WebAssembly.Memory;
  attention(qkv: number, bias: number, out: number, scores: number, B: number, T: number, heads: number, d: number, scale: number): void;
  __heap_base: WebAssembly.Global;
}

let kernel: KernelExports | undefined;

function load(): KernelExports {
  // kernels/ sits two levels above this file both in src/backend and in dist/backend.
  const bytes = readFileSync(new URL('../../kernels/attention.wasm', import.meta.url));
  kernel ??= new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as KernelExports;
  return kernel;
}

/** Whether the kernel applies: the head size must be a multiple of 4 (SIMD lanes). */
export function attentionKernelFits(headSize: number): boolean {
  return headSize % 4 === 0;
}

/**
 * Attention output [B·T, H] from the fused projection `qkv` [B·T, 3H] (q | k | v per row) and the
 * additive mask bias [B·T]; `scale` multiplies QKᵀ (1/√d).
 */
export function attentionKernel(qkv: Float32Array, bias: Float32Array, B: number, T: number, heads: number, d: number, scale: number): Float32Array {
  const k = load();
  const H = heads * d;
  const bytes = (n: number) => n * 4;
  const base = (k.__heap_base.value as number + 15) & ~15;
  const qkvAt = base;
  const biasAt = qkvAt + bytes(B * T * 3 * H);
  const outAt = biasAt + bytes(B * T);
  const scoresAt = outAt + bytes(B * T * H);
  const end = scoresAt + bytes(4 * T);
  const have = k.memory.buffer.byteLength;
  if (end > have) k.memory.grow(Math.ceil((end - have) / 65536));
  const f32 = new Float32Array(k.memory.buffer);
  f32.set(qkv, qkvAt / 4);
  f32.set(bias, biasAt / 4);
  k.attention(qkvAt, biasAt, outAt, scoresAt, B, T, heads, d, scale);
  return new Float32Array(k.memory.buffer, outAt, B * T * H).slice();
}
