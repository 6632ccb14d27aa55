// libFuzzer target: the tokenizer.json loader (hand-written vocab/merges scanner + nlohmann for the
// small sections) and the token trie built from it. Takes: arbitrary bytes as tokenizer.json.
// Gives: a finding when loading does anything but succeed or throw tollgate::Error.
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tollgate;
  try {
    auto tok = TokenizerInfo::from_json(fuzz::as_text(data, size));
    // Every id's bytes are readable.
    for (int32_t id = 0; id < tok->vocab_size(); ++id) (void)tok->token_bytes(id);
  } catch (const Error&) {
  }
  return 0;
}
