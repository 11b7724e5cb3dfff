/*
 * The training step's non-GEMM work on the CPU, as WebAssembly SIMD kernels, each forward with its
 * backward (the matrix products go through the products layer): LayerNorm (with residual),
 * GELU (erf and tanh forms), attention over the fused QKV projection with probability dropout,
 * softmax cross-entropy, MSE, tanh, dropout, embedding gather/scatter-add, bias sums.
 *
 * Conventions (as kernels/encoder.c): no libm (own exp, erf, tanh, log), float32 data, float64
 * where a sum over many terms decides the accuracy (row statistics, parameter-gradient sums,
 * losses). Every sum runs in a fixed order, so results are bitwise reproducible. Elementwise tails
 * go through the same 4-lane code as the body (a padded vector), so an element's result does not
 * depend on its position. Dropout masks come from a counter-based hash of (seed, stream, step,
 * element index): no state, the same bits whatever the evaluation order.
 * Build: scripts/build-kernels.sh (clang --target=wasm32 -msimd128).
 */
#include <wasm_simd128.h>
#include <stdint.h>

#define WASM_EXPORT(name) __attribute__((export_name(#name)))

typedef v128_t (*unary4)(v128_t);

/* clang turns copy loops (e.g. a row of probabilities) into memcpy calls and there is no libc:
 * this is the one it calls, 16 bytes at a time (no_builtin keeps the loops below from becoming
 * calls to itself). */
__attribute__((no_builtin("memcpy"))) void *memcpy(void *dst, const void *src, __SIZE_TYPE__ n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  __SIZE_TYPE__ i = 0;
  for (; i + 16 <= n; i += 16) wasm_v128_store(d + i, wasm_v128_load(s + i));
  for (; i < n; i++) d[i] = s[i];
  return dst;
}

#include "simd-dot.h"

static inline double hsum64(v128_t v) { return wasm_f64x2_extract_lane(v, 0) + wasm_f64x2_extract_lane(v, 1); }

/* Load / store the first n < 4 floats of p as a vector (zero-padded). */
static inline v128_t load_part(const float *p, int n) {
  float t[4] = { 0, 0, 0, 0 };
  for (int i = 0; i < n; i++) t[i] = p[i];
  return wasm_v128_load(t);
}
static inline void store_part(float *p, v128_t v, int n) {
  float t[4];
  wasm_v128_store(t, v);
  for (int i = 0; i < n; i++) p[i] = t[i];
}

/* acc (two f64x2) += the four lanes of v, promoted to double. */
static inline void add_promoted(v128_t *lo, v128_t *hi, v128_t v) {
  *lo = wasm_f64x2_add(*lo, wasm_f64x2_promote_low_f32x4(v));
  *hi = wasm_f64x2_add(*hi, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3)));
}

/* ---------------------------------------------------------------- elementary functions */

/* exp(x) = 2^n · e^r, n = round(x/ln2), |r| ≤ ln2/2, r from a two-part ln2 (Cody–Waite), e^r by
 * its degree-7 Taylor polynomial (truncation < 6e-9 relative); n is rounded by adding 1.5·2²³,
 * whose float bits then hold n in their low bits (cheaper in wasm than floor and a conversion).
 * Arguments clamped to [−87, 88]; below −87 the result is 0 (softmax tails). */
static inline v128_t exp4(v128_t x) {
  const v128_t under = wasm_f32x4_lt(x, wasm_f32x4_splat(-87.0f));
  x = wasm_f32x4_pmin(wasm_f32x4_splat(88.0f), wasm_f32x4_pmax(wasm_f32x4_splat(-87.0f), x));
  const v128_t magic = wasm_f32x4_splat(12582912.0f);
  const v128_t t = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.4426950408889634f)), magic);
  const v128_t n = wasm_f32x4_sub(t, magic);
  const v128_t r = wasm_f32x4_sub(wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693145751953125f))), wasm_f32x4_mul(n, wasm_f32x4_splat(1.428606765330187e-06f)));
  v128_t p = wasm_f32x4_splat(0.0001984127f);
  p = wasm_f32x4_add(wasm_f32x4_splat(0.0013888889f), wasm_f32x4_mul(r, p));
  p = wasm_f32x4_add(wasm_f32x4_splat(0.008333334f), wasm_f32x4_mul(r, p));
  p = wasm_f32x4_add(wasm_f32x4_splat(0.041666668f), wasm_f32x4_mul(r, p));
  p = wasm_f32x4_add(wasm_f32x4_splat(0.16666667f), wasm_f32x4_mul(r, p));
  p = wasm_f32x4_add(wasm_f32x4_splat(0.5f), wasm_f32x4_mul(r, p));
  p = wasm_f32x4_add(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(r, p));
  p = wasm_f32x4_add(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(r, p));
  /* bits(t) = bits(1.5·2²³) + n, and bits(1.5·2²³) << 23 vanishes in 32 bits: 2^n's bits are (bits(t) + 127) << 23 */
  const v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(t, wasm_i32x4_splat(127)), 23);
  return wasm_v128_andnot(wasm_f32x4_mul(p, scale), under);
}

/* erf as a rational function of x on [−4, 4] (±1 beyond): Eigen's / TensorFlow's float32
 * approximation, as encoder.c's erf_f32. */
