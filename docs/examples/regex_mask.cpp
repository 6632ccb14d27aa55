// The C++ API in one page: load a vocabulary, compile a regex, and at each decoding step fill
// the token mask, apply it to the logits, and accept the chosen token.
//   build/examples/example_regex_mask [path/to/tokenizer.json]
#include <cmath>
#include <cstdio>
#include <vector>

#include "tollgate/tollgate.hpp"

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "../shared/tokenizers/llama3/tokenizer.json";
  try {
    auto tokenizer = tollgate::TokenizerInfo::from_file(path);
    tollgate::Compiler compiler(tokenizer);
    auto grammar = compiler.compile_regex(R"(\d{4}-\d{2}-\d{2})");
    tollgate::Matcher matcher(grammar);

    const int32_t vocab = tokenizer->vocab_size();
    std::vector<int32_t> bitmask(tollgate::bitmask_words(vocab));
    std::vector<float> logits(vocab, 0.0f);
    while (!matcher.is_terminated()) {
      matcher.fill_next_token_bitmask(bitmask.data());
      // A real model would write its logits here; we prefer the lowest allowed id.
      for (int32_t i = 0; i < vocab; ++i) logits[i] = -static_cast<float>(i);
      tollgate::apply_token_bitmask(logits.data(), bitmask.data(), vocab);
      int32_t best = 0;
      for (int32_t i = 1; i < vocab; ++i)
        if (logits[i] > logits[best]) best = i;
      if (std::isinf(logits[best])) break;  // nothing allowed
      matcher.accept_token(best);
      if (!matcher.is_terminated()) std::printf("%s", tokenizer->token_bytes(best).c_str());
    }
    std::printf("\n");
  } catch (const tollgate::Error& e) {
    std::fprintf(stderr, "%s\n", e.pretty().c_str());
    return 1;
  }
  return 0;
}
