/*
 * Matrix products for the products layer's WebAssembly path (src/backend/products/wasm.ts):
 * row-major C = α·op(A)·op(B) + β·C and the upper triangle of C = α·AᵀA + β·C, in float32 and
 * float64, GotoBLAS-style.
 *
 * C is cut into tiles of MC rows × NC columns. A thread computes a whole tile: for each block
 * of KC along k it packs op(A) into MR-row slivers and op(B) into NR-column slivers (packing
 * reads either layout, so Aᵀ and Bᵀ cost nothing extra), then runs the register-blocked
 * micro-kernel over the slivers. The tiling and the k-order depend only on the shape, so every
 * element of C comes out the same whatever the number of threads or which thread took a tile.
 *
 * Built twice by scripts/build-kernels.sh: gemm-simd128.wasm (2×16 micro-kernel, f32x4 mul + add)
 * and gemm-relaxed-simd.wasm (-DRELAXED: 4×8 micro-kernel with relaxed-SIMD fused multiply-add).
 * The float64 kernel uses f64x2 mul + add in both, so float64 results are the same everywhere.
 * The memory is imported and shared between the threads; each thread sets its own stack
 * pointer and passes its own scratch area.
 */
#include <wasm_simd128.h>
#include <stddef.h>

#define WASM_EXPORT(name) __attribute__((export_name(#name)))

#ifdef RELAXED
/* a·b + c, fused where the hardware has FMA (clang 16's header lacks the intrinsic's name). */
static inline v128_t relaxed_madd(v128_t a, v128_t b, v128_t c) {
  return (v128_t)__builtin_wasm_relaxed_madd_f32x4((__f32x4)a, (__f32x4)b, (__f32x4)c);
}
#define MR 4
#define NR 8
#else
#define MR 2
#define NR 16
#endif
#define MC 128
#define NC 256
#define KC 256

/* float64: 2×8 (4 f64x2 accumulators per row). */
#define DMR 2
#define DNR 8
#define DMC 64
#define DNC 128
#define DKC 256

/* Scratch a thread needs, in bytes: packed A, packed B, one edge tile (for either precision). */
WASM_EXPORT(scratch_bytes)
size_t scratch_bytes(void) {
  size_t f = (size_t)(MC * KC + KC * NC + MR * NR) * 4;
  size_t d = (size_t)(DMC * DKC + DKC * DNC + DMR * DNR) * 8;
  return (f > d ? f : d) + 64;
}

WASM_EXPORT(tile_rows) int tile_rows(int f64) { return f64 ? DMC : MC; }
WASM_EXPORT(tile_cols) int tile_cols(int f64) { return f64 ? DNC : NC; }

/* ---------------------------------------------------------------- float32 --------------- */

/* op(A)[i0:i0+mc, p0:p0+kc] into slivers of MR rows: sliver s holds, for each p, MR values. */
static void pack_a_f32(float *dst, const float *a, size_t lda, int trans, int i0, int mc, int p0, int kc, int m) {
  for (int s = 0; s < mc; s += MR) {
    for (int p = 0; p < kc; p++) {
      for (int r = 0; r < MR; r++) {
        int i = i0 + s + r;
        float v = 0.0f;
        if (s + r < mc && i < m) v = trans ? a[(size_t)(p0 + p) * lda + i] : a[(size_t)i * lda + p0 + p];
        *dst++ = v;
      }
    }
  }
}

/* op(B)[p0:p0+kc, j0:j0+nc] into slivers of NR columns: sliver s holds, for each p, NR values. */
static void pack_b_f32(float *dst, const float *b, size_t ldb, int trans, int j0, int nc, int p0, int kc) {
  for (int s = 0; s < nc; s += NR) {
    int w = nc - s < NR ? nc - s : NR;
    for (int p = 0; p < kc; p++) {
      if (!trans && w == NR) {
        const float *src = b + (size_t)(p0 + p) * ldb + j0 + s;
        for (int c = 0; c < NR; c += 4) wasm_v128_store(dst + c, wasm_v128_load(src + c));
      } else {
        for (int c = 0; c < NR; c++) {
          float v = 0.0f;
          if (c < w) v = trans ? b[(size_t)(j0 + s + c) * ldb + p0 + p] : b[(size_t)(p0 + p) * ldb + j0 + s + c];
          dst[c] = v;
        }
      }
      dst += NR;
    }
  }
}

/*
 * acc = packed A sliver · packed B sliver over kc, then C[0:h, 0:w] = scale·C + alpha·acc
 * (scale 0 means C is not read, as BLAS does with β = 0).
 */
