// Shared helpers for the Catch2 tests: where the data beside the project lives, and how a test
// that needs it is skipped (or failed, under TOLLGATE_REQUIRE_DATA=1).
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include "tollgate/vocabulary.hpp"

namespace tollgate::testing {

// TOLLGATE_DATA_DIR, else the directory configured at build time (../shared).
std::optional<std::filesystem::path> data_dir();
bool require_data();
void note_skipped(const std::string& what);
std::string read_file(const std::filesystem::path& path);
// The Llama-3 tokenizer from the data dir, loaded once (call after TOLLGATE_DATA_OR_SKIP).
TokenizerInfoPtr llama3();

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
