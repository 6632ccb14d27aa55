// libFuzzer target: one grammar front-end (GBNF, Lark or EBNF, chosen at build time by
// TOLLGATE_FUZZ_FORMAT) and, for a grammar that checks, the CFG build with a byte vocabulary and
// a first mask. Takes: arbitrary bytes as grammar text. Gives: a finding when anything but success
// or tollgate::Error happens.
#include <vector>

#include "grammar/grammar_ir.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tollgate/matcher.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tollgate;
  std::string_view text = fuzz::as_text(data, size);
  try {
    grammar::parse_grammar(text, TOLLGATE_FUZZ_FORMAT);
  } catch (const Error&) {
    return 0;
  }
  try {
    static const Compiler compiler(TokenizerInfo::bytes_with_eos(), fuzz::small_options());
    auto g = compiler.compile_grammar(text, TOLLGATE_FUZZ_FORMAT);
    Matcher m(g);
    std::vector<int32_t> mask(bitmask_words(257));
    m.fill_next_token_bitmask(mask.data());
  } catch (const Error&) {
  }
  return 0;
}
