/*
 * The unnormalised Walsh–Hadamard transform of 2^k float32 values in place, as a WebAssembly
 * SIMD kernel (src/subspace/hadamard.ts measures it against a plain JS loop and picks per size).
 *
 * Same order of operations as the JS loop, so both give the same float32 results:
 *   - the array is cut into cache-sized blocks of BLOCK values; every level h < BLOCK runs inside
 *     one block before the next block is touched (the block stays in L1/L2);
 *   - levels h = 1 and 2 run inside each 4-lane vector (shuffles), the other levels as
 *     butterflies over whole vectors;
 *   - the levels h ≥ BLOCK are fused two at a time (radix 4: a, b, c, d at j, j+h, j+2h, j+3h
 *     become (a+b)+(c+d), (a−b)+(c−d), (a+b)−(c+d), (a−b)−(c−d)), halving the passes over memory.
 *
 * ff_forward / ff_adjoint run a whole Fastfood (src/subspace/fastfood.ts) on vectors and
 * parameters (signs B, permutation Π, gaussian G) that live in this module's memory, so that no
 * O(L) array crosses into JS but the tensor itself; same float32 operations as the JS path.
 * Build: scripts/build-kernels.sh (clang --target=wasm32 -msimd128).
 */
#include <wasm_simd128.h>

#define WASM_EXPORT(name) __attribute__((export_name(#name)))
#define BLOCK 4096

/* Levels 1 .. n/2 of an n-value block (n ≥ 4, a power of two). */
static void block_levels(float *x, int n) {
  const v128_t sign1 = wasm_f32x4_make(1, -1, 1, -1);
  const v128_t sign2 = wasm_f32x4_make(1, 1, -1, -1);
  for (int i = 0; i < n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v = wasm_f32x4_add(wasm_i32x4_shuffle(v, v, 0, 0, 2, 2), wasm_f32x4_mul(wasm_i32x4_shuffle(v, v, 1, 1, 3, 3), sign1));
    v = wasm_f32x4_add(wasm_i32x4_shuffle(v, v, 0, 1, 0, 1), wasm_f32x4_mul(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3), sign2));
    wasm_v128_store(x + i, v);
  }
  for (int h = 4; h < n; h *= 2) {
    for (int i = 0; i < n; i += 2 * h) {
      float *a = x + i, *b = x + i + h;
      for (int j = 0; j < h; j += 4) {
        v128_t u = wasm_v128_load(a + j), w = wasm_v128_load(b + j);
        wasm_v128_store(a + j, wasm_f32x4_add(u, w));
        wasm_v128_store(b + j, wasm_f32x4_sub(u, w));
      }
    }
  }
}

/* One level h over the whole array (radix 2). */
static void level2(float *x, int n, int h) {
  for (int i = 0; i < n; i += 2 * h) {
    float *a = x + i, *b = x + i + h;
    for (int j = 0; j < h; j += 4) {
      v128_t u = wasm_v128_load(a + j), w = wasm_v128_load(b + j);
      wasm_v128_store(a + j, wasm_f32x4_add(u, w));
      wasm_v128_store(b + j, wasm_f32x4_sub(u, w));
    }
  }
}

/* Levels h and 2h fused over the whole array (radix 4). */
static void level4(float *x, int n, int h) {
  for (int i = 0; i < n; i += 4 * h) {
    float *p0 = x + i, *p1 = p0 + h, *p2 = p1 + h, *p3 = p2 + h;
    for (int j = 0; j < h; j += 4) {
      v128_t a = wasm_v128_load(p0 + j), b = wasm_v128_load(p1 + j);
      v128_t c = wasm_v128_load(p2 + j), d = wasm_v128_load(p3 + j);
      v128_t s = wasm_f32x4_add(a, b), t = wasm_f32x4_sub(a, b);
      v128_t u = wasm_f32x4_add(c, d), w = wasm_f32x4_sub(c, d);
      wasm_v128_store(p0 + j, wasm_f32x4_add(s, u));
      wasm_v128_store(p1 + j, wasm_f32x4_add(t, w));
      wasm_v128_store(p2 + j, wasm_f32x4_sub(s, u));
      wasm_v128_store(p3 + j, wasm_f32x4_sub(t, w));
    }
  }
}

/* x: n floats, n a power of two, 16-byte aligned. */
WASM_EXPORT(fwht_f32)
void fwht_f32(float *x, int n) {
  if (n < 4) {
    if (n == 2) { float a = x[0], b = x[1]; x[0] = a + b; x[1] = a - b; }
    return;
  }
  int block = n < BLOCK ? n : BLOCK;
  for (int i = 0; i < n; i += block) block_levels(x + i, block);
  int h = block;
  for (; 4 * h <= n; h *= 4) level4(x, n, h);
  if (h < n) level2(x, n, h);
}

/*
 * Forward: a = B ⊙ pad_L(θ[0:used]); a ← H a; b = G ⊙ a[Π]; b ← H b; b[0:rows] ← b·scale
 * (scaled in double and rounded once, as the JS path does).
 */
WASM_EXPORT(ff_forward)
void ff_forward(const float *theta, int used, const float *signs, const int *perm, const float *g, float *a, float *b, int L, int rows, double scale) {
  for (int i = 0; i < used; i++) a[i] = signs[i] * theta[i];
  for (int i = used; i < L; i++) a[i] = 0;
  fwht_f32(a, L);
  for (int i = 0; i < L; i++) b[i] = g[i] * a[perm[i]];
  fwht_f32(b, L);
  for (int i = 0; i < rows; i++) b[i] = (float)((double)b[i] * scale);
}

/*
 * Adjoint, with y already in a[0:rows]: a ← H pad_L(y); b[Π[i]] = G[i]·a[i]; b ← H b;
 * b[0:used] ← B ⊙ b (the caller scales and accumulates in double).
 */
WASM_EXPORT(ff_adjoint)
void ff_adjoint(int used, const float *signs, const int *perm, const float *g, float *a, float *b, int L, int rows) {
  for (int i = rows; i < L; i++) a[i] = 0;
  fwht_f32(a, L);
  for (int i = 0; i < L; i++) b[perm[i]] = g[i] * a[i];
  fwht_f32(b, L);
  for (int i = 0; i < used; i++) b[i] = signs[i] * b[i];
}
