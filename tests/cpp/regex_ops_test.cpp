// The regex kinds built on DFA operations: kIntersect, kComplement, kJsonString, kAutomaton.
// Oracles: a position-set matcher over code points written here from the definitions (for
// intersection and complement, nested anywhere), a strict JSON-string-body decoder (kJsonString:
// every byte string over an alphabet of escape pieces is accepted iff it decodes to a string of
// the child's language), and a direct simulation of the byte automaton (kAutomaton).
#include "test_support.hpp"

#include <chrono>
#include <functional>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "fsm/cfg.hpp"
#include "fsm/cfg_runtime.hpp"
#include "fsm/dfa.hpp"
#include "fsm/utf8.hpp"
#include "grammar/grammar_ir.hpp"
#include "grammar/regex_ast.hpp"
#include "tollgate/error.hpp"

using namespace tollgate;
using grammar::ByteAutomaton;
using grammar::CharSet;
using grammar::Regex;
using grammar::RegexPtr;

namespace {

std::string utf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) out += fsm::encode_utf8(c);
  return out;
}

// Every string over `alphabet` of length 0..max_len.
std::vector<std::u32string> all_strings(const std::u32string& alphabet, size_t max_len) {
  std::vector<std::u32string> out{U""};
  for (size_t begin = 0, len = 0; len < max_len; ++len) {
    size_t end = out.size();
    for (size_t i = begin; i < end; ++i)
      for (char32_t c : alphabet) out.push_back(out[i] + c);
    begin = end;
  }
  return out;
}

// Membership over code points from the definitions: ends(r, i) is the set of positions j such
// that s[i, j) matches r. Complement is relative to code point strings (every substring of a
// code point string is one), intersection is "every item ends there".
class Oracle {
 public:
  explicit Oracle(const std::u32string& s) : s_(s) {}
  bool matches(const Regex& r) { return ends(r, 0)[s_.size()]; }

 private:
  using Set = std::vector<bool>;
  const Set& ends(const Regex& r, size_t i) {
    auto key = std::make_pair(&r, i);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    Set out = compute(r, i);
    return memo_.emplace(key, std::move(out)).first->second;
  }
  Set step(const Regex& item, const Set& from) {
    Set out(s_.size() + 1, false);
    for (size_t p = 0; p <= s_.size(); ++p)
      if (from[p]) {
        const Set& e = ends(item, p);
        for (size_t j = 0; j <= s_.size(); ++j) out[j] = out[j] || e[j];
      }
    return out;
  }
  Set compute(const Regex& r, size_t i) {
    const size_t n = s_.size();
    Set out(n + 1, false);
    switch (r.kind) {
      case Regex::Kind::kEmpty: out[i] = true; break;
      case Regex::Kind::kNothing: break;
      case Regex::Kind::kChars:
        if (i < n && r.chars.contains(s_[i])) out[i + 1] = true;
        break;
      case Regex::Kind::kConcat: {
        Set cur(n + 1, false);
        cur[i] = true;
        for (const auto& item : r.items) cur = step(*item, cur);
        out = cur;
        break;
      }
      case Regex::Kind::kAlt:
        for (const auto& item : r.items) {
          const Set& e = ends(*item, i);
          for (size_t j = 0; j <= n; ++j) out[j] = out[j] || e[j];
        }
        break;
      case Regex::Kind::kRepeat: {
        Set cur(n + 1, false);
        cur[i] = true;
        for (uint32_t k = 0; k < r.min; ++k) cur = step(*r.items[0], cur);
        out = cur;
        if (r.max == grammar::kUnbounded) {
          Set frontier = cur;
          for (bool any = true; any;) {
            Set next = step(*r.items[0], frontier);
            any = false;
            for (size_t j = 0; j <= n; ++j) {
              frontier[j] = next[j] && !out[j];
              if (frontier[j]) out[j] = any = true;
            }
          }
        } else {
          for (uint32_t k = r.min; k < r.max; ++k) {
            cur = step(*r.items[0], cur);
            for (size_t j = 0; j <= n; ++j) out[j] = out[j] || cur[j];
          }
        }
        break;
      }
      case Regex::Kind::kIntersect:
        for (size_t j = i; j <= n; ++j) out[j] = true;
        for (const auto& item : r.items) {
          const Set& e = ends(*item, i);
          for (size_t j = 0; j <= n; ++j) out[j] = out[j] && e[j];
        }
        break;
      case Regex::Kind::kComplement: {
        const Set& e = ends(*r.items[0], i);
        for (size_t j = i; j <= n; ++j) out[j] = !e[j];
        break;
      }
      default: FAIL("oracle: unexpected regex kind");
    }
    return out;
  }
  std::u32string s_;
  std::map<std::pair<const Regex*, size_t>, Set> memo_;
};

