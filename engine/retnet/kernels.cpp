// Dense float32 kernels (see kernels.hpp).
#include "engine/retnet/kernels.hpp"

#include <algorithm>
#include <cmath>

#include "engine/retnet/thread_pool.hpp"

#include <immintrin.h>

namespace tollgate::engine {

namespace {

// The AVX2/FMA kernels are compiled for that target whatever the build's baseline and chosen at
// run time (a portable build runs them where the CPU has them; -DTOLLGATE_NATIVE=ON changes
// nothing here). They use intrinsics and plain arithmetic only, so no code compiled for AVX2 is
// shared with the baseline functions.
#define TOLLGATE_TARGET_AVX2 __attribute__((target("avx2,fma")))

bool cpu_has_avx2_fma() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return yes;
}

TOLLGATE_TARGET_AVX2 inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  lo = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, lo);
  lo = _mm_add_ss(lo, sh);
  return _mm_cvtss_f32(lo);
}

// y[r] = s_r + w_r[i..n) · x[i..n) for the four rows (the scalar part of dot4).
inline void dot4_rest(const float* w0, const float* w1, const float* w2, const float* w3, const float* x, size_t i,
                      size_t n, float s0, float s1, float s2, float s3, float* y) {
  for (; i < n; ++i) {
    s0 += w0[i] * x[i];
    s1 += w1[i] * x[i];
    s2 += w2[i] * x[i];
    s3 += w3[i] * x[i];
  }
  y[0] = s0;
  y[1] = s1;
  y[2] = s2;
  y[3] = s3;
}

// Four rows of W against one x: y[0..4).
TOLLGATE_TARGET_AVX2 void dot4_avx2(const float* w0, const float* w1, const float* w2, const float* w3,
                                    const float* x, size_t n, float* y) {
  size_t i = 0;
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
         a3 = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    __m256 xv = _mm256_loadu_ps(x + i);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xv, a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xv, a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xv, a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xv, a3);
  }
  dot4_rest(w0, w1, w2, w3, x, i, n, hsum(a0), hsum(a1), hsum(a2), hsum(a3), y);
}

void dot4_portable(const float* w0, const float* w1, const float* w2, const float* w3, const float* x,
                   size_t n, float* y) {
  dot4_rest(w0, w1, w2, w3, x, 0, n, 0, 0, 0, 0, y);
}

inline void dot4(const float* w0, const float* w1, const float* w2, const float* w3, const float* x,
                 size_t n, float* y) {
  if (cpu_has_avx2_fma()) dot4_avx2(w0, w1, w2, w3, x, n, y);
  else dot4_portable(w0, w1, w2, w3, x, n, y);
}

// The scalar part of a tile: s[t][r] += W row r [i..n) · X row t [i..n), then written to y (added
// when acc).
inline void tile_rest(const float* w, size_t ldw, const float* x, size_t ldx, size_t i, size_t n, float (&s)[3][4],
                      float* y, size_t ldy, bool acc) {
  for (; i < n; ++i) {
    const float xs[3] = {x[i], x[ldx + i], x[2 * ldx + i]};
    const float ws[4] = {w[i], w[ldw + i], w[2 * ldw + i], w[3 * ldw + i]};
    for (int t = 0; t < 3; ++t)
      for (int r = 0; r < 4; ++r) s[t][r] += ws[r] * xs[t];
  }
  for (int t = 0; t < 3; ++t)
    for (int r = 0; r < 4; ++r) {
      float& out = y[t * ldy + r];
      out = acc ? out + s[t][r] : s[t][r];
    }
}

// Tile: 4 rows of W × 3 rows of X → 12 outputs (out[t*ldy + r]).
TOLLGATE_TARGET_AVX2 void tile_4x3_avx2(const float* w, size_t ldw, const float* x, size_t ldx, size_t n,
                                        float* y, size_t ldy, bool acc) {
  const float* w0 = w;
  const float* w1 = w + ldw;
  const float* w2 = w + 2 * ldw;
  const float* w3 = w + 3 * ldw;
  const float* x0 = x;
  const float* x1 = x + ldx;
  const float* x2 = x + 2 * ldx;
  float s[3][4];
  size_t i = 0;
  __m256 a[3][4];
  for (auto& row : a)
    for (auto& v : row) v = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    __m256 xv0 = _mm256_loadu_ps(x0 + i), xv1 = _mm256_loadu_ps(x1 + i), xv2 = _mm256_loadu_ps(x2 + i);
    __m256 wv = _mm256_loadu_ps(w0 + i);
    a[0][0] = _mm256_fmadd_ps(wv, xv0, a[0][0]);
    a[1][0] = _mm256_fmadd_ps(wv, xv1, a[1][0]);
    a[2][0] = _mm256_fmadd_ps(wv, xv2, a[2][0]);
    wv = _mm256_loadu_ps(w1 + i);
    a[0][1] = _mm256_fmadd_ps(wv, xv0, a[0][1]);
    a[1][1] = _mm256_fmadd_ps(wv, xv1, a[1][1]);
    a[2][1] = _mm256_fmadd_ps(wv, xv2, a[2][1]);
    wv = _mm256_loadu_ps(w2 + i);
    a[0][2] = _mm256_fmadd_ps(wv, xv0, a[0][2]);
    a[1][2] = _mm256_fmadd_ps(wv, xv1, a[1][2]);
    a[2][2] = _mm256_fmadd_ps(wv, xv2, a[2][2]);
    wv = _mm256_loadu_ps(w3 + i);
    a[0][3] = _mm256_fmadd_ps(wv, xv0, a[0][3]);
    a[1][3] = _mm256_fmadd_ps(wv, xv1, a[1][3]);
    a[2][3] = _mm256_fmadd_ps(wv, xv2, a[2][3]);
  }
  for (int t = 0; t < 3; ++t)
    for (int r = 0; r < 4; ++r) s[t][r] = hsum(a[t][r]);
  tile_rest(w, ldw, x, ldx, i, n, s, y, ldy, acc);
}