static inline v128_t erf4(v128_t x) {
  x = wasm_f32x4_pmin(wasm_f32x4_splat(4.0f), wasm_f32x4_pmax(wasm_f32x4_splat(-4.0f), x));
  const v128_t x2 = wasm_f32x4_mul(x, x);
#define MA(a, b, c) wasm_f32x4_add(wasm_f32x4_mul(a, b), wasm_f32x4_splat(c))
  v128_t p = MA(x2, wasm_f32x4_splat(-2.72614225801306e-10f), 2.77068142495902e-08f);
  p = MA(x2, p, -2.10102402082508e-06f);
  p = MA(x2, p, -5.69250639462346e-05f);
  p = MA(x2, p, -7.34990630326855e-04f);
  p = MA(x2, p, -2.95459980854025e-03f);
  p = MA(x2, p, -1.60960333262415e-02f);
  p = wasm_f32x4_mul(x, p);
  v128_t q = MA(x2, wasm_f32x4_splat(-1.45660718464996e-05f), -2.13374055278905e-04f);
  q = MA(x2, q, -1.68282697438203e-03f);
  q = MA(x2, q, -7.37332916720468e-03f);
  q = MA(x2, q, -1.42647390514189e-02f);
  return wasm_f32x4_div(p, q);
}

/* tanh, also returning q = 1 − |tanh x| without cancellation (for 1 + t and 1 − t² in the
 * tails): odd Taylor series to x¹¹ for |x| < 0.25 (next term < 3e-10 relative), else
 * q = 2/(e^{2|x|} + 1), tanh = sign(x)·(1 − q), exactly ±1 once e^{2|x|} swamps the 1. */
static inline v128_t tanh_q4(v128_t x, v128_t *q) {
  const v128_t ax = wasm_f32x4_abs(x);
  const v128_t x2 = wasm_f32x4_mul(x, x);
  v128_t s = wasm_f32x4_splat(-0.0035921280365724811f);
  s = MA(x2, s, 0.0088632355299021966f);
  s = MA(x2, s, -0.021869488536155203f);
  s = MA(x2, s, 0.053968253968253968f);
  s = MA(x2, s, -0.13333333333333333f);
  s = MA(x2, s, 0.33333333333333333f);
  /* tanh x = x − x³/3 + 2x⁵/15 − … = x − x³·s(x²) */
  const v128_t small = wasm_f32x4_sub(x, wasm_f32x4_mul(wasm_f32x4_mul(x, x2), s));
  const v128_t e = exp4(wasm_f32x4_add(ax, ax));
  const v128_t qbig = wasm_f32x4_div(wasm_f32x4_splat(2.0f), wasm_f32x4_add(e, wasm_f32x4_splat(1.0f)));
  const v128_t big = wasm_v128_or(wasm_f32x4_sub(wasm_f32x4_splat(1.0f), qbig), wasm_v128_and(x, wasm_i32x4_splat((int)0x80000000)));
  const v128_t is_small = wasm_f32x4_lt(ax, wasm_f32x4_splat(0.25f));
  const v128_t t = wasm_v128_bitselect(small, big, is_small);
  *q = wasm_v128_bitselect(wasm_f32x4_sub(wasm_f32x4_splat(1.0f), wasm_f32x4_abs(small)), qbig, is_small);
  return t;
}

static inline v128_t tanh4(v128_t x) {
  v128_t q;
  return tanh_q4(x, &q);
}

/* Natural log in double: log(m·2^e) = e·ln2 + 2·atanh(s), s = (m − 1)/(m + 1), m ∈ [√½, √2),
 * |s| ≤ 0.172, series to s²¹ (next term < 1e-18). For positive finite x (a softmax sum ≥ 1). */
