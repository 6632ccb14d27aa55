// The project's one hash of word sequences (state sets, thread lists, guard sets, bitsets).
// Takes: integers, one at a time or as a range. Gives: a 64-bit hash, from Boost's
// hash_combine (a Murmur-style mix per word; long ranges in four lanes first), so no stage keeps a
// hand-written FNV loop.
#pragma once

#include <boost/container_hash/hash.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace tollgate::fsm {

// Mixes one word into a running seed.
inline void hash_mix(size_t& seed, uint64_t word) { boost::hash_combine(seed, word); }

// Hash of a contiguous range of integers. 32-bit ones are mixed two at a time (a 16 KiB bitset
// is 2,048 mixes, not 4,096). From 64 bytes on, the words go round four independent lanes
// (multiply and fold, 32 bytes a round), joined by hash_mix at the end: one running seed is a chain
// of dependent multiplies, ~2.9 µs for a 16 KiB mask against ~0.9 µs in four lanes; the masks a
// step combines are hashed to share equal contents. Equal ranges hash equal; every user compares
// the contents on a match, so the hash decides only speed.
template <class T>
size_t hash_words(const T* data, size_t n) {
  size_t seed = n;
  size_t i = 0;
  if constexpr (sizeof(T) == 4 || sizeof(T) == 8) {
    constexpr size_t kPerRound = 32 / sizeof(T);
    if (n * sizeof(T) >= 64) {
      constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
      uint64_t lane[4] = {n, 1, 2, 3};
      const unsigned char* bytes = reinterpret_cast<const unsigned char*>(data);
      for (; i + kPerRound <= n; i += kPerRound, bytes += 32)
        for (int j = 0; j < 4; ++j) {
          uint64_t w;
          std::memcpy(&w, bytes + 8 * j, 8);
          lane[j] = (lane[j] ^ w) * kMul;
          lane[j] ^= lane[j] >> 32;
        }
      for (uint64_t l : lane) hash_mix(seed, l);
    }
  }
  if constexpr (sizeof(T) == 4)
    for (; i + 1 < n; i += 2)
      hash_mix(seed, static_cast<uint64_t>(static_cast<uint32_t>(data[i])) |
                         (static_cast<uint64_t>(static_cast<uint32_t>(data[i + 1])) << 32));
  for (; i < n; ++i) hash_mix(seed, static_cast<uint64_t>(data[i]));
  return seed;
}

// Hashes of the k columns of a row-major table of n rows, in one pass over it: one multiply per
// entry (hash_mix per entry was two thirds of checking a 21,000-state automaton's byte classes
// for equal columns). For finding columns that may be equal; callers compare the contents.
template <class T>
std::vector<uint64_t> column_hashes(const T* table, size_t n, size_t k) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  std::vector<uint64_t> h(k, n);
  for (size_t q = 0; q < n; ++q)
    for (size_t c = 0; c < k; ++c) h[c] = (h[c] ^ static_cast<uint64_t>(table[q * k + c])) * kMul;
  return h;
}

template <class Container>
size_t hash_words(const Container& c) {
  return hash_words(c.data(), c.size());
}

}  // namespace tollgate::fsm
