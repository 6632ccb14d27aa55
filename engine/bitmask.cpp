// apply_token_bitmask: logits of disallowed tokens → -inf. Written so that g++ -O3 vectorises
// the 32-lane inner loop (a blend per word); words that allow everything are skipped.
// apply_token_bitmask_16bit: the same for float16 / bfloat16 logits given as raw 16-bit words.
#include <cstdint>
#include <limits>

#include "tollgate/matcher.hpp"

namespace tollgate {

namespace {

template <class T>
void apply_mask(T* logits, const int32_t* bitmask, int32_t vocab_size, T neg_inf) {
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

}  // namespace

void apply_token_bitmask(float* logits, const int32_t* bitmask, int32_t vocab_size) {
  apply_mask(logits, bitmask, vocab_size, -std::numeric_limits<float>::infinity());
}

void apply_token_bitmask_16bit(uint16_t* logits, const int32_t* bitmask, int32_t vocab_size, uint16_t neg_inf_bits) {
  apply_mask(logits, bitmask, vocab_size, neg_inf_bits);
}

}  // namespace tollgate
