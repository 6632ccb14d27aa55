#include "fsm/utf8.hpp"

namespace tollgate::fsm {

int encode_utf8(char32_t cp, uint8_t out[4]) {
  if (cp < 0x80) {
    out[0] = static_cast<uint8_t>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
    out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
  out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  return 4;
}

std::string encode_utf8(char32_t cp) {
  std::string out;
  append_utf8(out, cp);
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  uint8_t b[4];
  int n = encode_utf8(cp, b);
  out.append(reinterpret_cast<const char*>(b), n);
}

size_t decode_utf8(std::string_view s, size_t i, char32_t& cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  // Lead bytes C0, C1 (always overlong) and F5..FF (beyond U+10FFFF) never start a sequence.
  const size_t len = c >= 0xC2 && c <= 0xDF ? 2 : (c & 0xF0) == 0xE0 ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || len > s.size() - i) return 0;
  char32_t v = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    v = (v << 6) | (d & 0x3F);
  }
  if ((len == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) || (len == 4 && (v < 0x10000 || v > 0x10FFFF))) {
    return 0;
  }
  cp = v;
  return len;
}

size_t invalid_utf8(std::string_view s) {
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t n = decode_utf8(s, i, cp);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

bool Utf8Sequence::matches(const std::string& bytes) const {
  if (bytes.size() != length) return false;
  for (size_t i = 0; i < length; ++i) {
    uint8_t b = static_cast<uint8_t>(bytes[i]);
    if (b < ranges[i].lo || b > ranges[i].hi) return false;
  }
  return true;
}

namespace {

constexpr char32_t kMax = 0x10FFFF;

void split(char32_t lo, char32_t hi, std::vector<Utf8Sequence>& out) {
  if (lo > hi) return;
  // Surrogates are not encodable.
  if (lo <= 0xDFFF && hi >= 0xD800) {
    if (lo < 0xD800) split(lo, 0xD7FF, out);
    if (hi > 0xDFFF) split(0xE000, hi, out);
    return;
  }
  // Split at encoded-length boundaries.
  static constexpr char32_t kBounds[] = {0x7F, 0x7FF, 0xFFFF};
  for (char32_t b : kBounds) {
    if (lo <= b && hi > b) {
      split(lo, b, out);
      split(b + 1, hi, out);
      return;
    }
  }
  if (hi < 0x80) {
    Utf8Sequence s;
    s.length = 1;
    s.ranges[0] = {static_cast<uint8_t>(lo), static_cast<uint8_t>(hi)};
    out.push_back(s);
    return;
  }
  // Make the range rectangular: for each continuation level, lo's low bits must be all
  // zero and hi's all one unless their higher parts agree.
  int length = hi < 0x800 ? 2 : hi < 0x10000 ? 3 : 4;
  for (int i = 1; i < length; ++i) {
    char32_t m = (char32_t{1} << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split(lo, lo | m, out);
        split((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        split(lo, (hi & ~m) - 1, out);
        split(hi & ~m, hi, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  encode_utf8(lo, a);
  encode_utf8(hi, b);
  Utf8Sequence s;
  s.length = static_cast<uint8_t>(length);
  for (int i = 0; i < length; ++i) s.ranges[i] = {a[i], b[i]};
  out.push_back(s);
}

}  // namespace

void utf8_sequences(char32_t lo, char32_t hi, std::vector<Utf8Sequence>& out) {
  if (hi > kMax) hi = kMax;
  split(lo, hi, out);
}

}  // namespace tollgate::fsm
