// Literal / character-class decoding and the expression builder used by the grammar front-ends.
#include "grammar/grammar_text.hpp"

#include <cstdio>

#include "fsm/utf8.hpp"

namespace tollgate::grammar::text {

char32_t decode_utf8(const Grammar& g, std::string_view s, size_t& i, size_t base) {
  char32_t cp = 0;
  size_t n = fsm::decode_utf8(s, i, cp);
  if (n == 0) g.fail(ErrorKind::kParse, "invalid UTF-8", base + i);
  i += n;
  return cp;
}

char32_t decode_escape(const Grammar& g, std::string_view s, size_t& i, size_t base) {
  if (i >= s.size()) g.fail(ErrorKind::kParse, "unfinished escape", base + i - 1);
  char c = s[i];
  auto hex = [&](int n) -> char32_t {
    char32_t v = 0;
    size_t start = i;
    for (int k = 0; k < n; ++k) {
      ++i;
      if (i >= s.size() || !isxdigit(static_cast<unsigned char>(s[i])))
        g.fail(ErrorKind::kParse,
               std::string("escape \\") + c + " needs " + std::to_string(n) + " hex digits",
               base + start - 1);
      char d = s[i];
      v = v * 16 + (isdigit(static_cast<unsigned char>(d)) ? d - '0' : (tolower(d) - 'a' + 10));
    }
    ++i;
    if (v > 0x10FFFF) g.fail(ErrorKind::kParse, "code point out of range", base + start - 1);
    return v;
  };
  switch (c) {
    case 'n': ++i; return '\n';
    case 't': ++i; return '\t';
    case 'r': ++i; return '\r';
    case 'f': ++i; return '\f';
    case 'v': ++i; return '\v';
    case 'b': ++i; return '\b';
    case 'a': ++i; return '\a';
    case '0': ++i; return 0;
    case 'x': return hex(2);
    case 'u': return hex(4);
    case 'U': return hex(8);
    default:
      if (static_cast<unsigned char>(c) < 0x80 && !isalnum(static_cast<unsigned char>(c))) {
        ++i;
        return static_cast<char32_t>(c);
      }
      g.fail(ErrorKind::kParse, std::string("unknown escape \\") + c, base + i - 1);
  }
}

std::u32string decode_literal(const Grammar& g, std::string_view raw, size_t offset) {
  std::u32string out;
  // raw = "...", possibly followed by nothing else (flags handled by the caller).
  size_t i = 1, end = raw.size() - 1;
  std::string_view s = raw.substr(0, end);
  while (i < end) {
    if (s[i] == '\\') {
      ++i;
      out.push_back(decode_escape(g, s, i, offset));
    } else {
      out.push_back(decode_utf8(g, s, i, offset));
    }
  }
  return out;
}

RegexPtr literal_regex(const std::u32string& cps, bool case_insensitive) {
  std::vector<RegexPtr> items;
  for (char32_t c : cps) {
    CharSet set = CharSet::single(c);
    if (case_insensitive && c < 0x80 && isalpha(static_cast<int>(c))) {
      set.add(static_cast<char32_t>(tolower(static_cast<int>(c))),
              static_cast<char32_t>(tolower(static_cast<int>(c))));
      set.add(static_cast<char32_t>(toupper(static_cast<int>(c))),
              static_cast<char32_t>(toupper(static_cast<int>(c))));
    }
    items.push_back(Regex::chars_of(set));
  }
  if (items.empty()) return Regex::empty();
  return Regex::concat(std::move(items));
}

RegexPtr class_regex(const Grammar& g, std::string_view raw, size_t offset) {
  size_t i = 1, end = raw.size() - 1;
  std::string_view s = raw.substr(0, end);
  bool negate = false;
  if (i < end && s[i] == '^') {
    negate = true;
    ++i;
  }
  auto one = [&]() -> char32_t {
    if (s[i] == '\\') {
      ++i;
      return decode_escape(g, s, i, offset);
    }
    return decode_utf8(g, s, i, offset);
  };
  CharSet set;
  std::vector<CharRange> ranges;
  while (i < end) {
    size_t at = i;
    char32_t lo = one();
    char32_t hi = lo;
    if (i + 1 < end && s[i] == '-') {
      ++i;
      hi = one();
      if (hi < lo) g.fail(ErrorKind::kParse, "character range is out of order", offset + at);
    }
    ranges.push_back({lo, hi});
  }
  set = CharSet(std::move(ranges));
  if (negate) set = set.complement();
  return Regex::chars_of(set);
}

void ExprBuilder::open(size_t offset) { frames_.push_back({offset, {}, {}, offset}); }

void ExprBuilder::bar(size_t offset) {
  auto& f = frames_.back();
  f.alts.push_back(GExpr::seq(std::move(f.seq), f.seq_offset));
  f.seq.clear();
  f.seq_offset = offset;
}

GExprPtr ExprBuilder::close(size_t end) {
  auto& f = frames_.back();
  f.alts.push_back(GExpr::seq(std::move(f.seq), f.seq_offset));
  GExprPtr e = GExpr::alt(std::move(f.alts), f.offset);
  if (end > 0 && (e->offset != f.offset || e->end != end)) {
    auto group = std::make_shared<GExpr>(*e);  // children shared
    group->offset = f.offset;
    group->end = end;
    e = std::move(group);
  }
  frames_.pop_back();
  return e;
}

void ExprBuilder::push(GExprPtr e) { frames_.back().seq.push_back(std::move(e)); }

GExprPtr ExprBuilder::pop_item() {
  auto& seq = frames_.back().seq;
  GExprPtr e = seq.back();
  seq.pop_back();
  return e;
}

bool ExprBuilder::has_item() const { return !frames_.empty() && !frames_.back().seq.empty(); }

std::string describe_found(const char* p, const char* end) {
  if (p == end) return "end of input";
  unsigned char c = static_cast<unsigned char>(*p);
  if (c == '\n' || c == '\r') return "end of line";
  if (c == '\t') return "a tab";
  if (c < 0x20 || c == 0x7F) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
    return buf;
  }
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (static_cast<size_t>(end - p) < n) n = 1;
  std::string out(1, '\'');
  out.append(p, n);
  out.push_back('\'');
  return out;
}

}  // namespace tollgate::grammar::text