// Random regex ASTs over `alphabet`, with intersections and complements anywhere.
class RandomRegex {
 public:
  RandomRegex(uint32_t seed, std::u32string alphabet, bool set_ops)
      : rng_(seed), alphabet_(std::move(alphabet)), set_ops_(set_ops) {}
  RegexPtr make(int depth) {
    int pick = depth <= 0 ? static_cast<int>(rng_() % 2) : static_cast<int>(rng_() % (set_ops_ ? 9 : 7));
    switch (pick) {
      case 0:
      case 1: {
        CharSet cs;
        for (char32_t c : alphabet_)
          if (rng_() % 3 == 0) cs.add(c, c);
        if (cs.empty()) {
          char32_t x = alphabet_[rng_() % alphabet_.size()], y = alphabet_[rng_() % alphabet_.size()];
          cs.add(std::min(x, y), std::max(x, y));
        }
        return rng_() % 8 == 0 ? Regex::empty() : Regex::chars_of(cs);
      }
      case 2:
      case 3: return Regex::concat({make(depth - 1), make(depth - 1)});
      case 4: return Regex::alt({make(depth - 1), make(depth - 1)});
      case 5: {
        uint32_t min = rng_() % 3;
        uint32_t max = rng_() % 3 == 0 ? grammar::kUnbounded : min + rng_() % 3;
        return Regex::repeat(make(depth - 1), min, max);
      }
      case 6: return Regex::concat({make(depth - 1), make(depth - 1), make(depth - 1)});
      case 7: return Regex::intersect({make(depth - 1), make(depth - 1)});
      default: return Regex::complement(make(depth - 1));
    }
  }

 private:
  std::mt19937 rng_;
  std::u32string alphabet_;
  bool set_ops_;
};

// JSON string body, strictly as Regex::Kind::kJsonString defines it: the code points, or nullopt
// when `t` is not such a body (raw '"' or control byte, unknown escape, \u00xx for a code point
// that has a short escape or is not a control, truncated escape, invalid UTF-8 is not produced
// by the alphabets used here).
std::optional<std::string> json_decode(const std::string& t) {
  std::string out;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < t.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(t[i]);
    if (c < 0x20 || c == '"') return std::nullopt;
    if (c != '\\') {
      out += static_cast<char>(c);
      continue;
    }
    if (++i >= t.size()) return std::nullopt;
    switch (t[i]) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        if (i + 4 >= t.size()) return std::nullopt;
        if (t[i + 1] != '0' || t[i + 2] != '0') return std::nullopt;
        int h1 = hex(t[i + 3]), h2 = hex(t[i + 4]);
        if (h1 < 0 || h1 > 1 || h2 < 0) return std::nullopt;
        char cp = static_cast<char>(h1 * 16 + h2);
        if (cp == '\b' || cp == '\f' || cp == '\n' || cp == '\r' || cp == '\t') return std::nullopt;
        out += cp;
        i += 4;
        break;
      }
      default: return std::nullopt;
    }
  }
  return out;
}

// An encoding of `s` as a JSON string body; `variant` picks among the allowed spellings ('/'
// raw or escaped, hex digits lower or upper case).
std::string json_encode(const std::u32string& s, uint32_t variant) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool alt = (variant >> (i % 31)) & 1;
    char32_t c = s[i];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '/': out += alt ? "\\/" : "/"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, alt ? "\\u%04X" : "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += fsm::encode_utf8(c);
        }
    }
  }
  return out;
}

bool u32_of(const std::string& bytes, std::u32string& out) {
  // Only for the small alphabets here: ASCII, U+00E9 (2 bytes) and U+4E2D (3 bytes).
  out.clear();
  for (size_t i = 0; i < bytes.size();) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      out += c;
      ++i;
    } else if (bytes.compare(i, 2, "\xC3\xA9") == 0) {
      out += U'\u00E9';
      i += 2;
    } else if (bytes.compare(i, 3, "\xE4\xB8\xAD") == 0) {
      out += U'\u4E2D';
      i += 3;
    } else {
      return false;
    }
  }
  return true;
}

// Direct simulation of a (nondeterministic) byte automaton.
bool simulate(const ByteAutomaton& a, const std::string& bytes) {
  std::set<uint32_t> cur{a.start};
  for (unsigned char b : bytes) {
    std::set<uint32_t> next;
    for (uint32_t q : cur)
      for (const auto& e : a.edges[q])
        if (b >= e.lo && b <= e.hi) next.insert(e.to);
    cur.swap(next);
  }
  for (uint32_t q : cur)
    if (a.finals[q]) return true;
  return false;
}

std::shared_ptr<ByteAutomaton> random_automaton(std::mt19937& rng, uint32_t states) {
  auto a = std::make_shared<ByteAutomaton>();
  a->edges.resize(states);
  a->finals.resize(states);
  a->start = rng() % states;
  for (uint32_t q = 0; q < states; ++q) {
    a->finals[q] = rng() % 3 == 0;
    int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      uint8_t lo = static_cast<uint8_t>('a' + rng() % 4);
      uint8_t hi = static_cast<uint8_t>(std::min<int>('d', lo + static_cast<int>(rng() % 2)));
      a->edges[q].push_back({lo, hi, static_cast<uint32_t>(rng() % states)});
    }
  }
  return a;
}

RegexPtr lit(std::string_view s) { return Regex::literal(s); }
RegexPtr any_char() { return Regex::chars_of(CharSet::any()); }