void tile_4x3_portable(const float* w, size_t ldw, const float* x, size_t ldx, size_t n, float* y,
                       size_t ldy, bool acc) {
  float s[3][4] = {};
  tile_rest(w, ldw, x, ldx, 0, n, s, y, ldy, acc);
}

inline void tile_4x3(const float* w, size_t ldw, const float* x, size_t ldx, size_t n, float* y, size_t ldy,
                     bool acc) {
  if (cpu_has_avx2_fma()) tile_4x3_avx2(w, ldw, x, ldx, n, y, ldy, acc);
  else tile_4x3_portable(w, ldw, x, ldx, n, y, ldy, acc);
}

TOLLGATE_TARGET_AVX2 float dot_avx2(const float* a, const float* b, size_t n) {
  size_t i = 0;
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_portable(const float* a, const float* b, size_t n) {
  size_t i = 0;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void matmul_rows(const float* x, size_t t_rows, size_t ldx, const float* w, size_t r_begin,
                 size_t r_end, size_t ldw, size_t cols, float* y, size_t ldy, bool acc) {
  size_t r = r_begin;
  for (; r + 4 <= r_end; r += 4) {
    size_t t = 0;
    for (; t + 3 <= t_rows; t += 3)
      tile_4x3(w + r * ldw, ldw, x + t * ldx, ldx, cols, y + t * ldy + r, ldy, acc);
    for (; t < t_rows; ++t) {
      float s[4];
      dot4(w + r * ldw, w + (r + 1) * ldw, w + (r + 2) * ldw, w + (r + 3) * ldw, x + t * ldx, cols, s);
      for (int k = 0; k < 4; ++k) {
        float& out = y[t * ldy + r + k];
        out = acc ? out + s[k] : s[k];
      }
    }
  }
  for (; r < r_end; ++r)
    for (size_t t = 0; t < t_rows; ++t) {
      float s = dot(w + r * ldw, x + t * ldx, cols);
      float& out = y[t * ldy + r];
      out = acc ? out + s : s;
    }
}

// Below these sizes a product stays on one thread. A mat-vec is bound by memory bandwidth and a
// pool dispatch costs tens of microseconds, so only the largest (the V×d output head) is split.
constexpr size_t kParallelMacs = 1u << 18;       // mat-mat (prefill)
constexpr size_t kParallelMatvecMacs = 1u << 20;  // mat-vec (decode)

}  // namespace

float dot(const float* a, const float* b, size_t n) {
  return cpu_has_avx2_fma() ? dot_avx2(a, b, n) : dot_portable(a, b, n);
}

void matvec_serial(const float* w, size_t rows, size_t cols, size_t ldw, const float* x, float* y) {
  size_t r = 0;
  for (; r + 4 <= rows; r += 4)
    dot4(w + r * ldw, w + (r + 1) * ldw, w + (r + 2) * ldw, w + (r + 3) * ldw, x, cols, y + r);
  for (; r < rows; ++r) y[r] = dot(w + r * ldw, x, cols);
}

void matvec(const float* w, size_t rows, size_t cols, size_t ldw, const float* x, float* y) {
  if (rows * cols < kParallelMatvecMacs) {
    matvec_serial(w, rows, cols, ldw, x, y);
    return;
  }
  // Parts are multiples of 4 rows so every part runs the 4-row kernel.
  size_t blocks = (rows + 3) / 4;
  kernel_pool().parallel_for(blocks, 16, [&](size_t b0, size_t b1) {
    size_t r0 = b0 * 4, r1 = std::min(rows, b1 * 4);
    matvec_serial(w + r0 * ldw, r1 - r0, cols, ldw, x, y + r0);
  });
}

void matmul_nt(const float* x, size_t t_rows, size_t ldx, const float* w, size_t rows, size_t ldw,
               size_t cols, float* y, size_t ldy, bool accumulate) {
  if (t_rows == 1) {
    if (!accumulate) {
      matvec(w, rows, cols, ldw, x, y);
      return;
    }
  }
  size_t blocks = (rows + 3) / 4;
  auto run = [&](size_t b0, size_t b1) {
    size_t r0 = b0 * 4, r1 = std::min(rows, b1 * 4);
    // Block the rows of W so a block stays in cache while all of X streams past it.
    constexpr size_t kRowBlock = 64;
    for (size_t rb = r0; rb < r1; rb += kRowBlock)
      matmul_rows(x, t_rows, ldx, w, rb, std::min(r1, rb + kRowBlock), ldw, cols, y, ldy, accumulate);
  };
  if (rows * cols * t_rows < kParallelMacs) {
    run(0, blocks);
    return;
  }
  kernel_pool().parallel_for(blocks, 4, run);
}

// AVX2 and baseline clones, chosen by the loader; none under ThreadSanitizer (its instrumented ifunc
// resolver would run before the TSan runtime is set up: engine/bitmask.cpp).
#if defined(__SANITIZE_THREAD__)
#define TOLLGATE_AVX2_CLONES
#else
#define TOLLGATE_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#endif

TOLLGATE_AVX2_CLONES void axpy(float a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

TOLLGATE_AVX2_CLONES void scale_add(float a, float* y, float x_coef, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = a * y[i] + x_coef * x[i];
}

void rmsnorm(const float* x, const float* w, float eps, size_t n, float* out) {
  float ss = dot(x, x, n);
  float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * inv * w[i];
}

}  // namespace tollgate::engine