static double log_f64(double x) {
  union { double d; uint64_t u; } v = { .d = x };
  int e = (int)((v.u >> 52) & 0x7ff) - 1023;
  v.u = (v.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  double m = v.d;
  if (m > 1.4142135623730951) { m *= 0.5; e += 1; }
  const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double t = 1.0 / 21;
  for (int k = 19; k >= 1; k -= 2) t = 1.0 / k + s2 * t;
  return e * 0.6931471805599453 + 2.0 * s * t;
}

/* ---------------------------------------------------------------- dropout bits */

static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
#define GOLDEN 0x9E3779B97F4A7C15ULL

/* The key of one dropout site at one step. */
static inline uint64_t dropout_key(uint32_t seed, uint32_t stream, uint32_t step) {
  const uint64_t k = mix64((((uint64_t)seed << 32) | stream) + GOLDEN);
  return mix64(k + ((uint64_t)step + 1) * GOLDEN);
}

/* The 32 random bits of element i: SplitMix64's output number i/2 + 1 from state `key`, low half
 * for even i, high half for odd i. */
static inline uint32_t element_bits(uint64_t key, uint64_t i) {
  const uint64_t z = mix64(key + ((i >> 1) + 1) * GOLDEN);
  return (i & 1) ? (uint32_t)(z >> 32) : (uint32_t)z;
}

/* Keep threshold: element kept iff bits < floor(keep·2^32); keep = 1 keeps all. */
static inline uint64_t keep_threshold(double keep) { return (uint64_t)(keep * 4294967296.0); }

/* Raw bits for elements start..start+n−1 (the tests compare them with a reference). */
WASM_EXPORT(dropout_bits)
void dropout_bits(uint32_t *out, int n, uint32_t seed, uint32_t stream, uint32_t step, double start) {
  const uint64_t key = dropout_key(seed, stream, step), s = (uint64_t)start;
  for (int i = 0; i < n; i++) out[i] = element_bits(key, s + i);
}

/* 1 where element start+i is kept, 0 where dropped. */
WASM_EXPORT(dropout_mask)
void dropout_mask(uint8_t *out, int n, double keep, uint32_t seed, uint32_t stream, uint32_t step, double start) {
  const uint64_t key = dropout_key(seed, stream, step), s = (uint64_t)start, thr = keep_threshold(keep);
  for (int i = 0; i < n; i++) out[i] = element_bits(key, s + i) < thr;
}

static inline v128_t mix64x2(v128_t z) {
  z = wasm_i64x2_mul(wasm_v128_xor(z, wasm_u64x2_shr(z, 30)), wasm_i64x2_splat((int64_t)0xBF58476D1CE4E5B9ULL));
  z = wasm_i64x2_mul(wasm_v128_xor(z, wasm_u64x2_shr(z, 27)), wasm_i64x2_splat((int64_t)0x94D049BB133111EBULL));
  return wasm_v128_xor(z, wasm_u64x2_shr(z, 31));
}

/* Fill m[0..n) with mask/keep for elements start.. (0 or 1/keep as float); thr < 2^32 (keep < 1).
 * Four elements per step: two hashes in 64-bit lanes, whose 32-bit halves are, in little-endian
 * lane order, exactly elements 2c (low) and 2c + 1 (high) of counters c, c + 1. */
static void mask_scale(float *m, int n, uint64_t key, uint64_t start, uint64_t thr, float inv) {
  int i = 0;
  if (n > 0 && (start & 1)) { m[0] = element_bits(key, start) < thr ? inv : 0.0f; i = 1; }
  const v128_t tv = wasm_i32x4_splat((int32_t)(uint32_t)thr), iv = wasm_f32x4_splat(inv);
  const v128_t step2 = wasm_i64x2_splat((int64_t)(2 * GOLDEN));
  v128_t z = wasm_i64x2_make((int64_t)(key + (((start + i) >> 1) + 1) * GOLDEN), (int64_t)(key + (((start + i) >> 1) + 2) * GOLDEN));
  for (; i + 4 <= n; i += 4) {
    const v128_t bits = mix64x2(z);
    wasm_v128_store(m + i, wasm_v128_and(wasm_u32x4_lt(bits, tv), iv));
    z = wasm_i64x2_add(z, step2);
  }
  for (; i < n; i++) m[i] = element_bits(key, start + i) < thr ? inv : 0.0f;
}

/* y = x·mask/keep for elements start..start+n−1 of a tensor (keep = 1: a copy). The backward is
 * the same call on dY (same seed, stream, step, start). y may alias x. */
WASM_EXPORT(dropout_apply)
void dropout_apply(const float *x, float *y, int n, double keep, uint32_t seed, uint32_t stream, uint32_t step, double start) {
  const uint64_t key = dropout_key(seed, stream, step), s = (uint64_t)start, thr = keep_threshold(keep);
  const float inv = (float)(1.0 / keep);
  if (keep >= 1.0) { for (int i = 0; i < n; i++) y[i] = x[i]; return; }
  float m[256];
  for (int i0 = 0; i0 < n; i0 += 256) {
    const int len = n - i0 < 256 ? n - i0 : 256;
    mask_scale(m, len, key, s + i0, thr, inv);
    for (int i = 0; i < len; i++) y[i0 + i] = x[i0 + i] * m[i];
  }
}

/* ---------------------------------------------------------------- LayerNorm */

/*
 * out = (x − mean)·rstd·γ + β per row of H, x = a + b (b null: x = a), biased variance, as
 * torch.nn.LayerNorm. Saves mean and rstd = 1/√(var + eps) per row (float32); both statistics are
 * two-pass sums in double. out must not alias a or b (the backward reads them).
 */
WASM_EXPORT(layernorm_forward)
void layernorm_forward(const float *a, const float *b, const float *gamma, const float *beta, float *out, float *mean, float *rstd, int rows, int H, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *ar = a + (long)r * H, *br = b ? b + (long)r * H : 0;
    float *o = out + (long)r * H;
    v128_t s0 = wasm_f64x2_splat(0), s1 = s0;
    int k = 0;
    for (; k + 4 <= H; k += 4) {
      v128_t v = wasm_v128_load(ar + k);
      if (br) v = wasm_f32x4_add(v, wasm_v128_load(br + k));
      wasm_v128_store(o + k, v);
      add_promoted(&s0, &s1, v);
    }
    double sum = hsum64(s0) + hsum64(s1);
    for (; k < H; k++) { const float v = br ? ar[k] + br[k] : ar[k]; o[k] = v; sum += v; }
    const double m = sum / H;
    v128_t q0 = wasm_f64x2_splat(0), q1 = q0;
    const v128_t md = wasm_f64x2_splat(m);
    for (k = 0; k + 4 <= H; k += 4) {
      const v128_t v = wasm_v128_load(o + k);
      const v128_t c0 = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(v), md);
      const v128_t c1 = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3)), md);
      q0 = wasm_f64x2_add(q0, wasm_f64x2_mul(c0, c0));
      q1 = wasm_f64x2_add(q1, wasm_f64x2_mul(c1, c1));
    }
    double sq = hsum64(q0) + hsum64(q1);
    for (; k < H; k++) { const double c = o[k] - m; sq += c * c; }
    const float mf = (float)m, rs = (float)(1.0 / __builtin_sqrt(sq / H + eps));
    mean[r] = mf;
    rstd[r] = rs;
    const v128_t mv = wasm_f32x4_splat(mf), rv = wasm_f32x4_splat(rs);
    for (k = 0; k + 4 <= H; k += 4) {
      const v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(o + k), mv), rv);
      wasm_v128_store(o + k, wasm_f32x4_add(wasm_f32x4_mul(xh, wasm_v128_load(gamma + k)), wasm_v128_load(beta + k)));
    }
    for (; k < H; k++) o[k] = (o[k] - mf) * rs * gamma[k] + beta[k];
  }
}

