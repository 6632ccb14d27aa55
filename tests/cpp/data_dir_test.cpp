// The data folder lookup (engine/data_dir.hpp): TOLLGATE_DATA_DIR wins, then the configured folder
// beside the source tree, then the user cache of fetched tokenizers ($XDG_CACHE_HOME/tollgate, else
// ~/.cache/tollgate) when it holds tokenizers/.
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <unistd.h>

#include "engine/data_dir.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;

namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
    if (value) setenv(name, value->c_str(), 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

fs::path fresh_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("tollgate-data-dir-test-" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

}  // namespace

TEST_CASE("data dir: TOLLGATE_DATA_DIR, then the folder beside the source, then the user cache", "[data]") {
  fs::path root = fresh_dir("root");
  fs::path beside = root / "shared", cache_home = root / "cache", set = root / "set";
  fs::create_directories(set);
  ScopedEnv xdg("XDG_CACHE_HOME", cache_home.string());

  {
    ScopedEnv d("TOLLGATE_DATA_DIR", std::nullopt);
    CHECK(tollgate::data::user_cache_dir() == cache_home / "tollgate");
    // Nothing anywhere: no data dir; a cache without tokenizers/ does not count.
    CHECK_FALSE(tollgate::data::find_data_dir(beside).has_value());
    fs::create_directories(cache_home / "tollgate");
    CHECK_FALSE(tollgate::data::find_data_dir(beside).has_value());
    // The cache with tokenizers/.
    fs::create_directories(cache_home / "tollgate" / "tokenizers");
    CHECK(tollgate::data::find_data_dir(beside) == cache_home / "tollgate");
    // The folder beside the source comes first.
    fs::create_directories(beside);
    CHECK(tollgate::data::find_data_dir(beside) == beside);
  }
  {
    // TOLLGATE_DATA_DIR wins over both, and when it is not a folder there is no data dir at all.
    ScopedEnv d("TOLLGATE_DATA_DIR", set.string());
    CHECK(tollgate::data::find_data_dir(beside) == set);
    ScopedEnv missing("TOLLGATE_DATA_DIR", (root / "missing").string());
    CHECK_FALSE(tollgate::data::find_data_dir(beside).has_value());
  }
  {
    // Without XDG_CACHE_HOME: ~/.cache/tollgate.
    ScopedEnv no_xdg("XDG_CACHE_HOME", std::nullopt);
    ScopedEnv home("HOME", (root / "home").string());
    CHECK(tollgate::data::user_cache_dir() == root / "home" / ".cache" / "tollgate");
  }
  fs::remove_all(root.parent_path());
}
