// Character classes for the regex front-end: ICU property sets (general categories, scripts),
// POSIX and Perl classes, and the simple-case-folding closure used by (?i).
#include "grammar/unicode_classes.hpp"

#include <unicode/uchar.h>
#include <unicode/uset.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tollgate::grammar {

namespace {

std::u16string to_u16(std::string_view s) {
  std::u16string out;
  for (char c : s) out.push_back(static_cast<unsigned char>(c));
  return out;
}

// ICU set for prop=value (value may be empty for a binary property); nullopt on failure.
std::optional<CharSet> icu_property(std::string_view prop, std::string_view value) {
  for (char c : prop) if (static_cast<unsigned char>(c) >= 0x80) return std::nullopt;
  for (char c : value) if (static_cast<unsigned char>(c) >= 0x80) return std::nullopt;
  UErrorCode ec = U_ZERO_ERROR;
  USet* set = uset_openEmpty();
  std::u16string p = to_u16(prop), v = to_u16(value);
  uset_applyPropertyAlias(set, reinterpret_cast<const UChar*>(p.c_str()), static_cast<int32_t>(p.size()),
                          reinterpret_cast<const UChar*>(v.c_str()), static_cast<int32_t>(v.size()), &ec);
  if (U_FAILURE(ec)) {
    uset_close(set);
    return std::nullopt;
  }
  std::vector<CharRange> ranges;
  int32_t n = uset_getItemCount(set);
  for (int32_t i = 0; i < n; ++i) {
    UChar32 lo = 0, hi = 0;
    UErrorCode e2 = U_ZERO_ERROR;
    int32_t len = uset_getItem(set, i, &lo, &hi, nullptr, 0, &e2);
    if (len == 0) ranges.push_back({static_cast<char32_t>(lo), static_cast<char32_t>(hi)});
  }
  uset_close(set);
  return CharSet(std::move(ranges));
}

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && s[a] == ' ') ++a;
  while (b > a && s[b - 1] == ' ') --b;
  return std::string(s.substr(a, b - a));
}

}  // namespace

std::optional<CharSet> unicode_property(std::string_view raw) {
  std::string name = trim(raw);
  if (name.empty()) return std::nullopt;
  size_t eq = name.find('=');
  if (eq == std::string::npos) eq = name.find(':');
  if (eq != std::string::npos) {
    std::string prop = trim(std::string_view(name).substr(0, eq));
    std::string value = trim(std::string_view(name).substr(eq + 1));
    if (prop.empty() || value.empty()) return std::nullopt;
    // Only enumerated properties that name character classes: categories and scripts.
    UProperty p = u_getPropertyEnum(prop.c_str());
    if (p != UCHAR_GENERAL_CATEGORY_MASK && p != UCHAR_GENERAL_CATEGORY && p != UCHAR_SCRIPT &&
        p != UCHAR_SCRIPT_EXTENSIONS) {
      return std::nullopt;
    }
    if (p == UCHAR_GENERAL_CATEGORY) prop = "gc";
    return icu_property(prop, value);
  }
  std::string lower;
  for (char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "any") return CharSet::any();
  if (auto gc = icu_property("gc", name)) return gc;
  if (auto sc = icu_property("sc", name)) return sc;
  return std::nullopt;
}

std::optional<CharSet> posix_class(std::string_view name) {
  using R = std::vector<CharRange>;
  if (name == "alnum") return CharSet(R{{'0', '9'}, {'A', 'Z'}, {'a', 'z'}});
  if (name == "alpha") return CharSet(R{{'A', 'Z'}, {'a', 'z'}});
  if (name == "ascii") return CharSet(R{{0, 0x7F}});
  if (name == "blank") return CharSet(R{{'\t', '\t'}, {' ', ' '}});
  if (name == "cntrl") return CharSet(R{{0, 0x1F}, {0x7F, 0x7F}});
  if (name == "digit") return CharSet(R{{'0', '9'}});
  if (name == "graph") return CharSet(R{{'!', '~'}});
  if (name == "lower") return CharSet(R{{'a', 'z'}});
  if (name == "print") return CharSet(R{{' ', '~'}});
  if (name == "punct") return CharSet(R{{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}});
  if (name == "space") return CharSet(R{{'\t', '\r'}, {' ', ' '}});
  if (name == "upper") return CharSet(R{{'A', 'Z'}});
  if (name == "word") return CharSet(R{{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'_', '_'}});
  if (name == "xdigit") return CharSet(R{{'0', '9'}, {'A', 'F'}, {'a', 'f'}});
  return std::nullopt;
}