/*
 * From dY: dX (= the gradient of a and of b) written (accumulate = 0) or added (accumulate = 1),
 * dγ += Σ_rows dY·x̂ and dβ += Σ_rows dY, summed over rows in order in double (acc: 2H doubles of
 * scratch) and added to the float32 dγ, dβ at the end. dX may alias dY.
 *   x̂ = (x − mean)·rstd,  g = dY·γ,  dX = rstd·(g − mean(g) − x̂·mean(g·x̂))
 */
WASM_EXPORT(layernorm_backward)
void layernorm_backward(const float *dy, const float *a, const float *b, const float *gamma, const float *mean, const float *rstd,
                        float *dx, float *dgamma, float *dbeta, double *acc, int rows, int H, int accumulate) {
  double *ag = acc, *ab = acc + H;
  for (int k = 0; k < 2 * H; k++) acc[k] = 0;
  for (int r = 0; r < rows; r++) {
    const float *ar = a + (long)r * H, *br = b ? b + (long)r * H : 0, *dyr = dy + (long)r * H;
    float *dxr = dx + (long)r * H;
    const float mf = mean[r], rs = rstd[r];
    const v128_t mv = wasm_f32x4_splat(mf), rv = wasm_f32x4_splat(rs);
    v128_t g0 = wasm_f64x2_splat(0), g1 = g0, h0 = g0, h1 = g0;
    int k = 0;
    for (; k + 4 <= H; k += 4) {
      v128_t x = wasm_v128_load(ar + k);
      if (br) x = wasm_f32x4_add(x, wasm_v128_load(br + k));
      const v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(x, mv), rv);
      const v128_t d = wasm_v128_load(dyr + k);
      const v128_t g = wasm_f32x4_mul(d, wasm_v128_load(gamma + k));
      add_promoted(&g0, &g1, g);
      add_promoted(&h0, &h1, wasm_f32x4_mul(g, xh));
      const v128_t dxh = wasm_f32x4_mul(d, xh);
      wasm_v128_store(ag + k, wasm_f64x2_add(wasm_v128_load(ag + k), wasm_f64x2_promote_low_f32x4(dxh)));
      wasm_v128_store(ag + k + 2, wasm_f64x2_add(wasm_v128_load(ag + k + 2), wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(dxh, dxh, 2, 3, 2, 3))));
      wasm_v128_store(ab + k, wasm_f64x2_add(wasm_v128_load(ab + k), wasm_f64x2_promote_low_f32x4(d)));
      wasm_v128_store(ab + k + 2, wasm_f64x2_add(wasm_v128_load(ab + k + 2), wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(d, d, 2, 3, 2, 3))));
    }
    double sg = hsum64(g0) + hsum64(g1), sgx = hsum64(h0) + hsum64(h1);
    for (int j = k; j < H; j++) {
      const float x = br ? ar[j] + br[j] : ar[j];
      const float xh = (x - mf) * rs, g = dyr[j] * gamma[j];
      sg += g;
      sgx += g * xh;
      ag[j] += dyr[j] * xh;
      ab[j] += dyr[j];
    }
    const float mg = (float)(sg / H), mgx = (float)(sgx / H);
    const v128_t mgv = wasm_f32x4_splat(mg), mgxv = wasm_f32x4_splat(mgx);
    for (k = 0; k + 4 <= H; k += 4) {
      v128_t x = wasm_v128_load(ar + k);
      if (br) x = wasm_f32x4_add(x, wasm_v128_load(br + k));
      const v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(x, mv), rv);
      const v128_t g = wasm_f32x4_mul(wasm_v128_load(dyr + k), wasm_v128_load(gamma + k));
      v128_t d = wasm_f32x4_mul(wasm_f32x4_sub(wasm_f32x4_sub(g, mgv), wasm_f32x4_mul(xh, mgxv)), rv);
      if (accumulate) d = wasm_f32x4_add(wasm_v128_load(dxr + k), d);
      wasm_v128_store(dxr + k, d);
    }
    for (; k < H; k++) {
      const float x = br ? ar[k] + br[k] : ar[k];
      const float xh = (x - mf) * rs, g = dyr[k] * gamma[k];
      const float d = (g - mg - xh * mgx) * rs;
      dxr[k] = accumulate ? dxr[k] + d : d;
    }
  }
  for (int k = 0; k < H; k++) {
    dgamma[k] = (float)(dgamma[k] + ag[k]);
    dbeta[k] = (float)(dbeta[k] + ab[k]);
  }
}

/* ---------------------------------------------------------------- elementwise: GELU, tanh */

static inline v128_t gelu_erf4(v128_t x) {
  const v128_t cdf = wasm_f32x4_mul(wasm_f32x4_splat(0.5f), wasm_f32x4_add(wasm_f32x4_splat(1.0f), erf4(wasm_f32x4_mul(x, wasm_f32x4_splat(0.70710678118654752f)))));
  return wasm_f32x4_mul(x, cdf);
}

