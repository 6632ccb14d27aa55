// Differential test: our regex parser + fsm::compile_dfa against RE2 on the regex corpus
// (tests/data/regex_corpus.json, built by scripts/extract-regex-corpus.py).
// For every regex that both accept, at least 1,000 strings are checked: random strings over the
// regex's alphabet, all short strings over a small alphabet, and random walks in our DFA to
// final states; RE2::FullMatch must agree with Dfa::matches on each.
#include "test_support.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fsm/dfa.hpp"
#include "fsm/utf8.hpp"
#include "grammar/regex_ast.hpp"
#include "tollgate/error.hpp"

using namespace tollgate;
using grammar::CharSet;
using grammar::Regex;

namespace {

// Our \s (ECMAScript white space) spelled for RE2.
constexpr const char* kSpaceClassBody =
    "\\t\\n\\x0B\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
    "\\x{FEFF}";

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string hex_escape(uint32_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "\\x{%X}", v);
  return buf;
}

// Rewrites our syntax into RE2's where they differ; nullopt + reason when RE2 has no equivalent.
std::optional<std::string> to_re2(const std::string& p, std::string& why) {
  std::string out;
  bool in_class = false, class_start = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char n = p[i + 1];
      if ((n == 'p' || n == 'P') && (p.compare(i + 2, 3, "{C}") == 0 || p.compare(i + 2, 4, "{^C}") == 0 ||
                                     (i + 2 < p.size() && p[i + 2] == 'C'))) {
        // Unicode's C includes Cn (unassigned); RE2's \p{C} does not.
        why = "\\p{C} (RE2 omits Cn)";
        return std::nullopt;
      }
      if (n == 'u') {
        uint32_t v = 0;
        size_t j = i + 2;
        if (j < p.size() && p[j] == '{') {
          size_t k = p.find('}', j);
          if (k == std::string::npos) { why = "bad \\u"; return std::nullopt; }
          for (size_t q = j + 1; q < k; ++q) v = v * 16 + hexval(p[q]);
          i = k;
        } else {
          if (j + 4 > p.size()) { why = "bad \\u"; return std::nullopt; }
          for (size_t q = j; q < j + 4; ++q) v = v * 16 + hexval(p[q]);
          i = j + 3;
          if (v >= 0xD800 && v <= 0xDBFF && i + 6 < p.size() + 0 && p.compare(i + 1, 2, "\\u") == 0) {
            uint32_t lo = 0;
            for (size_t q = i + 3; q < i + 7; ++q) lo = lo * 16 + hexval(p[q]);
            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        out += hex_escape(v);
        class_start = false;
        continue;
      }
      if (n == 'c' && i + 2 < p.size()) {
        out += hex_escape(static_cast<unsigned char>(p[i + 2]) % 32);
        i += 2;
        class_start = false;
        continue;
      }
      if (n == '0') {
        out += "\\x00";
        ++i;
        class_start = false;
        continue;
      }
      if (n == 'v') {
        out += "\\x0B";
        ++i;
        class_start = false;
        continue;
      }
      if (n == 's' || n == 'S') {
        if (in_class) {
          if (n == 'S') { why = "\\S inside a class"; return std::nullopt; }
          out += kSpaceClassBody;
        } else {
          out += n == 's' ? "[" : "[^";
          out += kSpaceClassBody;
          out += "]";
        }
        ++i;
        class_start = false;
        continue;
      }
      out += c;
      out += n;
      ++i;
      class_start = false;
      continue;
    }
    if (in_class) {
      if (c == ']' && !class_start) in_class = false;
      if (c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
        size_t k = p.find(":]", i + 2);
        if (k != std::string::npos) {
          out += p.substr(i, k + 2 - i);
          i = k + 1;
          class_start = false;
          continue;
        }
      }
      if (!(c == '^' && class_start && out.back() == '[')) class_start = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      class_start = true;
      out += c;
      continue;
    }
    if (c == '(' && p.compare(i, 3, "(?<") == 0 && i + 3 < p.size() && p[i + 3] != '=' && p[i + 3] != '!') {
      out += "(?P<";
      i += 2;
      continue;
    }
    out += c;
  }
  return out;
}

void collect_sets(const Regex& r, std::vector<const CharSet*>& sets) {
  if (r.kind == Regex::Kind::kChars) sets.push_back(&r.chars);
  for (const auto& k : r.items) collect_sets(*k, sets);
}

