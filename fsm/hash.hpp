// The project's one hash of word sequences (state sets, thread lists, guard sets, bitsets).
// Takes: integers, one at a time or as a range. Gives: a 64-bit hash, from Boost's
// hash_combine (a Murmur-style mix per word), so no stage keeps a hand-written FNV loop.
#pragma once

#include <boost/container_hash/hash.hpp>
#include <cstddef>
#include <cstdint>

namespace tollgate::fsm {

// Mixes one word into a running seed.
inline void hash_mix(size_t& seed, uint64_t word) { boost::hash_combine(seed, word); }

// Hash of a contiguous range of integers. 32-bit ones are mixed two at a time (a 16 KiB bitset
// is 2,048 mixes, not 4,096).
template <class T>
size_t hash_words(const T* data, size_t n) {
  size_t seed = n;
  size_t i = 0;
  if constexpr (sizeof(T) == 4)
    for (; i + 1 < n; i += 2)
      hash_mix(seed, static_cast<uint64_t>(static_cast<uint32_t>(data[i])) |
                         (static_cast<uint64_t>(static_cast<uint32_t>(data[i + 1])) << 32));
  for (; i < n; ++i) hash_mix(seed, static_cast<uint64_t>(data[i]));
  return seed;
}

template <class Container>
size_t hash_words(const Container& c) {
  return hash_words(c.data(), c.size());
}

}  // namespace tollgate::fsm