/* d/dx x·Φ(x) = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π). */
static inline v128_t gelu_erf_grad4(v128_t x) {
  const v128_t cdf = wasm_f32x4_mul(wasm_f32x4_splat(0.5f), wasm_f32x4_add(wasm_f32x4_splat(1.0f), erf4(wasm_f32x4_mul(x, wasm_f32x4_splat(0.70710678118654752f)))));
  const v128_t pdf = wasm_f32x4_mul(wasm_f32x4_splat(0.3989422804014327f), exp4(wasm_f32x4_mul(wasm_f32x4_splat(-0.5f), wasm_f32x4_mul(x, x))));
  return wasm_f32x4_add(cdf, wasm_f32x4_mul(x, pdf));
}

/* gelu_new: x/2·(1 + tanh(u)), u = √(2/π)·(x + 0.044715x³); 1 + tanh(u) = q for u < 0. */
static inline v128_t gelu_tanh4(v128_t x) {
  const v128_t x3 = wasm_f32x4_mul(wasm_f32x4_mul(x, x), x);
  const v128_t u = wasm_f32x4_mul(wasm_f32x4_splat(0.7978845608028654f), wasm_f32x4_add(x, wasm_f32x4_mul(wasm_f32x4_splat(0.044715f), x3)));
  v128_t q;
  const v128_t t = tanh_q4(u, &q);
  const v128_t one_plus_t = wasm_v128_bitselect(q, wasm_f32x4_add(wasm_f32x4_splat(1.0f), t), wasm_f32x4_lt(u, wasm_f32x4_splat(0.0f)));
  return wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(0.5f), x), one_plus_t);
}

/* (1 + t)/2 + x/2·(1 − t²)·√(2/π)·(1 + 3·0.044715x²), with 1 − t² = q(2 − q). */
static inline v128_t gelu_tanh_grad4(v128_t x) {
  const v128_t x2 = wasm_f32x4_mul(x, x);
  const v128_t u = wasm_f32x4_mul(wasm_f32x4_splat(0.7978845608028654f), wasm_f32x4_add(x, wasm_f32x4_mul(wasm_f32x4_splat(0.044715f), wasm_f32x4_mul(x2, x))));
  v128_t q;
  const v128_t t = tanh_q4(u, &q);
  const v128_t one_plus_t = wasm_v128_bitselect(q, wasm_f32x4_add(wasm_f32x4_splat(1.0f), t), wasm_f32x4_lt(u, wasm_f32x4_splat(0.0f)));
  const v128_t sech2 = wasm_f32x4_mul(q, wasm_f32x4_sub(wasm_f32x4_splat(2.0f), q));
  const v128_t du = wasm_f32x4_mul(wasm_f32x4_splat(0.7978845608028654f), wasm_f32x4_add(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(wasm_f32x4_splat(0.134145f), x2)));
  const v128_t half = wasm_f32x4_splat(0.5f);
  const v128_t a = wasm_f32x4_mul(half, one_plus_t);
  const v128_t b = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_mul(half, x), sech2), du);
  return wasm_f32x4_add(a, b);
}

/* y = f(x) elementwise; y may alias x. Always inlined so that f is a direct, inlined call. */
static inline __attribute__((always_inline)) void map(unary4 f, const float *x, float *y, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, f(wasm_v128_load(x + i)));
  if (i < n) store_part(y + i, f(load_part(x + i, n - i)), n - i);
}

/* dx = dy·f'(x) elementwise; dx may alias dy. */
static inline __attribute__((always_inline)) void map_grad(unary4 fprime, const float *dy, const float *x, float *dx, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dx + i, wasm_f32x4_mul(wasm_v128_load(dy + i), fprime(wasm_v128_load(x + i))));
  if (i < n) store_part(dx + i, wasm_f32x4_mul(load_part(dy + i, n - i), fprime(load_part(x + i, n - i))), n - i);
}

/* kind 0: 'gelu' (exact, erf), kind 1: 'gelu_new' (tanh form). */
WASM_EXPORT(gelu_forward)
void gelu_forward(const float *x, float *y, int n, int kind) {
  if (kind) map(gelu_tanh4, x, y, n);
  else map(gelu_erf4, x, y, n);
}

WASM_EXPORT(gelu_backward)
void gelu_backward(const float *dy, const float *x, float *dx, int n, int kind) {
  if (kind) map_grad(gelu_tanh_grad4, dy, x, dx, n);
  else map_grad(gelu_erf_grad4, dy, x, dx, n);
}

WASM_EXPORT(tanh_forward)
void tanh_forward(const float *x, float *y, int n) { map(tanh4, x, y, n); }

