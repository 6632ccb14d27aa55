#include "test_support.hpp"

#include <random>

#include "fsm/dfa.hpp"
#include "fsm/utf8.hpp"
#include "tollgate/error.hpp"

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
