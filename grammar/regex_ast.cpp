#include "grammar/regex_ast.hpp"

#include <algorithm>
#include <array>
#include <sstream>

#include "fsm/hash.hpp"
#include "fsm/utf8.hpp"

namespace tollgate::grammar {

namespace {
constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr char32_t kSurrogateLo = 0xD800, kSurrogateHi = 0xDFFF;
}  // namespace

CharSet::CharSet(std::vector<CharRange> ranges) : ranges_(std::move(ranges)) { normalise(); }

CharSet CharSet::any() {
  return CharSet({{0, kSurrogateLo - 1}, {kSurrogateHi + 1, kMaxCodePoint}});
}

void CharSet::normalise() {
  std::vector<CharRange> in;
  in.reserve(ranges_.size());
  for (auto r : ranges_) {
    if (r.lo > r.hi) continue;
    if (r.hi > kMaxCodePoint) r.hi = kMaxCodePoint;
    if (r.lo > kMaxCodePoint) continue;
    // Surrogates are not characters: UTF-8 cannot encode them.
    if (r.lo >= kSurrogateLo && r.hi <= kSurrogateHi) continue;
    if (r.lo < kSurrogateLo && r.hi > kSurrogateHi) {
      in.push_back({r.lo, kSurrogateLo - 1});
      in.push_back({kSurrogateHi + 1, r.hi});
      continue;
    }
    if (r.lo >= kSurrogateLo && r.lo <= kSurrogateHi) r.lo = kSurrogateHi + 1;
    if (r.hi >= kSurrogateLo && r.hi <= kSurrogateHi) r.hi = kSurrogateLo - 1;
    in.push_back(r);
  }
  std::sort(in.begin(), in.end(), [](const CharRange& a, const CharRange& b) { return a.lo < b.lo; });
  ranges_.clear();
  for (const auto& r : in) {
    if (!ranges_.empty() && (r.lo <= ranges_.back().hi || ranges_.back().hi + 1 == r.lo)) {
      ranges_.back().hi = std::max(ranges_.back().hi, r.hi);
    } else {
      ranges_.push_back(r);
    }
  }
}

void CharSet::add(char32_t lo, char32_t hi) {
  ranges_.push_back({lo, hi});
  normalise();
}

void CharSet::add(const CharSet& other) {
  ranges_.insert(ranges_.end(), other.ranges_.begin(), other.ranges_.end());
  normalise();
}

CharSet CharSet::complement() const {
  std::vector<CharRange> out;
  char32_t next = 0;
  for (const auto& r : ranges_) {
    if (r.lo > next) out.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return CharSet(std::move(out));
}

CharSet CharSet::intersect(const CharSet& other) const {
  std::vector<CharRange> out;
  size_t i = 0, j = 0;
  while (i < ranges_.size() && j < other.ranges_.size()) {
    char32_t lo = std::max(ranges_[i].lo, other.ranges_[j].lo);
    char32_t hi = std::min(ranges_[i].hi, other.ranges_[j].hi);
    if (lo <= hi) out.push_back({lo, hi});
    if (ranges_[i].hi < other.ranges_[j].hi) ++i; else ++j;
  }
  return CharSet(std::move(out));
}

bool CharSet::contains(char32_t c) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), c,
                             [](char32_t v, const CharRange& r) { return v < r.lo; });
  if (it == ranges_.begin()) return false;
  --it;
  return c <= it->hi;
}

RegexPtr Regex::empty() {
  static const RegexPtr e = [] {
    auto r = std::make_shared<Regex>();
    r->kind = Kind::kEmpty;
    return r;
  }();
  return e;
}

RegexPtr Regex::nothing() {
  static const RegexPtr n = [] {
    auto r = std::make_shared<Regex>();
    r->kind = Kind::kNothing;
    return r;
  }();
  return n;
}

RegexPtr Regex::chars_of(CharSet set) {
  if (set.empty()) return nothing();
  auto r = std::make_shared<Regex>();
  r->kind = Kind::kChars;
  r->chars = std::move(set);
  return r;
}

RegexPtr Regex::bytes(uint8_t lo, uint8_t hi) {
  if (lo > hi) return nothing();
  auto r = std::make_shared<Regex>();
  r->kind = Kind::kBytes;
  r->byte_lo = lo;
  r->byte_hi = hi;
  return r;
}


RegexPtr Regex::literal(std::string_view utf8) {
  // One shared node per ASCII character (nodes are immutable): a schema's keys and enum words are
  // tens of thousands of characters, and a node each was a fifth of its allocations.
  static const std::array<RegexPtr, 128> ascii = [] {
    std::array<RegexPtr, 128> a;
    for (char32_t c = 0; c < 128; ++c) a[c] = chars_of(CharSet::single(c));
    return a;
  }();
  std::vector<RegexPtr> items;
  items.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) {
    if (static_cast<unsigned char>(utf8[i]) < 0x80) {
      items.push_back(ascii[static_cast<unsigned char>(utf8[i])]);
      ++i;
      continue;
    }
    char32_t cp = 0;
    size_t n = fsm::decode_utf8(utf8, i, cp);
    if (n == 0) {  // a byte that starts no well-formed sequence matches itself
      items.push_back(bytes(static_cast<uint8_t>(utf8[i]), static_cast<uint8_t>(utf8[i])));
      ++i;
    } else {
      items.push_back(chars_of(CharSet::single(cp)));
      i += n;
    }
  }
  return concat(std::move(items));
}