ErrorKind error_kind(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  FAIL("expected a tollgate::Error");
  return ErrorKind::kParse;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("intersection and complement match the definitions on random regexes", "[regex-ops]") {
  const std::u32string alphabet = U"ab\u00E9\u4E2D";
  const auto strings = all_strings(alphabet, 5);
  RandomRegex gen(20240611, alphabet, true);
  int checked = 0, with_ops = 0;
  for (int round = 0; round < 150; ++round) {
    RegexPtr r = gen.make(4);
    const std::string text = r->to_string();
    if (text.find("(?&") != std::string::npos || text.find("(?~") != std::string::npos) ++with_ops;
    fsm::Dfa dfa = fsm::compile_dfa(*r);
    // Also embedded in the NFA, behind a literal.
    fsm::Dfa behind = fsm::compile_dfa(*Regex::concat({lit("b"), r}));
    for (const auto& s : strings) {
      bool want = Oracle(s).matches(*r);
      INFO("regex " << text << " string " << utf8(s));
      REQUIRE(dfa.matches(utf8(s)) == want);
      REQUIRE(behind.matches("b" + utf8(s)) == want);
      ++checked;
    }
    // Never a byte string that is not UTF-8.
    for (std::string bad : {"\xC3", "\xE4\xB8", "a\x80", "\xFF", "\xED\xA0\x80", "\xC0\xAF"}) {
      INFO("regex " << text);
      CHECK_FALSE(dfa.matches(bad));
    }
  }
  CHECK(with_ops > 50);
  CHECK(checked > 100000);
}

TEST_CASE("intersect / difference / complement on DFAs agree with their children", "[regex-ops]") {
  const std::u32string alphabet = U"ab\u00E9";
  const auto strings = all_strings(alphabet, 6);
  RandomRegex gen(77, alphabet, false);
  for (int round = 0; round < 60; ++round) {
    RegexPtr x = gen.make(3), y = gen.make(3);
    fsm::Dfa a = fsm::compile_dfa(*x), b = fsm::compile_dfa(*y);
    fsm::Dfa both = fsm::intersect(a, b), minus = fsm::difference(a, b), not_a = fsm::complement(a);
    // The results are minimal: the same language gives as many states.
    CHECK(fsm::intersect(a, a).num_states() == a.num_states());
    CHECK(fsm::complement(not_a).num_states() == a.num_states());
    CHECK(fsm::difference(a, a).empty());
    for (const auto& s : strings) {
      const std::string bytes = utf8(s);
      INFO(x->to_string() << " vs " << y->to_string() << " on " << bytes);
      REQUIRE(both.matches(bytes) == (a.matches(bytes) && b.matches(bytes)));
      REQUIRE(minus.matches(bytes) == (a.matches(bytes) && !b.matches(bytes)));
      REQUIRE(not_a.matches(bytes) == !a.matches(bytes));
    }
  }
  // The complement is over valid UTF-8 only, also for a child over raw bytes.
  fsm::Dfa raw = fsm::compile_dfa(*Regex::repeat(Regex::bytes(0x80, 0xFF), 1, grammar::kUnbounded));
  fsm::Dfa not_raw = fsm::complement(raw);
  CHECK(not_raw.matches(""));
  CHECK_FALSE(not_raw.matches("\xC3\xA9"));  // é's two bytes are both in 0x80..0xFF: excluded
  CHECK(not_raw.matches("a\xC3\xA9"));
  CHECK_FALSE(not_raw.matches("\xFF"));
  CHECK(not_raw.matches(utf8(U"\U0010FFFF\u4E2D\x7F")));
  CHECK_FALSE(not_raw.matches("\xF4\x90\x80\x80"));  // above U+10FFFF
  // Complement of nothing is every code point string; of everything, nothing.
  fsm::Dfa every = fsm::compile_dfa(*Regex::complement(Regex::nothing()));
  CHECK(every.matches(""));
  CHECK(every.matches(utf8(U"x\u00E9\U0001F600")));
  CHECK(fsm::compile_dfa(*Regex::complement(Regex::repeat(any_char(), 0, grammar::kUnbounded))).empty());
  CHECK(fsm::compile_dfa(*Regex::intersect({lit("ab"), lit("abc")})).empty());
}

TEST_CASE("length bounds: counted on the pattern's automaton, minimal, the product route's language", "[regex-ops]") {
  // compile_dfa counts a length bound on the other items' automaton and merges its states bottom-up;
  // fsm::intersect is the product with the bound's own automaton, minimised by Hopcroft's
  // refinement. Same language and as many states (so both are minimal), for bounds short and long,
  // open above, and past the strings' lengths; with multi-byte code points (é two bytes, 中 three,
  // 😀 four) so that counts keep inside a code point.
  const std::u32string alphabet = U"a\u00E9\u4E2D\U0001F600";
  const auto strings = all_strings(alphabet, 6);
  RandomRegex gen(9241, alphabet, false);
  std::mt19937 rng(5);
  int checked = 0, merged = 0;
  for (int round = 0; round < 300; ++round) {
    RegexPtr pattern = round % 5 == 0 ? Regex::repeat(gen.make(3), 0, grammar::kUnbounded) : gen.make(4);
    const uint32_t min = rng() % 4 == 0 ? 0 : rng() % 8;
    const uint32_t max = rng() % 4 == 0 ? grammar::kUnbounded : min + rng() % (rng() % 3 == 0 ? 40 : 6);
    RegexPtr bound = Regex::repeat(any_char(), min, max);
    fsm::Dfa counted = fsm::compile_dfa(*Regex::intersect({pattern, bound}));
    fsm::Dfa product = fsm::intersect(fsm::compile_dfa(*pattern), fsm::compile_dfa(*bound));
    INFO("pattern " << pattern->to_string() << " length " << min << ".." << max);
    REQUIRE(counted.num_states() == product.num_states());
    REQUIRE(fsm::difference(counted, product).empty());
    REQUIRE(fsm::difference(product, counted).empty());
    merged += counted.num_states() > 1;
    for (const auto& str : strings) {
      const std::string bytes = utf8(str);
      REQUIRE(counted.matches(bytes) == product.matches(bytes));
      ++checked;
    }
  }
  CHECK(merged > 100);
  CHECK(checked > 100000);
  // An email under maxLength 1024 (a format of a few states, counted on its cycles): its strings
  // at the bound and one past it.
  fsm::Dfa email = fsm::compile_dfa(*Regex::intersect(
      {Regex::concat({Regex::repeat(Regex::chars_of(CharSet::range('a', 'z')), 1, grammar::kUnbounded), lit("@"),
                      Regex::repeat(Regex::chars_of(CharSet::range('a', 'z')), 1, grammar::kUnbounded), lit("."),
                      Regex::repeat(Regex::chars_of(CharSet::range('a', 'z')), 2, 6)}),
       Regex::repeat(any_char(), 0, 1024)}));
  CHECK(email.matches(std::string(1017, 'x') + "@ab.cde"));  // 1,024 code points
  CHECK_FALSE(email.matches(std::string(1018, 'x') + "@ab.cde"));
  CHECK_FALSE(email.matches("x@ab.c"));
}

TEST_CASE("short counts of a large code point class: counted on its automaton, the NFA route's language", "[regex-ops]") {
  // A class of hundreds of ranges over 2-, 3- and 4-byte code points (a letter class's shape: its
  // UTF-8 automaton has well over 64 states) repeated 2..15 times is counted on the class's
  // automaton (repeat_prefix_free), as long counts are; the same strings spelt without a repeat of
  // two or more (C … C C? … C?) go through the NFA. Same language, and no more states.
  std::mt19937 rng(38);
  CharSet big;
  for (char32_t c = 0xC0; c < 0xFFF0; c += 40 + rng() % 400) big.add(c, c + rng() % 30);
  for (char32_t c = 0x10000; c < 0x12000; c += 100 + rng() % 900) big.add(c, c + rng() % 60);
  big.add('a', 'z');
  RegexPtr cls = Regex::chars_of(big);
  REQUIRE(fsm::compile_dfa(*cls).num_states() >= 64);
  std::uniform_int_distribution<int> pick(0, static_cast<int>(big.ranges().size()) - 1);
  int checked = 0;
  for (auto [min, max] : std::vector<std::pair<uint32_t, uint32_t>>{{2, 2}, {0, 3}, {1, 5}, {4, 11}, {11, 11}, {3, 12}, {0, 15}}) {
    fsm::Dfa counted = fsm::compile_dfa(*Regex::repeat(cls, min, max));
    std::vector<RegexPtr> items;
    for (uint32_t i = 0; i < max; ++i) items.push_back(i < min ? cls : Regex::repeat(cls, 0, 1));
    fsm::Dfa spelt = fsm::compile_dfa(*Regex::concat(std::move(items)));
    INFO("{" << min << "," << max << "}");
    REQUIRE(fsm::difference(counted, spelt).empty());
    REQUIRE(fsm::difference(spelt, counted).empty());
    CHECK(counted.num_states() <= spelt.num_states());
    // Strings of every length from 0 to max + 1, from the class and one code point outside it.
    for (uint32_t n = 0; n <= max + 1; ++n) {
      std::u32string str;
      for (uint32_t i = 0; i < n; ++i) {
        const grammar::CharRange& r = big.ranges()[pick(rng)];
        str.push_back(r.lo + static_cast<char32_t>(rng() % (r.hi - r.lo + 1)));
      }
      REQUIRE(counted.matches(utf8(str)) == (n >= min && n <= max));
      if (n > 0) {
        str[rng() % n] = U'\u00BF';  // not in the class
        REQUIRE_FALSE(counted.matches(utf8(str)));
      }
      ++checked;
    }
  }
  CHECK(checked > 50);
}

TEST_CASE("JSON string bodies: exactly the encodings of the child's strings", "[regex-ops]") {
  // Code points the escaping treats differently, plus a multi-byte one.
  const std::u32string alphabet = U"a\"\\/\n\b\x01\x1F\u00E9";
  const auto strings = all_strings(alphabet, 4);
  // Byte pieces from which the encodings and many near misses are spelled.
  const std::vector<std::string> pieces = {"a", "\"", "\\", "/", "u", "0", "1", "f", "F", "b", "n", "8", "\n",
                                           "\xC3\xA9", "\\u00", "\\u001"};
  std::vector<std::string> texts{""};
  for (size_t begin = 0, len = 0; len < 4; ++len) {
    size_t end = texts.size();
    for (size_t i = begin; i < end; ++i)
      for (const auto& p : pieces) texts.push_back(texts[i] + p);
    begin = end;
  }
  RandomRegex gen(4242, alphabet, true);
  std::mt19937 rng(5);
  for (int round = 0; round < 40; ++round) {
    RegexPtr child = gen.make(3);
    RegexPtr r = Regex::json_string(child);
    fsm::Dfa dfa = fsm::compile_dfa(*r);
    fsm::Dfa quoted = fsm::compile_dfa(*Regex::concat({lit("\""), r, lit("\"")}));
    INFO("child " << child->to_string());
    // Every string of the child's language, in several spellings, and only those.
    for (const auto& s : strings) {
      const bool in = Oracle(s).matches(*child);
      for (uint32_t variant : {0u, ~0u, static_cast<uint32_t>(rng())}) {
        const std::string enc = json_encode(s, variant);
        INFO("string " << utf8(s) << " encoded " << enc);
        REQUIRE(dfa.matches(enc) == in);
        REQUIRE(quoted.matches("\"" + enc + "\"") == in);
      }
    }
    // Every byte string over the pieces: accepted iff it is a valid body of a child string.
    for (const auto& t : texts) {
      auto decoded = json_decode(t);
      std::u32string cps;
      bool want = decoded && u32_of(*decoded, cps) && Oracle(cps).matches(*child);
      INFO("text " << t);
      REQUIRE(dfa.matches(t) == want);
    }
  }
  // The named refusals, for a child that takes everything.
  fsm::Dfa all = fsm::compile_dfa(*Regex::json_string(Regex::repeat(any_char(), 0, grammar::kUnbounded)));
  for (std::string ok : {"", "a\\\"b", "\\\\", "/", "\\/", "\\b\\f\\n\\r\\t", "\\u0000\\u001f\\u001F\\u000B",
                         "\xE4\xB8\xAD\xF0\x9F\x98\x80"})
    CHECK(all.matches(ok));
  for (const std::string& bad : std::vector<std::string>{"\"", "\n", std::string(1, '\0'), "\\", "\\x", "\\u0008",
                                                         "\\u000a", "\\u0020", "\\u00", "\\U0001", "\\u0100", "\xFF"})
    CHECK_FALSE(all.matches(bad));
}

// The property names of the objects in every `step`-th maskbench-dev schema (by file name), one
// list per object that has some, until `max_objects` lists.
static std::vector<std::vector<std::string>> property_names(const std::filesystem::path& dir, size_t step, size_t max_objects) {
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(dir)) files.push_back(f.path());
  std::sort(files.begin(), files.end());
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < files.size() && out.size() < max_objects; i += step) {
    std::function<void(const nlohmann::json&)> collect = [&](const nlohmann::json& j) {
      if (j.is_object()) {
        if (auto p = j.find("properties"); p != j.end() && p->is_object() && !p->empty()) {
          std::vector<std::string> keys;
          for (auto it = p->begin(); it != p->end(); ++it) keys.push_back(it.key());
          out.push_back(std::move(keys));
        }
        for (const auto& [k, v] : j.items()) collect(v);
      } else if (j.is_array()) {
        for (const auto& v : j) collect(v);
      }
    };
    collect(nlohmann::json::parse(tollgate::testing::read_file(files[i]))["schema"]);
  }
  return out;
}