// Code points that exercise the regex: literal characters of the pattern, boundaries and random
// members of every class in the AST, and a few others.
std::vector<char32_t> alphabet_for(const std::string& pattern, const Regex& r, std::mt19937& rng) {
  std::vector<char32_t> first;  // the most telling ones come first
  std::set<char32_t> seen;
  auto add = [&](char32_t c) {
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return;
    if (seen.insert(c).second) first.push_back(c);
  };
  std::vector<const CharSet*> sets;
  collect_sets(r, sets);
  // small sets: all their members, largest sets last
  std::stable_sort(sets.begin(), sets.end(), [](const CharSet* a, const CharSet* b) {
    return a->ranges().size() < b->ranges().size();
  });
  for (const CharSet* s : sets) {
    const auto& rs = s->ranges();
    if (rs.empty()) continue;
    add(rs[0].lo);
    add(rs.back().hi);
    std::uniform_int_distribution<size_t> pick(0, rs.size() - 1);
    for (int k = 0; k < 2; ++k) {
      const auto& cr = rs[pick(rng)];
      add(cr.lo + static_cast<char32_t>(rng() % (cr.hi - cr.lo + 1)));
      add(cr.hi);
      if (cr.lo > 0) add(cr.lo - 1);
      add(cr.hi + 1);
    }
  }
  for (unsigned char c : pattern) {
    if (c >= 0x20 && c < 0x7F) add(c);
  }
  for (char32_t c : {U'a', U'Z', U'0', U' ', U'\n', U'-', U'\u00E9', U'\u65E5', U'\U0001F600', U'\u212A', U'\u0394'})
    add(c);
  if (first.size() > 48) first.resize(48);
  return first;
}

std::string encode(const std::vector<char32_t>& cps) {
  std::string s;
  for (char32_t c : cps) s += fsm::encode_utf8(c);
  return s;
}

// A random walk from the start state to a final state (empty optional when it wanders too long).
std::optional<std::string> dfa_walk(const fsm::Dfa& d, std::mt19937& rng) {
  std::string s;
  uint32_t st = d.start();
  std::vector<uint8_t> live;
  for (int steps = 0; steps < 64; ++steps) {
    if (d.is_final(st) && rng() % 4 == 0) return s;
    live.clear();
    for (int b = 0; b < 256; ++b) {
      if (d.next(st, static_cast<uint8_t>(b)) != fsm::kDead) live.push_back(static_cast<uint8_t>(b));
    }
    if (live.empty()) return d.is_final(st) ? std::optional<std::string>(s) : std::nullopt;
    uint8_t b = live[rng() % live.size()];
    s.push_back(static_cast<char>(b));
    st = d.next(st, b);
  }
  return d.is_final(st) ? std::optional<std::string>(s) : std::nullopt;
}

}  // namespace

