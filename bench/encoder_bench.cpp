// encoder_bench — building an Encoder (merges resolved) and encoding the committed fixture texts
// (tests/data/encoder/texts.json) with Llama-3, Qwen3 and GPT-4o. Takes: TOLLGATE_DATA_DIR (default
// ../shared). Gives: build time per tokenizer; encode throughput (bytes/s), cold and warm word cache.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "bench_util.hpp"
#include "tollgate/encoder.hpp"

namespace {

using tollgate::bench::data_dir;

const std::vector<std::string>& texts() {
  static const std::vector<std::string> all = [] {
    std::ifstream in(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/encoder/texts.json");
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<std::string> out;
    if (ss.str().empty()) return out;
    nlohmann::json doc = nlohmann::json::parse(ss.str());
    for (const auto& t : doc["texts"]) out.push_back(t["text"].get<std::string>());
    return out;
  }();
  return all;
}

bool tokenizer_path(benchmark::State& state, const std::string& name, std::string& path) {
  auto p = data_dir() / "tokenizers" / name / "tokenizer.json";
  if (!std::filesystem::exists(p)) {
    state.SkipWithError(("missing " + p.string()).c_str());
    return false;
  }
  path = p.string();
  return true;
}

void build(benchmark::State& state, const std::string& name) {
  std::string path;
  if (!tokenizer_path(state, name, path)) return;
  auto info = tollgate::TokenizerInfo::from_file(path);
  for (auto _ : state) {
    tollgate::Encoder enc(info);
    benchmark::DoNotOptimize(enc);
  }
}

void encode(benchmark::State& state, const std::string& name, bool warm) {
  std::string path;
  if (!tokenizer_path(state, name, path)) return;
  if (texts().empty()) {
    state.SkipWithError("tests/data/encoder/texts.json missing");
    return;
  }
  auto info = tollgate::TokenizerInfo::from_file(path);
  size_t bytes = 0;
  for (const auto& t : texts()) bytes += t.size();
  std::unique_ptr<tollgate::Encoder> enc = std::make_unique<tollgate::Encoder>(info);
  for (auto _ : state) {
    if (!warm) {
      state.PauseTiming();
      enc = std::make_unique<tollgate::Encoder>(info);  // empty word cache
      state.ResumeTiming();
    }
    size_t ids = 0;
    for (const auto& t : texts()) ids += enc->encode(t).size();
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}

}  // namespace

BENCHMARK_CAPTURE(build, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(build, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(build, gpt4o, std::string("gpt4o"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, llama3_cold, std::string("llama3"), false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, llama3_warm, std::string("llama3"), true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, gpt4o_warm, std::string("gpt4o"), true)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