TEST_CASE("a JSON string of a complement: every body but the named strings' spellings", "[regex-ops]") {
  // compile_dfa builds json_string(complement(X)) as the JSON bodies minus X's spellings (an open
  // object's other keys); it must be the language of escaping the complement itself. Key sets: the
  // property names of maskbench-dev objects, and names with bytes that have escapes.
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/maskbench-dev");
  std::vector<std::vector<std::string>> key_sets = {
      {""}, {"a/b", "q\"uote", "back\\slash", "tab\there", std::string("nul\0", 4), "\x1F", "caf\xC3\xA9"},
      {"\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "/", "\"", "\\"}};
  for (auto& keys : property_names(dir, 37, 57)) key_sets.push_back(std::move(keys));
  REQUIRE(key_sets.size() >= 30);
  for (const auto& keys : key_sets) {
    std::vector<RegexPtr> names;
    for (const auto& k : keys) names.push_back(Regex::literal(k));
    RegexPtr named = Regex::alt(names);
    fsm::Dfa fast = fsm::compile_dfa(*Regex::json_string(Regex::complement(named)));
    fsm::Dfa slow = fsm::json_escape(fsm::complement(fsm::compile_dfa(*named)));
    INFO("keys " << named->to_string().substr(0, 200));
    CHECK(fsm::difference(fast, slow).empty());
    CHECK(fsm::difference(slow, fast).empty());
    for (const auto& k : keys) CHECK_FALSE(fast.matches(k));
    CHECK(fast.matches(keys[0] + "x"));
  }
}