TEST_CASE("regex parser + DFA agree with RE2 on the regex corpus", "[re2]") {
  std::string text = testing::read_file(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/regex_corpus.json");
  auto corpus = nlohmann::json::parse(text);
  REQUIRE(corpus.size() >= 300);

  std::map<std::string, size_t> skipped;
  std::map<std::string, std::vector<std::string>> examples;
  auto skip = [&](const std::string& why, const std::string& pattern) {
    ++skipped[why];
    if (examples[why].size() < 4) examples[why].push_back(pattern.substr(0, 40));
  };
  size_t compared = 0, strings = 0, mismatches = 0, min_strings = SIZE_MAX;
  std::mt19937 rng(20240611);

  // Every regex in both modes: search (JSON Schema `pattern`: unanchored unless anchored; RE2 side
  // wrapped in (?s:.*)…(?s:.*)) and full match.
  std::vector<std::pair<std::string, bool>> jobs;
  for (const auto& entry : corpus) {
    jobs.push_back({entry["regex"], true});
    jobs.push_back({entry["regex"], false});
  }
  for (const auto& [pattern, search] : jobs) {
    grammar::RegexOptions opt;
    opt.search = search;
    grammar::RegexPtr ast;
    try {
      ast = grammar::parse_regex(pattern, opt);
    } catch (const Error& e) {
      skip(std::string("we reject: ") + to_string(e.kind()), pattern);
      continue;
    }
    std::string why;
    auto translated = to_re2(pattern, why);
    if (!translated) {
      skip("no RE2 spelling: " + why, pattern);
      continue;
    }
    std::string re2_pattern = search ? "(?s:.*)(?:" + *translated + ")(?s:.*)" : *translated;
    RE2::Options ro;
    ro.set_log_errors(false);
    ro.set_max_mem(256 << 20);
    RE2 re(re2_pattern, ro);
    if (!re.ok()) {
      skip("RE2 rejects", pattern);
      continue;
    }
    fsm::Dfa dfa;
    try {
      dfa = fsm::compile_dfa(*ast);
    } catch (const Error& e) {
      skip(std::string("DFA: ") + to_string(e.kind()), pattern);
      continue;
    }
    ++compared;

    // The grammar-level alphabet (without the search wrapper's `.*` class).
    grammar::RegexOptions full = opt;
    full.search = false;
    auto inner = grammar::parse_regex(pattern, full);
    std::vector<char32_t> alpha = alphabet_for(pattern, *inner, rng);

    std::vector<std::string> probes;
    // all strings of length <= 4 over the first 5 letters (781)
    std::vector<char32_t> small(alpha.begin(), alpha.begin() + std::min<size_t>(5, alpha.size()));
    std::vector<std::vector<char32_t>> layer = {{}};
    for (int len = 0; len <= 4; ++len) {
      std::vector<std::vector<char32_t>> next;
      for (const auto& w : layer) {
        probes.push_back(encode(w));
        if (len < 4) {
          for (char32_t c : small) {
            auto w2 = w;
            w2.push_back(c);
            next.push_back(std::move(w2));
          }
        }
      }
      layer = std::move(next);
    }
    // random strings over the whole alphabet
    std::uniform_int_distribution<size_t> pick(0, alpha.size() - 1);
    for (int k = 0; k < 400; ++k) {
      std::vector<char32_t> w(rng() % 24);
      for (auto& c : w) c = alpha[pick(rng)];
      probes.push_back(encode(w));
    }
    // members of our language, and their one-character mutations
    int walks = 0;
    for (int k = 0; k < 600 && walks < 300; ++k) {
      auto w = dfa_walk(dfa, rng);
      if (!w) continue;
      ++walks;
      probes.push_back(*w);
      std::string mutated = *w;
      if (!mutated.empty() && static_cast<unsigned char>(mutated.back()) < 0x80) {
        mutated.back() = static_cast<char>(alpha[pick(rng)] < 0x80 ? alpha[pick(rng)] : 'x');
        probes.push_back(mutated);
      }
      probes.push_back(*w + fsm::encode_utf8(alpha[pick(rng)]));
    }

    size_t reported = 0;
    for (const auto& s : probes) {
      bool theirs = RE2::FullMatch(s, re);
      bool ours = dfa.matches(s);
      if (theirs != ours) {
        ++mismatches;
        if (reported++ < 3) {
          FAIL_CHECK("mismatch on regex " << pattern << " (RE2: " << re2_pattern << ") string \"" << s
                                          << "\": RE2 " << theirs << ", ours " << ours);
        }
      }
    }
    strings += probes.size();
    min_strings = std::min(min_strings, probes.size());
  }

  std::ostringstream report;
  report << "RE2 differential: " << compared << " (regex, mode) pairs compared, " << strings << " strings checked (min "
         << min_strings << " per regex), " << mismatches << " mismatches; skipped:";
  for (const auto& [why, n] : skipped) {
    report << "\n  " << why << ": " << n << ", e.g.";
    for (const auto& e : examples[why]) report << "  " << e;
  }
  WARN(report.str());
  CHECK(mismatches == 0);
  CHECK(compared >= 600);
  CHECK(min_strings >= 1000);
}

// The leftmost-first automaton against RE2's default (leftmost-first, Perl-like) matching: for
// every string, the end of the preferred match anchored at the start — the last final state the
// automaton reaches before it dies or the string ends — equals the end of RE2's match (RE2 picks
// the match a backtracking engine would). Empty matches are not lexemes and are skipped. Regexes:
// the corpus (a leading ^ and a trailing $ dropped, those with other anchors skipped) and
// hand-written ones where preference matters.
TEST_CASE("leftmost-first DFA ends where RE2's preferred match ends", "[re2][cfg]") {
  std::string text = testing::read_file(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/regex_corpus.json");
  auto corpus = nlohmann::json::parse(text);
  std::vector<std::string> patterns = {
      "a*?", "a+?", "a+?b", "a|ab", "ab|a", "(a|ab)(c|bcd)", "(a+)(a+?)", "a{2,5}?", "a{2,5}?b?",
      "\".*?\"i?", "\"[^\"]*\"", "/(\\\\/|\\\\\\\\|[^/])+?/[imslux]*", "x*y*?x", "(ab|a)(bc|c)?",
      "[a-c]*?c", "(?:a|b)*?b+", "a??b", "(?U)a+b?", "(?U)a+?", "(a*)*b", "\\s*#[^\\n]*",
      "(aa|a)+?a", "(?:x|xy|xyz)z?", "[0-9]+(\\.[0-9]*?)?", "(foo|foobar)(bar)?"};
  for (const auto& entry : corpus) patterns.push_back(entry["regex"]);
  std::mt19937 rng(77);
  size_t compared = 0, strings = 0, mismatches = 0, skipped = 0;
  for (std::string pattern : patterns) {
    // Lexemes have no anchors: a leading ^ and a trailing $ are dropped, other anchors skipped.
    if (!pattern.empty() && pattern[0] == '^') pattern.erase(0, 1);
    if (pattern.size() >= 2 && pattern.back() == '$' && pattern[pattern.size() - 2] != '\\') pattern.pop_back();
    if (pattern.find('^') != std::string::npos || pattern.find('$') != std::string::npos) {
      ++skipped;  // anchors: lexemes have none
      continue;
    }
    grammar::RegexPtr ast;
    try {
      ast = grammar::parse_regex(pattern);
    } catch (const Error&) {
      ++skipped;
      continue;
    }
    std::string why;
    auto translated = to_re2(pattern, why);
    RE2::Options ro;
    ro.set_log_errors(false);
    ro.set_max_mem(256 << 20);
    if (!translated) {
      ++skipped;
      continue;
    }
    RE2 re(*translated, ro);
    fsm::Dfa lf;
    try {
      if (!re.ok()) throw Error(ErrorKind::kUnsupported, "RE2 rejects");
      lf = fsm::compile_leftmost_first_dfa(*ast);
    } catch (const Error&) {
      ++skipped;
      continue;
    }
    ++compared;
    std::vector<char32_t> alpha = alphabet_for(pattern, *ast, rng);
    fsm::Dfa full = fsm::compile_dfa(*ast);
    std::uniform_int_distribution<size_t> pick(0, alpha.size() - 1);
    std::vector<std::string> probes;
    for (int k = 0; k < 150; ++k) {
      std::vector<char32_t> w(rng() % 16);
      for (auto& c : w) c = alpha[pick(rng)];
      probes.push_back(encode(w));
    }
    for (int k = 0; k < 150; ++k) {  // members followed by more text
      auto w = dfa_walk(full, rng);
      if (!w) continue;
      std::vector<char32_t> tail(rng() % 6);
      for (auto& c : tail) c = alpha[pick(rng)];
      probes.push_back(*w + encode(tail));
    }
    size_t reported = 0;
    for (const auto& s : probes) {
      re2::StringPiece m;
      bool found = re.Match(s, 0, s.size(), RE2::ANCHOR_START, &m, 1);
      if (found && m.empty()) continue;
      long theirs = found ? static_cast<long>(m.size()) : -1;
      long ours = -1;
      uint32_t q = lf.start();
      for (size_t i = 0; i < s.size(); ++i) {
        q = lf.next(q, static_cast<uint8_t>(s[i]));
        if (q == fsm::kDead) break;
        if (lf.is_final(q)) ours = static_cast<long>(i + 1);
      }
      ++strings;
      if (theirs != ours) {
        ++mismatches;
        if (reported++ < 3)
          FAIL_CHECK("regex " << pattern << " on \"" << s << "\": RE2's match ends at " << theirs << ", ours at " << ours);
      }
    }
  }
  WARN("leftmost-first vs RE2: " << compared << " regexes, " << strings << " strings, " << mismatches
                                 << " mismatches, " << skipped << " regexes skipped (anchors, rejected)");
  CHECK(compared >= 500);
  CHECK(mismatches == 0);
}
