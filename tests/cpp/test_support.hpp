// Shared helpers for the Catch2 tests: where the data beside the project lives, and how a test
// that needs it is skipped (or failed, under TOLLGATE_REQUIRE_DATA=1).
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <string_view>
#include <vector>

#include "tollgate/compiler.hpp"
#include "tollgate/matcher.hpp"
#include "tollgate/vocabulary.hpp"

namespace tollgate::engine {
struct CfgGrammar;
}  // namespace tollgate::engine

namespace tollgate::testing {

// TOLLGATE_DATA_DIR, else the directory configured at build time (../shared), else the user cache
// of fetched tokenizers (engine/data_dir.hpp).
std::optional<std::filesystem::path> data_dir();
bool require_data();
// TOLLGATE_TEST_SAMPLE=N (make test-asan / test-ubsan): corpus-wide oracle tests take every Nth
// case; 1 (all) otherwise.
size_t sample_stride();
void note_skipped(const std::string& what);
std::string read_file(const std::filesystem::path& path);
// The Llama-3 tokenizer from the data dir, loaded once (call after TOLLGATE_DATA_OR_SKIP).
TokenizerInfoPtr llama3();

// The MaskBench files (*.json) of `dir`, sorted.
std::vector<std::filesystem::path> maskbench_files(const std::filesystem::path& dir);
// The Llama-3 token ids of the first valid test of a MaskBench file's parsed JSON given as text
// (its "tests"), empty when it has none; and its schema as JSON text.
std::vector<int32_t> first_valid_tokens(const std::string& file_text, std::string* schema = nullptr);
// The first `n` valid MaskBench documents of `dir` (Llama-3 token ids): the first valid test of
// every `stride`-th file in sorted order.
std::vector<std::vector<int32_t>> maskbench_docs(const std::filesystem::path& dir, size_t n, size_t stride = 7);

// A JSON Schema compiled on one thread against TokenizerInfo::bytes_with_eos() (256 byte tokens and
// EOS), so that matching byte by byte tests the language itself.
CompiledGrammarPtr schema(const std::string& text, JsonSchemaOptions opt = {});
// The whole of `doc`, fed as bytes, is accepted and complete.
bool accepts(const CompiledGrammarPtr& g, const std::string& doc);

// Token masks in tests.
bool mask_bit(const std::vector<int32_t>& mask, int32_t id);
std::vector<int32_t> mask_of(const Matcher& m);  // the matcher's next-token mask
// Tokens where the mask differs from the brute-force oracle: "accept_bytes(the token's bytes) on
// a copy of the matcher" (EOS: is_accepting), walked byte by byte along the token trie (a shared
// prefix is tried once); the matcher must keep at least 49 steps of rollback (the default 64 does).
// The first few are reported with UNSCOPED_INFO.
int mask_oracle_mismatches(const Matcher& m);
// Byte-vocabulary grammars (schema() above): the bytes the mask allows after `prefix`, fed byte by
// byte as tokens ("<refused>" when the prefix is refused); and the oracle's mismatches summed over
// every state along `doc` (up to the first byte refused).
std::string bytes_allowed_after(const CompiledGrammarPtr& g, const std::string& prefix);
// Replays every test of a MaskBench file (`file_text`, its tokens_llama3) on `g`: a valid test must be
// accepted token by token and end accepting, an invalid one refused somewhere (both CHECKed). Before
// each token of a valid test, `before(m, index)` is called when given; with `mask_agrees`, each token's
// bit in the mask must match accept_token's answer (CHECKed). Gives the counts and the valid tests' ids.
struct MaskbenchReplay {
  int tests = 0, valid_ok = 0, invalid_ok = 0;
  std::vector<std::vector<int32_t>> valid_ids;
};
MaskbenchReplay replay_maskbench_tests(const CompiledGrammarPtr& g, const std::string& file_text, bool mask_agrees,
                                       const std::function<void(const Matcher&, size_t)>& before = {});
int oracle_along_bytes(const CompiledGrammarPtr& g, const std::string& doc);
// Any tokenizer: the oracle's mismatches at every prefix of `text` (a fresh matcher fed the prefix's
// bytes, which it must accept: REQUIREd), summed; `states` counts the prefixes.
int oracle_at_every_prefix(const CompiledGrammarPtr& g, const std::string& text, int& states);
// The longest token set in `mask` whose bytes are a prefix of doc[pos..] (so multi-byte closers
// such as "}]} are taken whenever the vocabulary has them), or -1.
int32_t longest_allowed(const TokenizerInfo& tok, const std::vector<int32_t>& mask, std::string_view doc, size_t pos);

// The context-free back-end behind `g` (its counters, caches and lexeme automata); `g` must have
// been compiled from a grammar, a JSON Schema or tool calls, not a regex.
const engine::CfgGrammar& cfg_of(const CompiledGrammarPtr& g);

}  // namespace tollgate::testing

// Returns the path of `sub` inside the data dir; when missing, skips the test (WARN + return),
// or fails it when TOLLGATE_REQUIRE_DATA=1.
#define TOLLGATE_DATA_OR_SKIP(var, sub)                                                    \
  std::filesystem::path var;                                                               \
  do {                                                                                     \
    auto tollgate_dd_ = ::tollgate::testing::data_dir();                                   \
    if (!tollgate_dd_ || !std::filesystem::exists(*tollgate_dd_ / (sub))) {                \
      if (::tollgate::testing::require_data()) {                                           \
        FAIL("test data missing: " << (sub) << " (TOLLGATE_REQUIRE_DATA=1)");              \
      }                                                                                    \
      ::tollgate::testing::note_skipped(std::string("needs ") + (sub));                    \
      WARN("skipped: test data missing: " << (sub) << " (set TOLLGATE_DATA_DIR)");         \
      return;                                                                              \
    }                                                                                      \
    var = *tollgate_dd_ / (sub);                                                           \
  } while (0)