RegexPtr Regex::concat(std::vector<RegexPtr> items) {
  // Already flat (no nested concatenation, no empty item): the list is taken as it is, not
  // copied.
  bool flat_already = items.size() > 1;
  for (auto& it : items) {
    if (it->kind == Kind::kNothing) return nothing();
    if (it->kind == Kind::kConcat || it->kind == Kind::kEmpty) flat_already = false;
  }
  if (flat_already) {
    auto r = std::make_shared<Regex>();
    r->kind = Kind::kConcat;
    r->items = std::move(items);
    return r;
  }
  std::vector<RegexPtr> flat;
  for (auto& it : items) {
    if (it->kind == Kind::kNothing) return nothing();
    if (it->kind == Kind::kEmpty) continue;
    if (it->kind == Kind::kConcat) {
      flat.insert(flat.end(), it->items.begin(), it->items.end());
    } else {
      flat.push_back(std::move(it));
    }
  }
  if (flat.empty()) return empty();
  if (flat.size() == 1) return flat[0];
  auto r = std::make_shared<Regex>();
  r->kind = Kind::kConcat;
  r->items = std::move(flat);
  return r;
}

RegexPtr Regex::alt(std::vector<RegexPtr> items) {
  std::vector<RegexPtr> flat;
  for (auto& it : items) {
    if (it->kind == Kind::kNothing) continue;
    if (it->kind == Kind::kAlt) {
      flat.insert(flat.end(), it->items.begin(), it->items.end());
    } else {
      flat.push_back(std::move(it));
    }
  }
  if (flat.empty()) return nothing();
  if (flat.size() == 1) return flat[0];
  auto r = std::make_shared<Regex>();
  r->kind = Kind::kAlt;
  r->items = std::move(flat);
  return r;
}

RegexPtr Regex::repeat(RegexPtr item, uint32_t min, uint32_t max, bool lazy) {
  if (max != kUnbounded && min > max) return nothing();
  if (max == 0) return empty();
  if (min == 1 && max == 1) return item;
  if (item->kind == Kind::kEmpty) return item;
  if (item->kind == Kind::kNothing) return min == 0 ? empty() : nothing();
  auto r = std::make_shared<Regex>();
  r->kind = Kind::kRepeat;
  r->items = {std::move(item)};
  r->min = min;
  r->max = max;
  r->lazy = lazy && min != max;
  return r;
}

RegexPtr Regex::intersect(std::vector<RegexPtr> items) {
  std::vector<RegexPtr> flat;
  for (auto& it : items) {
    if (it->kind == Kind::kNothing) return nothing();
    if (it->kind == Kind::kIntersect && !it->process_wide) {  // a pinned node stays whole
      flat.insert(flat.end(), it->items.begin(), it->items.end());
    } else {
      flat.push_back(std::move(it));
    }
  }
  if (flat.empty()) return complement(nothing());  // every string
  if (flat.size() == 1) return flat[0];
  auto r = std::make_shared<Regex>();
  r->kind = Kind::kIntersect;
  r->items = std::move(flat);
  return r;
}

RegexPtr Regex::complement(RegexPtr item) {
  if (item->kind == Kind::kComplement) return item->items[0];
  auto r = std::make_shared<Regex>();
  r->kind = Kind::kComplement;
  r->items = {std::move(item)};
  return r;
}

RegexPtr Regex::json_string(RegexPtr item) {
  if (item->kind == Kind::kNothing || item->kind == Kind::kEmpty) return item;
  auto r = std::make_shared<Regex>();
  r->kind = Kind::kJsonString;
  r->items = {std::move(item)};
  return r;
}

RegexPtr Regex::pin(RegexPtr item, std::string_view name) {
  auto r = std::make_shared<Regex>(*item);
  r->process_wide = true;
  r->pinned_name = name;
  return r;
}

RegexPtr Regex::automaton_of(std::shared_ptr<const ByteAutomaton> automaton) {
  auto r = std::make_shared<Regex>();
  r->kind = Kind::kAutomaton;
  r->automaton = std::move(automaton);
  return r;
}

