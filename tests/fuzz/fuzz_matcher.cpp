// libFuzzer target: the matcher over compiled grammars, driven by random token streams.
// Takes: bytes read as a program — the first picks the grammar, the rest drive
// tests/fuzz/matcher_walk.hpp (allowed tokens, arbitrary ids, rollbacks, forks, EOS, raw bytes).
// Gives: a finding (abort) on the first broken matcher invariant listed there.
// Grammars (compiled once): the built-in JSON grammar, GBNF and Lark corpus grammars, a regex and
// a JSON Schema, over the Llama-3 vocabulary when TOLLGATE_DATA_DIR has it (else bytes).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/matcher_walk.hpp"
#include "tollgate/matcher.hpp"

namespace {

using namespace tollgate;
namespace fs = std::filesystem;

const std::vector<CompiledGrammarPtr>& grammars() {
  static const std::vector<CompiledGrammarPtr> all = [] {
    const char* dd = std::getenv("TOLLGATE_DATA_DIR");
    fs::path data = dd ? dd : "";
    TokenizerInfoPtr tok = TokenizerInfo::bytes_with_eos();
    if (dd && fs::exists(data / "tokenizers/llama3/tokenizer.json")) {
      tok = TokenizerInfo::from_file((data / "tokenizers/llama3").string());
    }
    CompileOptions copt;
    copt.threads = 1;
    Compiler c(tok, copt);
    auto out = fuzz::walk_grammars(c, data);
    std::fprintf(stderr, "fuzz_matcher: %zu grammars over a %d-token vocabulary\n", out.size(), tok->vocab_size());
    return out;
  }();
  return all;
}

struct Reader {
  const uint8_t* p;
  size_t n;
  bool empty() const { return n == 0; }
  uint32_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
};

}  // namespace

// The grammars are compiled here, before the first input, so that their compile time (seconds
// under ASan) does not count against libFuzzer's per-input timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  grammars();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& gs = grammars();
  Reader in{data, size};
  const auto& g = gs[in.byte() % gs.size()];
  fuzz::walk_matcher(g, in, 64);
  return 0;
}