/* dx = dy·(1 − y²) from the forward's output y; dx may alias dy. */
WASM_EXPORT(tanh_backward)
void tanh_backward(const float *dy, const float *y, float *dx, int n) {
  for (int i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

/* ---------------------------------------------------------------- attention */


/* out rows r < n (stride ostride) = Σ_j w[r·T + j]·src_j for the d-vectors src_j = src + j·sstride. */
static void combine4(const float *w, int T, const float *src, long sstride, float *out, long ostride, int n, int d) {
  int c = 0;
  for (; c + 4 <= d; c += 4) {
    v128_t o0 = wasm_f32x4_splat(0), o1 = o0, o2 = o0, o3 = o0;
    for (int j = 0; j < T; j++) {
      const v128_t v = wasm_v128_load(src + j * sstride + c);
      o0 = wasm_f32x4_add(o0, wasm_f32x4_mul(wasm_f32x4_splat(w[j]), v));
      o1 = wasm_f32x4_add(o1, wasm_f32x4_mul(wasm_f32x4_splat(w[T + j]), v));
      o2 = wasm_f32x4_add(o2, wasm_f32x4_mul(wasm_f32x4_splat(w[2 * T + j]), v));
      o3 = wasm_f32x4_add(o3, wasm_f32x4_mul(wasm_f32x4_splat(w[3 * T + j]), v));
    }
    const v128_t o[4] = { o0, o1, o2, o3 };
    for (int r = 0; r < n; r++) wasm_v128_store(out + r * ostride + c, o[r]);
  }
  for (; c < d; c++) {
    float o[4] = { 0, 0, 0, 0 };
    for (int j = 0; j < T; j++) {
      const float v = src[j * sstride + c];
      for (int r = 0; r < 4; r++) o[r] += w[r * T + j] * v;
    }
    for (int r = 0; r < n; r++) out[r * ostride + c] = o[r];
  }
}

/* dst_j += Σ_r w[r·T + j]·rows_r for every j (d-vectors dst_j = dst + j·dstride); w rows ≥ n are 0. */
static void scatter4(const float *w, int T, const float *const rows[4], float *dst, long dstride, int d) {
  for (int j = 0; j < T; j++) {
    const float w0 = w[j], w1 = w[T + j], w2 = w[2 * T + j], w3 = w[3 * T + j];
    float *o = dst + j * dstride;
    const v128_t v0 = wasm_f32x4_splat(w0), v1 = wasm_f32x4_splat(w1), v2 = wasm_f32x4_splat(w2), v3 = wasm_f32x4_splat(w3);
    int c = 0;
    for (; c + 4 <= d; c += 4) {
      v128_t s = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(v0, wasm_v128_load(rows[0] + c)), wasm_f32x4_mul(v1, wasm_v128_load(rows[1] + c))),
                                wasm_f32x4_add(wasm_f32x4_mul(v2, wasm_v128_load(rows[2] + c)), wasm_f32x4_mul(v3, wasm_v128_load(rows[3] + c))));
      wasm_v128_store(o + c, wasm_f32x4_add(wasm_v128_load(o + c), s));
    }
    for (; c < d; c++) o[c] += (w0 * rows[0][c] + w1 * rows[1][c]) + (w2 * rows[2][c] + w3 * rows[3][c]);
  }
}

/* s = softmax(s) in place over T entries (the row maximum subtracted first). */
static void softmax_row(float *s, int T) {
  float max = s[0];
  for (int j = 1; j < T; j++) if (s[j] > max) max = s[j];
  const v128_t mv = wasm_f32x4_splat(max);
  v128_t acc = wasm_f32x4_splat(0);
  int j = 0;
  for (; j + 4 <= T; j += 4) {
    const v128_t e = exp4(wasm_f32x4_sub(wasm_v128_load(s + j), mv));
    wasm_v128_store(s + j, e);
    acc = wasm_f32x4_add(acc, e);
  }
  float sum = hsum(acc);
  if (j < T) {
    float t[4];
    wasm_v128_store(t, exp4(wasm_f32x4_sub(load_part(s + j, T - j), mv)));
    for (int r = 0; r < T - j; r++) { s[j + r] = t[r]; sum += t[r]; }
  }
  const float inv = 1.0f / sum;
  for (j = 0; j < T; j++) s[j] *= inv;
}

/*
 * Per sequence b and head h:  S = Q Kᵀ·scale + bias_b,  P = softmax(S) row-wise (saved to
 * probs [B, heads, T, T]),  O = (P ⊙ M/keep) V  with M the dropout mask of element
 * (b0 + b, h, i, j) of the batch's probs, i.e. element ((b·heads + h)·T + i)·T + j of the whole
 * batch for a call that starts at its sequence b0 (keep = 1: no dropout), so the batch split into
 * calls (threads) drops the same elements as one call.
 * qkv: [B·T, 3H] rows q | k | v; bias: [B·T] additive mask; out: [B·T, H]; scratch: 12·T floats.
 * Any head size d.
 */
WASM_EXPORT(attention_forward)
void attention_forward(const float *qkv, const float *bias, float *out, float *probs, float *scratch, int B, int T, int heads, int d, float scale,
                       double keep, uint32_t seed, uint32_t stream, uint32_t step, int b0) {
  const int H = heads * d;
  const long stride = 3L * H;
  const int drop = keep < 1.0;
  const uint64_t key = dropout_key(seed, stream, step), thr = keep_threshold(keep);
  const float inv = (float)(1.0 / keep);
  float *pd = scratch, *mk = scratch + 4 * T;
  for (int b = 0; b < B; b++) {
    const float *rows = qkv + (long)b * T * stride, *mask = bias + (long)b * T;
    for (int h = 0; h < heads; h++) {
      const float *Q = rows + h * d, *K = rows + H + h * d, *V = rows + 2 * H + h * d;
      float *Pbh = probs + ((long)b * heads + h) * T * T;
      for (int i0 = 0; i0 < T; i0 += 4) {
        const int n = T - i0 < 4 ? T - i0 : 4;
        /* Rows beyond T (last block) repeat the last row; their results are not stored. */
        const float *q[4];
        for (int r = 0; r < 4; r++) q[r] = Q + (i0 + (r < n ? r : n - 1)) * stride;
        float tmp[4];
        for (int j = 0; j < T; j++) {
          dot4(q[0], q[1], q[2], q[3], K + j * stride, d, tmp);
          for (int r = 0; r < 4; r++) pd[r * T + j] = tmp[r] * scale + mask[j];
        }
        for (int r = 0; r < 4; r++) {
          float *s = pd + r * T;
          if (r >= n) { for (int j = 0; j < T; j++) s[j] = 0; continue; }
          softmax_row(s, T);
          float *p = Pbh + (long)(i0 + r) * T;
          for (int j = 0; j < T; j++) p[j] = s[j];
          if (drop) {
            mask_scale(mk, T, key, (((uint64_t)(b0 + b) * heads + h) * T + i0 + r) * T, thr, inv);
            for (int j = 0; j < T; j++) s[j] *= mk[j];
          }
        }
        combine4(pd, T, V, stride, out + ((long)b * T + i0) * H + h * d, H, n, d);
      }
    }
  }
}