static void micro_f32(const float *pa, const float *pb, int kc, float *c, size_t ldc, int h, int w,
                      float alpha, float scale, float *edge) {
#ifdef RELAXED
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int p = 0; p < kc; p++) {
    v128_t b0 = wasm_v128_load(pb), b1 = wasm_v128_load(pb + 4);
    v128_t a0 = wasm_v128_load32_splat(pa), a1 = wasm_v128_load32_splat(pa + 1);
    v128_t a2 = wasm_v128_load32_splat(pa + 2), a3 = wasm_v128_load32_splat(pa + 3);
    c00 = relaxed_madd(a0, b0, c00); c01 = relaxed_madd(a0, b1, c01);
    c10 = relaxed_madd(a1, b0, c10); c11 = relaxed_madd(a1, b1, c11);
    c20 = relaxed_madd(a2, b0, c20); c21 = relaxed_madd(a2, b1, c21);
    c30 = relaxed_madd(a3, b0, c30); c31 = relaxed_madd(a3, b1, c31);
    pa += MR; pb += NR;
  }
  v128_t acc[MR * NR / 4] = { c00, c01, c10, c11, c20, c21, c30, c31 };
#else
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  for (int p = 0; p < kc; p++) {
    v128_t b0 = wasm_v128_load(pb), b1 = wasm_v128_load(pb + 4), b2 = wasm_v128_load(pb + 8), b3 = wasm_v128_load(pb + 12);
    v128_t a0 = wasm_v128_load32_splat(pa), a1 = wasm_v128_load32_splat(pa + 1);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0)); c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
    c02 = wasm_f32x4_add(c02, wasm_f32x4_mul(a0, b2)); c03 = wasm_f32x4_add(c03, wasm_f32x4_mul(a0, b3));
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0)); c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
    c12 = wasm_f32x4_add(c12, wasm_f32x4_mul(a1, b2)); c13 = wasm_f32x4_add(c13, wasm_f32x4_mul(a1, b3));
    pa += MR; pb += NR;
  }
  v128_t acc[MR * NR / 4] = { c00, c01, c02, c03, c10, c11, c12, c13 };
#endif
  v128_t va = wasm_f32x4_splat(alpha), vs = wasm_f32x4_splat(scale);
  if (h == MR && w == NR) {
    for (int r = 0; r < MR; r++) {
      float *cr = c + (size_t)r * ldc;
      for (int q = 0; q < NR / 4; q++) {
        v128_t v = wasm_f32x4_mul(va, acc[r * (NR / 4) + q]);
        if (scale != 0.0f) v = wasm_f32x4_add(wasm_f32x4_mul(vs, wasm_v128_load(cr + 4 * q)), v);
        wasm_v128_store(cr + 4 * q, v);
      }
    }
    return;
  }
  for (int q = 0; q < MR * NR / 4; q++) wasm_v128_store(edge + 4 * q, acc[q]);
  for (int r = 0; r < h; r++) {
    float *cr = c + (size_t)r * ldc;
    for (int j = 0; j < w; j++) {
      float v = alpha * edge[r * NR + j];
      cr[j] = scale != 0.0f ? scale * cr[j] + v : v;
    }
  }
}

/*
 * One tile of C = α·op(A)·op(B) + β·C (A, B, C addressed with their leading dimensions).
 * upper != 0: the syrk form, only micro-tiles that touch the upper triangle (j ≥ i); a tile
 * wholly below the diagonal returns at once. Lower entries of diagonal micro-tiles are
 * written too and later replaced by mirror_upper.
 */
WASM_EXPORT(sgemm_tile)
void sgemm_tile(int tile, int m, int n, int k, const float *a, int lda, int ta, const float *b, int ldb, int tb,
                float *c, int ldc, float alpha, float beta, int upper, float *scratch) {
  int tilesN = (n + NC - 1) / NC;
  int i0 = (tile / tilesN) * MC, j0 = (tile % tilesN) * NC;
  int mc = m - i0 < MC ? m - i0 : MC, nc = n - j0 < NC ? n - j0 : NC;
  if (upper && j0 + nc - 1 < i0) return;
  float *pa = scratch, *pb = scratch + MC * KC, *edge = pb + KC * NC;
  for (int p0 = 0; p0 < k; p0 += KC) {
    int kc = k - p0 < KC ? k - p0 : KC;
    float scale = p0 == 0 ? beta : 1.0f;
    pack_b_f32(pb, b, (size_t)ldb, tb, j0, nc, p0, kc);
    pack_a_f32(pa, a, (size_t)lda, ta, i0, mc, p0, kc, m);
    for (int js = 0; js < nc; js += NR) {
      int w = nc - js < NR ? nc - js : NR;
      for (int is = 0; is < mc; is += MR) {
        int h = mc - is < MR ? mc - is : MR;
        if (upper && j0 + js + w - 1 < i0 + is) continue;
        micro_f32(pa + (size_t)is * kc, pb + (size_t)js * kc, kc,
                  c + (size_t)(i0 + is) * ldc + j0 + js, (size_t)ldc, h, w, alpha, scale, edge);
      }
    }
  }
}

/* ---------------------------------------------------------------- float64 --------------- */

static void pack_a_f64(double *dst, const double *a, size_t lda, int trans, int i0, int mc, int p0, int kc, int m) {
  for (int s = 0; s < mc; s += DMR) {
    for (int p = 0; p < kc; p++) {
      for (int r = 0; r < DMR; r++) {
        int i = i0 + s + r;
        double v = 0.0;
        if (s + r < mc && i < m) v = trans ? a[(size_t)(p0 + p) * lda + i] : a[(size_t)i * lda + p0 + p];
        *dst++ = v;
      }
    }
  }
}

