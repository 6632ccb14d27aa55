// Data folder lookup (see data_dir.hpp).
#include "engine/data_dir.hpp"

#include <cstdlib>
#include <system_error>

namespace tollgate::data {

namespace {
const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}
bool is_dir(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_directory(p, ec);
}
}  // namespace

std::filesystem::path user_cache_dir() {
  if (const char* xdg = env("XDG_CACHE_HOME")) return std::filesystem::path(xdg) / "tollgate";
  if (const char* home = env("HOME")) return std::filesystem::path(home) / ".cache" / "tollgate";
  return {};
}

std::optional<std::filesystem::path> find_data_dir(const std::filesystem::path& beside) {
  if (const char* v = env("TOLLGATE_DATA_DIR")) {
    if (is_dir(v)) return std::filesystem::path(v);
    return std::nullopt;
  }
  if (!beside.empty() && is_dir(beside)) return beside.lexically_normal();
  std::filesystem::path cache = user_cache_dir();
  if (!cache.empty() && is_dir(cache / "tokenizers")) return cache;
  return std::nullopt;
}

}  // namespace tollgate::data
