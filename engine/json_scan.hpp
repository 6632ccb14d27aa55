// JsonScanner — a small, allocation-free, validating JSON reader over a byte buffer.
// Takes: JSON text. Gives: a cursor that walks objects key by key, decodes strings and integers,
// and skips (while validating) any value, returning its raw span so that small parts can be handed
// to nlohmann::json. Used where a DOM parse of a whole file is too slow (33 MB tokenizer.json).
// Errors throw tollgate::Error(kParse) with the line/column of the offending byte.
#pragma once

#include <cstring>
#include <cstdint>
#include <string>
#include <string_view>

#include "fsm/utf8.hpp"
#include "tollgate/error.hpp"

namespace tollgate::engine {

class JsonScanner {
 public:
  JsonScanner(std::string_view text, std::string file = {}) : text_(text), file_(std::move(file)) {}

  size_t pos() const { return pos_; }
  void seek(size_t pos) { pos_ = pos; }  // read on from this byte of the text
  std::string_view text() const { return text_; }
  [[noreturn]] void fail(const std::string& message, size_t at) const {
    throw Error(ErrorKind::kParse, message, position_in(text_, at, file_));
  }
  [[noreturn]] void fail(const std::string& message) const { fail(message, pos_); }

  void skip_ws() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') ++pos_;
      else break;
    }
  }
  // Next non-space byte (0 at end of input).
  char peek() {
    skip_ws();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  void expect(char c) {
    if (peek() != c) {
      if (pos_ >= text_.size()) fail(std::string("unexpected end of JSON, expected '") + c + "'");
      fail(std::string("expected '") + c + "' in JSON");
    }
    ++pos_;
  }
  void expect_end() {
    if (peek() != '\0') fail("unexpected data after the JSON value");
  }

  // Object walking: begin_object(); while (next_key(key)) { ...value... }
  void begin_object() {
    expect('{');
    first_ = true;
  }
  // Reads the next key (and the ':' after it); false at the closing '}'.
  bool next_key(std::string& key) {
    char c = peek();
    if (c == '}') {
      ++pos_;
      return false;
    }
    if (!first_) {
      if (c != ',') fail("expected ',' or '}' in JSON object");
      ++pos_;
      if (peek() != '"') fail("expected a string key in JSON object");
    } else if (c != '"') {
      fail("expected a string key or '}' in JSON object");
    }
    first_ = false;
    parse_string(key);
    expect(':');
    return true;
  }
  // Same for arrays: begin_array(); while (next_element()) { ...value... }
  void begin_array() {
    expect('[');
    first_ = true;
  }
  bool next_element() {
    char c = peek();
    if (c == ']') {
      ++pos_;
      return false;
    }
    if (!first_) {
      if (c != ',') fail("expected ',' or ']' in JSON array");
      ++pos_;
      skip_ws();
    }
    first_ = false;
    return true;
  }
  // Nested walks must save/restore the "first element" flag.
  bool first_flag() const { return first_; }
  void set_first_flag(bool f) { first_ = f; }

  // Decodes a JSON string (escapes, \u surrogate pairs) into `out` (UTF-8).
  void parse_string(std::string& out) {
    out.clear();
    if (peek() != '"') fail("expected a JSON string");
    size_t start = ++pos_;
    const char* data = text_.data();
    size_t n = text_.size();
    // Fast path: no escapes.
    size_t i = start;
    while (i < n) {
      unsigned char c = static_cast<unsigned char>(data[i]);
      if (c == '"' || c == '\\' || c < 0x20) break;
      ++i;
    }
    if (i < n && data[i] == '"') {
      out.assign(data + start, i - start);
      pos_ = i + 1;
      return;
    }
    out.assign(data + start, i - start);
    pos_ = i;
    while (true) {
      if (pos_ >= n) fail("unterminated JSON string", start - 1);
      unsigned char c = static_cast<unsigned char>(data[pos_]);
      if (c == '"') {
        ++pos_;
        return;
      }
      if (c < 0x20) fail("control character in JSON string");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= n) fail("unterminated JSON string", start - 1);
      char e = data[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = read_hex4(pos_ - 2);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (pos_ + 1 < n && data[pos_] == '\\' && data[pos_ + 1] == 'u') {
              size_t at = pos_;
              pos_ += 2;
              uint32_t lo = read_hex4(at);
              if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              } else {
                fsm::append_utf8(out, 0xFFFD);  // lone high surrogate
                cp = lo >= 0xD800 && lo <= 0xDFFF ? 0xFFFD : lo;
              }
            } else {
              cp = 0xFFFD;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;  // lone low surrogate
          }
          fsm::append_utf8(out, cp);
          break;
        }
        default: fail("invalid escape in JSON string", pos_ - 2);
      }
    }
  }

  // Reads a JSON integer (no fraction/exponent) into `out`; fails with `what` otherwise.
  int64_t parse_int(const char* what) {
    skip_ws();
    size_t start = pos_;
    bool neg = false;
    if (pos_ < text_.size() && text_[pos_] == '-') {
      neg = true;
      ++pos_;
    }
    int64_t v = 0;
    size_t digits = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (v > (int64_t{1} << 40)) fail(std::string(what) + " is too large", start);
      v = v * 10 + (text_[pos_] - '0');
      ++pos_;
      ++digits;
    }
    if (digits == 0 || (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' ||
                                                 text_[pos_] == 'E'))) {
      fail(std::string(what) + " must be an integer", start);
    }
    return neg ? -v : v;
  }

  // Skips one JSON value, validating it; returns its raw text.
  std::string_view skip_value() {
    size_t start = (skip_ws(), pos_);
    skip_value_at(0);
    return text_.substr(start, pos_ - start);
  }
  // Skips one JSON value of text read (and checked) before, without checking it again: strings by
  // memchr to their closing quote, nesting by depth. Where a schema's warnings are placed
  // (locate_json_pointer skips every sibling before the key it looks for: a Kubernetes schema's
  // warning skipped 150 KB byte by byte, ~8% of its compile). Malformed text ends the skip at
  // the end of the text at worst.
  void skip_value_unchecked() {
    skip_ws();
    const char* d = text_.data();
    const size_t n = text_.size();
    size_t depth = 0;
    do {
      if (pos_ >= n) return;
      const char c = d[pos_];
      if (c == '"') {
        size_t from = pos_ + 1;
        while (true) {
          const void* q = from < n ? std::memchr(d + from, '"', n - from) : nullptr;
          if (!q) {
            pos_ = n;
            return;
          }
          const size_t at = static_cast<size_t>(static_cast<const char*>(q) - d);
          size_t backslashes = 0;
          while (at - backslashes > pos_ + 1 && d[at - backslashes - 1] == '\\') ++backslashes;
          from = at + 1;
          if (backslashes % 2 == 0) break;  // the closing quote (not escaped)
        }
        pos_ = from;
      } else if (c == '{' || c == '[') {
        ++depth;
        ++pos_;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return;  // the end of the enclosing value: nothing to skip
        --depth;
        ++pos_;
      } else if (depth == 0) {
        // a number or literal at the top: up to the next delimiter
        while (pos_ < n && d[pos_] != ',' && d[pos_] != '}' && d[pos_] != ']' && d[pos_] != ' ' && d[pos_] != '\n' &&
               d[pos_] != '\r' && d[pos_] != '\t')
          ++pos_;
        return;
      } else {
        ++pos_;
      }
    } while (depth > 0);
  }

 private:
  static constexpr int kMaxDepth = 512;

  uint32_t read_hex4(size_t escape_at) {
    if (pos_ + 4 > text_.size()) fail("bad \\u escape in JSON string", escape_at);
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char h = text_[pos_ + k];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= h - '0';
      else if (h >= 'a' && h <= 'f') v |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') v |= h - 'A' + 10;
      else fail("bad \\u escape in JSON string", escape_at);
    }
    pos_ += 4;
    return v;
  }

  void skip_string() {
    size_t start = pos_++;
    const char* data = text_.data();
    size_t n = text_.size();
    while (pos_ < n) {
      // Fast run over ordinary bytes (not '"', '\\' or a control character).
      while (pos_ < n) {
        unsigned char c = static_cast<unsigned char>(data[pos_]);
        if (c == '"' || c == '\\' || c < 0x20) break;
        ++pos_;
      }
      if (pos_ >= n) break;
      unsigned char c = static_cast<unsigned char>(data[pos_]);
      if (c == '"') {
        ++pos_;
        return;
      }
      if (c < 0x20) fail("control character in JSON string");
      if (c == '\\') {
        if (pos_ + 1 >= n) break;
        char e = data[pos_ + 1];
        if (e == 'u') {
          pos_ += 2;
          read_hex4(pos_ - 2);
          continue;
        }
        if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
            e != 't') {
          fail("invalid escape in JSON string");
        }
        pos_ += 2;
        continue;
      }
      ++pos_;
    }
    fail("unterminated JSON string", start);
  }

  void skip_literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) fail("invalid JSON value");
    pos_ += word.size();
  }

  void skip_number() {
    size_t start = pos_;
    auto digit = [&] { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; };
    if (text_[pos_] == '-') ++pos_;
    if (!digit()) fail("invalid JSON number", start);
    if (text_[pos_] == '0') ++pos_;
    else while (digit()) ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digit()) fail("invalid JSON number", start);
      while (digit()) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digit()) fail("invalid JSON number", start);
      while (digit()) ++pos_;
    }
  }

  void skip_value_at(int depth) {
    if (depth > kMaxDepth) fail("JSON nested too deeply");
    char c = peek();
    switch (c) {
      case '"': skip_string(); return;
      case '{': {
        ++pos_;
        if (peek() == '}') {
          ++pos_;
          return;
        }
        while (true) {
          if (peek() != '"') fail("expected a string key in JSON object");
          skip_string();
          expect(':');
          skip_value_at(depth + 1);
          char d = peek();
          ++pos_;
          if (d == '}') return;
          if (d != ',') fail("expected ',' or '}' in JSON object", pos_ - 1);
        }
      }
      case '[': {
        ++pos_;
        if (peek() == ']') {
          ++pos_;
          return;
        }
        while (true) {
          skip_value_at(depth + 1);
          char d = peek();
          ++pos_;
          if (d == ']') return;
          if (d != ',') fail("expected ',' or ']' in JSON array", pos_ - 1);
        }
      }
      case 't': skip_literal("true"); return;
      case 'f': skip_literal("false"); return;
      case 'n': skip_literal("null"); return;
      case '\0':
        if (pos_ >= text_.size()) fail("unexpected end of JSON");
        fail("invalid JSON value");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          skip_number();
          return;
        }
        fail("invalid JSON value");
    }
  }

  std::string_view text_;
  std::string file_;
  size_t pos_ = 0;
  bool first_ = true;
};