CharSet perl_class(char letter) {
  using R = std::vector<CharRange>;
  CharSet s;
  switch (std::tolower(static_cast<unsigned char>(letter))) {
    case 'd': s = CharSet(R{{'0', '9'}}); break;
    case 'w': s = CharSet(R{{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'_', '_'}}); break;
    case 's':
      s = CharSet(R{{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A},
                    {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
                    {0xFEFF, 0xFEFF}});
      break;
    default: break;
  }
  return std::isupper(static_cast<unsigned char>(letter)) ? s.complement() : s;
}

CharSet python_perl_class(char lower) {
  // built once (ICU builds a category's set on each call; \w's letters are hundreds of ranges)
  static const std::array<CharSet, 3> sets = [] {
    using R = std::vector<CharRange>;
    CharSet w(R{{'_', '_'}});
    for (const char* p : {"L", "N"}) w.add(*unicode_property(p));
    CharSet s = perl_class('s').intersect(CharSet::single(0xFEFF).complement());
    s.add(CharSet(R{{0x1C, 0x1F}, {0x85, 0x85}}));
    return std::array<CharSet, 3>{*unicode_property("Nd"), std::move(w), std::move(s)};
  }();
  return lower == 'd' ? sets[0] : lower == 'w' ? sets[1] : sets[2];
}

namespace {
// Every code point that takes part in simple case folding, with the id of its orbit.
struct FoldTable {
  std::vector<std::pair<char32_t, uint32_t>> members;  // sorted by code point
  std::vector<std::vector<char32_t>> orbits;
};

const FoldTable& fold_table() {
  static const FoldTable table = [] {
    FoldTable t;
    std::vector<std::pair<char32_t, char32_t>> pairs;  // (fold, cp)
    for (UChar32 c = 0; c <= 0x10FFFF; ++c) {
      UChar32 f = u_foldCase(c, U_FOLD_CASE_DEFAULT);
      if (f != c) {
        pairs.push_back({static_cast<char32_t>(f), static_cast<char32_t>(c)});
        pairs.push_back({static_cast<char32_t>(f), static_cast<char32_t>(f)});
      }
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    for (size_t i = 0; i < pairs.size();) {
      size_t j = i;
      std::vector<char32_t> orbit;
      while (j < pairs.size() && pairs[j].first == pairs[i].first) orbit.push_back(pairs[j++].second);
      uint32_t id = static_cast<uint32_t>(t.orbits.size());
      for (char32_t c : orbit) t.members.push_back({c, id});
      t.orbits.push_back(std::move(orbit));
      i = j;
    }
    std::sort(t.members.begin(), t.members.end());
    return t;
  }();
  return table;
}
}  // namespace

CharSet case_fold_closure(const CharSet& set) {
  const FoldTable& t = fold_table();
  std::vector<CharRange> add = set.ranges();
  std::vector<bool> done(t.orbits.size(), false);
  for (const auto& r : set.ranges()) {
    auto it = std::lower_bound(t.members.begin(), t.members.end(), std::make_pair(r.lo, uint32_t{0}));
    for (; it != t.members.end() && it->first <= r.hi; ++it) {
      if (done[it->second]) continue;
      done[it->second] = true;
      for (char32_t c : t.orbits[it->second]) add.push_back({c, c});
    }
  }
  return CharSet(std::move(add));
}

}  // namespace tollgate::grammar
