// apply_token_bitmask: logits of disallowed tokens → -inf; apply_token_bitmask_16bit: the same for
// float16 / bfloat16 logits given as raw 16-bit words; and the word-wise bitset unions of mask filling
// (bitmask_kernels.hpp). Written so that g++ -O3 vectorises the loops (a blend per word for apply;
// words that allow everything are skipped). Each kernel is compiled for baseline x86-64 and cloned for
// AVX2 and AVX-512 (target_clones): the loader picks the clone the CPU runs, so a portable build loses
// no SIMD and a build copied to an older CPU still runs. Not under ThreadSanitizer: gcc instruments the
// clones' ifunc resolver, which the dynamic loader runs before the TSan runtime is set up (every
// program linking the library crashed at start; docs/reliability.md, "TSan").
#include <cstdint>
#include <limits>

#include "engine/bitmask_kernels.hpp"
#include "tollgate/matcher.hpp"

#if defined(__x86_64__) && !defined(__AVX2__) && !defined(__SANITIZE_THREAD__)
#define TOLLGATE_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TOLLGATE_SIMD_CLONES  // a native build (-march=native) already targets its CPU
#endif

namespace tollgate {

namespace {

// Inlined into each clone below, so that each is compiled for the clone's target.
template <class T>
[[gnu::always_inline]] inline void apply_mask(T* logits, const int32_t* bitmask, int32_t vocab_size, T neg_inf) {
  const int32_t full_words = vocab_size / 32;
  for (int32_t w = 0; w < full_words; ++w) {
    const uint32_t bits = static_cast<uint32_t>(bitmask[w]);
    if (bits == 0xFFFFFFFFu) continue;
    T* l = logits + static_cast<int64_t>(w) * 32;
    for (int i = 0; i < 32; ++i) l[i] = ((bits >> i) & 1u) ? l[i] : neg_inf;
  }
  const int32_t rest = vocab_size - full_words * 32;
  if (rest > 0) {
    const uint32_t bits = static_cast<uint32_t>(bitmask[full_words]);
    T* l = logits + static_cast<int64_t>(full_words) * 32;
    for (int i = 0; i < rest; ++i) l[i] = ((bits >> i) & 1u) ? l[i] : neg_inf;
  }
}

TOLLGATE_SIMD_CLONES void apply_f32(float* logits, const int32_t* bitmask, int32_t vocab_size) {
  apply_mask(logits, bitmask, vocab_size, -std::numeric_limits<float>::infinity());
}

TOLLGATE_SIMD_CLONES void apply_16(uint16_t* logits, const int32_t* bitmask, int32_t vocab_size, uint16_t neg_inf) {
  apply_mask(logits, bitmask, vocab_size, neg_inf);
}

}  // namespace

void apply_token_bitmask(float* logits, const int32_t* bitmask, int32_t vocab_size) {
  apply_f32(logits, bitmask, vocab_size);
}

void apply_token_bitmask_16bit(uint16_t* logits, const int32_t* bitmask, int32_t vocab_size, uint16_t neg_inf_bits) {
  apply_16(logits, bitmask, vocab_size, neg_inf_bits);
}

namespace engine {

TOLLGATE_SIMD_CLONES void or_into(uint32_t* dst, const uint32_t* src, int32_t n) {
  for (int32_t w = 0; w < n; ++w) dst[w] |= src[w];
}

TOLLGATE_SIMD_CLONES void or_and_into(uint32_t* dst, const uint32_t* a, const uint32_t* b, int32_t n) {
  for (int32_t w = 0; w < n; ++w) dst[w] |= a[w] & b[w];
}

#if defined(__x86_64__) && !defined(__POPCNT__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("popcnt", "default")))
#endif
size_t count_bits(const uint32_t* a, int32_t n) {
  size_t c = 0;
  for (int32_t w = 0; w < n; ++w) c += static_cast<size_t>(__builtin_popcount(a[w]));
  return c;
}

}  // namespace engine

}  // namespace tollgate