TEST_CASE("a quoted key of plain ASCII: the chain of its bytes, the JSON string route's language", "[regex-ops]") {
  // `"` json_string(literal) `"` with only printable ASCII but '"', '\\' and '/' in the literal has one
  // spelling, and compile_dfa builds it as the chain of its bytes (ascii_chain). The reference: the
  // same language through the JSON string route (a two-branch alternation of the literal, which the
  // chain does not take). Keys from maskbench-dev schemas, and keys the chain must leave alone.
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/maskbench-dev");
  std::vector<std::string> keys = {"", "a", "/", "a/b", "q\"uote", "back\\slash", "tab\there", "caf\xC3\xA9",
                                   "~ !#$%&'()*+,-.:;<=>?@[]^_`{|}", std::string(64, 'k'), std::string(70, 'k'),
                                   "del\x7F", std::string("nul\0", 4)};
  for (const auto& names : property_names(dir, 11, 400)) keys.insert(keys.end(), names.begin(), names.end());
  REQUIRE(keys.size() >= 1000);
  size_t chained = 0;
  fsm::SubDfaCache cache;  // as lexeme automata are built: a concatenation joined from its pieces
  fsm::DfaOptions pieces;
  pieces.sub_dfas = &cache;
  for (const auto& k : keys) {
    INFO("key " << k);
    RegexPtr literal = Regex::literal(k);
    auto twice = std::make_shared<Regex>();  // {k} as an alternation the builder does not fold
    twice->kind = Regex::Kind::kAlt;
    twice->items = {literal, literal};
    fsm::Dfa fast = fsm::compile_dfa(*Regex::concat({lit("\""), Regex::json_string(literal), lit("\"")}), pieces);
    fsm::Dfa slow = fsm::compile_dfa(*Regex::concat({lit("\""), Regex::json_string(twice), lit("\"")}), pieces);
    CHECK(fsm::difference(fast, slow).empty());
    CHECK(fsm::difference(slow, fast).empty());
    CHECK(fast.num_states() == slow.num_states());
    const bool raw = std::all_of(k.begin(), k.end(), [](char c) { return c >= 0x20 && c != '"' && c != '\\'; });
    if (raw) CHECK(fast.matches("\"" + k + "\""));  // (json.dumps writes it so)
    chained += fast.num_states() == k.size() + 3;  // one spelling: a state per byte, the quotes and the start
  }
  CHECK(fsm::compile_dfa(*Regex::concat({lit("\""), Regex::json_string(Regex::literal("a/b")), lit("\"")}), pieces)
            .matches("\"a\\/b\""));
  CHECK(chained > keys.size() / 2);
}

