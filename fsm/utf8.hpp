// UTF-8 range compilation: a range of code points [lo, hi] → a small set of byte-range
// sequences whose union matches exactly the UTF-8 encodings of those code points.
// Example: [U+0080, U+07FF] → [C2-DF][80-BF]. Surrogates (D800-DFFF) are never produced.
// Also the project's one UTF-8 decoder and encoder: every entry point (regex and grammar text,
// tokenizer vocabularies, the pre-tokenizer, schema property names) reads bytes through
// decode_utf8, so the same bad bytes get the same treatment everywhere.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
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

// The one decoding rule (RFC 3629): a well-formed sequence only — no overlong form, no
// surrogate, nothing above U+10FFFF, no truncated sequence, no stray continuation byte.
// Returns the sequence's length (1..4) and sets cp, or 0 (cp untouched) when s[i] does not
// start a well-formed sequence. Requires i < s.size().
size_t decode_utf8(std::string_view s, size_t i, char32_t& cp);

// Offset of the first byte that does not start a well-formed sequence, or npos.
size_t invalid_utf8(std::string_view s);

// Encodes one code point (no validation beyond the range). Returns the number of bytes.
int encode_utf8(char32_t cp, uint8_t out[4]);
std::string encode_utf8(char32_t cp);
void append_utf8(std::string& out, char32_t cp);

}  // namespace tollgate::fsm
