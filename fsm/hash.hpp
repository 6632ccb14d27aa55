// The project's hash: 64-bit FNV-1a, one multiply per 32-bit word (token_index mask dedup,
// compiled-grammar blob checksums and cache keys, tokenizer fingerprints).
// Takes: words or bytes (bytes are read 4 at a time, little-endian, the tail zero-padded, then the
// length mixed in). Gives: a 64-bit hash, the same on every run and build of one architecture.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tollgate::fsm {

inline constexpr uint64_t kFnvOffset = 1469598103934665603ull;
inline constexpr uint64_t kFnvPrime = 1099511628211ull;

inline uint64_t hash_words(const uint32_t* data, size_t words, uint64_t h = kFnvOffset) {
  for (size_t i = 0; i < words; ++i) h = (h ^ data[i]) * kFnvPrime;
  return h;
}

inline uint64_t hash_bytes(const void* data, size_t n, uint64_t h = kFnvOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t w;
    std::memcpy(&w, p + i, 4);
    h = (h ^ w) * kFnvPrime;
  }
  uint32_t tail = 0;
  for (size_t k = 0; i + k < n; ++k) tail |= static_cast<uint32_t>(p[i + k]) << (8 * k);
  h = (h ^ tail) * kFnvPrime;
  return (h ^ static_cast<uint64_t>(n)) * kFnvPrime;
}

inline uint64_t hash_bytes(std::string_view s, uint64_t h = kFnvOffset) { return hash_bytes(s.data(), s.size(), h); }

}  // namespace tollgate::fsm