TEST_CASE("explicit byte automata: embedded as they are", "[regex-ops]") {
  std::mt19937 rng(99);
  std::vector<std::string> strings{""};
  for (size_t begin = 0, len = 0; len < 7; ++len) {
    size_t end = strings.size();
    for (size_t i = begin; i < end; ++i)
      for (char c : std::string("abcd")) strings.push_back(strings[i] + c);
    begin = end;
  }
  for (int round = 0; round < 60; ++round) {
    auto a = random_automaton(rng, 1 + rng() % 7);
    auto b = random_automaton(rng, 1 + rng() % 5);
    RegexPtr ra = Regex::automaton_of(a), rb = Regex::automaton_of(b);
    fsm::Dfa da = fsm::compile_dfa(*ra);
    fsm::Dfa cat = fsm::compile_dfa(*Regex::concat({lit("x"), ra, lit("y")}));
    fsm::Dfa both = fsm::compile_dfa(*Regex::intersect({ra, rb}));
    fsm::Dfa neither = fsm::compile_dfa(*Regex::concat({lit("x"), Regex::complement(Regex::alt({ra, rb}))}));
    for (const auto& s : strings) {
      const bool in_a = simulate(*a, s), in_b = simulate(*b, s);
      INFO("string " << s);
      REQUIRE(da.matches(s) == in_a);
      REQUIRE(cat.matches("x" + s + "y") == in_a);
      REQUIRE(both.matches(s) == (in_a && in_b));
      REQUIRE(neither.matches("x" + s) == (!in_a && !in_b));
    }
  }
  // Two automata with as many states are told apart (their renderings differ).
  auto x = std::make_shared<ByteAutomaton>();
  x->edges = {{{'x', 'x', 1}}, {}};
  x->finals = {0, 1};
  auto y = std::make_shared<ByteAutomaton>(*x);
  y->edges[0][0] = {'y', 'y', 1};
  CHECK(Regex::automaton_of(x)->to_string() != Regex::automaton_of(y)->to_string());
  // Malformed automata are refused, not crashed on.
  auto bad = std::make_shared<ByteAutomaton>(*x);
  bad->edges[0][0].to = 7;
  CHECK(error_kind([&] { fsm::compile_dfa(*Regex::automaton_of(bad)); }) == ErrorKind::kInvalidArgument);
  auto no_finals = std::make_shared<ByteAutomaton>(*x);
  no_finals->finals.clear();
  CHECK(error_kind([&] { fsm::compile_dfa(*Regex::automaton_of(no_finals)); }) == ErrorKind::kInvalidArgument);
  CHECK(error_kind([&] { fsm::compile_dfa(*Regex::automaton_of(std::make_shared<ByteAutomaton>())); }) ==
        ErrorKind::kInvalidArgument);
}