// Byte offset, in schema text, of the value a JSON pointer names (as far as it resolves; the root's when
// it does not resolve at all), or npos when the text cannot be read.
inline size_t locate_json_pointer(std::string_view text, const std::string& pointer) {
  try {
    engine::JsonScanner sc(text);
    sc.skip_ws();
    size_t at = sc.pos();
    // "/" is the root here (the compiler's pointer for a whole-document error)
    if (pointer.size() <= 1 || pointer[0] != '/') return at;
    for (size_t i = 1;;) {
      size_t e = pointer.find('/', i);
      if (e == std::string::npos) e = pointer.size();
      std::string tok;
      for (size_t k = i; k < e; ++k) {
        if (pointer[k] == '~' && k + 1 < e && (pointer[k + 1] == '0' || pointer[k + 1] == '1')) {
          tok += pointer[k + 1] == '0' ? '~' : '/';
          ++k;
        } else {
          tok += pointer[k];
        }
      }
      bool found = false;
      if (sc.peek() == '{') {
        sc.begin_object();
        std::string key;
        while (sc.next_key(key)) {
          if (key == tok) {
            found = true;
            break;
          }
          sc.skip_value_unchecked();
        }
      } else if (sc.peek() == '[') {
        sc.begin_array();
        size_t n = 0, want = tok.empty() || tok.find_first_not_of("0123456789") != std::string::npos
                                 ? SIZE_MAX
                                 : std::stoul(tok);
        while (sc.next_element()) {
          if (n++ == want) {
            found = true;
            break;
          }
          sc.skip_value_unchecked();
        }
      }
      if (!found) return at;
      sc.skip_ws();
      at = sc.pos();
      if (e >= pointer.size()) break;
      i = e + 1;
    }
    return at;
  } catch (const std::exception&) {
    return std::string::npos;
  }
}


}  // namespace tollgate::engine
