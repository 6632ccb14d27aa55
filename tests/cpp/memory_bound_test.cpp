// Memory of one compiled grammar over many sequences in turn (issue 11; `tollgate bench memory`
// draws the full curve): maskbench-dev documents replayed and seeded random walks inside the mask
// through one JSON grammar (the built-in grammar's rules, and a second string lexeme so that string
// values are joins of two bitsets) with small cache budgets. Every sample of the curve keeps each
// cache within its budget, the whole-mask cache stores each distinct mask once, and every mask
// equals the mask of a fresh grammar with default budgets fed the same tokens.
#include <algorithm>
#include <random>

#include "engine/cfg_backend.hpp"
#include "grammar/grammar_ir.hpp"
#include "test_support.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;
using tollgate::testing::cfg_of;
using tollgate::testing::llama3;

namespace {

// JSON (RFC 8259, as the built-in grammar) where a string value may also be read as a second lexeme
// ending in "~": the same language, but inside a string value two threads are alive, both with
// bitset entries, so those masks are joins that go through the mask cache (states whose threads all
// have sparse entries are written directly and never cached).
constexpr const char* kJsonTwoStrings = R"(root   ::= ws value ws
value  ::= object | array | string | tagged | number | "true" | "false" | "null"
object ::= "{" ws "}" | "{" ws member ( ws "," ws member )* ws "}"
member ::= string ws ":" ws value
array  ::= "[" ws "]" | "[" ws value ( ws "," ws value )* ws "]"
string ::= "\"" ( [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
tagged ::= "\"" ( [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "~\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws     ::= [ \t\n\r]*
)";

CompiledGrammarPtr json_grammar(const CompileOptions& options) {
  return Compiler(llama3(), options).compile_grammar(kJsonTwoStrings, "gbnf", "json-two-strings");
}

}  // namespace

TEST_CASE("memory: one grammar over many sequences stays within its cache budgets, masks exact",
          "[cfg][cache][memory]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto docs = tollgate::testing::maskbench_docs(mb, 300);
  REQUIRE(docs.size() >= 250);
  CompileOptions small;
  small.threads = 1;
  small.mask_cache_bytes = size_t(256) << 10;  // 16 distinct masks of Llama-3 at most
  small.boundary_cache_bytes = size_t(256) << 10;
  small.walk_cache_bytes = size_t(256) << 10;
  CompileOptions defaults;
  defaults.threads = 1;
  CompiledGrammarPtr g = json_grammar(small), fresh = json_grammar(defaults);
  const auto& cfg = cfg_of(g);
  const auto& cfg_fresh = cfg_of(fresh);
  const TokenizerInfo& tok = *llama3();
  std::mt19937_64 rng(11);
  std::vector<int32_t> allowed;
  size_t steps = 0, mismatches = 0, samples = 0;
  int oracle_mismatches = 0;
  size_t max_masks = 0, max_cache = 0, max_walk = 0;
  const size_t sequences = 600;
  for (size_t seq = 0; seq < sequences; ++seq) {
    Matcher m(g), ref(fresh);
    const bool walk = seq % 2 == 1;
    const std::vector<int32_t>& doc = docs[(seq / 2) % docs.size()];
    for (size_t i = 0; walk ? i < 24 : i < doc.size(); ++i) {
      std::vector<int32_t> mask = tollgate::testing::mask_of(m), want = tollgate::testing::mask_of(ref);
      ++steps;
      if (mask != want && ++mismatches <= 3) UNSCOPED_INFO("mask differs at sequence " << seq << " step " << i);
      if (steps % 1000 == 0) oracle_mismatches += tollgate::testing::mask_oracle_mismatches(m);  // the brute force
      int32_t id = doc[i % doc.size()];
      if (walk) {
        allowed.clear();
        for (int32_t t = 0; t < tok.vocab_size(); ++t)
          if (tollgate::testing::mask_bit(want, t) && !tok.is_eos(t)) allowed.push_back(t);
        if (allowed.empty()) break;
        id = allowed[rng() % allowed.size()];
      }
      REQUIRE(m.accept_token(id));
      REQUIRE(ref.accept_token(id));
    }
    if (seq % 50 == 49) {
      ++samples;
      max_masks = std::max(max_masks, cfg.mask_cache_bytes());
      max_cache = std::max(max_cache, cfg.cache_bytes());
      max_walk = std::max(max_walk, cfg.walk_bytes());
    }
  }
  INFO(steps << " steps, " << samples << " samples");
  CHECK(mismatches == 0);
  CHECK(oracle_mismatches == 0);
  CHECK(steps > 20000);
  CHECK(max_masks <= small.mask_cache_bytes);
  CHECK(max_cache <= small.boundary_cache_bytes);
  // The walk DFA is replaced at the start of the walk after it passes its budget: one walk may
  // add at most a chunk of states (1,024 rows of byte classes) beyond it.
  CHECK(max_walk <= small.walk_cache_bytes + (size_t(1) << 20));
  CHECK(cfg.num_cached_masks() > 0);
  // Distinct contents are stored once: with default budgets the replay caches many parser
  // configurations for far fewer bytes than a bitset each.
  const size_t bitset = static_cast<size_t>(bitmask_words(tok.vocab_size())) * 4;
  CHECK(cfg_fresh.num_cached_masks() > 100);
  CHECK(cfg_fresh.mask_cache_bytes() * 4 < cfg_fresh.num_cached_masks() * bitset);
  WARN("memory: " << sequences << " sequences, " << steps << " masks equal to a fresh grammar's; budgets 256 KiB held "
                  << max_masks << " / " << max_cache << " / " << max_walk << " bytes (masks / boundary / walk); "
                  << "the default-budget grammar cached " << cfg_fresh.num_cached_masks() << " masks in "
                  << cfg_fresh.mask_cache_bytes() << " bytes");
}
