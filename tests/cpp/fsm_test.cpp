#include "test_support.hpp"

#include <algorithm>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "fsm/dfa.hpp"
#include "fsm/utf8.hpp"
#include "grammar/regex_ast.hpp"
#include "tollgate/error.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;
using grammar::CharSet;
using grammar::Regex;

namespace {
std::string utf8(char32_t c) { return fsm::encode_utf8(c); }

bool seqs_match(const std::vector<fsm::Utf8Sequence>& seqs, const std::string& b) {
  for (const auto& s : seqs)
    if (s.matches(b)) return true;
  return false;
}
}  // namespace

TEST_CASE("UTF-8 range compilation covers exactly the range", "[fsm][utf8]") {
  std::mt19937 rng(7);
  const std::vector<std::pair<char32_t, char32_t>> cases = {
      {0, 0x7F},         {0x80, 0x7FF},   {0x41, 0x10FFFF}, {0x7F, 0x80},   {0x7FF, 0x800},
      {0xFFFF, 0x10000}, {0xD000, 0xE100}, {0x3B1, 0x3C9},   {0x10000, 0x10FFFF}, {0x12345, 0x54321},
      {0x800, 0xFFFF},   {0x1F600, 0x1F64F}};
  for (auto [lo, hi] : cases) {
    std::vector<fsm::Utf8Sequence> seqs;
    fsm::utf8_sequences(lo, hi, seqs);
    REQUIRE_FALSE(seqs.empty());
    // Boundaries and random points inside and outside.
    std::vector<char32_t> probe = {lo, hi, lo ? lo - 1 : 0, hi + 1, (lo + hi) / 2};
    for (int i = 0; i < 2000; ++i) probe.push_back(rng() % 0x110000);
    for (char32_t c : probe) {
      if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) continue;
      bool in = c >= lo && c <= hi;
      INFO("range " << uint32_t(lo) << ".." << uint32_t(hi) << " cp " << uint32_t(c));
      CHECK(seqs_match(seqs, utf8(c)) == in);
    }
    // Surrogate encodings (ED A0..BF xx) are never matched.
    CHECK_FALSE(seqs_match(seqs, "\xED\xA0\x80"));
    CHECK_FALSE(seqs_match(seqs, "\xED\xBF\xBF"));
  }
}

TEST_CASE("UTF-8 sequences are few for wide ranges", "[fsm][utf8]") {
  std::vector<fsm::Utf8Sequence> seqs;
  fsm::utf8_sequences(0, 0x10FFFF, seqs);
  CHECK(seqs.size() <= 10);
}

TEST_CASE("DFA from hand-built regex ASTs", "[fsm][dfa]") {
  // (ab|cd)*e{2,3}
  auto ab = Regex::literal("ab");
  auto cd = Regex::literal("cd");
  auto r = Regex::concat({Regex::repeat(Regex::alt({ab, cd}), 0, grammar::kUnbounded),
                          Regex::repeat(Regex::literal("e"), 2, 3)});
  fsm::Dfa d = fsm::compile_dfa(*r);
  CHECK(d.matches("ee"));
  CHECK(d.matches("abcdabeee"));
  CHECK_FALSE(d.matches("e"));
  CHECK_FALSE(d.matches("eeee"));
  CHECK_FALSE(d.matches("abc"));
  CHECK_FALSE(d.matches(""));
  // Minimal: states = {start/loop, after a, after c, e1, e2, e3} = 6
  CHECK(d.num_states() == 6);
}

TEST_CASE("DFA handles Unicode classes and raw bytes", "[fsm][dfa]") {
  auto greek = Regex::chars_of(CharSet::range(0x3B1, 0x3C9));
  auto r = Regex::concat({Regex::repeat(greek, 1, grammar::kUnbounded), Regex::bytes(0xFF, 0xFF)});
  fsm::Dfa d = fsm::compile_dfa(*r);
  CHECK(d.matches("\xCE\xB1\xCF\x89\xFF"));   // αω\xFF
  CHECK_FALSE(d.matches("\xCE\xB1"));
  CHECK_FALSE(d.matches("a\xFF"));
  auto anyc = Regex::chars_of(CharSet::any());
  fsm::Dfa d2 = fsm::compile_dfa(*Regex::repeat(anyc, 0, grammar::kUnbounded));
  CHECK(d2.matches("héllo 😀"));
  CHECK_FALSE(d2.matches("\xC0\x80"));       // overlong
  CHECK_FALSE(d2.matches("\xED\xA0\x80"));   // surrogate
  CHECK_FALSE(d2.matches("\xFF"));
  CHECK(d2.num_states() <= 8);
}