/*
 * Backward of attention_forward from dO [B·T, H] and the saved probs; writes all of
 * dqkv [B·T, 3H] (dq | dk | dv). With Pd = P ⊙ M/keep:
 *   dV = Pdᵀ dO,  dP = (dO Vᵀ) ⊙ M/keep,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),
 *   dQ = dS K·scale,  dK = dSᵀ Q·scale.
 * Sums over query rows run in ascending order (blocks of four). scratch: 12·T floats.
 */
WASM_EXPORT(attention_backward)
void attention_backward(const float *dout, const float *qkv, const float *probs, float *dqkv, float *scratch, int B, int T, int heads, int d, float scale,
                        double keep, uint32_t seed, uint32_t stream, uint32_t step, int b0) {
  const int H = heads * d;
  const long stride = 3L * H;
  const int drop = keep < 1.0;
  const uint64_t key = dropout_key(seed, stream, step), thr = keep_threshold(keep);
  const float inv = (float)(1.0 / keep);
  float *pd = scratch, *g = scratch + 4 * T, *mk = scratch + 8 * T;
  for (int b = 0; b < B; b++) {
    const float *rows = qkv + (long)b * T * stride;
    float *drows = dqkv + (long)b * T * stride;
    for (int h = 0; h < heads; h++) {
      const float *Q = rows + h * d, *K = rows + H + h * d, *V = rows + 2 * H + h * d;
      float *dQ = drows + h * d, *dK = drows + H + h * d, *dV = drows + 2 * H + h * d;
      const float *Pbh = probs + ((long)b * heads + h) * T * T;
      for (int j = 0; j < T; j++)
        for (int c = 0; c < d; c++) dK[j * stride + c] = dV[j * stride + c] = 0;
      for (int i0 = 0; i0 < T; i0 += 4) {
        const int n = T - i0 < 4 ? T - i0 : 4;
        const float *dO[4], *q[4];
        for (int r = 0; r < 4; r++) {
          const int i = i0 + (r < n ? r : n - 1);
          dO[r] = dout + ((long)b * T + i) * H + h * d;
          q[r] = Q + i * stride;
        }
        for (int r = 0; r < 4; r++) {
          float *p = pd + r * T;
          if (r >= n) { for (int j = 0; j < T; j++) p[j] = 0; continue; }
          const float *P = Pbh + (long)(i0 + r) * T;
          if (drop) {
            mask_scale(mk + r * T, T, key, (((uint64_t)(b0 + b) * heads + h) * T + i0 + r) * T, thr, inv);
            for (int j = 0; j < T; j++) p[j] = P[j] * mk[r * T + j];
          } else {
            for (int j = 0; j < T; j++) p[j] = P[j];
          }
        }
        scatter4(pd, T, dO, dV, stride, d);
        float tmp[4];
        for (int j = 0; j < T; j++) {
          dot4(dO[0], dO[1], dO[2], dO[3], V + j * stride, d, tmp);
          for (int r = 0; r < 4; r++) g[r * T + j] = tmp[r];
        }
        for (int r = 0; r < 4; r++) {
          float *gr = g + r * T;
          if (r >= n) { for (int j = 0; j < T; j++) gr[j] = 0; continue; }
          const float *P = Pbh + (long)(i0 + r) * T;
          if (drop) for (int j = 0; j < T; j++) gr[j] *= mk[r * T + j];
          double dot = 0;
          for (int j = 0; j < T; j++) dot += (double)gr[j] * P[j];
          const float rd = (float)dot;
          for (int j = 0; j < T; j++) gr[j] = P[j] * (gr[j] - rd) * scale;
        }
        combine4(g, T, K, stride, dQ + i0 * stride, stride, n, d);
        scatter4(g, T, q, dK, stride, d);
      }
    }
  }
}

/* ---------------------------------------------------------------- losses */

/* e = exp(x − max) over n entries; returns Σ e in double (float partial sums per 64 entries). */
static double exp_shift(const float *x, float *e, int n, float max) {
  const v128_t mv = wasm_f32x4_splat(max);
  double total = 0;
  int i = 0;
  while (i + 4 <= n) {
    v128_t acc = wasm_f32x4_splat(0);
    const int end = i + 64 <= n ? i + 64 : n;
    for (; i + 4 <= end; i += 4) {
      const v128_t v = exp4(wasm_f32x4_sub(wasm_v128_load(x + i), mv));
      wasm_v128_store(e + i, v);
      acc = wasm_f32x4_add(acc, v);
    }
    total += hsum(acc);
  }
  if (i < n) {
    float t[4];
    wasm_v128_store(t, exp4(wasm_f32x4_sub(load_part(x + i, n - i), mv)));
    for (int r = 0; r < n - i; r++) { e[i + r] = t[r]; total += t[r]; }
  }
  return total;
}

