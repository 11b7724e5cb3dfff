/**
 * Float32 matrix products through tfjs, for the large products of the metrics (covariance
 * blocks, Gram blocks for nearest neighbours).
 *
 * On the wasm backend only a plain 2-D matmul without transpose flags reaches XNNPACK's fast
 * path, so callers pass both operands in the layout the product needs (A is m×k, B is k×n).
 */
import type { Tf } from './tf.js';

/** C = A·B with A m×k and B k×n, all row-major float32 (`tf` initialised by the caller). */
export function matmulF32Sync(
  tf: Tf,
  a: Float32Array, m: number, k: number,
  b: Float32Array, n: number,
): Float32Array {
  // tidy must return the tensor, not its data: tidy walks a returned object looking for tensors,
  // element by element for a typed array (seconds for a 768×768 product).
  const c = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])));
  const out = c.dataSync() as Float32Array;
  c.dispose();
  return out;
}
