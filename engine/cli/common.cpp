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

std::vector<CLI::Option*> add_whitespace_options(CLI::App* cmd, std::string& mode, int& max_whitespace, int& indent) {
  std::vector<CLI::Option*> o;
  o.push_back(cmd->add_option("--whitespace", mode,
                              "JSON Schema: whitespace between JSON tokens: flexible (any, at most --max-whitespace "
                              "bytes a gap), compact (none) or pretty (json.dumps(indent=N): --indent)")
                  ->check(CLI::IsMember({"flexible", "compact", "pretty"}))
                  ->capture_default_str());
  o.push_back(cmd->add_option("--max-whitespace", max_whitespace, "JSON Schema, flexible: whitespace bytes per gap")
                  ->check(CLI::Range(0, 1 << 20))
                  ->capture_default_str());
  o.push_back(cmd->add_option("--indent", indent, "JSON Schema, pretty: spaces per nesting level")
                  ->check(CLI::Range(0, 64))
                  ->capture_default_str());
  return o;
}

JsonSchemaOptions::Whitespace whitespace_mode(const std::string& mode) {
  if (mode == "compact") return JsonSchemaOptions::Whitespace::kCompact;
  if (mode == "pretty") return JsonSchemaOptions::Whitespace::kPretty;
  return JsonSchemaOptions::Whitespace::kFlexible;
}

namespace {
std::vector<std::string>& saved_command_line() {
  static std::vector<std::string> args;
  return args;
}
}  // namespace

void set_command_line(int argc, char** argv) { saved_command_line().assign(argv, argv + argc); }

const std::vector<std::string>& command_line() { return saved_command_line(); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kIo, "cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void print_error(const Error& e) { std::cerr << e.pretty() << "\n"; }

}  // namespace tollgate::cli
