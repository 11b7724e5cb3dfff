/*
 * The encoder's non-GEMM work on CPU backends, as WebAssembly SIMD kernels: attention, residual
 * + LayerNorm, GELU. (The matrix products stay in tfjs, where XNNPACK runs them.)
 *
 * Attention: tfjs-wasm runs a batched matmul (one per sequence and head) through a scalar loop at about
 * 1.4 GFLOP/s, which made attention most of the forward time of small models. This kernel does
 * the whole attention of a batch in one call, per sequence b and head h:
 *
 *   S = (Q_bh K_bhᵀ)·scale + bias_b,   P = softmax(S) row-wise,   O_bh = P V_bh
 *
 * Q, K, V are read in place from the fused QKV projection ([B·T, 3H] rows: q | k | v), O is
 * written as [B·T, H]. Accumulation in float32 like tfjs and PyTorch; softmax subtracts the row
 * maximum. Build: scripts/build-kernels.sh (clang --target=wasm32 -msimd128).
 */
#include <wasm_simd128.h>

#define WASM_EXPORT(name) __attribute__((export_name(#name)))

#include "simd-dot.h"

/* exp for the softmax (there is no libm here): exp(x) = 2^n · e^r with |r| ≤ ln2/2, r from a
 * two-part ln2 (Cody–Waite), e^r by its degree-7 Taylor polynomial (truncation < 6e-9 relative,
 * below float32 rounding). Softmax arguments are ≤ 0; below −87 the result is 0. */
static inline float exp_f32(float x) {
  if (x < -87.0f) return 0.0f;
  const float inv_ln2 = 1.4426950408889634f;
  float n = __builtin_floorf(x * inv_ln2 + 0.5f);
  float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.008333334f + r * (0.0013888889f + r * 0.0001984127f))))));
  union { int i; float f; } u = { .i = ((int)n + 127) << 23 };
  return p * u.f;
}

/*
 * qkv: [B·T, 3H]; bias: [B·T] additive mask; out: [B·T, H]; scores: scratch of 4·T floats.
 * d must be a multiple of 4 (the caller falls back to tfjs ops otherwise).
 */
WASM_EXPORT(attention)
void attention(const float *qkv, const float *bias, float *out, float *scores, int B, int T, int heads, int d, float scale) {
  const int H = heads * d, stride = 3 * H;
  for (int b = 0; b < B; b++) {
    const float *rows = qkv + (long)b * T * stride;
    const float *mask = bias + (long)b * T;
    for (int h = 0; h < heads; h++) {
      const float *Q = rows + h * d, *K = rows + H + h * d, *V = rows + 2 * H + h * d;
      for (int i0 = 0; i0 < T; i0 += 4) {
        const int n = T - i0 < 4 ? T - i0 : 4;
        /* Rows beyond T (last block) repeat the last row; their results are not stored. */
        const float *q[4];
        for (int r = 0; r < 4; r++) q[r] = Q + (long)(i0 + (r < n ? r : n - 1)) * stride;
        float tmp[4];
        for (int j = 0; j < T; j++) {
          dot4(q[0], q[1], q[2], q[3], K + (long)j * stride, d, tmp);
          for (int r = 0; r < 4; r++) scores[r * T + j] = tmp[r] * scale + mask[j];
        }
        for (int r = 0; r < n; r++) {
          float *s = scores + r * T, max = s[0], sum = 0.0f;
          for (int j = 1; j < T; j++) if (s[j] > max) max = s[j];
          for (int j = 0; j < T; j++) { s[j] = exp_f32(s[j] - max); sum += s[j]; }
          const float inv = 1.0f / sum;
          for (int j = 0; j < T; j++) s[j] *= inv;
        }
        /* O rows = P V, four chunks of the head at a time, V loaded once for the four rows. */
        for (int c = 0; c < d; c += 4) {
          v128_t o0 = wasm_f32x4_splat(0), o1 = o0, o2 = o0, o3 = o0;
          for (int j = 0; j < T; j++) {
            v128_t vv = wasm_v128_load(V + (long)j * stride + c);
            o0 = wasm_f32x4_add(o0, wasm_f32x4_mul(wasm_f32x4_splat(scores[j]), vv));
            o1 = wasm_f32x4_add(o1, wasm_f32x4_mul(wasm_f32x4_splat(scores[T + j]), vv));
            o2 = wasm_f32x4_add(o2, wasm_f32x4_mul(wasm_f32x4_splat(scores[2 * T + j]), vv));
            o3 = wasm_f32x4_add(o3, wasm_f32x4_mul(wasm_f32x4_splat(scores[3 * T + j]), vv));
          }
          v128_t o[4] = { o0, o1, o2, o3 };
          for (int r = 0; r < n; r++) wasm_v128_store(out + ((long)b * T + i0 + r) * H + h * d + c, o[r]);
        }
      }
    }
  }
}

/*
 * out = LayerNorm(a + b)·gamma + beta per row of H values (b may be null: no residual), with the
 * biased variance as torch.nn.LayerNorm. Mean and variance are accumulated in double.
 */
WASM_EXPORT(add_layer_norm)
void add_layer_norm(const float *a, const float *b, const float *gamma, const float *beta, float *out, int rows, int H, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *ar = a + (long)r * H, *br = b ? b + (long)r * H : 0;
    float *o = out + (long)r * H;
    double sum = 0;
    for (int k = 0; k < H; k++) {
      const float v = br ? ar[k] + br[k] : ar[k];
      o[k] = v;
      sum += v;
    }
    const float mean = (float)(sum / H);
    double sq = 0;
    for (int k = 0; k < H; k++) {
      const float c = o[k] - mean;
      sq += (double)c * c;
    }
    const float inv = (float)(1.0 / __builtin_sqrt(sq / H + eps));
    for (int k = 0; k < H; k++) o[k] = (o[k] - mean) * inv * gamma[k] + beta[k];
  }
}

/* erf for float32 as a rational function of x on [−4, 4] (±1 beyond): the approximation used by
 * Eigen and TensorFlow's CPU kernels (odd degree-13 numerator, even degree-8 denominator). */
static inline float erf_f32(float x) {
  x = x > 4.0f ? 4.0f : (x < -4.0f ? -4.0f : x);
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p = x * p;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return p / q;
}

/* In place: x·Φ(x) = x/2·(1 + erf(x/√2)), torch's exact ("gelu") GELU. */
WASM_EXPORT(gelu_erf)
void gelu_erf(float *x, int n) {
  for (int i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erf_f32(x[i] * 0.70710678118654752f));
}

/* In place: the tanh approximation ("gelu_new"): x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))),
 * with tanh(u) = 1 − 2/(e^{2u} + 1) (exact limits ±1 for large |u|). */
WASM_EXPORT(gelu_tanh)
void gelu_tanh(float *x, int n) {
  for (int i = 0; i < n; i++) {
    const float v = x[i];
    const float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
    const float t = u > 20.0f ? 1.0f : (u < -20.0f ? -1.0f : 1.0f - 2.0f / (exp_f32(2.0f * u) + 1.0f));
    x[i] = 0.5f * v * (1.0f + t);
  }
}