static void pack_b_f64(double *dst, const double *b, size_t ldb, int trans, int j0, int nc, int p0, int kc) {
  for (int s = 0; s < nc; s += DNR) {
    int w = nc - s < DNR ? nc - s : DNR;
    for (int p = 0; p < kc; p++) {
      for (int c = 0; c < DNR; c++) {
        double v = 0.0;
        if (c < w) v = trans ? b[(size_t)(j0 + s + c) * ldb + p0 + p] : b[(size_t)(p0 + p) * ldb + j0 + s + c];
        dst[c] = v;
      }
      dst += DNR;
    }
  }
}

static void micro_f64(const double *pa, const double *pb, int kc, double *c, size_t ldc, int h, int w,
                      double alpha, double scale, double *edge) {
  v128_t c00 = wasm_f64x2_splat(0), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  for (int p = 0; p < kc; p++) {
    v128_t b0 = wasm_v128_load(pb), b1 = wasm_v128_load(pb + 2), b2 = wasm_v128_load(pb + 4), b3 = wasm_v128_load(pb + 6);
    v128_t a0 = wasm_v128_load64_splat(pa), a1 = wasm_v128_load64_splat(pa + 1);
    c00 = wasm_f64x2_add(c00, wasm_f64x2_mul(a0, b0)); c01 = wasm_f64x2_add(c01, wasm_f64x2_mul(a0, b1));
    c02 = wasm_f64x2_add(c02, wasm_f64x2_mul(a0, b2)); c03 = wasm_f64x2_add(c03, wasm_f64x2_mul(a0, b3));
    c10 = wasm_f64x2_add(c10, wasm_f64x2_mul(a1, b0)); c11 = wasm_f64x2_add(c11, wasm_f64x2_mul(a1, b1));
    c12 = wasm_f64x2_add(c12, wasm_f64x2_mul(a1, b2)); c13 = wasm_f64x2_add(c13, wasm_f64x2_mul(a1, b3));
    pa += DMR; pb += DNR;
  }
  v128_t acc[8] = { c00, c01, c02, c03, c10, c11, c12, c13 };
  for (int q = 0; q < 8; q++) wasm_v128_store(edge + 2 * q, acc[q]);
  for (int r = 0; r < h; r++) {
    double *cr = c + (size_t)r * ldc;
    for (int j = 0; j < w; j++) {
      double v = alpha * edge[r * DNR + j];
      cr[j] = scale != 0.0 ? scale * cr[j] + v : v;
    }
  }
}

WASM_EXPORT(dgemm_tile)
void dgemm_tile(int tile, int m, int n, int k, const double *a, int lda, int ta, const double *b, int ldb, int tb,
                double *c, int ldc, double alpha, double beta, int upper, double *scratch) {
  int tilesN = (n + DNC - 1) / DNC;
  int i0 = (tile / tilesN) * DMC, j0 = (tile % tilesN) * DNC;
  int mc = m - i0 < DMC ? m - i0 : DMC, nc = n - j0 < DNC ? n - j0 : DNC;
  if (upper && j0 + nc - 1 < i0) return;
  double *pa = scratch, *pb = scratch + DMC * DKC, *edge = pb + DKC * DNC;
  for (int p0 = 0; p0 < k; p0 += DKC) {
    int kc = k - p0 < DKC ? k - p0 : DKC;
    double scale = p0 == 0 ? beta : 1.0;
    pack_b_f64(pb, b, (size_t)ldb, tb, j0, nc, p0, kc);
    pack_a_f64(pa, a, (size_t)lda, ta, i0, mc, p0, kc, m);
    for (int js = 0; js < nc; js += DNR) {
      int w = nc - js < DNR ? nc - js : DNR;
      for (int is = 0; is < mc; is += DMR) {
        int h = mc - is < DMR ? mc - is : DMR;
        if (upper && j0 + js + w - 1 < i0 + is) continue;
        micro_f64(pa + (size_t)is * kc, pb + (size_t)js * kc, kc,
                  c + (size_t)(i0 + is) * ldc + j0 + js, (size_t)ldc, h, w, alpha, scale, edge);
      }
    }
  }
}

/* ---------------------------------------------------------------- helpers --------------- */

/* Copy the upper triangle of the n×n matrix c onto its lower triangle. */
WASM_EXPORT(mirror_upper_f32)
void mirror_upper_f32(float *c, int n) {
  for (int i = 1; i < n; i++)
    for (int j = 0; j < i; j++) c[(size_t)i * n + j] = c[(size_t)j * n + i];
}

WASM_EXPORT(mirror_upper_f64)
void mirror_upper_f64(double *c, int n) {
  for (int i = 1; i < n; i++)
    for (int j = 0; j < i; j++) c[(size_t)i * n + j] = c[(size_t)j * n + i];
}
