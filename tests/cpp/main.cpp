#define CATCH_CONFIG_RUNNER
#include "test_support.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <vector>

namespace tollgate::testing {

namespace {
std::mutex g_skip_mutex;
std::vector<std::string> g_skipped;
}  // namespace

std::optional<std::filesystem::path> data_dir() {
  for (const char* var : {"TOLLGATE_DATA_DIR", "TOLLGATE_DEFAULT_DATA_DIR"}) {
    if (const char* v = std::getenv(var); v && *v) {
      std::filesystem::path p(v);
      if (std::filesystem::is_directory(p)) return p;
      return std::nullopt;
    }
  }
  std::filesystem::path p = std::filesystem::path(TOLLGATE_SOURCE_DIR) / ".." / "shared";
  if (std::filesystem::is_directory(p)) return p;
  return std::nullopt;
}

bool require_data() {
  const char* v = std::getenv("TOLLGATE_REQUIRE_DATA");
  return v && std::string(v) == "1";
}

void note_skipped(const std::string& what) {
  std::lock_guard<std::mutex> lock(g_skip_mutex);
  g_skipped.push_back(Catch::getResultCapture().getCurrentTestName() + ": " + what);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TokenizerInfoPtr llama3() {
  static TokenizerInfoPtr tok = TokenizerInfo::from_file((*data_dir() / "tokenizers/llama3/tokenizer.json").string());
  return tok;
}

}  // namespace tollgate::testing

int main(int argc, char* argv[]) {
  Catch::Session session;
  int rc = session.applyCommandLine(argc, argv);
  if (rc != 0) return rc;
  rc = session.run();
  if (!tollgate::testing::g_skipped.empty()) {
    std::cout << tollgate::testing::g_skipped.size() << " check(s) skipped:\n";
    for (const auto& s : tollgate::testing::g_skipped) std::cout << "  " << s << "\n";
  }
  return rc;
}
