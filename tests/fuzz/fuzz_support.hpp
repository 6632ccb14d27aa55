// Shared pieces of the libFuzzer targets (tests/fuzz/*.cpp, built by `make fuzz` with clang and
// -fsanitize=fuzzer,address,undefined). Takes: nothing. Gives: a byte-level vocabulary, compile
// options small enough that one input stays within libFuzzer's per-input timeout, and the rule
// every target follows — a tollgate::Error is a clean refusal, anything else (another exception,
// a sanitizer report, a crash, a hang) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/compiler.hpp"
#include "tollgate/error.hpp"
#include "tollgate/vocabulary.hpp"

namespace tollgate::fuzz {

// Limits scaled down so that an exploding input fails fast with kLimit.
inline CompileOptions small_options() {
  CompileOptions o;
  o.threads = 1;
  o.max_dfa_states = 20'000;
  o.max_dfa_memory = size_t{4} << 20;
  o.index_cache_bytes = 0;
  // A compile that would outlast libFuzzer's per-input timeout under ASan is a clean kLimit
  // refusal instead (the budget is checked in the automata and index loops, not in the JSON
  // Schema lowering: a hang there is still a timeout finding), and so is a huge Earley state.
  o.max_compile_ms = 5'000;
  o.max_earley_items = size_t{1} << 16;
  return o;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace tollgate::fuzz
