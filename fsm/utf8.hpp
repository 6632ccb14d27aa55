// UTF-8 range compilation: a range of code points [lo, hi] → a small set of byte-range
// sequences whose union matches exactly the UTF-8 encodings of those code points.
// Example: [U+0080, U+07FF] → [C2-DF][80-BF]. Surrogates (D800-DFFF) are never produced.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tollgate::fsm {

struct ByteRange {
  uint8_t lo, hi;
  bool operator==(const ByteRange&) const = default;
};

struct Utf8Sequence {
  uint8_t length = 0;              // 1..4
  std::array<ByteRange, 4> ranges{};  // ranges[0..length)
  bool matches(const std::string& bytes) const;
};

// Appends to `out` the sequences for [lo, hi] (clipped to U+10FFFF, surrogates skipped).
void utf8_sequences(char32_t lo, char32_t hi, std::vector<Utf8Sequence>& out);

// Encodes one code point (no validation beyond the range). Returns the number of bytes.
int encode_utf8(char32_t cp, uint8_t out[4]);
std::string encode_utf8(char32_t cp);

}  // namespace tollgate::fsm
