// Dense float32 kernels for the reference models: dot products, mat-vec and "X · Wᵀ" mat-mat
// (weights stored [out, in] row-major, as in the safetensors files), RMSNorm, SiLU, rotation.
// Vectorised with AVX2/FMA intrinsics, chosen at run time when the CPU has them (kernels.cpp), with a
// portable fallback that keeps several independent accumulators; no -ffast-math needed. Large products are split
// over kernel_pool() by output rows.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tollgate::engine {

float dot(const float* a, const float* b, size_t n);

// y[r] = dot(W + r*ldw, x, cols) for r in [0, rows). Threads when rows*cols is large.
void matvec(const float* w, size_t rows, size_t cols, size_t ldw, const float* x, float* y);
// Same, always on the calling thread.
void matvec_serial(const float* w, size_t rows, size_t cols, size_t ldw, const float* x, float* y);

// Y[t, r] (+)= dot(X + t*ldx, W + r*ldw, cols) for t in [0, T), r in [0, rows).
void matmul_nt(const float* x, size_t t_rows, size_t ldx, const float* w, size_t rows, size_t ldw,
               size_t cols, float* y, size_t ldy, bool accumulate = false);

// y += a * x
void axpy(float a, const float* x, float* y, size_t n);
// y = a * y + x_coef * x  (both vectors length n)
void scale_add(float a, float* y, float x_coef, const float* x, size_t n);

// out = x / sqrt(mean(x²) + eps) ⊙ w   (out may alias x)
void rmsnorm(const float* x, const float* w, float eps, size_t n, float* out);

inline float silu(float z) { return z / (1.0f + __builtin_expf(-z)); }

}  // namespace tollgate::engine
