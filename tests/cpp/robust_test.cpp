// Robustness: long productions (Earley item keys), deep nesting and long rule chains in grammar
// text (no stack overflow: a positioned kLimit error or a compiled grammar), memory of long
// chains, and the Matcher's accept contract. Each case reproduces a defect found before.
#include "test_support.hpp"

#include <pthread.h>

#include <functional>
#include <string>

#include "fsm/cfg.hpp"
#include "fsm/cfg_runtime.hpp"
#include "grammar/grammar_ir.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// The 256 single bytes (ids 0..255) and EOS (256): a mask shows exactly which bytes may follow.
TokenizerInfoPtr byte_vocab() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back("<eos>");
  return TokenizerInfo::from_tokens(std::move(tokens), {256}, 257, {256});
}

std::string allowed_bytes(const Matcher& m) {
  std::vector<int32_t> mask = testing::mask_of(m);
  std::string out;
  for (int b = 0; b < 256; ++b)
    if (testing::mask_bit(mask, b)) out.push_back(static_cast<char>(b));
  if (testing::mask_bit(mask, 256)) out += "<eos>";
  return out;
}

// root: a short alternative, then two long ones whose dots run 256 apart over the same input
// (the 257 a's of the third are one lexeme). With a key packing the dot into 8 bits, their
// items collided and one was dropped.
std::string long_productions(size_t n) {
  return "root ::= \"q\" x | " + repeat("x ", n) + "\"!\" | " + repeat("\"a\" ", 257) + repeat("x ", n) +
         "\"?\"\nx ::= \"a\" | \"(\" x \")\"\n";
}

}  // namespace

TEST_CASE("earley: items of productions longer than 256 symbols stay distinct", "[robust]") {
  fsm::CfgRuntime rt(fsm::build_cfg(grammar::parse_grammar(long_productions(300), "gbnf")));
  CHECK(rt.matches(repeat("a", 557) + "?"));
  CHECK(rt.matches(repeat("a", 300) + "!"));
  CHECK(rt.matches(repeat("a", 257) + "(a)" + repeat("a", 299) + "?"));
  CHECK_FALSE(rt.matches(repeat("a", 556) + "?"));
  CHECK_FALSE(rt.matches(repeat("a", 301) + "!"));

  // The mask after 300 a's: 'a' or '(' continues the third alternative, '!' ends the second.
  Compiler compiler(byte_vocab());
  Matcher m(compiler.compile_grammar(long_productions(300), "gbnf"));
  REQUIRE(m.accept_bytes(repeat("a", 300)));
  CHECK(allowed_bytes(m) == "!(a");
  CHECK(m.accept_bytes(repeat("a", 257) + "?"));
  CHECK(allowed_bytes(m) == "<eos>");
}

TEST_CASE("earley: a production of 5,000 symbols", "[robust]") {
  fsm::CfgRuntime rt(fsm::build_cfg(grammar::parse_grammar(long_productions(5000), "gbnf")));
  CHECK(rt.matches(repeat("a", 5257) + "?"));
  CHECK(rt.matches(repeat("a", 5000) + "!"));
  CHECK(rt.matches(repeat("a", 4000) + "(((a)))" + repeat("a", 1256) + "?"));
  CHECK_FALSE(rt.matches(repeat("a", 5256) + "?"));
  CHECK_FALSE(rt.matches(repeat("a", 5000) + "?"));
  fsm::ParserState s = rt.initial();
  REQUIRE(rt.feed(s, repeat("a", 5000)));
  CHECK(s.accepting == false);
}
