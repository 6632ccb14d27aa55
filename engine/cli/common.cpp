#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>

#include "engine/cli/commands.hpp"
#include "engine/data_dir.hpp"

namespace tollgate::cli {

std::string data_dir() {
  if (auto d = data::find_data_dir(TOLLGATE_DEFAULT_DATA_DIR)) return d->string();
  if (const char* v = std::getenv("TOLLGATE_DATA_DIR"); v && *v) return v;  // set, but not a folder
  return std::filesystem::path(TOLLGATE_DEFAULT_DATA_DIR).lexically_normal().string();
}

TokenizerInfoPtr load_tokenizer(const std::string& spec) {
  namespace fs = std::filesystem;
  if (fs::exists(spec)) return TokenizerInfo::from_file(spec);
  fs::path named = fs::path(data_dir()) / "tokenizers" / spec;
  if (spec.find('/') == std::string::npos && fs::exists(named)) {
    return TokenizerInfo::from_file(named.string());
  }
  throw Error(ErrorKind::kIo, "no tokenizer at '" + spec + "' (a tokenizer.json, its folder, or one of "
                              "llama2, llama3, qwen3, gpt4o, gemma3 under " + data_dir() +
                              "/tokenizers; scripts/fetch-data.sh fetches them into " +
                              data::user_cache_dir().string() + ")");
}

std::string default_model_dir() {
  if (const char* v = std::getenv("TOLLGATE_MODEL_DIR"); v && *v) return v;
  return (std::filesystem::path(TOLLGATE_SOURCE_DIR) / "models" / "retnet").string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kIo, "cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void print_error(const Error& e) { std::cerr << e.pretty() << "\n"; }

}  // namespace tollgate::cli