TEST_CASE("DFA empty language and empty string", "[fsm][dfa]") {
  fsm::Dfa none = fsm::compile_dfa(*Regex::nothing());
  CHECK(none.empty());
  CHECK_FALSE(none.matches(""));
  fsm::Dfa eps = fsm::compile_dfa(*Regex::empty());
  CHECK_FALSE(eps.empty());
  CHECK(eps.matches(""));
  CHECK_FALSE(eps.matches("a"));
}

TEST_CASE("DFA state budget fails cleanly on (a|b)*a(a|b){30}", "[fsm][dfa]") {
  auto ab = Regex::chars_of(CharSet::range('a', 'b'));
  auto r = Regex::concat({Regex::repeat(ab, 0, grammar::kUnbounded), Regex::literal("a"),
                          Regex::repeat(ab, 30, 30)});
  fsm::DfaOptions opt;
  opt.max_states = 100000;
  try {
    fsm::compile_dfa(*r, opt);
    FAIL("expected a limit error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kLimit);
    CHECK(std::string(e.what()).find("state") != std::string::npos);
  }
  // A smaller instance compiles and is right: 2^(n+1) states for n = 6.
  auto r6 = Regex::concat({Regex::repeat(ab, 0, grammar::kUnbounded), Regex::literal("a"),
                           Regex::repeat(ab, 6, 6)});
  fsm::Dfa d = fsm::compile_dfa(*r6);
  CHECK(d.num_states() == 128);
  CHECK(d.matches("bbbabbbbbb"));
  CHECK(d.matches("bbbbabbbbbb"));
  CHECK_FALSE(d.matches("abbbbbbb"));
}

namespace {
// Regexes whose automata outgrow the default budgets: subset-construction blow-ups (the last
// `a` 30 or 1000 letters back, a letter 20 characters back), a large counted class repetition
// (\p{L}{1000}: ~150 k DFA states over ~100 byte classes) and one whose NFA alone is too big.
const std::vector<std::string> kExploding = {
    "(a|b)*a(a|b){30}", ".*a.{30}", "[a-z]*[a-c][a-z]{1000}", ".*\\p{L}.{20}", "\\p{L}{1000}",
    "(\\p{L}{1000}){100}"};

// The kLimit error compile_dfa throws for `pattern`, or nullopt when it compiles.
std::optional<Error> limit_error(const std::string& pattern, const fsm::DfaOptions& opt, bool leftmost_first = false) {
  auto ast = grammar::parse_regex(pattern);
  try {
    if (leftmost_first) fsm::compile_leftmost_first_dfa(*ast, opt);
    else fsm::compile_dfa(*ast, opt);
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}
}  // namespace

TEST_CASE("DFA memory budget: exploding regexes fail with kLimit under the default budgets", "[fsm][dfa]") {
  fsm::DfaOptions opt;  // defaults: 1,000,000 states, 32 MiB
  REQUIRE(opt.max_memory_bytes == fsm::kDefaultMaxDfaMemory);
  for (const auto& re : kExploding) {
    INFO(re);
    auto e = limit_error(re, opt);
    REQUIRE(e.has_value());
    CHECK(e->kind() == ErrorKind::kLimit);
    std::string msg = e->what();
    CHECK(msg.find("budget") != std::string::npos);
    CHECK(msg.find("max_dfa_memory") != std::string::npos);
    CHECK(msg.find(std::to_string(fsm::kDefaultMaxDfaMemory) + " bytes") != std::string::npos);
  }
}

TEST_CASE("DFA memory budget: a small explicit budget is honoured, in both constructions", "[fsm][dfa]") {
  fsm::DfaOptions opt;
  opt.max_memory_bytes = 1 << 20;
  for (bool lf : {false, true}) {
    for (const auto& re : kExploding) {
      INFO(re << (lf ? " (leftmost-first)" : ""));
      auto e = limit_error(re, opt, lf);
      REQUIRE(e.has_value());
      CHECK(e->kind() == ErrorKind::kLimit);
      std::string msg = e->what();
      CHECK(msg.find("1048576 bytes (1.0 MiB, the DFA memory budget)") != std::string::npos);
      CHECK(msg.find("max_dfa_memory") != std::string::npos);
    }
  }
  // Regexes well inside the budget still compile, and match what they should.
  fsm::Dfa d = fsm::compile_dfa(*grammar::parse_regex("[a-z]{1000}"), opt);
  CHECK(d.num_states() == 1001);
  CHECK(d.matches(std::string(1000, 'q')));
  CHECK_FALSE(d.matches(std::string(999, 'q')));
  fsm::Dfa d12 = fsm::compile_dfa(*grammar::parse_regex("(a|b)*a(a|b){12}"), opt);
  CHECK(d12.num_states() == (size_t{1} << 13));
  CHECK(d12.matches("babbbbbbbbbbbb"));
  CHECK_FALSE(d12.matches("abbbbbbbbbbbbb"));
}

TEST_CASE("DFA state budget: a small explicit state budget names itself", "[fsm][dfa]") {
  fsm::DfaOptions opt;
  opt.max_states = 5000;
  for (const auto& re : {"(a|b)*a(a|b){30}", ".*a.{30}", "[a-z]*[a-c][a-z]{1000}", ".*\\p{L}.{20}"}) {
    INFO(re);
    auto e = limit_error(re, opt);
    REQUIRE(e.has_value());
    CHECK(e->kind() == ErrorKind::kLimit);
    std::string msg = e->what();
    CHECK(msg.find("more than 5000 states (the state budget") != std::string::npos);
    CHECK(msg.find("max_dfa_states") != std::string::npos);
  }
  // Raising the memory budget does not lift the state budget.
  opt.max_memory_bytes = SIZE_MAX;
  auto e = limit_error("(a|b)*a(a|b){30}", opt);
  REQUIRE(e.has_value());
  CHECK(std::string(e->what()).find("5000 states") != std::string::npos);
}

TEST_CASE("DFA memory budget: every corpus regex compiles under the default budgets", "[fsm][dfa][data]") {
  // tests/data/regex_corpus.json is in the repository; its largest DFA (a big Unicode class
  // repeated {1,200}) needs about 20 MB during construction.
  auto path = std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/regex_corpus.json";
  auto corpus = nlohmann::json::parse(testing::read_file(path));
  REQUIRE(corpus.size() == 922);
  size_t compiled = 0, biggest = 0;
  std::vector<std::string> limited;
  for (const auto& item : corpus) {
    for (bool search : {false, true}) {  // full match, and JSON Schema `pattern` search
      grammar::RegexOptions ropt;
      ropt.search = search;
      grammar::RegexPtr ast;
      try {
        ast = grammar::parse_regex(item["regex"].get<std::string>(), ropt);
      } catch (const Error&) {
        continue;  // syntax the parser refuses (covered by the RE2 differential test)
      }
      try {
        biggest = std::max(biggest, fsm::compile_dfa(*ast).num_states());
        ++compiled;
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kLimit) limited.push_back(item["regex"].get<std::string>().substr(0, 60));
      }
    }
  }
  CAPTURE(limited);
  CHECK(limited.empty());
  CHECK(compiled > 1600);
  CHECK(biggest >= 30000);  // 34,001 states after minimisation
}

TEST_CASE("DFA memory budget reaches compile_regex and compile_grammar (max_dfa_memory)", "[fsm][dfa]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  auto tok = TokenizerInfo::from_file(p.string());
  CompileOptions small;
  small.max_dfa_memory = 1 << 20;
  for (const CompileOptions& opt : {CompileOptions{}, small}) {
    Compiler compiler(tok, opt);
    try {
      compiler.compile_regex("(a|b)*a(a|b){30}");
      FAIL("expected a limit error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kLimit);
      CHECK(std::string(e.what()).find(std::to_string(opt.max_dfa_memory) + " bytes") != std::string::npos);
    }
    try {
      compiler.compile_grammar("start: X\nX: /(a|b)*a(a|b){30}/\n", "lark");
      FAIL("expected a limit error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kLimit);
      CHECK(std::string(e.what()).find("max_dfa_memory") != std::string::npos);
    }
  }
  // A budget raised past the need compiles a DFA the small one refuses.
  Compiler roomy(tok, small);
  CHECK_THROWS_AS(roomy.compile_regex("(a|b)*a(a|b){14}"), Error);
  CompileOptions big = small;
  big.max_dfa_memory = 8 << 20;
  auto g = Compiler(tok, big).compile_regex("(a|b)*a(a|b){14}");
  CHECK(g->stats().dfa_states == (size_t{1} << 15));
}

namespace {
// A regex node made by hand, past Regex's simplifications (repeat{1,1} is its item; a concat with
// nothing in it is nothing).
grammar::RegexPtr raw_node(Regex::Kind kind, std::vector<grammar::RegexPtr> items, uint32_t min = 0, uint32_t max = 0) {
  auto r = std::make_shared<Regex>();
  r->kind = kind;
  r->items = std::move(items);
  r->min = min;
  r->max = max;
  return r;
}

// Words factored by their first code point, as grammar::literal_alternation writes them.
grammar::RegexPtr factored(std::vector<std::string> words) {
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  std::vector<grammar::RegexPtr> alts;
  for (size_t i = 0; i < words.size();) {
    if (words[i].empty()) {
      alts.push_back(Regex::empty());
      ++i;
      continue;
    }
    char32_t cp = 0;
    const size_t n = fsm::decode_utf8(words[i], 0, cp);
    size_t j = i;
    std::vector<std::string> rest;
    while (j < words.size() && words[j].size() >= n && words[j].compare(0, n, words[i], 0, n) == 0)
      rest.push_back(words[j++].substr(n));
    alts.push_back(Regex::concat({Regex::literal(words[i].substr(0, n)), factored(rest)}));
    i = j;
  }
  return Regex::alt(std::move(alts));
}
}  // namespace

TEST_CASE("DFA of a set of literals: the trie route gives the NFA route's minimal DFA", "[fsm][dfa]") {
  // Alternations and concatenations of literals (enum values, the names an extra key must avoid)
  // are built as a trie and minimised bottom-up; the same regex under a {1,1} repetition goes
  // through the NFA and Hopcroft. Both are minimal: same size, same language.
  const std::vector<std::string> alphabet = {"a", "b", "c", "\"", "\\", "/", "\n", utf8(0xE9), utf8(0x4E2D),
                                             utf8(0x1F600)};
  std::mt19937 rng(20261206);
  auto word = [&](size_t max_len) {
    std::string w;
    for (size_t n = rng() % (max_len + 1); n > 0; --n) w += alphabet[rng() % alphabet.size()];
    return w;
  };
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> words;
    for (size_t n = 1 + rng() % 40; n > 0; --n) words.push_back(word(round % 3 == 0 ? 3 : 9));
    grammar::RegexPtr set;
    switch (round % 4) {
      case 0: set = factored(words); break;
      case 1: {  // a flat alternation, one branch ending in nothing
        std::vector<grammar::RegexPtr> alts;
        for (const auto& w : words) alts.push_back(Regex::literal(w));
        alts.push_back(raw_node(Regex::Kind::kConcat, {Regex::literal("zq"), Regex::nothing()}));
        set = raw_node(Regex::Kind::kAlt, std::move(alts));
        break;
      }
      case 2: {  // a concatenation of two sets (every pair)
        const size_t half = words.size() / 2;
        set = Regex::concat({factored({words.begin(), words.begin() + static_cast<ptrdiff_t>(half)}),
                             factored({words.begin() + static_cast<ptrdiff_t>(half), words.end()})});
        break;
      }
      default: set = Regex::concat({Regex::literal("k"), factored(words), Regex::bytes(0xFF, 0xFF)}); break;
    }
    INFO("round " << round << ": " << set->to_string());
    fsm::Dfa fast = fsm::compile_dfa(*set);
    fsm::Dfa slow = fsm::compile_dfa(*raw_node(Regex::Kind::kRepeat, {set}, 1, 1));
    REQUIRE(fast.num_states() == slow.num_states());
    std::vector<std::string> probes;
    for (const auto& w : words) {
      for (size_t i = 0; i <= w.size(); ++i) probes.push_back(w.substr(0, i));
      probes.push_back(w + "a");
      probes.push_back("k" + w + "\xFF");
      for (const auto& v : words) probes.push_back(w + v);
    }
    for (int i = 0; i < 200; ++i) probes.push_back(word(12));
    for (const auto& p : probes) REQUIRE(fast.matches(p) == slow.matches(p));
  }
  // The empty set, and a set whose only branch ends in nothing.
  CHECK(fsm::compile_dfa(*raw_node(Regex::Kind::kAlt, {raw_node(Regex::Kind::kConcat, {Regex::literal("ab"), Regex::nothing()}),
                                                      Regex::nothing()}))
            .empty());
}

TEST_CASE("DFA of an extra-key lexeme: one pass over the names' trie gives the product route's language", "[fsm][dfa]") {
  // `"` + a JSON string body spelling none of the names + `"` (an open object's other keys), built
  // from the names' trie and the JSON bodies' automaton when every name is plain; the same regex
  // under a {1,1} repetition goes the product route (json_escape, the product with the bodies, the
  // join). Names with '/', '"', '\' or a control character go the product route both ways.
  const std::vector<std::string> alphabet = {"a", "b", "A", "_", " ", "-", utf8(0xE9), utf8(0x4E2D), utf8(0x1F600)};
  const std::vector<std::string> extra = {"\\\"", "\\\\", "\\/", "/", "\\n", "\\u0041", "\\u001f", "\\u001F", "\x01",
                                          "\"", "\xC3", "\xFF", "\\", "\\u00"};
  std::mt19937 rng(61206);
  auto word = [&](size_t max_len, bool odd) {
    std::string w;
    for (size_t n = rng() % (max_len + 1); n > 0; --n)
      w += odd && rng() % 4 == 0 ? extra[rng() % extra.size()] : alphabet[rng() % alphabet.size()];
    return w;
  };
  const auto quote = Regex::chars_of(CharSet::single('"'));
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> names;
    for (size_t n = rng() % 30; n > 0; --n) names.push_back(word(8, false));
    if (round % 10 == 9) names.push_back("a/b");  // not plain: the product route
    grammar::RegexPtr set = factored(names);
    if (round % 7 == 3)  // a branch that ends in nothing
      set = raw_node(Regex::Kind::kAlt, {set, raw_node(Regex::Kind::kConcat, {Regex::literal("zq"), Regex::nothing()})});
    auto lexeme = Regex::concat({quote, Regex::json_string(Regex::complement(set)), quote});
    INFO("round " << round << ": " << lexeme->to_string());
    fsm::Dfa fast = fsm::compile_dfa(*lexeme);
    fsm::Dfa slow = fsm::compile_dfa(*raw_node(Regex::Kind::kRepeat, {lexeme}, 1, 1));
    CHECK(fast.num_states() <= slow.num_states());
    std::vector<std::string> probes = {"\"\"", "\"", "", "\"a\"\"", "\"zq\"", "\"z\""};
    for (const auto& w : names) {
      probes.push_back("\"" + w + "\"");
      for (size_t i = 0; i <= w.size(); ++i) probes.push_back("\"" + w.substr(0, i) + "\"");
      probes.push_back("\"" + w + "a\"");
      probes.push_back("\"" + w + "\\n\"");
      probes.push_back("\"" + w);
    }
    for (int i = 0; i < 300; ++i) probes.push_back("\"" + word(10, true) + "\"");
    for (const auto& p : probes) {
      INFO("probe " << p);
      REQUIRE(fast.matches(p) == slow.matches(p));
    }
  }
}

TEST_CASE("DFA of concatenated alternations of literals: a product of sets goes the NFA route", "[fsm][dfa]") {
  // (a|b) twenty times: a million strings, so no trie of them; the minimal DFA has 21 states.
  std::vector<grammar::RegexPtr> items;
  for (int i = 0; i < 20; ++i) items.push_back(Regex::alt({Regex::literal("a"), Regex::literal("b")}));
  fsm::Dfa d = fsm::compile_dfa(*Regex::concat(items));
  CHECK(d.num_states() == 21);
  CHECK(d.matches(std::string(20, 'a')));
  CHECK(d.matches("abababababbbbbaaaaab"));
  CHECK_FALSE(d.matches(std::string(19, 'a')));
}
