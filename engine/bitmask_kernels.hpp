// Word-wise bitset kernels of mask filling (the CFG back-end's unions). Built for a baseline x86-64
// with AVX2 and AVX-512 clones chosen at run time (engine/bitmask.cpp, as apply_token_bitmask).
// Takes: rows of n uint32 words. Gives: dst |= src, dst |= a & b, the number of bits set (with a
// popcnt clone: a baseline build otherwise counts in software, a call per word).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tollgate::engine {

void or_into(uint32_t* dst, const uint32_t* src, int32_t n);
void or_and_into(uint32_t* dst, const uint32_t* a, const uint32_t* b, int32_t n);
size_t count_bits(const uint32_t* a, int32_t n);

}  // namespace tollgate::engine
