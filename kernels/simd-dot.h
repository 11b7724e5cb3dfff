/* SIMD helpers shared by the encoder and training kernels (included, not built on its own). */
#ifndef REPGEOM_SIMD_DOT_H
#define REPGEOM_SIMD_DOT_H
#include <wasm_simd128.h>

static inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

/* Four rows against one row: the shared row is loaded once for four dot products (any d). */
static inline void dot4(const float *q0, const float *q1, const float *q2, const float *q3, const float *k, int d, float *out) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  int c = 0;
  for (; c + 4 <= d; c += 4) {
    v128_t kv = wasm_v128_load(k + c);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(q0 + c), kv));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(q1 + c), kv));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wasm_v128_load(q2 + c), kv));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wasm_v128_load(q3 + c), kv));
  }
  float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  for (; c < d; c++) {
    s0 += q0[c] * k[c]; s1 += q1[c] * k[c]; s2 += q2[c] * k[c]; s3 += q3[c] * k[c];
  }
  out[0] = s0; out[1] = s1; out[2] = s2; out[3] = s3;
}

#endif