/*
 * Softmax cross-entropy over N rows of C logits with integer labels, label −100 ignored; returns
 * the mean over the non-ignored rows (NaN if none, as torch.nn.functional.cross_entropy) and
 * writes dlogits = (softmax − onehot)·grad_scale/count (0 on ignored rows). Three passes per
 * row: max, exp and sum (stored in dlogits), scale. dlogits may alias logits.
 */
WASM_EXPORT(cross_entropy)
double cross_entropy(const float *logits, const int32_t *labels, float *dlogits, int N, int C, float grad_scale) {
  int count = 0;
  for (int r = 0; r < N; r++) count += labels[r] != -100;
  const double g = count ? (double)grad_scale / count : 0;
  double total = 0;
  for (int r = 0; r < N; r++) {
    const float *x = logits + (long)r * C;
    float *dl = dlogits + (long)r * C;
    const int y = labels[r];
    if (y == -100) { for (int k = 0; k < C; k++) dl[k] = 0; continue; }
    v128_t mv = wasm_f32x4_splat(x[0]);
    int k = 0;
    for (; k + 4 <= C; k += 4) mv = wasm_f32x4_pmax(mv, wasm_v128_load(x + k));
    float max = wasm_f32x4_extract_lane(mv, 0);
    for (int l = 1; l < 4; l++) { const float v = l == 1 ? wasm_f32x4_extract_lane(mv, 1) : l == 2 ? wasm_f32x4_extract_lane(mv, 2) : wasm_f32x4_extract_lane(mv, 3); if (v > max) max = v; }
    for (; k < C; k++) if (x[k] > max) max = x[k];
    const float xy = x[y];
    const double sum = exp_shift(x, dl, C, max);
    total += log_f64(sum) + ((double)max - xy);
    const float f = (float)(g / sum);
    const v128_t fv = wasm_f32x4_splat(f);
    for (k = 0; k + 4 <= C; k += 4) wasm_v128_store(dl + k, wasm_f32x4_mul(wasm_v128_load(dl + k), fv));
    for (; k < C; k++) dl[k] *= f;
    dl[y] -= (float)g;
  }
  return count ? total / count : __builtin_nan("");
}

/* Mean squared error over n predictions (one output per row, as HF's regression head);
 * dpred = 2(pred − target)·grad_scale/n. */
WASM_EXPORT(mse)
double mse(const float *pred, const float *target, float *dpred, int n, float grad_scale) {
  double total = 0;
  const double g = 2.0 * grad_scale / n;
  for (int i = 0; i < n; i++) {
    const double e = (double)pred[i] - target[i];
    total += e * e;
    dpred[i] = (float)(e * g);
  }
  return total / n;
}

/* ---------------------------------------------------------------- embeddings and bias sums */

/* out[n] = table[ids[n]] (accumulate = 1: out[n] += table[ids[n]]), rows of H. */
WASM_EXPORT(embedding_forward)
void embedding_forward(const float *table, const int32_t *ids, float *out, int N, int H, int accumulate) {
  for (int r = 0; r < N; r++) {
    const float *t = table + (long)ids[r] * H;
    float *o = out + (long)r * H;
    if (accumulate) for (int k = 0; k < H; k++) o[k] += t[k];
    else for (int k = 0; k < H; k++) o[k] = t[k];
  }
}

/* dtable[ids[n]] += dout[n] for n = 0, 1, … in order (float32 sums, a fixed order). */
WASM_EXPORT(embedding_backward)
void embedding_backward(const float *dout, const int32_t *ids, float *dtable, int N, int H) {
  for (int r = 0; r < N; r++) {
    float *t = dtable + (long)ids[r] * H;
    const float *g = dout + (long)r * H;
    int k = 0;
    for (; k + 4 <= H; k += 4) wasm_v128_store(t + k, wasm_f32x4_add(wasm_v128_load(t + k), wasm_v128_load(g + k)));
    for (; k < H; k++) t[k] += g[k];
  }
}

/* db += Σ_rows dy (rows in order, summed in double; acc: H doubles of scratch). */
WASM_EXPORT(column_sum)
void column_sum(const float *dy, float *db, double *acc, int rows, int H) {
  for (int k = 0; k < H; k++) acc[k] = 0;
  for (int r = 0; r < rows; r++) {
    const float *y = dy + (long)r * H;
    int k = 0;
    for (; k + 4 <= H; k += 4) {
      const v128_t v = wasm_v128_load(y + k);
      wasm_v128_store(acc + k, wasm_f64x2_add(wasm_v128_load(acc + k), wasm_f64x2_promote_low_f32x4(v)));
      wasm_v128_store(acc + k + 2, wasm_f64x2_add(wasm_v128_load(acc + k + 2), wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3))));
    }
    for (; k < H; k++) acc[k] += y[k];
  }
  for (int k = 0; k < H; k++) db[k] = (float)(db[k] + acc[k]);
}

/* y[r] += b for every row r of H (the bias after a product). */
WASM_EXPORT(bias_add)
void bias_add(float *y, const float *b, int rows, int H) {
  for (int r = 0; r < rows; r++) {
    float *o = y + (long)r * H;
    int k = 0;
    for (; k + 4 <= H; k += 4) wasm_v128_store(o + k, wasm_f32x4_add(wasm_v128_load(o + k), wasm_v128_load(b + k)));
    for (; k < H; k++) o[k] += b[k];
  }
}

/* y += x over n floats (gradients that fan in, e.g. a residual stream). */
WASM_EXPORT(add_into)
void add_into(float *y, const float *x, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_v128_load(x + i)));
  for (; i < n; i++) y[i] += x[i];
}
