// libFuzzer target: the regex parser and the regex → DFA → token index path.
// Takes: arbitrary bytes as a pattern. Gives: a finding when parsing or compiling does anything but
// succeed or throw tollgate::Error.
#include "grammar/regex_ast.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tollgate;
  std::string_view pattern = fuzz::as_text(data, size);
  try {
    grammar::parse_regex(pattern);
  } catch (const Error&) {
    return 0;
  }
  try {
    static const Compiler compiler(TokenizerInfo::bytes_with_eos(), fuzz::small_options());
    compiler.compile_regex(pattern);
  } catch (const Error&) {
  }
  return 0;
}