namespace {
// Appends to a std::string (through an ostringstream, rendering was a fifth of a schema compile's
// instructions; renderings key lexemes and sub-automata).
void put_cp(std::string& os, char32_t c) {
  if (c >= 0x20 && c < 0x7F) {
    if (std::string_view("\\[]-^").find(static_cast<char>(c)) != std::string_view::npos) os += '\\';
    os += static_cast<char>(c);
  } else {
    char buf[16];
    int n = std::snprintf(buf, sizeof buf, "\\u{%X}", static_cast<unsigned>(c));
    os.append(buf, static_cast<size_t>(n));
  }
}

void render(const Regex& r, std::string& os) {
  switch (r.kind) {
    case Regex::Kind::kEmpty: os += "()"; break;
    case Regex::Kind::kNothing: os += "[]"; break;
    case Regex::Kind::kChars:
      os += '[';
      for (const auto& cr : r.chars.ranges()) {
        put_cp(os, cr.lo);
        if (cr.hi != cr.lo) {
          os += '-';
          put_cp(os, cr.hi);
        }
      }
      os += ']';
      break;
    case Regex::Kind::kBytes: {
      char buf[32];
      int n = std::snprintf(buf, sizeof buf, "\\x%02X-\\x%02X", r.byte_lo, r.byte_hi);
      os += "(?-u:[";
      os.append(buf, static_cast<size_t>(n));
      os += "])";
      break;
    }
    case Regex::Kind::kConcat:
      os += "(?:";
      for (const auto& it : r.items) render(*it, os);
      os += ')';
      break;
    case Regex::Kind::kAlt:
      os += "(?:";
      for (size_t i = 0; i < r.items.size(); ++i) {
        if (i) os += '|';
        render(*r.items[i], os);
      }
      os += ')';
      break;
    case Regex::Kind::kRepeat:
      os += "(?:";
      render(*r.items[0], os);
      os += "){";
      os += std::to_string(r.min);
      os += ',';
      if (r.max != kUnbounded) os += std::to_string(r.max);
      os += '}';
      if (r.lazy) os += '?';
      break;
    case Regex::Kind::kIntersect:
      os += "(?&:";
      for (size_t i = 0; i < r.items.size(); ++i) {
        if (i) os += '&';
        render(*r.items[i], os);
      }
      os += ')';
      break;
    case Regex::Kind::kComplement:
      os += "(?~:";
      render(*r.items[0], os);
      os += ')';
      break;
    case Regex::Kind::kJsonString:
      os += "(?json:";
      render(*r.items[0], os);
      os += ')';
      break;
    case Regex::Kind::kAutomaton: {
      // The whole automaton, so that the rendering tells automata apart (fsm/cfg.cpp keys lexemes
      // by it): start, then per state its final mark and edges lo-hi>to (hex bytes).
      if (!r.automaton) {
        os += "(?automaton:)";
        break;
      }
      const auto& a = *r.automaton;
      os += "(?automaton:";
      os += std::to_string(a.start);
      char buf[32];
      for (size_t q = 0; q < a.num_states(); ++q) {
        os += q < a.finals.size() && a.finals[q] ? ";F" : ";";
        for (const auto& e : a.edges[q]) {
          int n = std::snprintf(buf, sizeof buf, " %02X-%02X>%u", e.lo, e.hi, static_cast<unsigned>(e.to));
          os.append(buf, static_cast<size_t>(n));
        }
      }
      os += ')';
      break;
    }
  }
}
}  // namespace

std::string Regex::to_string() const {
  std::string os;
  render(*this, os);
  return os;
}

size_t RegexIdentity::hash(const Regex& r) {
  if (const size_t known = r.identity_hash.value.load(std::memory_order_relaxed)) return known;
  size_t h = static_cast<size_t>(r.kind);
  fsm::hash_mix(h, (uint64_t{r.min} << 32) | r.max);
  fsm::hash_mix(h, (uint64_t{r.byte_lo} << 9) | (uint64_t{r.byte_hi} << 1) | (r.lazy ? 1 : 0));
  for (const auto& cr : r.chars.ranges()) fsm::hash_mix(h, (uint64_t{cr.lo} << 32) | cr.hi);
  for (const auto& it : r.items) fsm::hash_mix(h, hash(*it));
  if (r.automaton) {
    const ByteAutomaton& a = *r.automaton;
    fsm::hash_mix(h, a.start);
    fsm::hash_mix(h, fsm::hash_words(a.finals));
    for (size_t q = 0; q < a.num_states(); ++q) {
      fsm::hash_mix(h, a.edges[q].size());
      for (const auto& e : a.edges[q]) fsm::hash_mix(h, (uint64_t{e.lo} << 40) | (uint64_t{e.hi} << 32) | e.to);
    }
  }
  if (h == 0) h = 1;
  r.identity_hash.value.store(h, std::memory_order_relaxed);
  return h;
}

bool RegexIdentity::equal(const Regex& a, const Regex& b) {
  if (&a == &b) return true;
  if (a.kind != b.kind || a.min != b.min || a.max != b.max || a.byte_lo != b.byte_lo || a.byte_hi != b.byte_hi ||
      a.lazy != b.lazy || !(a.chars == b.chars) || a.items.size() != b.items.size())
    return false;
  for (size_t i = 0; i < a.items.size(); ++i)
    if (!equal(*a.items[i], *b.items[i])) return false;
  if ((a.automaton == nullptr) != (b.automaton == nullptr)) return false;
  return a.automaton == b.automaton || *a.automaton == *b.automaton;
}

}  // namespace tollgate::grammar