TEST_CASE("numbers: a range intersected with a modular automaton", "[regex-ops]") {
  // Decimal numerals divisible by 7, as a remainder automaton: states 0..6 = value mod 7, 7 = start,
  // 8 = the numeral "0" (nothing may follow it).
  auto mod7 = std::make_shared<ByteAutomaton>();
  mod7->edges.resize(9);
  mod7->finals.assign(9, 0);
  mod7->finals[0] = mod7->finals[8] = 1;
  mod7->start = 7;
  for (uint32_t q = 0; q < 8; ++q)
    for (int d = 0; d <= 9; ++d) {
      const uint8_t c = static_cast<uint8_t>('0' + d);
      if (q == 7 && d == 0) mod7->edges[q].push_back({c, c, 8});
      else mod7->edges[q].push_back({c, c, ((q == 7 ? 0 : q) * 10 + d) % 7});
    }
  RegexPtr digits = Regex::chars_of(CharSet::range('0', '9'));
  RegexPtr range = Regex::alt({lit("0"), Regex::concat({Regex::chars_of(CharSet::range('1', '9')),
                                                        Regex::repeat(digits, 0, 3)})});  // 0..9999
  fsm::Dfa dfa = fsm::compile_dfa(*Regex::intersect({range, Regex::automaton_of(mod7)}));
  for (int v = 0; v < 20000; ++v) {
    INFO(v);
    REQUIRE(dfa.matches(std::to_string(v)) == (v < 10000 && v % 7 == 0));
  }
  CHECK_FALSE(dfa.matches("007"));
}

TEST_CASE("nested combinations and object keys that avoid a set of names", "[regex-ops]") {
  std::vector<RegexPtr> names;
  std::set<std::string> name_set;
  for (int i = 0; i < 200; ++i) {
    std::string n = "name_" + std::to_string(i * 37 % 1000) + (i % 3 ? "x" : "");
    names.push_back(lit(n));
    name_set.insert(n);
  }
  RegexPtr body = Regex::intersect({Regex::repeat(any_char(), 5, 64), Regex::complement(Regex::alt(names))});
  RegexPtr key = Regex::json_string(body);
  auto t0 = std::chrono::steady_clock::now();
  fsm::Dfa dfa = fsm::compile_dfa(*key);
  double direct_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  fsm::Dfa quoted = fsm::compile_dfa(*Regex::concat({lit("\""), key, lit("\""), lit(":")}));
  double embedded_ms = ms_since(t0);
  WARN("json_string(intersect(any{5,64}, complement(200 names))): " << direct_ms << " ms, " << dfa.num_states()
                                                                    << " states; quoted and embedded: "
                                                                    << embedded_ms << " ms, " << quoted.num_states()
                                                                    << " states");
  for (const auto& n : name_set) {
    CHECK_FALSE(dfa.matches(n));
    CHECK(dfa.matches(n + "y"));
    CHECK(dfa.matches("\\\"" + n));
    CHECK_FALSE(quoted.matches("\"" + n + "\":"));
  }
  CHECK(dfa.matches("hello"));
  CHECK(dfa.matches("name_\\n\\u0001\xE4\xB8\xAD"));
  CHECK(dfa.matches("\\/\\/\\/\\/\\/"));  // five code points '/'
  CHECK_FALSE(dfa.matches("abcd"));
  CHECK_FALSE(dfa.matches(std::string(65, 'a')));
  CHECK(dfa.matches(std::string(64, 'a')));
  CHECK(quoted.matches("\"hello\":"));
  // Nested deeper: a JSON string of (an intersection with a complement of a JSON string).
  RegexPtr inner = Regex::json_string(Regex::repeat(Regex::chars_of(CharSet::range('a', 'c')), 0, 3));
  RegexPtr nested = Regex::json_string(Regex::intersect(
      {Regex::repeat(Regex::chars_of(CharSet({{'a', 'c'}, {'"', '"'}, {'\\', '\\'}})), 0, 4), Regex::complement(inner)}));
  fsm::Dfa nd = fsm::compile_dfa(*nested);
  CHECK(nd.matches("\\\""));              // the string `"`: not a JSON body, so in the complement
  CHECK_FALSE(nd.matches("abc"));         // `abc` is a body of the inner language
  CHECK(nd.matches("\\\\\\\""));          // `\"` is a body of `"`, not in inner's language (needs a-c)
  CHECK(nd.matches("abca"));              // four letters: not in inner (at most 3)
  // A counted repetition embeds the node several times (compiled once).
  fsm::Dfa rep = fsm::compile_dfa(*Regex::repeat(Regex::concat({lit("\""), key, lit("\",")}), 3, 3));
  CHECK(rep.matches("\"hello\",\"world\",\"again\","));
  CHECK_FALSE(rep.matches("\"hello\",\"name_0\",\"again\","));
}

TEST_CASE("budgets: set operations on exploding regexes stop with kLimit", "[regex-ops]") {
  // (a|b)*a(a|b){20}: its DFA needs 2^21 states.
  RegexPtr ab = Regex::chars_of(CharSet::range('a', 'b'));
  RegexPtr blowup =
      Regex::concat({Regex::repeat(ab, 0, grammar::kUnbounded), lit("a"), Regex::repeat(ab, 20, 20)});
  fsm::DfaOptions small;
  small.max_states = 10'000;
  auto t0 = std::chrono::steady_clock::now();
  CHECK(error_kind([&] { fsm::compile_dfa(*Regex::complement(blowup), small); }) == ErrorKind::kLimit);
  CHECK(error_kind([&] { fsm::compile_dfa(*Regex::json_string(blowup), small); }) == ErrorKind::kLimit);
  CHECK(error_kind([&] { fsm::compile_dfa(*Regex::concat({lit("x"), Regex::complement(blowup)}), small); }) ==
        ErrorKind::kLimit);
  auto t1 = std::chrono::steady_clock::now();
  CHECK(error_kind([&] { fsm::compile_dfa(*Regex::complement(blowup)); }) == ErrorKind::kLimit);  // default budget
  const double small_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double default_ms = ms_since(t1);
  WARN("kLimit with 10k states: " << small_ms << " ms for three; with the default budget: " << default_ms << " ms");
  // A product that explodes although both factors are small: the number of a's is a multiple of
  // 50 and the number of b's one of 53 (50 and 53 states; the product has 2650).
  auto count_mod = [](char x, char y, uint32_t n) {
    RegexPtr ys = Regex::repeat(lit(std::string(1, y)), 0, grammar::kUnbounded);
    RegexPtr round = Regex::repeat(Regex::concat({ys, lit(std::string(1, x))}), n, n);
    return Regex::concat({Regex::repeat(round, 0, grammar::kUnbounded), ys});
  };
  fsm::DfaOptions tight;
  tight.max_states = 1000;
  CHECK(fsm::compile_dfa(*count_mod('a', 'b', 50), tight).num_states() == 50);
  CHECK(fsm::compile_dfa(*Regex::intersect({count_mod('a', 'b', 50), count_mod('b', 'a', 53)})).num_states() == 2650);
  CHECK(error_kind([&] { fsm::compile_dfa(*Regex::intersect({count_mod('a', 'b', 50), count_mod('b', 'a', 53)}), tight); }) ==
        ErrorKind::kLimit);
  fsm::DfaOptions little_memory;
  little_memory.max_memory_bytes = 64 * 1024;
  CHECK(error_kind([&] { fsm::compile_dfa(*Regex::complement(Regex::intersect({count_mod('a', 'b', 50), count_mod('b', 'a', 53)})), little_memory); }) == ErrorKind::kLimit);
}

TEST_CASE("leftmost-first (Lark terminals) refuses the set operations cleanly", "[regex-ops]") {
  auto a = std::make_shared<ByteAutomaton>();
  a->edges = {{{'x', 'x', 0}}};
  a->finals = {1};
  for (RegexPtr r : {Regex::complement(lit("a")), Regex::intersect({lit("a"), lit("b")}),
                     Regex::json_string(lit("a")), Regex::automaton_of(a),
                     Regex::concat({lit("q"), Regex::repeat(Regex::json_string(lit("\"")), 0, 2)})}) {
    INFO(r->to_string());
    CHECK(error_kind([&] { fsm::compile_leftmost_first_dfa(*r); }) == ErrorKind::kUnsupported);
  }
}

TEST_CASE("CFG lexemes built from the new kinds", "[regex-ops]") {
  // A GBNF skeleton whose leaves are then replaced by the new kinds: key (merged with the quotes
  // around it into one lexeme), and two automata with the same number of states in lexemes of
  // their own (recursive rules around them keep them apart).
  grammar::Grammar g = grammar::parse_grammar(
      "root ::= \"{\" pair (\",\" pair)* \"}\" \" \" p \",\" q\n"
      "pair ::= \"\\\"\" key \"\\\":\" [0-9]\n"
      "key ::= \"k\"\n"
      "p ::= pa | \"(\" p \")\"\n"
      "q ::= qa | \"[\" q \"]\"\n"
      "pa ::= \"x\"\n"
      "qa ::= \"y\"\n",
      "gbnf", "test");
  auto set_leaf = [&](const char* rule, RegexPtr r) { g.rules[g.find(rule)].body = grammar::GExpr::leaf(std::move(r)); };
  set_leaf("key", Regex::json_string(Regex::intersect(
                      {Regex::repeat(any_char(), 1, 8), Regex::complement(Regex::alt({lit("id"), lit("type")}))})));
  auto one_byte = [](uint8_t c) {
    auto a = std::make_shared<ByteAutomaton>();
    a->edges = {{{c, c, 1}}, {}};
    a->finals = {0, 1};
    return Regex::automaton_of(a);
  };
  set_leaf("pa", one_byte('x'));
  set_leaf("qa", one_byte('y'));
  fsm::CfgRuntime rt(fsm::build_cfg(g));
  CHECK(rt.matches("{\"name\":1} x,y"));
  CHECK(rt.matches("{\"a\\\"b\":1,\"idx\":2} ((x)),[[y]]"));
  CHECK(rt.matches("{\"\\u0001\":1} x,y"));
  CHECK_FALSE(rt.matches("{\"id\":1} x,y"));
  CHECK_FALSE(rt.matches("{\"a\":1,\"type\":2} x,y"));
  CHECK_FALSE(rt.matches("{\"\":1} x,y"));
  CHECK_FALSE(rt.matches("{\"a\"b\":1} x,y"));
  CHECK_FALSE(rt.matches("{\"name\":1} x,x"));
  CHECK_FALSE(rt.matches("{\"name\":1} y,y"));
  // A lexeme whose language is empty is no error: it never matches.
  set_leaf("key", Regex::json_string(Regex::complement(Regex::repeat(any_char(), 0, grammar::kUnbounded))));
  fsm::CfgRuntime none(fsm::build_cfg(g));
  CHECK_FALSE(none.matches("{\"name\":1} x,y"));
  CHECK_FALSE(none.is_prefix("{"));  // "{" and the pairs are one lexeme, now empty
}
